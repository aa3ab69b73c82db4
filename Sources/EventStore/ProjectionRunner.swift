import Postgres

/// Runs one async projection or reactor a batch at a time, in the global order.
///
/// Each batch is one transaction: take the projection's advisory lock (so two daemons never
/// run the same projection), read the checkpoint, read the next events, apply them, store
/// the new checkpoint. The read-model writes and the checkpoint commit together, so a crash
/// anywhere (even `kill -9` mid-batch) leaves either the whole batch or none of it.
public struct ProjectionRunner {
    public let projection: any Projection
    public let readModelSchema: String
    public let batchSize: Int

    public init(projection: any Projection, readModelSchema: String = "public", batchSize: Int = 1000) {
        precondition(projection.kind != .inline, "inline projections run in the append's transaction")
        self.projection = projection
        self.readModelSchema = readModelSchema
        self.batchSize = batchSize
    }

    /// Applies the next batch; returns how many events it applied: 0 when caught up, or when
    /// another process holds the projection.
    ///
    /// `round`: the events that the daemon's other projections read in this round, used when
    /// they cover this projection's next events (and given this one's when they do not).
    @discardableResult
    public func runBatch(on connection: Connection, sharing round: SharedRead? = nil) throws -> Int {
        try connection.transaction { tx in
            guard let checkpoint = try Checkpoints.lock(projection.name, on: tx, wait: false) else { return 0 }
            let events: [RecordedEvent]
            if let shared = round?.events(after: checkpoint, maxCount: batchSize) {
                events = shared
            } else {
                events = try EventStore(connection: tx).readAll(after: checkpoint, maxCount: batchSize)
                round?.keep(events, after: checkpoint)
            }
            guard let last = events.last else { return 0 }
            try projection.apply(
                events, to: ProjectionTarget(connection: tx, schema: readModelSchema, isRebuild: false))
            try Checkpoints.store(projection.name, last.checkpoint, on: tx)
            return events.count
        }
    }

    /// Whether committed events after the checkpoint are held back from the global order by an
    /// older transaction still running (see `EventStore.readAll`): they will be readable soon,
    /// with no notification to say so.
    ///
    /// The first event after the checkpoint in the global order's index order, so that it is
    /// one index probe: asked as a join or an `EXISTS`, PostgreSQL scans the whole table when
    /// the projection is caught up, a scan that grows with the table and that the idle daemon
    /// runs again and again (found by the flash-sale bench: bench/flash-sale/FINDINGS.md,
    /// session 4).
    public func isHeldBack(on connection: Connection) throws -> Bool {
        try connection.query(
            """
            SELECT (SELECT e.global_position FROM es_events AS e
                    WHERE (e.transaction_id, e.global_position) > (c.transaction_id, c.position)
                    ORDER BY e.transaction_id, e.global_position LIMIT 1) IS NOT NULL AS held_back
            FROM es_checkpoints AS c WHERE c.name = \(projection.name)
            """
        ).first?.decode("held_back") ?? false
    }

    /// Runs batches until caught up; returns how many events it applied.
    @discardableResult
    public func catchUp(on connection: Connection) throws -> Int {
        var total = 0
        while true {
            let applied = try runBatch(on: connection)
            total += applied
            if applied < batchSize { return total }
        }
    }
}

/// The events one round of a daemon's batches read, so that the projections that are at the
/// same place in the global order (all of them, once caught up) read each event from
/// PostgreSQL once per round instead of once each.
///
/// What `EventStore.readAll` returned after a checkpoint is every event between that
/// checkpoint and the last one it returned: it reads only transactions older than every one
/// still running, so nothing can later appear in that stretch. Any projection whose
/// checkpoint falls inside the stretch therefore gets exactly its next events from it.
public final class SharedRead {
    private var after = Checkpoint.start
    private var events: [RecordedEvent] = []

    public init() {}

    /// The events after `checkpoint`, at most `maxCount`, when this round's read covers them;
    /// nil when the projection must read for itself (behind the read, or past its end).
    func events(after checkpoint: Checkpoint, maxCount: Int) -> [RecordedEvent]? {
        guard let last = events.last, after <= checkpoint, checkpoint < last.checkpoint,
            let first = events.firstIndex(where: { $0.checkpoint > checkpoint })
        else { return nil }
        return Array(events[first...].prefix(maxCount))
    }

    /// Keeps a projection's own read for the ones after it.
    func keep(_ read: [RecordedEvent], after checkpoint: Checkpoint) {
        guard !read.isEmpty else { return }
        after = checkpoint
        events = read
    }
}

/// The `es_checkpoints` table: each projection's place in the global order.
enum Checkpoints {
    /// Takes the projection's transaction-scoped advisory lock and returns its checkpoint, or
    /// nil when `wait` is false and another transaction holds the lock.
    static func lock(_ name: String, on tx: Connection, wait: Bool) throws -> Checkpoint? {
        let lockCall = wait ? "pg_advisory_xact_lock" : "pg_try_advisory_xact_lock"
        let row = try tx.query(
            """
            SELECT \(unsafeSQL: lockCall)(hashtextextended(\("es_projection:" + name), 0))::text AS locked,
                   transaction_id, position
            FROM es_checkpoints WHERE name = \(name)
            """
        ).first
        guard let row else { throw ProjectionError.notPrepared(name) }
        if !wait, row["locked"] != "true" { return nil }
        return Checkpoint(transactionId: try row.decode("transaction_id"), position: try row.decode("position"))
    }

    static func store(_ name: String, _ checkpoint: Checkpoint, on tx: Connection) throws {
        try tx.execute(
            """
            UPDATE es_checkpoints SET transaction_id = \(checkpoint.transactionId)::xid8,
                position = \(checkpoint.position), last_error = NULL, updated_at = now()
            WHERE name = \(name)
            """)
    }

    static func recordError(_ name: String, _ error: Error, on connection: Connection) throws {
        try connection.execute(
            "UPDATE es_checkpoints SET last_error = \(String(describing: error)), updated_at = now() WHERE name = \(name)"
        )
    }
}

/// A projection could not run or be rebuilt.
public enum ProjectionError: Error, Equatable, CustomStringConvertible {
    /// Its checkpoint row does not exist: run `ProjectionSetup.prepare` first.
    case notPrepared(String)
    /// No projection of that name is registered.
    case unknown(String)
    /// Reactors run side effects, which a rebuild must never repeat.
    case reactorCannotBeRebuilt(String)

    public var description: String {
        switch self {
        case .notPrepared(let name): "projection \(name) is not prepared (no checkpoint row)"
        case .unknown(let name): "no projection named \(name)"
        case .reactorCannotBeRebuilt(let name): "\(name) is a reactor: its side effects are never re-run"
        }
    }
}
