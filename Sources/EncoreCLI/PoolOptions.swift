import ArgumentParser
import Encore
import FastCGI
import Foundation

/// Flags shared by `serve` and the hidden `worker`: each overrides the config file and the
/// environment (`ENCORE_<KEY>`).
struct PoolOptions: ParsableArguments {
    @Option(help: "Config file of `key = value` lines (default: $ENCORE_CONFIG, or ./encore.conf if present).")
    var config: String?
    @Option(help: "Unix socket the pool listens on.") var socket: String?
    @Option(name: .customLong("pid-file"), help: "File the supervisor writes its pid to.") var pidFile: String?
    @Option(help: "Worker processes.") var workers: Int?
    @Option(help: "Threads per worker process (each with its own PostgreSQL connection).") var threads: Int?
    @Option(name: .customLong("max-requests"), help: "Recycle a worker after this many requests (0: never).")
    var maxRequests: Int?
    @Option(name: .customLong("request-timeout"), help: "Seconds after which a request is ended.")
    var requestTimeout: Double?
    @Option(name: .customLong("slow-request"), help: "Seconds after which a request goes to the slow log.")
    var slowRequest: Double?
    @Option(name: .customLong("body-limit"), help: "Largest request body in bytes; larger gets 413.")
    var bodyLimit: Int?
    @Option(name: .customLong("stop-timeout"), help: "Seconds a stopping worker may take to finish.")
    var stopTimeout: Double?
    @Option(name: .customLong("database-url"), help: "PostgreSQL connection URL (default: $DATABASE_URL).")
    var databaseURL: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    var configFile: String? {
        if let config { return config }
        if let fromEnvironment = ProcessInfo.processInfo.environment["ENCORE_CONFIG"] { return fromEnvironment }
        return FileManager.default.fileExists(atPath: "encore.conf") ? "encore.conf" : nil
    }

    var flags: [String: String] {
        var flags: [String: String] = [:]
        if let socket { flags["socket"] = socket }
        if let pidFile { flags["pid_file"] = pidFile }
        if let workers { flags["workers"] = "\(workers)" }
        if let threads { flags["threads"] = "\(threads)" }
        if let maxRequests { flags["max_requests"] = "\(maxRequests)" }
        if let requestTimeout { flags["request_timeout"] = "\(requestTimeout)" }
        if let slowRequest { flags["slow_request"] = "\(slowRequest)" }
        if let bodyLimit { flags["body_limit"] = "\(bodyLimit)" }
        if let stopTimeout { flags["stop_timeout"] = "\(stopTimeout)" }
        if let databaseURL { flags["database_url"] = databaseURL }
        if let logLevel { flags["log_level"] = logLevel }
        return flags
    }

    func load() throws -> PoolConfiguration {
        do {
            var configuration = try PoolConfiguration.load(
                file: configFile, environment: ProcessInfo.processInfo.environment, flags: flags,
                applicationKeys: Settings.keys)
            _ = try Settings(configuration.application)
            // Paths are made absolute so workers and reloads agree whatever their directory.
            configuration.socketPath = absolute(configuration.socketPath)
            configuration.pidFile = configuration.pidFile.map(absolute)
            return configuration
        } catch {
            throw ValidationError("\(error)")
        }
    }

    private func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}

/// The database URL for tools: the flag, else $DATABASE_URL, else the pool's settings.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "PostgreSQL connection URL (default: $DATABASE_URL).")
    var databaseURL: String?

    var url: String {
        databaseURL ?? ProcessInfo.processInfo.environment["DATABASE_URL"] ?? PoolConfiguration().databaseURL
    }
}
