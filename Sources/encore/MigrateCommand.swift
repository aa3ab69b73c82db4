import ArgumentParser
import Encore
import Postgres

/// `encore migrate`: applies pending schema migrations.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply pending schema migrations.")

    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let connection = try Connection(url: database.url)
        let applied = try EncoreMigrations.migrate(connection)
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
        _ = try EncoreMigrations.migrate(connection)
        print("demo data: nothing to load yet (concerts and users arrive with their issues)")
    }
}
