import ArgumentParser
import Encore
import HTTPClient

/// `encore`: the pool, and the operator's tools.
struct EncoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encore",
        abstract: "Encore concert ticketing: the FastCGI worker pool and its tools.",
        subcommands: [
            ServeCommand.self, MigrateCommand.self, SeedCommand.self, UserCommand.self, EventsCommand.self,
            ProjectionsCommand.self,
            WorkerCommand.self, BackgroundCommand.self,
        ])
}

// libcurl's global state (the payment gateway's HTTP client) is set up once, before any thread.
HTTPClient.globalInit()
EncoreCommand.main()
