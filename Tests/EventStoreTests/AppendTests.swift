import EventStore
import Foundation
import Postgres
import Testing

@Suite struct AppendTests {
    @Test func appendsAndReadsAStreamInOrder() throws {
        let store = EventStore(connection: try Connection(url: TestDatabase.fresh()))
        let metadata = EventMetadata(correlationId: "c-1", causationId: "k-1", userId: "u-1")
        let first = try store.append(
            to: "cart-1", type: "Cart", expectedVersion: .noStream, events: [testEvent("A", 1), testEvent("B", 2)],
            metadata: metadata)
        #expect(first.version == 2)
        #expect(first.positions.count == 2 && first.positions[0] < first.positions[1])
        let second = try store.append(
            to: "cart-1", type: "Cart", expectedVersion: .exact(2), events: [testEvent("C", 3)])
        #expect(second.version == 3)

        let events = try store.readStream("cart-1")
        #expect(events.map(\.eventType) == ["A", "B", "C"])
        #expect(events.map(\.streamVersion) == [1, 2, 3])
        #expect(events.map(\.streamType) == ["Cart", "Cart", "Cart"])
        #expect(events[0].metadata == metadata)
        #expect(events[2].metadata == EventMetadata())
        #expect(try JSONValue(json: events[1].data) == .object(["value": .int(2)]))
        #expect(try store.readStream("cart-1", from: 2).map(\.eventType) == ["B", "C"])
        #expect(try store.streamInfo("cart-1")?.version == 3)
        #expect(try store.streamInfo("cart-2") == nil)

        // A stream found through a pointer, in the same statement.
        let wanted = "cart-1"
        #expect(try store.readStream(idFrom: "SELECT \(wanted)::text").map(\.eventType) == ["A", "B", "C"])
        #expect(try store.readStream(idFrom: "SELECT 'cart-2'").isEmpty)
        #expect(try store.readStream(idFrom: "SELECT 'x' WHERE false").isEmpty)
    }

