import Foundation
import Postgres

/// Group commit: concurrent one-event appends from the threads of one process share one
/// INSERT and one transaction.
///
/// What a one-event append costs PostgreSQL is mostly per statement and per transaction
/// (executor start, the commit's WAL flush), not per row. With a `GroupCommit` given to the
/// `EventStore`s of a process's threads, an append that arrives while another thread's batch
/// is being written waits in a queue; when that batch is done, one of the waiting threads
/// leads the next: it writes every queued append (up to `maxBatch`, one per stream) with one
/// INSERT on its own connection, and each waiting thread gets its own outcome. Nothing waits
/// on purpose: a lone append is written at once, as without group commit, and batches only
/// form when appends arrive faster than they are written (how PostgreSQL groups its WAL
/// flushes, and how KurrentDB's writer batches).
///
/// One batch is in flight at a time. Two or three at once were measured (bench/eventstore.sh,
/// 16 writers): each extra one made batches smaller and appends slower (8,300 appends/s with
/// one, 6,500 with two, 5,000 with three). Neither did handing the lead on before the COMMIT
/// (so the next INSERT runs during this batch's WAL flush) nor waiting a moment for as many
/// appends as the last batch had (bench/RESULTS.md, "Event store" notes).
///
/// What each append sees does not change:
/// - it returns only after its event is committed;
/// - it succeeds or fails by itself: the INSERT skips (`ON CONFLICT DO NOTHING`) a version
///   another writer holds and the version after an expected version that does not exist, and
///   that append gets `WrongExpectedVersion` while the others in the batch are written;
/// - its inline projections run in the transaction that commits its event (a batch with
///   inline projections is one explicit transaction; without, the INSERT's own);
/// - when the batch fails for any other reason (an event id used before, a projection that
///   throws, a lost connection), nothing of it is committed and every append in it is run
///   again by itself, on its own thread's connection, where it gets its own error. Running
///   again cannot double an append: only appends with an exact (or "no stream") expected
///   version are batched, and a repeat of a committed one is refused by its version.
///
/// Not batched: appends of several events (they already share one transaction among their
/// events, and batching them serialises the writing: 13,400 against 22,600 events/s with 16
/// writers of 10-event appends), "any version" appends, appends with an idempotency key, and
/// appends inside a caller's transaction.
public final class GroupCommit: Sendable {
    private let batcher: Batcher<Pending, Outcome>

    /// The process's: the commands of the pool's worker threads append through it.
    public static let shared = GroupCommit()

    /// `maxBatch`: the most appends one INSERT writes.
    public init(maxBatch: Int = 64) {
        batcher = Batcher(maxBatch: maxBatch) { $0.request.streamId }
    }

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

    /// Queues an append and waits for its outcome, leading batches on `connection` (which must
    /// not be in a transaction) whenever no other thread is.
    func append(_ pending: Pending, leadingOn connection: Connection) -> Outcome {
        batcher.submit(pending) { batch in Self.write(batch, on: connection) }
    }

    /// Writes a batch; never throws (a failed batch is `.runAlone`).
    static func write(_ batch: [Pending], on connection: Connection) -> [Outcome] {
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
            if batch.allSatisfy({ $0.projections.isEmpty }) { return try writeBatch(batch, on: connection) }
            return try connection.transaction { connection in try writeBatch(batch, on: connection) }
        } catch {
            return Array(repeating: .runAlone, count: batch.count)
        }
    }

    /// The batch's INSERT, then the appended events' inline projections.
    private static func writeBatch(_ batch: [Pending], on connection: Connection) throws -> [Outcome] {
        let written = try ManyStreamsStatement.Written(
            connection.query(
                ManyStreamsStatement.query(
                    batch.map {
                        ManyStreamsStatement.Row(
                            request: $0.request, base: max(0, $0.request.expectedVersion.sqlValue), ord: 1,
                            event: $0.request.events[0], metadataJSON: $0.metadata.json)
                    }, skippingTaken: true)))
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
