import FastCGI
import Logging

/// The supervised background jobs of the pool, by name.
enum BackgroundJobs {
    static let names: [String] = []

    static func job(named name: String, configuration: PoolConfiguration, logger: Logger) -> BackgroundProcess.Job? {
        nil
    }
}
