import Foundation
import Postgres

/// Rebuilds a projection from the first event, while the live read model keeps serving.
///
/// 1. Creates the projection's tables in a shadow schema (`es_rebuild_<name>`).
/// 2. Replays the global order into them in batches, each its own short transaction (a long
///    one would hold back every subscriber, see `EventStore.readAll`), in two rounds, each up
///    to the head seen when it starts: busy writers cannot keep a rebuild from finishing.
/// 3. Then, in one transaction: takes the projection's lock (an async projection's live
///    runner pauses; for an inline one, appends that would write its tables wait), applies
///    what arrived meanwhile (for an async one, up to the head seen under the lock; its runner
///    goes on from there), drops the live tables, moves the shadow ones into the
///    live schema and stores the checkpoint. Readers see the old tables until that commit and
///    the new ones after it.
///
/// A rebuild that dies leaves only a shadow schema, which the next rebuild drops. Reactors
/// cannot be rebuilt.
public struct ProjectionRebuilder {
    public let connection: Connection
    public let readModelSchema: String
    public let batchSize: Int

    public init(connection: Connection, readModelSchema: String = "public", batchSize: Int = 2000) {
        self.connection = connection
        self.readModelSchema = readModelSchema
        self.batchSize = batchSize
    }

    /// Rebuilds `projection`; `progress` is called after every batch.
    @discardableResult
    public func rebuild(
        _ projection: any Projection, progress: (RebuildProgress) -> Void = { _ in }
    ) throws -> RebuildProgress {
        guard projection.kind != .reactor else { throw ProjectionError.reactorCannotBeRebuilt(projection.name) }
        try ProjectionSetup.prepare([projection], on: connection, readModelSchema: readModelSchema)
        let shadow = Self.shadowSchema(for: projection.name)
        let quotedShadow = Connection.quoteIdentifier(shadow)
        try connection.transaction { tx in
            try tx.execute(SQLQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(quotedShadow) CASCADE"))
            try tx.execute(SQLQuery(unsafeSQL: "CREATE SCHEMA \(quotedShadow)"))
            try projection.createTables(in: ProjectionTarget(connection: tx, schema: shadow, isRebuild: true))
        }

        var meter = RebuildMeter(projection: projection.name)
        var checkpoint = Checkpoint.start
        // Each round replays up to the head seen when it starts, so writers that append faster
        // than the replay cannot keep it going forever; the second round takes in most of what
        // arrived during the first, which keeps the locked swap below short.
        for _ in 0..<2 {
            let target = try EventStore(connection: connection).headCheckpoint()
            while checkpoint < target {
                let applied: Int = try connection.transaction { tx in
                    let events = try EventStore(connection: tx).readAll(
                        after: checkpoint, through: target, maxCount: batchSize)
                    guard let last = events.last else { return 0 }
                    try projection.apply(events, to: ProjectionTarget(connection: tx, schema: shadow, isRebuild: true))
                    checkpoint = last.checkpoint
                    return events.count
                }
                progress(try meter.record(applied, at: checkpoint, on: connection))
                if applied == 0 { break }
            }
        }

        try connection.transaction { tx in
            let target = ProjectionTarget(connection: tx, schema: shadow, isRebuild: true)
            let liveTables = try projection.tables.filter { try tableExists($0, in: readModelSchema, on: tx) }
                .map { Connection.quoteIdentifier(readModelSchema) + "." + Connection.quoteIdentifier($0) }
            _ = try Checkpoints.lock(projection.name, on: tx, wait: true)
            let store = EventStore(connection: tx)
            if projection.kind == .inline {
                // Appends write an inline read model in their own transaction: with its tables
                // locked, every append that reached them has committed, and the rest wait.
                if !liveTables.isEmpty {
                    try tx.execute(
                        SQLQuery(unsafeSQL: "LOCK TABLE \(liveTables.joined(separator: ", ")) IN ACCESS EXCLUSIVE MODE")
                    )
                }
                while true {
                    let events = try store.readAllCommitted(after: checkpoint, maxCount: batchSize)
                    guard let last = events.last else { break }
                    try projection.apply(events, to: target)
                    checkpoint = last.checkpoint
                    progress(try meter.record(events.count, at: checkpoint, on: tx))
                }
            } else {
                // The live runner waits on the lock; writers do not. Catch up to the head seen
                // now and hand the rest to the runner, which goes on from the stored checkpoint.
                let head = try store.headCheckpoint()
                while true {
                    let events = try store.readAll(after: checkpoint, through: head, maxCount: batchSize)
                    guard let last = events.last else { break }
                    try projection.apply(events, to: target)
                    checkpoint = last.checkpoint
                    progress(try meter.record(events.count, at: checkpoint, on: tx))
                }
            }
            if !liveTables.isEmpty {
                try tx.execute(SQLQuery(unsafeSQL: "DROP TABLE \(liveTables.joined(separator: ", "))"))
            }
            for table in projection.tables {
                try tx.execute(
                    SQLQuery(
                        unsafeSQL: "ALTER TABLE \(quotedShadow).\(Connection.quoteIdentifier(table)) SET SCHEMA "
                            + Connection.quoteIdentifier(readModelSchema)))
            }
            try tx.execute(SQLQuery(unsafeSQL: "DROP SCHEMA \(quotedShadow) CASCADE"))
            try tx.execute(
                """
                UPDATE es_checkpoints SET transaction_id = \(checkpoint.transactionId)::xid8,
                    position = \(checkpoint.position), version = \(projection.version), last_error = NULL,
                    updated_at = now()
                WHERE name = \(projection.name)
                """)
        }
        return meter.finished(at: checkpoint)
    }

    /// The schema a projection is rebuilt in.
    public static func shadowSchema(for name: String) -> String { "es_rebuild_" + name }

    private func tableExists(_ table: String, in schema: String, on connection: Connection) throws -> Bool {
        let name = Connection.quoteIdentifier(schema) + "." + Connection.quoteIdentifier(table)
        return try connection.query("SELECT to_regclass(\(name)) IS NOT NULL AS present").first?["present"] == "t"
    }
}

extension EventStore {
    /// Every committed event after `checkpoint`, ignoring still-running transactions (for the
    /// swap of an inline projection, which holds its tables' lock).
    func readAllCommitted(after checkpoint: Checkpoint, maxCount: Int) throws -> [RecordedEvent] {
        try EventRows.decode(
            connection.query(
                """
                SELECT \(unsafeSQL: EventRows.columns) FROM es_events
                WHERE (transaction_id, global_position) > (\(checkpoint.transactionId)::xid8, \(checkpoint.position))
                ORDER BY transaction_id, global_position LIMIT \(Int64(clamping: maxCount))
                """))
    }
}

/// How far a rebuild has got.
public struct RebuildProgress: Sendable {
    public let projection: String
    public let processed: Int
    /// `processed` plus an estimate of what is left (from the highest global position).
    public let estimatedTotal: Int
    public let elapsed: Double
    public let checkpoint: Checkpoint
    public let isFinished: Bool

