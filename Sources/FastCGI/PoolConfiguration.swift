import Foundation

/// The worker pool's settings.
///
/// Read, in rising order of precedence, from defaults, a `key = value` config file, environment
/// variables (`ENCORE_` + upper-case key, and `DATABASE_URL`) and command-line flags.
/// The defaults suit a 2-core machine: 2 worker processes of 4 threads each keep both cores
/// busy while some threads wait on PostgreSQL, with 8 database connections for requests (and up
/// to four per worker for the threads that write batched appends and confirmations, opened
/// when those first queue: `Committers` in the event store). With nginx's kept connections,
/// 2x4 served `/healthz` faster than 2x8, with a lower p99 (16 threads and 16 backends on
/// 2 cores spend more on switching, and a worker whose threads are all busy cannot lend its
/// kept connections to the other), and faster than 1x16 (measured: bench/RESULTS.md, "HTTP";
/// bench/FINDINGS.md, session 13).
public struct PoolConfiguration: Sendable, Equatable {
    public var socketPath = ".data/run/encore.sock"
    public var pidFile: String? = nil
    public var workers = 2
    public var threads = 4
    /// A worker is recycled after serving this many requests (0: never).
    public var maxRequests = 500_000
    /// Seconds after which a request is ended; PostgreSQL's `statement_timeout` is set to it too.
    public var requestTimeout = 30.0
    /// Seconds after which a request is written to the slow log.
    public var slowRequest = 2.0
    /// Largest request body accepted, in bytes; larger ones get 413 without being read.
    public var bodyLimit = 1_048_576
    /// Seconds a stopping worker may take to finish what it is serving.
    public var stopTimeout = 10.0
    public var listenBacklog = 1024
    public var databaseURL = "postgresql:///encore"
    public var logLevel = "info"
    /// The application's own settings (`load`'s `applicationKeys`), by key, as given: the pool
    /// reads them from the same sources and hands them to its workers and jobs untouched.
    public var application: [String: String] = [:]

    public init() {}

    /// Keys accepted in the config file and, upper-cased with an `ENCORE_` prefix, in the environment.
    public static let keys = [
        "socket", "pid_file", "workers", "threads", "max_requests", "request_timeout", "slow_request",
        "body_limit", "stop_timeout", "listen_backlog", "database_url", "log_level",
    ]

    public enum Error: Swift.Error, CustomStringConvertible {
        case unknownKey(String, source: String)
        case invalidValue(key: String, value: String, source: String)
        case unreadable(path: String)

        public var description: String {
            switch self {
            case .unknownKey(let key, let source): "unknown setting '\(key)' in \(source)"
            case .invalidValue(let key, let value, let source): "invalid value '\(value)' for '\(key)' in \(source)"
            case .unreadable(let path): "cannot read config file \(path)"
            }
        }
    }

    /// Builds the configuration from every source.
    ///
    /// `applicationKeys`: the application's own keys, accepted in every source besides the
    /// pool's and kept in `application`.
    public static func load(
        file: String?, environment: [String: String], flags: [String: String], applicationKeys: [String] = []
    ) throws -> PoolConfiguration {
        var configuration = PoolConfiguration()
        let known = Set(applicationKeys)
        if let file {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw Error.unreadable(path: file)
            }
            for (key, value) in try parseFile(text, source: file) {
                try configuration.set(key, value, source: file, applicationKeys: known)
            }
        }
        for key in applicationKeys {
            if let value = environment["ENCORE_" + key.uppercased()] { configuration.application[key] = value }
        }
        for key in keys {
            if let value = environment["ENCORE_" + key.uppercased()] {
                try configuration.set(key, value, source: "ENCORE_" + key.uppercased())
            }
        }
        if let url = environment["DATABASE_URL"], !url.isEmpty {
            configuration.databaseURL = url
        }
        for (key, value) in flags.sorted(by: { $0.key < $1.key }) {
            try configuration.set(
                key, value, source: "--" + key.replacingOccurrences(of: "_", with: "-"), applicationKeys: known)
        }
        try configuration.validate()
        return configuration
    }

    /// Parses `key = value` lines; `#` starts a comment.
    static func parseFile(_ text: String, source: String) throws -> [(String, String)] {
        var pairs: [(String, String)] = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw Error.invalidValue(key: line, value: "", source: "\(source):\(number + 1)")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            pairs.append((key, value))
        }
        return pairs
    }

    mutating func set(_ key: String, _ value: String, source: String, applicationKeys: Set<String> = []) throws {
        func int() throws -> Int {
            guard let number = Int(value), number >= 0 else {
                throw Error.invalidValue(key: key, value: value, source: source)
            }
            return number
        }
        func seconds() throws -> Double {
            var text = value
            if text.hasSuffix("s") { text.removeLast() }
            guard let number = Double(text), number > 0 else {
                throw Error.invalidValue(key: key, value: value, source: source)
            }
            return number
        }
        switch key {
        case "socket": socketPath = value
        case "pid_file": pidFile = value.isEmpty ? nil : value
        case "workers": workers = try int()
        case "threads": threads = try int()
        case "max_requests": maxRequests = try int()
        case "request_timeout": requestTimeout = try seconds()
        case "slow_request": slowRequest = try seconds()
        case "body_limit": bodyLimit = try int()
        case "stop_timeout": stopTimeout = try seconds()
        case "listen_backlog": listenBacklog = try int()
        case "database_url": databaseURL = value
        case "log_level": logLevel = value
        default:
            guard applicationKeys.contains(key) else { throw Error.unknownKey(key, source: source) }
            application[key] = value
        }
    }

    func validate() throws {
        guard (1...Scoreboard.maxWorkers / 2).contains(workers) else {
            throw Error.invalidValue(
                key: "workers", value: "\(workers)", source: "settings (1...\(Scoreboard.maxWorkers / 2))")
        }
        guard (1...Scoreboard.maxThreads).contains(threads) else {
            throw Error.invalidValue(
                key: "threads", value: "\(threads)", source: "settings (1...\(Scoreboard.maxThreads))")
        }
        guard listenBacklog > 0 else {
            throw Error.invalidValue(key: "listen_backlog", value: "\(listenBacklog)", source: "settings")
        }
    }

    /// The settings as environment variables, to start a worker process with exactly this
    /// configuration (the environment, unlike arguments, does not show the database URL in `ps`).
    var workerEnvironment: [String: String] {
        var environment = [
            "ENCORE_SOCKET": socketPath, "ENCORE_WORKERS": "\(workers)", "ENCORE_THREADS": "\(threads)",
            "ENCORE_MAX_REQUESTS": "\(maxRequests)", "ENCORE_REQUEST_TIMEOUT": "\(requestTimeout)",
            "ENCORE_SLOW_REQUEST": "\(slowRequest)", "ENCORE_BODY_LIMIT": "\(bodyLimit)",
            "ENCORE_STOP_TIMEOUT": "\(stopTimeout)", "ENCORE_LISTEN_BACKLOG": "\(listenBacklog)",
            "ENCORE_LOG_LEVEL": logLevel, "DATABASE_URL": databaseURL,
        ]
        for (key, value) in application { environment["ENCORE_" + key.uppercased()] = value }
        return environment
    }
}
