import Foundation
import Postgres
import Testing

@testable import EventStore

/// Group commit: a batch of appends in one transaction, each with its own outcome.
@Suite struct GroupCommitTests {
    /// One batch, written as a leader writes it: each append is appended or refused by
    /// itself, and a refused one leaves nothing behind.
    @Test func aBatchGivesEachAppendItsOwnOutcome() throws {
        let connection = try Connection(url: TestDatabase.fresh())
        let projection = EventCounts(kind: .inline)
        try ProjectionSetup.prepare([projection], on: connection)
        let store = EventStore(connection: connection)
        try store.append(to: "at-1", type: "T", expectedVersion: .noStream, events: [testEvent()])
        try store.append(to: "at-2", type: "T", expectedVersion: .noStream, events: [testEvent(), testEvent()])
        try store.append(to: "gap", type: "T", expectedVersion: .noStream, events: [testEvent()])
        try store.append(to: "taken", type: "T", expectedVersion: .noStream, events: [testEvent()])

        func pending(_ stream: String, _ expected: ExpectedVersion) -> GroupCommit.Pending {
            GroupCommit.Pending(
                request: StreamAppend(
                    streamId: stream, streamType: "T", expectedVersion: expected, events: [testEvent()]),
                metadata: EventMetadata(userId: stream), projections: [projection], readModelSchema: "public")
        }
        let batch = [
            pending("new", .noStream),
            pending("at-1", .exact(1)),
            pending("gap", .exact(3)),  // ahead of the stream
            pending("taken", .noStream),  // exists
            pending("at-2", .exact(1)),  // version 2 is taken
        ]
        let outcomes = GroupCommit.write(batch, on: connection)

        guard case .appended(let new) = outcomes[0], case .appended(let atOne) = outcomes[1] else {
            Issue.record("expected two appends, got \(outcomes)")
            return
        }
        #expect(new.version == 1 && new.positions.count == 1)
        #expect(atOne.version == 2 && atOne.transactionId == new.transactionId)
        #expect(atOne.positions[0] > new.positions[0])
        for refused in outcomes[2...] {
            guard case .refused = refused else {
                Issue.record("expected a refusal, got \(refused)")
                continue
            }
        }
        #expect(try store.readStream("new").map(\.streamVersion) == [1])
        #expect(try store.readStream("new")[0].metadata == EventMetadata(userId: "new"))
        #expect(try store.readStream("at-1").map(\.streamVersion) == [1, 2])
        #expect(try store.readStream("at-2").map(\.streamVersion) == [1, 2])
        #expect(try store.readStream("gap").count == 1)
        #expect(try store.readStream("taken").count == 1)
        // The inline projection saw the appended events only (the earlier appends had none).
        #expect(try EventCounts.read(on: connection) == ["new": 1, "at-1": 1])
    }

