import Foundation
import Logging
import Postgres

/// The background process that runs async projections and reactors.
///
/// The lead's supervisor runs `run` in a supervised process; it returns when `shouldStop`
/// says so (checked between batches and at least every `pollInterval`).
///
/// Waking: appends do not NOTIFY by default, because a notifying transaction takes a
/// cluster-wide lock at commit that serialises every other notifying commit (no group commit).
/// Instead, when the daemon runs out of work it registers itself as waiting in
/// `es_subscribers`, looks once more, and sleeps on LISTEN; the append sends NOTIFY only
/// while some subscriber is waiting. Under load the daemon is never waiting, so appends pay
/// nothing; when idle, the first append wakes it at once. A commit that races the
/// registration is found by the polling fallback within `pollInterval`.
public enum ProjectionDaemon {
    public struct Options: Sendable {
        /// Events per transaction.
        public var batchSize: Int
        /// Longest sleep without a notification, in seconds: the polling fallback.
        public var pollInterval: Double
        /// This daemon's row in `es_subscribers`; unique per running daemon.
        public var subscriberName: String
        public var readModelSchema: String
        /// Pause before retrying a projection whose batch failed, in seconds.
        public var failureBackoff: Double
        /// Pause after batches that caught up, in seconds, so that under a steady stream of
        /// appends the next events gather into one batch instead of being read a few at a
        /// time (each batch costs a transaction, a checkpoint write and a read per
        /// projection). A full batch is followed at once.
        public var gatherPause: Double

        public init(
            batchSize: Int = 1000, pollInterval: Double = 1, subscriberName: String = "projections",
            readModelSchema: String = "public", failureBackoff: Double = 5, gatherPause: Double = 0.025
        ) {
            self.batchSize = batchSize
            self.pollInterval = pollInterval
            self.subscriberName = subscriberName
            self.readModelSchema = readModelSchema
            self.failureBackoff = failureBackoff
            self.gatherPause = gatherPause
        }
    }

    /// Runs the async projections and reactors among `projections` until `shouldStop()`.
    ///
    /// Never throws for a lost connection or a failing projection: it logs, records the error
    /// in `es_checkpoints.last_error`, and retries (the failing projection after
    /// `failureBackoff`, the others at once).
    public static func run(
        connectionURL: String, projections: [any Projection], options: Options = Options(),
        logger: Logger = Logger(label: "encore.projections"), shouldStop: @escaping @Sendable () -> Bool
    ) {
        let runners = projections.filter { $0.kind != .inline }.map {
            ProjectionRunner(projection: $0, readModelSchema: options.readModelSchema, batchSize: options.batchSize)
        }
        while !shouldStop() {
            do {
                let connection = try Connection(url: connectionURL)
                try ProjectionSetup.prepare(projections, on: connection, readModelSchema: options.readModelSchema)
                try warnAboutStaleVersions(projections, on: connection, logger: logger)
                try connection.listen(EventStoreSchema.notificationChannel)
                var loop = Loop(connection: connection, runners: runners, options: options, logger: logger)
                defer { loop.stopWaiting() }
                try loop.run(shouldStop: shouldStop)
            } catch {
                logger.error("projection daemon lost its connection; retrying", metadata: ["error": "\(error)"])
                sleep(seconds: options.pollInterval * 2, shouldStop: shouldStop)
            }
        }
    }

    private static func warnAboutStaleVersions(
        _ projections: [any Projection], on connection: Connection, logger: Logger
    ) throws {
        for projection in projections {
            let stored = try connection.query("SELECT version FROM es_checkpoints WHERE name = \(projection.name)")
                .first.flatMap { try? $0.decode("version", as: Int.self) }
            if let stored, stored != projection.version {
                logger.warning(
                    "projection version changed; run `encore projections rebuild \(projection.name)`",
                    metadata: ["stored": "\(stored)", "code": "\(projection.version)"])
            }
        }
    }

    static func sleep(seconds: Double, shouldStop: @Sendable () -> Bool) {
        let end = Date().addingTimeInterval(seconds)
        while !shouldStop(), Date() < end { usleep(UInt32(min(50_000, max(1000, seconds * 1_000_000)))) }
    }

    /// One connection's worth of the daemon: batches, then waiting, then batches.
    private struct Loop {
        let connection: Connection
        let runners: [ProjectionRunner]
        let options: Options
        let logger: Logger
        var failedUntil: [String: Date] = [:]
        /// When this daemon last registered as waiting; nil while busy.
        var waitingSince: Date?

        init(connection: Connection, runners: [ProjectionRunner], options: Options, logger: Logger) {
            self.connection = connection
            self.runners = runners
            self.options = options
            self.logger = logger
        }

        mutating func run(shouldStop: @Sendable () -> Bool) throws {
            var heldBackPause = 0.005
            while !shouldStop() {
                let done = try runBatches()
                if done.applied > 0 {
                    if waitingSince != nil { try setWaiting(false) }
                    heldBackPause = 0.005
                    if !done.anyFull { ProjectionDaemon.sleep(seconds: options.gatherPause, shouldStop: shouldStop) }
                    continue
                }
                // Committed events that an older, still running transaction holds back come
                // with no notification of their own: look again soon.
                if try runners.contains(where: { try $0.isHeldBack(on: connection) }) {
                    ProjectionDaemon.sleep(seconds: heldBackPause, shouldStop: shouldStop)
                    heldBackPause = min(heldBackPause * 2, 0.2)
                    continue
                }
                // Nothing to do: register as waiting (refreshed well within the 1 minute the
                // appenders trust it for), then look once more before sleeping.
                if waitingSince.map({ Date().timeIntervalSince($0) > 20 }) ?? true {
                    try setWaiting(true)
                    _ = try connection.waitForNotifications(timeout: 0)
                    continue
                }
                let notifications = try connection.waitForNotifications(timeout: options.pollInterval)
                if !notifications.isEmpty { try setWaiting(false) }
            }
        }

        /// One batch per projection: how many events they applied, and whether a batch was
        /// full (more may be waiting).
        private mutating func runBatches() throws -> (applied: Int, anyFull: Bool) {
            var applied = 0
            var anyFull = false
            let now = Date()
            let round = SharedRead()
            for runner in runners where (failedUntil[runner.projection.name] ?? now) <= now {
                do {
                    let count = try runner.runBatch(on: connection, sharing: round)
                    applied += count
                    anyFull = anyFull || count >= runner.batchSize
                } catch let error as PostgresError where error.kind == .connection {
                    throw error
                } catch {
                    logger.error(
                        "projection failed; retrying later",
                        metadata: ["projection": "\(runner.projection.name)", "error": "\(error)"])
                    failedUntil[runner.projection.name] = now.addingTimeInterval(options.failureBackoff)
                    try Checkpoints.recordError(runner.projection.name, error, on: connection)
                }
            }
            return (applied, anyFull)
        }

        private mutating func setWaiting(_ waiting: Bool) throws {
            if waiting {
                try connection.execute(
                    """
                    INSERT INTO es_subscribers (name, waiting_since) VALUES (\(options.subscriberName), now())
                    ON CONFLICT (name) DO UPDATE SET waiting_since = now()
                    """)
                waitingSince = Date()
            } else {
                try connection.execute(
                    "UPDATE es_subscribers SET waiting_since = NULL WHERE name = \(options.subscriberName)")
                waitingSince = nil
            }
        }

        mutating func stopWaiting() {
            if waitingSince != nil { try? setWaiting(false) }
        }
    }
}
