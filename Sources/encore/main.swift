import ArgumentParser
import Encore

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

// Every context's projections are known before any command runs (the registry is global).
EncoreProjections.registerAll()
EncoreCommand.main()
