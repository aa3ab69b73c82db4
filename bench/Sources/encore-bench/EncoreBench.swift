import ArgumentParser
import Foundation

/// Load generator and helpers for the event store's benchmark (`bench/eventstore.sh`) and
/// for tests that need a separate process (`project`, killed with SIGKILL mid-batch).
@main
struct EncoreBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encore-bench",
        abstract: "Event store benchmarks and test helpers.",
        subcommands: [
            MigrateCommand.self, AppendCommand.self, SeedCommand.self, CatchUpCommand.self, ProjectCommand.self,
            HTTPFireCommand.self,
        ]
    )
}

/// Options every subcommand takes.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "libpq connection string or URI (default: $DATABASE_URL).")
    var databaseURL: String?

    func url() throws -> String {
        if let databaseURL { return databaseURL }
        if let fromEnvironment = ProcessInfo.processInfo.environment["DATABASE_URL"] { return fromEnvironment }
        throw ValidationError("pass --database-url or set DATABASE_URL")
    }
}
