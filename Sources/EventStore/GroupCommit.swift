import Foundation
import Postgres

/// Group commit: concurrent one-event appends from the threads of one process share one
/// INSERT and one transaction.
///
/// What a one-event append costs PostgreSQL is mostly per statement and per transaction
/// (executor start, the commit's WAL flush), not per row. With a `GroupCommit` given to the
/// `EventStore`s of a process's threads, appends that arrive while a batch is being written
/// wait in a queue, and the next batch writes all of them (up to `maxBatch`, one per stream)
/// with one INSERT; each waiting thread gets its own outcome. Nothing waits on purpose: an
/// append that finds nothing being written is written at once, on its caller's own connection,
/// as without group commit; batches only form when appends arrive faster than they are
/// written (how PostgreSQL groups its WAL flushes, and how KurrentDB's writer batches).
///
/// Queued appends are written by **committer threads**, each with a connection of its own
/// (`Connection.sibling`: same server and session settings as the callers'), started when an
/// append first has to wait (so in the process that appends, never before a fork) and ended
/// with the group commit (`shared`'s live as long as the process): `Committers`. At most one
/// batch is in its INSERT at a time; as soon as its rows are back (a flush request in the same
/// pipeline, so no extra round trip) the next committer may start the next batch, whose INSERT
/// then runs while the first one's commit waits for its WAL flush. So batches stay as large as
/// with one batch at a time, and the two phases overlap. With 16 writers, run in pairs against
/// raw pgbench, this came nearer pgbench's rate than the design before it (measured:
/// bench/RESULTS.md, "Event store" notes, session 7). That design had the waiting threads take
/// turns leading one batch at a time on their own connections: every change of leader woke a
/// thread (with a broadcast, all of them) just when the batch's backend needed the CPU, and
/// letting two leaders run at once split the writers into smaller batches.
///
/// What each append sees does not change:
/// - it returns only after its event is committed;
/// - it succeeds or fails by itself: the INSERT skips (`ON CONFLICT DO NOTHING`) a version
///   another writer holds and the version after an expected version that does not exist, and
///   that append gets `WrongExpectedVersion` while the others in the batch are written;
/// - its inline projections run in the transaction that commits its event (a batch with
///   inline projections is one explicit transaction; without, the INSERT's own);
/// - when the batch fails for any other reason (an event id used before, a projection that
///   throws, a lost connection, a committer that cannot connect), nothing of it is committed
///   and every append in it is run again by itself, on its own thread's connection, where it
///   gets its own error. Running again cannot double an append: only appends with an exact (or
///   "no stream") expected version are batched, and a repeat of a committed one is refused by
///   its version.
///
/// Not batched: appends of several events (they already share one transaction among their
/// events, and batching them serialises the writing on one backend, which measured slower than
/// each writer's own INSERT: bench/RESULTS.md, "Event store" notes), "any version" appends,
/// appends with an idempotency key, and appends inside a caller's transaction.
public final class GroupCommit: Sendable {
    public let maxBatch: Int
    /// How many committer threads (and connections) it starts at most.
    public let committers: Int
    private let queue: Committers<Pending, Outcome>

    /// The process's: the commands of the pool's worker threads append through it.
    public static let shared = GroupCommit()

    /// `maxBatch`: the most appends one INSERT writes; `committers`: the threads that write
    /// queued batches (two: one in its INSERT while the other's commit is flushed).
    public init(maxBatch: Int = 64, committers: Int = 2) {
        precondition(maxBatch >= 1 && committers >= 1)
        self.maxBatch = maxBatch
        self.committers = committers
        queue = Committers(maxBatch: maxBatch, threads: committers, oneStartingAtATime: true) {
            $0.request.streamId
        } write: { batch, connection, started in
            GroupCommit.write(batch, on: connection, rowsBack: started)
        } failed: { _ in
            .runAlone
        }
    }

    /// Its committer threads end and close their connections.
    deinit { queue.stop() }

    /// One append waiting for its batch.
    struct Pending: Sendable {
        let request: StreamAppend
        let metadata: EventMetadata
        let projections: [any Projection]
        let readModelSchema: String
    }

    enum Outcome {
        case appended(AppendResult)
        /// The stream was not at the expected version; the caller reads the actual one.
        case refused
        /// The batch failed; the caller runs the append by itself.
        case runAlone
    }

