import ArgumentParser
import Encore
import Foundation
import Postgres

/// `encore migrate`: applies pending schema migrations.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply pending schema migrations.")

    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let connection = try Connection(url: database.url)
        let applied = try Encore(settings: try Settings.fromEnvironment()).migrate(connection)
        print(
            applied.isEmpty
                ? "schema is up to date" : "applied migrations \(applied.map(String.init).joined(separator: ", "))")
    }
}

/// `encore seed`: loads demo data (idempotent) and prints the demo logins.
struct SeedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "seed", abstract: "Load demo data (safe to repeat).")

    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let connection = try Connection(url: database.url)
        let encore = Encore(settings: try Settings.fromEnvironment())
        _ = try encore.migrate(connection)
        let logins = try DemoData(encore: encore).load(connection)
        print("Demo logins (password for all: \(DemoData.password)):")
        for (role, email) in logins { print("  \(role.padding(toLength: 10, withPad: " ", startingAt: 0)) \(email)") }
    }
}
