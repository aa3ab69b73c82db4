import ArgumentParser
import Encore
import EventStore
import Foundation
import Identity
import Postgres
import Users

/// `encore user create`: creates an account with a role, e.g. the first admin.
struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage user accounts.", subcommands: [Create.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user with a role.")

        @Option(help: "customer, organiser or admin.") var role: String = "customer"
        @Option var email: String
        @Option(help: "At least 8 characters. Prefer --password-stdin to keep it out of the shell history.")
        var password: String?
        @Flag(name: .customLong("password-stdin"), help: "Read the password from standard input.")
        var passwordFromStdin = false
        @Option var name: String
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            guard let role = Role(rawValue: role) else {
                throw ValidationError("role must be customer, organiser or admin")
            }
            let secret: String
            if passwordFromStdin {
                secret = readLine(strippingNewline: true) ?? ""
            } else if let password {
                secret = password
            } else {
                throw ValidationError("give --password or --password-stdin")
            }
            let connection = try Connection(url: database.url)
            let encore = Encore(settings: try Settings.fromEnvironment())
            _ = try encore.migrate(connection)
            do {
                let user = try UserAccounts(connection: connection, store: encore.store.withoutGroupCommit)
                    .register(email: email, password: secret, name: name, role: role)
                print("created \(user.role) \(user.email) (id \(user.id))")
            } catch UserError.emailTaken {
                throw ValidationError("an account with this e-mail address exists already")
            } catch UserError.invalid(_, let message) {
                throw ValidationError(message)
            }
        }
    }
}
