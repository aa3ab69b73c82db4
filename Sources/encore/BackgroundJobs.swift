import Encore
import FastCGI
import Logging

/// The supervised background jobs of the pool, by name (defined by the composition root).
enum BackgroundJobs {
    static let names: [String] = EncoreBackgroundJobs.names

    static func job(named name: String, configuration: PoolConfiguration, logger: Logger) -> BackgroundProcess.Job? {
        EncoreBackgroundJobs.job(named: name, databaseURL: configuration.databaseURL, logger: logger)
    }
}