    /// Whether an append may join a batch.
    static func accepts(_ request: StreamAppend, idempotencyKey: String?) -> Bool {
        idempotencyKey == nil && request.expectedVersion != .any && request.events.count == 1
    }

    /// Writes an append at once on `connection` (which must not be in a transaction) when
    /// nothing is being written; otherwise queues it for a committer and waits for its outcome.
    func append(_ pending: Pending, on connection: Connection) -> Outcome {
        queue.submit(pending, on: connection)
    }

    /// How many committer threads have been started (for tests).
    var startedCommitterCount: Int { queue.committerCount }

    /// How many appends wait for a committer (for tests).
    var queuedCount: Int { queue.queuedCount }

    /// Writes a batch; never throws (a failed batch is `.runAlone`). Without inline projections
    /// the batch is its INSERT's own transaction, and `rowsBack` is called as soon as the
    /// INSERT's rows are back, before the commit is done (not for a lone append, nor for a batch
    /// in an explicit transaction).
    static func write(_ batch: [Pending], on connection: Connection, rowsBack: () -> Void = {}) -> [Outcome] {
        if batch.count == 1, batch[0].projections.isEmpty {
            // Alone: the plain append.
            let member = batch[0]
            do {
                let recorded = try EventStore.append(
                    member.request, metadata: member.metadata, idempotencyKey: nil, on: connection)
                return [.appended(recorded.result)]
            } catch is WrongExpectedVersion {
                return [.refused]
            } catch {
                return [.runAlone]
            }
        }
        do {
            if batch.allSatisfy({ $0.projections.isEmpty }) {
                return try writeBatch(batch, on: connection, ownTransaction: true, rowsBack: rowsBack)
            }
            return try connection.transaction { connection in
                try writeBatch(batch, on: connection, ownTransaction: false, rowsBack: {})
            }
        } catch {
            return Array(repeating: .runAlone, count: batch.count)
        }
    }

    /// The batch's INSERT, then the appended events' inline projections. `ownTransaction`: the
    /// INSERT is sent with a flush request, and `rowsBack` called when its rows are back.
    private static func writeBatch(
        _ batch: [Pending], on connection: Connection, ownTransaction: Bool, rowsBack: () -> Void
    ) throws -> [Outcome] {
        let query = ManyStreamsStatement.query(
            batch.map {
                ManyStreamsStatement.Row(
                    request: $0.request, base: max(0, $0.request.expectedVersion.sqlValue), ord: 1,
                    event: $0.request.events[0], metadataJSON: $0.metadata.json)
            }, skippingTaken: true)
        let written = try ManyStreamsStatement.Written(
            ownTransaction ? connection.query(query, whenExecuted: rowsBack) : connection.query(query))
        var outcomes: [Outcome] = []
        var appended: [(member: Pending, events: [RecordedEvent])] = []
        for member in batch {
            guard let inserted = written.rows(of: member.request) else {
                outcomes.append(.refused)
                continue
            }
            let recorded = EventStore.recorded(
                member.request, metadata: member.metadata, inserted: inserted, transactionId: written.transactionId,
                recordedAt: written.recordedAt)
            outcomes.append(.appended(recorded.result))
            appended.append((member, recorded.events))
        }
        try applyInlineProjections(appended, on: connection)
        return outcomes
    }

    /// Runs each append's inline projections on its event, in the batch's (global) order;
    /// neighbours with the same projections share one call.
    private static func applyInlineProjections(
        _ appended: [(member: Pending, events: [RecordedEvent])], on connection: Connection
    ) throws {
        var start = 0
        while start < appended.count {
            let first = appended[start].member
            var end = start + 1
            while end < appended.count && sameProjections(appended[end].member, first) { end += 1 }
            let events = appended[start..<end].flatMap(\.events)
            let target = ProjectionTarget(connection: connection, schema: first.readModelSchema, isRebuild: false)
            for projection in first.projections {
                try projection.apply(events, to: target)
            }
            start = end
        }
    }

    private static func sameProjections(_ a: Pending, _ b: Pending) -> Bool {
        a.readModelSchema == b.readModelSchema && a.projections.map(\.name) == b.projections.map(\.name)
    }
}
