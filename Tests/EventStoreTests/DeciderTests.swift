import EventStore
import Foundation
import Postgres
import Testing

/// A pool of seats: the sample decider these tests drive.
enum SeatPool: Decider {
    struct State: Codable, Sendable, Equatable {
        var capacity = 0
        var taken = 0
    }

    enum Command {
        case open(capacity: Int)
        case take(seats: Int)
    }

    enum Event: Equatable {
        case opened(PoolOpened)
        case taken(SeatsTaken)
    }

    enum Rejection: Error, Equatable {
        case alreadyOpen
        case notOpen
        case notEnoughSeats(left: Int)
    }

    static let initial = State()

    static func evolve(_ state: State, _ event: Event) -> State {
        var state = state
        switch event {
        case .opened(let opened): state.capacity = opened.capacity
        case .taken(let taken): state.taken += taken.seats
        }
        return state
    }

    static func decide(_ command: Command, _ state: State) throws -> [Event] {
        switch command {
        case .open(let capacity):
            guard state.capacity == 0 else { throw Rejection.alreadyOpen }
            return [.opened(PoolOpened(capacity: capacity))]
        case .take(let seats):
            guard state.capacity > 0 else { throw Rejection.notOpen }
            guard state.taken + seats <= state.capacity else {
                throw Rejection.notEnoughSeats(left: state.capacity - state.taken)
            }
            return [.taken(SeatsTaken(seats: seats))]
        }
    }

    static let types = EventTypes<Event> { event in
        switch event {
        case .opened(let data): data
        case .taken(let data): data
        }
    }
    .register(PoolOpened.self) { .opened($0) }
    .register(SeatsTaken.self) { .taken($0) }
}

struct PoolOpened: EventPayload, Equatable {
    static let eventType = "PoolOpened"
    let capacity: Int
}

struct SeatsTaken: EventPayload, Equatable {
    static let eventType = "SeatsTaken"
    let seats: Int
}

@Suite struct DeciderSpecTests {
    @Test func takesSeatsWhileThereAreEnough() throws {
        try DeciderSpec<SeatPool>.given([.opened(PoolOpened(capacity: 3))])
            .when(.take(seats: 2))
            .then([.taken(SeatsTaken(seats: 2))])
    }

    @Test func refusesMoreSeatsThanAreLeft() throws {
        try DeciderSpec<SeatPool>.given([.opened(PoolOpened(capacity: 3)), .taken(SeatsTaken(seats: 2))])
            .when(.take(seats: 2))
            .thenThrows(SeatPool.Rejection.notEnoughSeats(left: 1))
    }

    @Test func reportsAFailedExpectation() throws {
        #expect(throws: DeciderSpecFailure.self) {
            try DeciderSpec<SeatPool>.given([]).when(.take(seats: 1)).then([])
        }
        #expect(throws: DeciderSpecFailure.self) {
            try DeciderSpec<SeatPool>.given([]).when(.open(capacity: 1)).thenThrows(SeatPool.Rejection.alreadyOpen)
        }
        #expect(try DeciderSpec<SeatPool>.given([]).when(.open(capacity: 4)).thenState().capacity == 4)
    }
}

@Suite struct CommandHandlerTests {
    func handler(_ url: String, snapshots: Snapshotting<SeatPool.State>? = nil) throws -> CommandHandler<SeatPool> {
        CommandHandler(
            store: EventStore(connection: try Connection(url: url)), streamType: "SeatPool", eventTypes: SeatPool.types,
            snapshots: snapshots)
    }