    public init(
        projection: String, processed: Int, estimatedTotal: Int, elapsed: Double, checkpoint: Checkpoint,
        isFinished: Bool
    ) {
        self.projection = projection
        self.processed = processed
        self.estimatedTotal = estimatedTotal
        self.elapsed = elapsed
        self.checkpoint = checkpoint
        self.isFinished = isFinished
    }

    public var eventsPerSecond: Double { elapsed > 0 ? Double(processed) / elapsed : 0 }
    /// Seconds left at the current rate, when it can be told.
    public var secondsLeft: Double? {
        let rate = eventsPerSecond
        return rate > 0 ? Double(max(0, estimatedTotal - processed)) / rate : nil
    }
}

struct RebuildMeter {
    let projection: String
    let started = Date()
    var processed = 0
    var lastEstimate = 0

    init(projection: String) { self.projection = projection }

    mutating func record(_ count: Int, at checkpoint: Checkpoint, on connection: Connection) throws -> RebuildProgress {
        processed += count
        let highest =
            try connection.query("SELECT coalesce(max(global_position), 0) AS highest FROM es_events")
            .first.map { try $0.decode("highest", as: Int64.self) } ?? 0
        let left = max(0, Int(highest - checkpoint.position))
        lastEstimate = processed + left
        return progress(at: checkpoint, finished: false)
    }

    func finished(at checkpoint: Checkpoint) -> RebuildProgress {
        RebuildProgress(
            projection: projection, processed: processed, estimatedTotal: processed,
            elapsed: Date().timeIntervalSince(started), checkpoint: checkpoint, isFinished: true)
    }

    private func progress(at checkpoint: Checkpoint, finished: Bool) -> RebuildProgress {
        RebuildProgress(
            projection: projection, processed: processed, estimatedTotal: max(processed, lastEstimate),
            elapsed: Date().timeIntervalSince(started), checkpoint: checkpoint, isFinished: finished)
    }
}