    /// A batch that fails as a whole (here: an event id used before) commits nothing, and
    /// each append is run again by itself.
    @Test func aFailedBatchCommitsNothingAndEachAppendRunsAlone() throws {
        let url = try TestDatabase.fresh()
        let connection = try Connection(url: url)
        let store = EventStore(connection: connection)
        let used = testEvent()
        try store.append(to: "first", type: "T", expectedVersion: .noStream, events: [used])
        let batch = [
            GroupCommit.Pending(
                request: StreamAppend(
                    streamId: "fine", streamType: "T", expectedVersion: .noStream, events: [testEvent()]),
                metadata: EventMetadata(), projections: [], readModelSchema: "public"),
            GroupCommit.Pending(
                request: StreamAppend(streamId: "again", streamType: "T", expectedVersion: .noStream, events: [used]),
                metadata: EventMetadata(), projections: [], readModelSchema: "public"),
        ]
        let outcomes = GroupCommit.write(batch, on: connection)
        #expect(outcomes.map { if case .runAlone = $0 { true } else { false } } == [true, true])
        #expect(try store.streamInfo("fine") == nil)
        #expect(try store.streamInfo("again") == nil)
        #expect(!connection.isInTransaction)

        // Through the store, the duplicate's own error reaches its caller, and only it.
        let grouped = EventStore(connection: connection, groupCommit: GroupCommit())
        #expect(throws: PostgresError.self) {
            try grouped.append(to: "again", type: "T", expectedVersion: .noStream, events: [used])
        }
        #expect(
            try grouped.append(to: "fine", type: "T", expectedVersion: .noStream, events: [testEvent()]).version == 1)
    }

    /// Many threads sharing one `GroupCommit`, each appending to its own streams (one-event
    /// appends, which are batched, between appends of two and three, which are not): every
    /// append lands once, in order, and an inline projection counts each event once. Without
    /// inline projections a batch is its INSERT's own transaction, and the next one starts as
    /// soon as its rows are back.
    @Test(arguments: [true, false])
    func concurrentWritersSharingAGroupCommitLoseNothing(withInlineProjection: Bool) throws {
        let url = try TestDatabase.fresh("concurrentWriters\(withInlineProjection)")
        let projection = EventCounts(kind: .inline)
        try ProjectionSetup.prepare([projection], on: Connection(url: url))
        let projections: [any Projection] = withInlineProjection ? [projection] : []
        let groupCommit = GroupCommit(maxBatch: 8)
        let failures = Locked([String]())
        let writers = 16
        let appendsPerWriter = 40
        onThreads(writers) { writer in
            do {
                let store = EventStore(
                    connection: try Connection(url: url), inlineProjections: projections, groupCommit: groupCommit)
                var versions = [Int64](repeating: 0, count: 4)
                for turn in 0..<appendsPerWriter {
                    let stream = turn % 4
                    let events = (0...(turn % 3)).map { _ in testEvent() }
                    let result = try store.append(
                        to: "w\(writer)-\(stream)", type: "T", expectedVersion: .version(versions[stream]),
                        events: events)
                    #expect(result.version == versions[stream] + Int64(events.count))
                    versions[stream] = result.version
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.value.isEmpty)
        let connection = try Connection(url: url)
        let store = EventStore(connection: connection)
        let counts = try EventCounts.read(on: connection)
        for writer in 0..<writers {
            for stream in 0..<4 {
                let events = try store.readStream("w\(writer)-\(stream)")
                #expect(events.map(\.streamVersion) == Array(1...Int64(events.count)))
                #expect(counts["w\(writer)-\(stream)"] == (withInlineProjection ? Int64(events.count) : nil))
            }
        }
        let total = try connection.query("SELECT count(*) AS n FROM es_events").first!.decode("n", as: Int64.self)
        // Each writer's turns append 1, 2, 3, 1, 2, 3, ... events.
        let perWriter = (0..<appendsPerWriter).reduce(0) { $0 + $1 % 3 + 1 }
        #expect(total == Int64(writers * perWriter))
    }

    /// Appends one after another never wait for each other: each is written at once on its
    /// caller's connection, and no committer thread is started.
    @Test func aLoneAppendIsWrittenOnItsCallersConnection() throws {
        let connection = try Connection(url: TestDatabase.fresh())
        let groupCommit = GroupCommit()
        let store = EventStore(connection: connection, groupCommit: groupCommit)
        for version in 0..<5 {
            try store.append(to: "alone", type: "T", expectedVersion: .version(Int64(version)), events: [testEvent()])
        }
        #expect(try store.readStream("alone").map(\.streamVersion) == [1, 2, 3, 4, 5])
        #expect(groupCommit.startedCommitterCount == 0)
    }

    /// An append that has to wait is written by a committer thread, on a connection of its own
    /// with the caller's session settings, in its own transaction with its inline projection.
    @Test func aWaitingAppendIsWrittenByACommitterOnAConnectionLikeItsCallers() throws {
        let url = try TestDatabase.fresh()
        let setup = try Connection(url: url)
        try setup.execute("CREATE TABLE seen_by (stream_id text PRIMARY KEY, pid int NOT NULL, timeout text NOT NULL)")
        let gate = DispatchSemaphore(value: 0)
        let projection = BackendRecorder(gate: gate)
        let groupCommit = GroupCommit()
        let settings = [("statement_timeout", "4321ms")]
        let first = try Connection(url: url, settings: settings)
        let second = try Connection(url: url, settings: settings)
        let firstPid = try first.query("SELECT pg_backend_pid() AS pid").first!.decode("pid", as: Int32.self)
        let secondPid = try second.query("SELECT pg_backend_pid() AS pid").first!.decode("pid", as: Int32.self)
        let failures = Locked([String]())
        onThreads(2) { thread in
            do {
                if thread == 0 {
                    // Held inside its projection until the other append waits in the queue.
                    let store = EventStore(connection: first, inlineProjections: [projection], groupCommit: groupCommit)
                    try store.append(to: "held", type: "T", expectedVersion: .noStream, events: [testEvent()])
                } else {
                    while !projection.holding.value { usleep(1_000) }
                    let store = EventStore(
                        connection: second, inlineProjections: [projection], groupCommit: groupCommit)
                    DispatchQueue.global().async {
                        while groupCommit.queuedCount == 0 { usleep(1_000) }
                        gate.signal()
                    }
                    try store.append(to: "queued", type: "T", expectedVersion: .noStream, events: [testEvent()])
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.value.isEmpty)
        var seen: [String: (pid: Int32, timeout: String)] = [:]
        for row in try setup.query("SELECT stream_id, pid, timeout FROM seen_by") {
            seen[try row.decode("stream_id")] = (try row.decode("pid"), try row.decode("timeout"))
        }
        #expect(seen["held"]?.pid == firstPid)
        #expect(seen["queued"].map { $0.pid != firstPid && $0.pid != secondPid } == true)
        #expect(seen["queued"]?.timeout == "4321ms")
        #expect(groupCommit.startedCommitterCount == 1)
        #expect(try EventStore(connection: setup).readStream("queued").count == 1)
    }

    /// `Committers`: every item written once, with its own outcome; never more batches at once
    /// than its threads (a caller writing alone counted); with `oneStartingAtATime`, never two
    /// batches between their start and their `started` call.
    @Test(arguments: [false, true])
    func committersWriteEveryItemOnceAndAtMostTheirThreadsAtOnce(oneStartingAtATime: Bool) throws {
        let url = try TestDatabase.fresh("committers\(oneStartingAtATime)")
        let counts = Locked((writing: 0, most: 0, starting: 0, mostStarting: 0))
        let seen = Locked([Int]())
        let committers = Committers<Int, Int>(
            maxBatch: 4, threads: 2, oneStartingAtATime: oneStartingAtATime, key: { "\($0)" }
        ) { batch, _, started in
            counts.withLock {
                $0.writing += 1
                $0.most = max($0.most, $0.writing)
                $0.starting += 1
                $0.mostStarting = max($0.mostStarting, $0.starting)
            }
            usleep(200)
            counts.withLock { $0.starting -= 1 }
            started()
            usleep(200)
            seen.withLock { $0 += batch }
            counts.withLock { $0.writing -= 1 }
            return batch.map { -$0 }
        } failed: { _ in
            0
        }
        defer { committers.stop() }
        onThreads(16) { thread in
            do {
                let connection = try Connection(url: url)
                for turn in 0..<20 {
                    let item = thread * 100 + turn
                    #expect(committers.submit(item, on: connection) == -item)
                }
            } catch {
                Issue.record("\(error)")
            }
        }
        #expect(counts.value.most <= 2)
        #expect(counts.value.mostStarting <= (oneStartingAtATime ? 1 : 2))
        #expect(committers.committerCount <= 2)
        #expect(seen.value.sorted() == (0..<16).flatMap { thread in (0..<20).map { thread * 100 + $0 } })
    }
}

/// An inline projection that records which backend applied each event, with its statement
/// timeout; the first event it sees waits for `gate`.
private final class BackendRecorder: Projection, @unchecked Sendable {
    // @unchecked: `holding` is locked; `gate` is a semaphore.
    let name = "recorder"
    let kind = ProjectionKind.inline
    let gate: DispatchSemaphore
    let holding = Locked(false)
    private let first = Locked(true)

    init(gate: DispatchSemaphore) { self.gate = gate }

    func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        if first.withLock({ isFirst in
            defer { isFirst = false }
            return isFirst
        }) {
            holding.withLock { $0 = true }
            gate.wait()
        }
        for event in events {
            try target.connection.execute(
                """
                INSERT INTO seen_by (stream_id, pid, timeout)
                VALUES (\(event.streamId), pg_backend_pid(), current_setting('statement_timeout'))
                """)
        }
    }
}
