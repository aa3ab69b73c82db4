import EventStore
import Foundation
import Postgres
import Testing

@Suite struct GlobalOrderTests {
    /// A takes its global position before B, but B commits first. A subscriber reading in
    /// between must not pass B (or it would never see A); after A commits it sees A, then B,
    /// each once.
    @Test func aSubscriberSeesEveryEventOnceWhenTransactionsCommitOutOfOrder() throws {
        let url = try TestDatabase.fresh()
        let subscriber = EventStore(connection: try Connection(url: url))
        let early = try Connection(url: url)
        let late = try Connection(url: url)
        try subscriber.append(to: "before", type: "T", expectedVersion: .noStream, events: [testEvent("Before")])

        var seen: [RecordedEvent] = []
        var checkpoint = Checkpoint.start
        func poll() throws {
            let events = try subscriber.readAll(after: checkpoint, maxCount: 100)
            seen += events
            if let last = events.last { checkpoint = last.checkpoint }
        }
        // Visible once every transaction that was running in the cluster when it committed
        // has ended (other tests' too).
        #expect(
            try eventually {
                try poll()
                return seen.count == 1
            })

        try early.execute("BEGIN")
        let a = try EventStore(connection: early, joinsCallerTransaction: true)
            .append(to: "a", type: "T", expectedVersion: .noStream, events: [testEvent("A")])
        try late.execute("BEGIN")
        let b = try EventStore(connection: late, joinsCallerTransaction: true)
            .append(to: "b", type: "T", expectedVersion: .noStream, events: [testEvent("B")])
        #expect(a.positions[0] < b.positions[0])
        try late.execute("COMMIT")

        // B is committed, A is not: a reader ordered by position alone would return B now and
        // move past A's position for good.
        #expect(try EventStore(connection: Connection(url: url)).readStream("b").count == 1)
        try poll()
        #expect(seen.map(\.eventType) == ["Before"])

        try early.execute("COMMIT")
        #expect(
            try eventually {
                try poll()
                return seen.count >= 3
            })
        try poll()
        #expect(seen.map(\.eventType) == ["Before", "A", "B"])
        #expect(Set(seen.map(\.eventId)).count == seen.count)
    }

    /// Many writers committing in every order, one subscriber polling all along: it sees each
    /// committed event exactly once.
    @Test func aPollingSubscriberSeesEveryEventOnceUnderConcurrentWriters() throws {
        let url = try TestDatabase.fresh()
        let seen = Locked([UUID]())
        let caughtUp = Locked(0)  // polls that found nothing new
        let reader = Background { shouldStop in
            let store = try! EventStore(connection: Connection(url: url))
            var checkpoint = Checkpoint.start
            while !shouldStop() {
                let events = try! store.readAll(after: checkpoint, maxCount: 50)
                seen.withLock { $0 += events.map(\.eventId) }
                if let last = events.last { checkpoint = last.checkpoint } else { caughtUp.withLock { $0 += 1 } }
            }
        }
        let appended = Locked(Set<UUID>())
        onThreads(8) { writer in
            let connection = try! Connection(url: url)
            for round in 0..<40 {
                let events = [testEvent(), testEvent()]
                try! connection.transaction { tx in
                    try EventStore(connection: tx, joinsCallerTransaction: true)
                        .append(to: "w\(writer)-\(round % 5)", type: "T", expectedVersion: .any, events: events)
                    if round % 7 == 0 { usleep(3000) }  // hold the transaction open: commit late
                }
                appended.withLock { $0.formUnion(events.map(\.id)) }
            }
        }
        _ = eventually(timeout: 60) { seen.value.count >= appended.value.count }
        // Two more polls at the head: an event delivered twice would have shown by then.
        let polls = caughtUp.value
        _ = eventually { caughtUp.value >= polls + 2 }
        reader.stop()
        #expect(seen.value.count == appended.value.count)
        #expect(Set(seen.value) == appended.value, "missing or unexpected events")
    }

    @Test func theHeadIsTheLastVisibleEvent() throws {
        let store = EventStore(connection: try Connection(url: TestDatabase.fresh()))
        #expect(try store.headCheckpoint() == .start)
        let result = try store.append(
            to: "s", type: "T", expectedVersion: .noStream, events: [testEvent(), testEvent()])
        let last = Checkpoint(transactionId: result.transactionId, position: result.positions[1])
        #expect(try eventually { try store.headCheckpoint() == last })
        #expect(try store.readAll(after: store.headCheckpoint()).isEmpty)
    }
}