    @Test func loadsDecidesAndAppendsWithTheVersionRead() throws {
        let pools = try handler(TestDatabase.fresh())
        let opened = try pools.handle(.open(capacity: 5), on: "pool-1", metadata: EventMetadata(userId: "u-1"))
        #expect(opened.version == 1 && opened.events == [.opened(PoolOpened(capacity: 5))])
        let taken = try pools.handle(.take(seats: 3), on: "pool-1")
        #expect(taken.version == 2 && taken.state == SeatPool.State(capacity: 5, taken: 3))
        #expect(throws: SeatPool.Rejection.notEnoughSeats(left: 2)) {
            try pools.handle(.take(seats: 3), on: "pool-1")
        }
        #expect(try pools.load("pool-1").state == SeatPool.State(capacity: 5, taken: 3))
        #expect(try pools.store.readStream("pool-1").first?.metadata.userId == "u-1")
    }

    /// Concurrent commands on one stream: with retries each re-decides on the newer state, so
    /// the pool is filled exactly; without, the losers get the conflict.
    @Test func retriesOnConflictWhenAsked() throws {
        let url = try TestDatabase.fresh()
        try handler(url).handle(.open(capacity: 40), on: "pool")
        let rejected = Locked(0)
        let failures = Locked([String]())
        onThreads(8) { _ in
            do {
                let pools = try handler(url)
                for _ in 0..<6 {
                    do {
                        try pools.handle(.take(seats: 1), on: "pool", retriesOnConflict: 50)
                    } catch SeatPool.Rejection.notEnoughSeats {
                        rejected.withLock { $0 += 1 }
                    }
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.value.isEmpty)
        #expect(try handler(url).load("pool").state.taken == 40)
        #expect(rejected.value == 8)

        let conflicts = Locked(0)
        onThreads(8) { _ in
            let pools = try! handler(url)
            do {
                try pools.handle(.open(capacity: 1), on: "fresh")
            } catch is WrongExpectedVersion {
                conflicts.withLock { $0 += 1 }
            } catch {}
        }
        #expect(try handler(url).store.readStream("fresh").count == 1)
        #expect(conflicts.value <= 7)
    }

    @Test func aRepeatedCommandReturnsTheFirstOutcome() throws {
        let pools = try handler(TestDatabase.fresh())
        try pools.handle(.open(capacity: 5), on: "pool")
        let first = try pools.handle(.take(seats: 2), on: "pool", idempotencyKey: "checkout-7")
        let again = try pools.handle(.take(seats: 2), on: "pool", idempotencyKey: "checkout-7")
        #expect(!first.isRepeat && again.isRepeat)
        #expect(again.events == first.events && again.version == first.version)
        #expect(try pools.load("pool").state.taken == 2)
    }

    @Test func loadsFromASnapshotAndReadsOnlyTheEventsAfterIt() throws {
        let url = try TestDatabase.fresh()
        let pools = try handler(url, snapshots: .json(every: 100))
        try pools.handle(.open(capacity: 100_000), on: "big")
        let store = pools.store
        // 10,000 events, appended in bulk so the test is quick.
        var version: Int64 = 1
        for _ in 0..<20 {
            let events = try (0..<500).map { _ in try SeatPool.types.encode(.taken(SeatsTaken(seats: 1))) }
            version = try store.append(to: "big", type: "SeatPool", expectedVersion: .exact(version), events: events)
                .version
        }
        #expect(version == 10_001)
        let taken = try pools.handle(.take(seats: 1), on: "big")
        #expect(taken.state.taken == 10_001)

        let connection = try Connection(url: url)
        let snapshot = try connection.query("SELECT stream_version FROM es_snapshots WHERE stream_id = 'big'").first
        #expect(try snapshot?.decode("stream_version", as: Int64.self) == 10_002)
        let loaded = try pools.load("big")
        #expect(loaded.snapshotVersion == 10_002 && loaded.version == 10_002)
        #expect(loaded.state == SeatPool.State(capacity: 100_000, taken: 10_001))

        // A snapshot of another schema version is ignored: the state is folded from events.
        let other = try handler(url, snapshots: .json(every: 100, schemaVersion: 2)).load("big")
        #expect(other.snapshotVersion == 0 && other.state == loaded.state)
        try pools.handle(.take(seats: 1), on: "big")
        #expect(try pools.load("big").state.taken == 10_002)
    }
}
