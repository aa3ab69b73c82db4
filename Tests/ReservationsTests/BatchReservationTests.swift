import EventStore
import Foundation
import Postgres
import Testing

@testable import Reservations

/// `reserveBatch`'s three answers, each on purpose: held, refused in the batch (a level
/// falls short counting every shard) and left out (the tickets are in a shard another
/// transaction holds, so only `reserve`, which waits, can tell).
@Suite(.serialized) struct BatchReservationTests {
    static func checkout(_ id: String, _ lines: [(concert: String, level: String, quantity: Int)])
        -> TicketReservations.Checkout
    {
        TicketReservations.Checkout(
            checkoutId: id, userId: "user-\(id)",
            lines: lines.map {
                TicketReservations.Line(
                    concertId: $0.concert, ticketLevelId: $0.level, quantity: $0.quantity, unitPrice: 100,
                    currency: "EUR")
            }, holdFor: 900, now: Date(), metadata: EventMetadata())
    }

    static func reserveBatch(
        _ checkouts: [TicketReservations.Checkout], on connection: Connection,
        alsoAppend: ([TicketReservations.BatchOutcome]) throws -> [StreamAppend] = { _ in [] }
    ) throws -> [TicketReservations.BatchOutcome] {
        try connection.transaction { tx in
            try TicketReservations(connection: tx, inlineProjections: ReservationsTestDatabase.inline)
                .reserveBatch(checkouts, alsoAppend: alsoAppend)
        }
    }

    /// Runs `body` while another connection's transaction holds the rows `lock` selects
    /// (`FOR UPDATE`), as a concurrent checkout would.
    static func whileAnother<T>(at url: String, locks lock: SQLQuery, _ body: () throws -> T) throws -> T {
        try Connection(url: url).transaction { holder in
            _ = try holder.query(lock)
            return try body()
        }
    }

    static func held(_ concert: String, on connection: Connection) throws -> Int {
        try ReservationsTestDatabase.count(
            "SELECT coalesce(sum(held), 0)::int AS n FROM availability_shards WHERE concert_id = '\(concert)'",
            on: connection)
    }

