import ArgumentParser
import Encore
import FastCGI
import Foundation
import Logging
import Postgres
import Web

/// `encore serve`: the supervisor, in the foreground.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the FastCGI worker pool (SIGHUP reloads, SIGTERM stops).")

    @OptionGroup var pool: PoolOptions

    func run() throws {
        let configuration = try pool.load()
        JSONLogHandler.bootstrap(level: configuration.logLevel)
        let logger = Logger(label: "encore.supervisor")
        let settings = try Settings(configuration.application)
        guard !settings.ticketSigningKeys.isEmpty else {
            throw ValidationError(
                "ticket_signing_keys is not set: tickets' codes need a secret key (in the config file or "
                    + "ENCORE_TICKET_SIGNING_KEYS; make one with `openssl rand -hex 32`). bin/up and bin/test make their own."
            )
        }
        let encore = Encore(settings: settings)
        try migrateWithRetry(encore, configuration.databaseURL, logger: logger)

        let executable = Executable.path
        let options = pool
        let supervisor = try Supervisor(
            configuration: configuration,
            reloadConfiguration: { try options.load() },
            launcher: Supervisor.Launcher(
                executable: executable,
                workerArguments: { slot in ["worker", "--slot", "\(slot)"] },
                backgroundArguments: { name, slot in ["background", name, "--slot", "\(slot)"] }),
            backgroundJobs: encore.backgroundJobs.map(\.name),
            logger: logger)
        let status = try supervisor.run()
        if status != 0 { throw ExitCode(status) }
    }

    /// Applies pending migrations before any worker starts; waits up to 30 s for PostgreSQL.
    private func migrateWithRetry(_ encore: Encore, _ url: String, logger: Logger) throws {
        let deadline = Date().addingTimeInterval(30)
        while true {
            do {
                let connection = try Connection(url: url)
                let applied = try encore.migrate(connection)
                if !applied.isEmpty { logger.info("migrations applied", metadata: ["versions": "\(applied)"]) }
                return
            } catch let error as PostgresError where error.kind == .connection && Date() < deadline {
                logger.warning("waiting for PostgreSQL", metadata: ["error": "\(error)"])
                Thread.sleep(forTimeInterval: 1)
            }
        }
    }
}

/// `encore worker`: one HTTP worker process (started by the supervisor, not by hand).
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Internal: a worker process of the pool.", shouldDisplay: false)

    @Option var slot: Int
    @OptionGroup var pool: PoolOptions

    func run() throws {
        let configuration = try pool.load()
        JSONLogHandler.bootstrap(level: configuration.logLevel)
        let logger = Logger(label: "encore.worker")
        let testRoutes = ProcessInfo.processInfo.environment["ENCORE_TEST_ROUTES"] == "1"
        let application = try EncoreApplication(
            encore: Encore(settings: try Settings(configuration.application)), logger: logger,
            extraRoutes: testRoutes ? TestRoutes.register : nil)
        let worker = try Worker(
            configuration: configuration, slot: slot, logger: logger, makeHandler: application.handlerFactory())
        let status = worker.run()
        throw ExitCode(status)
    }
}

/// `encore background NAME`: one supervised background job.
struct BackgroundCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "background", abstract: "Internal: a supervised background job.", shouldDisplay: false)

    @Argument var name: String
    @Option var slot: Int
    @OptionGroup var pool: PoolOptions

    func run() throws {
        let configuration = try pool.load()
        JSONLogHandler.bootstrap(level: configuration.logLevel)
        let logger = Logger(label: "encore.background.\(name)")
        let encore = Encore(settings: try Settings(configuration.application))
        guard let job = encore.backgroundJobs.first(where: { $0.name == name }) else {
            throw ValidationError("unknown background job \(name)")
        }
        let status = BackgroundProcess.run(
            name: name, slot: slot, logger: logger,
            job: job.start(.init(databaseURL: configuration.databaseURL, logger: logger)))
        throw ExitCode(status)
    }
}

/// The path of this executable, so the supervisor starts workers from the same binary
/// (after a rebuild, a reload starts the new one).
enum Executable {
    static var path: String {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
            !resolved.hasSuffix(" (deleted)")
        {
            return resolved
        }
        return CommandLine.arguments[0]
    }
}