    @Test func refusesAWrongExpectedVersionNamingBothVersions() throws {
        let store = EventStore(connection: try Connection(url: TestDatabase.fresh()))
        try store.append(to: "s", type: "T", expectedVersion: .noStream, events: [testEvent(), testEvent()])

        #expect(throws: WrongExpectedVersion(streamId: "s", expected: .noStream, actual: 2)) {
            try store.append(to: "s", type: "T", expectedVersion: .noStream, events: [testEvent()])
        }
        #expect(throws: WrongExpectedVersion(streamId: "s", expected: .exact(1), actual: 2)) {
            try store.append(to: "s", type: "T", expectedVersion: .exact(1), events: [testEvent()])
        }
        #expect(throws: WrongExpectedVersion(streamId: "other", expected: .exact(4), actual: 0)) {
            try store.append(to: "other", type: "T", expectedVersion: .exact(4), events: [testEvent()])
        }
        // A version ahead of the stream is refused too: appending would leave a gap.
        #expect(throws: WrongExpectedVersion(streamId: "s", expected: .exact(5), actual: 2)) {
            try store.append(to: "s", type: "T", expectedVersion: .exact(5), events: [testEvent()])
        }
        // Two events of which the first collides: neither is appended.
        #expect(throws: WrongExpectedVersion(streamId: "s", expected: .exact(1), actual: 2)) {
            try store.append(to: "s", type: "T", expectedVersion: .exact(1), events: [testEvent(), testEvent()])
        }
        #expect(try store.readStream("s").count == 2)
        #expect(try store.append(to: "s", type: "T", expectedVersion: .any, events: [testEvent()]).version == 3)
        #expect(try store.append(to: "s", type: "T", expectedVersion: .exact(3), events: []).version == 3)
    }

    @Test func aConflictInsideACallersTransactionRollsItBack() throws {
        let connection = try Connection(url: TestDatabase.fresh())
        let store = EventStore(connection: connection)
        try store.append(to: "s", type: "T", expectedVersion: .noStream, events: [testEvent()])
        #expect(throws: WrongExpectedVersion(streamId: "s", expected: .noStream, actual: 1)) {
            try connection.transaction { tx in
                let joined = EventStore(connection: tx, joinsCallerTransaction: true)
                try joined.append(to: "t", type: "T", expectedVersion: .noStream, events: [testEvent()])
                try joined.append(to: "s", type: "T", expectedVersion: .noStream, events: [testEvent()])
            }
        }
        #expect(try store.streamInfo("t") == nil)
        #expect(try store.readStream("s").count == 1)
    }

    @Test func appendsToSeveralStreamsAllOrNothing() throws {
        let store = EventStore(connection: try Connection(url: TestDatabase.fresh()))
        try store.append(to: "b", type: "T", expectedVersion: .noStream, events: [testEvent()])

        #expect(throws: WrongExpectedVersion.self) {
            try store.appendMany([
                StreamAppend(streamId: "a", streamType: "T", expectedVersion: .noStream, events: [testEvent()]),
                StreamAppend(streamId: "b", streamType: "T", expectedVersion: .noStream, events: [testEvent()]),
            ])
        }
        #expect(try store.streamInfo("a") == nil)

        let results = try store.appendMany([
            StreamAppend(streamId: "b", streamType: "T", expectedVersion: .exact(1), events: [testEvent()]),
            StreamAppend(streamId: "a", streamType: "T", expectedVersion: .noStream, events: [testEvent()]),
        ])
        #expect(results.map(\.streamId) == ["b", "a"])
        #expect(results.map(\.version) == [2, 1])
        #expect(results[0].transactionId == results[1].transactionId)

        // Several events per stream, each append with its own metadata, in one statement.
        let many = try store.appendMany(
            [
                StreamAppend(
                    streamId: "b", streamType: "T", expectedVersion: .exact(2), events: [testEvent(), testEvent()],
                    metadata: EventMetadata(userId: "u-b")),
                StreamAppend(streamId: "c", streamType: "T", expectedVersion: .noStream, events: [testEvent()]),
            ], metadata: EventMetadata(userId: "u-all"))
        #expect(many.map(\.version) == [4, 1])
        #expect(try store.readStream("b", from: 3).map(\.metadata.userId) == ["u-b", "u-b"])
        #expect(try store.readStream("c").map(\.metadata.userId) == ["u-all"])
        // A taken version and a version ahead of the stream: each names its stream.
        #expect(throws: WrongExpectedVersion(streamId: "c", expected: .noStream, actual: 1)) {
            try store.appendMany([
                StreamAppend(streamId: "a", streamType: "T", expectedVersion: .exact(1), events: [testEvent()]),
                StreamAppend(streamId: "c", streamType: "T", expectedVersion: .noStream, events: [testEvent()]),
            ])
        }
        #expect(throws: WrongExpectedVersion(streamId: "b", expected: .exact(9), actual: 4)) {
            try store.appendMany([
                StreamAppend(streamId: "a", streamType: "T", expectedVersion: .exact(1), events: [testEvent()]),
                StreamAppend(streamId: "b", streamType: "T", expectedVersion: .exact(9), events: [testEvent()]),
            ])
        }
        #expect(try store.streamInfo("a")?.version == 1)

        // Two appends to one stream, the second continuing the first, each with its metadata.
        let chained = try store.appendMany([
            StreamAppend(
                streamId: "c", streamType: "T", expectedVersion: .exact(1), events: [testEvent()],
                metadata: EventMetadata(userId: "first")),
            StreamAppend(
                streamId: "c", streamType: "T", expectedVersion: .exact(2), events: [testEvent(), testEvent()],
                metadata: EventMetadata(userId: "second")),
        ])
        #expect(chained.map(\.version) == [2, 4])
        #expect(try store.readStream("c").map(\.metadata.userId) == ["u-all", "first", "second", "second"])
        #expect(throws: WrongExpectedVersion.self) {
            try store.appendMany([
                StreamAppend(streamId: "c", streamType: "T", expectedVersion: .exact(4), events: [testEvent()]),
                StreamAppend(streamId: "c", streamType: "T", expectedVersion: .exact(4), events: [testEvent()]),
            ])
        }
        #expect(try store.streamInfo("c")?.version == 4)
    }

    @Test func aRepeatedIdempotencyKeyReturnsTheFirstOutcomeAndAppendsNothing() throws {
        let store = EventStore(connection: try Connection(url: TestDatabase.fresh()))
        let first = try store.append(
            to: "s", type: "T", expectedVersion: .noStream, events: [testEvent()], idempotencyKey: "key-1")
        #expect(!first.isRepeat)
        let repeated = try store.append(
            to: "s", type: "T", expectedVersion: .noStream, events: [testEvent()], idempotencyKey: "key-1")
        #expect(repeated.isRepeat)
        #expect(repeated.version == first.version && repeated.positions == first.positions)
        #expect(try store.readStream("s").count == 1)

        let many = try store.appendMany(
            [StreamAppend(streamId: "m", streamType: "T", expectedVersion: .any, events: [testEvent()])],
            idempotencyKey: "key-2")
        let manyAgain = try store.appendMany(
            [StreamAppend(streamId: "m", streamType: "T", expectedVersion: .any, events: [testEvent()])],
            idempotencyKey: "key-2")
        #expect(manyAgain.map(\.isRepeat) == [true])
        #expect(manyAgain.map(\.positions) == many.map(\.positions))
        #expect(try store.readStream("m").count == 1)
    }

    @Test func concurrentRepeatsOfOneKeyAppendOnce() throws {
        let url = try TestDatabase.fresh()
        let repeats = Locked(0)
        let failures = Locked([String]())
        onThreads(8) { _ in
            do {
                let store = EventStore(connection: try Connection(url: url))
                let result = try store.append(
                    to: "s", type: "T", expectedVersion: .any, events: [testEvent()], idempotencyKey: "same")
                if result.isRepeat { repeats.withLock { $0 += 1 } }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.value.isEmpty)
        #expect(repeats.value == 7)
        #expect(try EventStore(connection: Connection(url: url)).readStream("s").count == 1)
    }

    /// 32 threads append to one stream, each with the version it read: no version is lost or
    /// duplicated, and every append that lost a race got `WrongExpectedVersion`; also when the
    /// threads share a `GroupCommit`.
    @Test(arguments: [false, true]) func thirtyTwoWritersOnOneStreamLoseNothing(groupCommit: Bool) throws {
        let url = try TestDatabase.fresh("thirtyTwoWritersOnOneStream" + (groupCommit ? "Grouped" : ""))
        let shared = groupCommit ? GroupCommit() : nil
        let attemptsPerThread = 15
        let wins = Locked([UUID: Int64]())
        let conflicts = Locked(0)
        let failures = Locked([String]())
        onThreads(32) { _ in
            do {
                let store = EventStore(connection: try Connection(url: url), groupCommit: shared)
                for _ in 0..<attemptsPerThread {
                    let version = try store.streamInfo("contended")?.version ?? 0
                    let event = testEvent()
                    do {
                        let result = try store.append(
                            to: "contended", type: "T", expectedVersion: .version(version), events: [event])
                        #expect(result.version == version + 1)
                        wins.withLock { $0[event.id] = result.version }
                    } catch let conflict as WrongExpectedVersion {
                        #expect(conflict.streamId == "contended" && conflict.actual > version)
                        conflicts.withLock { $0 += 1 }
                    }
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.value.isEmpty)
        let events = try EventStore(connection: Connection(url: url)).readStream("contended")
        #expect(events.map(\.streamVersion) == Array(1...Int64(events.count)))
        #expect(events.count == wins.value.count)
        #expect(wins.value.count + conflicts.value == 32 * attemptsPerThread)
        for event in events { #expect(wins.value[event.eventId] == event.streamVersion) }
        #expect(conflicts.value > 0)
    }

    @Test func inlineProjectionsCommitOrRollBackWithTheAppend() throws {
        let url = try TestDatabase.fresh()
        let connection = try Connection(url: url)
        let projection = EventCounts(kind: .inline)
        try ProjectionSetup.prepare([projection], on: connection)
        let store = EventStore(connection: connection, inlineProjections: [projection])

        try store.append(to: "s", type: "T", expectedVersion: .noStream, events: [testEvent(), testEvent()])
        #expect(try EventCounts.read(on: connection) == ["s": 2])
        #expect(throws: WrongExpectedVersion.self) {
            try store.append(to: "s", type: "T", expectedVersion: .noStream, events: [testEvent()])
        }
        let failing = EventStore(connection: connection, inlineProjections: [projection, Failing()])
        #expect(throws: Failing.Failure.self) {
            try failing.append(to: "s", type: "T", expectedVersion: .exact(2), events: [testEvent()])
        }
        #expect(try EventCounts.read(on: connection) == ["s": 2])
        #expect(try store.streamInfo("s")?.version == 2)
    }
}