    @Test func aShortLevelIsRefusedInTheBatchAndTheOthersAreHeld() throws {
        let connection = try Connection(url: try ReservationsTestDatabase.fresh("batch_refuse"))
        try ReservationsTestDatabase.setLevels("small", [("floor", 10)], on: connection)

        let outcomes = try Self.reserveBatch(
            [
                Self.checkout("a", [("small", "floor", 6)]),
                Self.checkout("b", [("small", "floor", 6)]),
                Self.checkout("c", [("small", "floor", 4)]),
            ], on: connection)

        #expect(outcomes.count == 3)
        guard case .held(let a) = outcomes[0], case .held(let c) = outcomes[2] else {
            Issue.record("a and c should be held: \(outcomes)")
            return
        }
        #expect(a.map(\.checkoutId) == ["a"] && c.map(\.checkoutId) == ["c"])
        #expect(outcomes[1] == .refused(.notEnoughTickets(concertId: "small", ticketLevelId: "floor", available: 0)))
        #expect(try Self.held("small", on: connection) == 10)
        #expect(
            try ReservationsTestDatabase.count(
                "SELECT count(*)::int AS n FROM es_events WHERE event_type = 'ReservationHeld'", on: connection) == 2)
    }

    @Test func aLevelWhoseTicketsAnotherTransactionHoldsIsLeftOutNotRefused() throws {
        let url = try ReservationsTestDatabase.fresh("batch_left_out")
        let connection = try Connection(url: url)
        try ReservationsTestDatabase.setLevels("busy", [("floor", 200)], on: connection)  // two shards

        // Another checkout holds every shard of the level for the moment.
        let outcomes = try Self.whileAnother(
            at: url, locks: "SELECT * FROM availability_shards WHERE concert_id = 'busy' FOR UPDATE"
        ) {
            try Self.reserveBatch(
                [
                    Self.checkout("fits", [("busy", "floor", 2)]),
                    Self.checkout("too-many", [("busy", "floor", 4), ("busy", "vip", 1)]),
                    Self.checkout("never", [("busy", "floor", 201)]),
                ], on: connection)
        }

        // The first needs a held shard: only `reserve` (which waits) can say. The second's
        // floor fits too, but its vip level has no shards yet (not on sale yet): also left to
        // `reserve`, which tells that apart. The third can never be covered.
        #expect(
            outcomes == [
                .leftOut, .leftOut,
                .refused(.notEnoughTickets(concertId: "busy", ticketLevelId: "floor", available: 200)),
            ])
        #expect(try Self.held("busy", on: connection) == 0)
    }

    @Test func aRefusalCountsWhatTheBatchLeftInItsLockedShardsAndTheOtherShards() throws {
        let url = try ReservationsTestDatabase.fresh("batch_mixed")
        let connection = try Connection(url: url)
        try ReservationsTestDatabase.setLevels("mixed", [("floor", 200)], on: connection)  // two shards

        // One shard (100 tickets) is held elsewhere; the batch locks the other.
        let outcomes = try Self.whileAnother(
            at: url,
            locks: "SELECT * FROM availability_shards WHERE concert_id = 'mixed' ORDER BY shard LIMIT 1 FOR UPDATE"
        ) {
            try Self.reserveBatch(
                [
                    Self.checkout("big", [("mixed", "floor", 90)]),
                    Self.checkout("waits", [("mixed", "floor", 50)]),
                    Self.checkout("short", [("mixed", "floor", 120)]),
                ], on: connection)
        }

        #expect(outcomes.count == 3)
        if case .held = outcomes[0] {} else { Issue.record("big should be held: \(outcomes[0])") }
        // 10 left in the locked shard, 100 in the other: 50 may yet be had there.
        #expect(outcomes[1] == .leftOut)
        #expect(outcomes[2] == .refused(.notEnoughTickets(concertId: "mixed", ticketLevelId: "floor", available: 110)))
        #expect(try Self.held("mixed", on: connection) == 90)
    }

    /// The checkout's way (`Checkout.confirm`): the caller's own appends (the carts' closes)
    /// go into the batch's one append, told which checkouts were held.
    @Test func theCallersAppendsGoWithTheBatchsAndAreToldWhichCheckoutsAreHeld() throws {
        let connection = try Connection(url: try ReservationsTestDatabase.fresh("batch_also_append"))
        try ReservationsTestDatabase.setLevels("late", [("floor", 10)], on: connection)
        var told: [TicketReservations.BatchOutcome] = []

        let outcomes = try Self.reserveBatch(
            [Self.checkout("first", [("late", "floor", 8)]), Self.checkout("second", [("late", "floor", 3)])],
            on: connection
        ) { outcomes in
            told = outcomes
            return [
                StreamAppend(
                    streamId: "note-first", streamType: "note", expectedVersion: .noStream,
                    events: [NewEvent(type: "Noted", data: #"{"checkout": "first"}"#)])
            ]
        }

        guard case .held = outcomes[0] else {
            Issue.record("first should be held: \(outcomes)")
            return
        }
        // Refusals are decided after the append: the caller hears of them as left out.
        #expect(told.count == 2 && told[0] == outcomes[0] && told[1] == .leftOut)
        #expect(outcomes[1] == .refused(.notEnoughTickets(concertId: "late", ticketLevelId: "floor", available: 2)))
        #expect(
            try ReservationsTestDatabase.count(
                "SELECT count(*)::int AS n FROM es_events WHERE stream_id = 'note-first'", on: connection) == 1)
        #expect(try Self.held("late", on: connection) == 8)
    }

    @Test func aBatchThatHoldsNothingAppendsNothingOfTheCallers() throws {
        let connection = try Connection(url: try ReservationsTestDatabase.fresh("batch_also_nothing"))
        try ReservationsTestDatabase.setLevels("tiny", [("floor", 2)], on: connection)
        var asked = false

        let outcomes = try Self.reserveBatch([Self.checkout("greedy", [("tiny", "floor", 3)])], on: connection) { _ in
            asked = true
            return []
        }

        #expect(outcomes == [.refused(.notEnoughTickets(concertId: "tiny", ticketLevelId: "floor", available: 2))])
        #expect(!asked)
    }
}
