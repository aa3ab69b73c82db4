import EventStore
import Foundation
import Postgres
import Testing

@testable import Reservations

/// A cancel (or an expiry) that PostgreSQL picks as a deadlock victim near a sell-out.
///
/// Since session 8 a checkout waits only upwards in shard order (`TicketReservations`, step 3),
/// as a release does, so the two cannot deadlock; before, a checkout holding shard 1 could wait
/// for shard 0. Here another transaction does that by hand (holds shard 1, then waits for
/// shard 0) while a cancel holds shard 0 and waits for shard 1: a deadlock, and PostgreSQL
/// aborts one of them. The cancel must retry, or the customer gets a 500 for a transient
/// conflict.
@Suite(.serialized) struct ReleaseDeadlockTests {
    static let concert = "deadlock"

    @Test func aCancelChosenAsDeadlockVictimIsRetried() throws {
        let url = try ReservationsTestDatabase.fresh("deadlock")
        let setup = try Connection(url: url)
        try ReservationsTestDatabase.setLevels(Self.concert, [("a", 200)], on: setup)  // two shards of 100
        // 99 and 99 leave 1 + 1 or 0 + 2: one of the last two reservations spans both shards.
        var reservations: [ReservationHeld] = []
        for (index, quantity) in [99, 99, 2].enumerated() {
            reservations += try setup.transaction { tx in
                try TicketReservations(connection: tx, inlineProjections: ReservationsTestDatabase.inline).reserve(
                    checkoutId: "co-\(index)", userId: "u",
                    lines: [
                        .init(
                            concertId: Self.concert, ticketLevelId: "a", quantity: quantity, unitPrice: 1,
                            currency: "PLN")
                    ],
                    holdFor: 900, now: Date())
            }
        }
        let spanning = try #require(reservations.first { $0.items[0].shards.count == 2 })
        #expect(Set(spanning.items[0].shards.map(\.shard)) == [0, 1])

        // A checkout in step 3: it holds shard 1 ...
        let checkout = try Connection(url: url)
        try checkout.execute("BEGIN")
        try checkout.query(
            "SELECT * FROM availability_shards WHERE concert_id = \(Self.concert) AND shard = 1 FOR UPDATE")
        // ... while the customer cancels: the release locks shard 0, then waits for shard 1.
        let canceller = try Connection(url: url)
        let pid: Int = try canceller.query("SELECT pg_backend_pid() AS pid").first!.decode("pid")
        let outcome = Shared<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            do {
                try TicketReservations(connection: canceller, inlineProjections: ReservationsTestDatabase.inline)
                    .end(spanning.reservationId, .cancel, now: Date())
                outcome.withLock { $0 = "cancelled" }
            } catch {
                outcome.withLock { $0 = "\(error)" }
            }
            done.signal()
        }.start()
        let waiting = try ReservationsTestDatabase.waitsForLock(pid: pid, on: setup)
        #expect(waiting, "the cancel waits for shard 1")
        // The checkout now waits for shard 0: a deadlock, which PostgreSQL breaks after
        // deadlock_timeout by aborting the one that waited longer, the cancel.
        var checkoutOutcome = "locked shard 0"
        do {
            try checkout.query(
                "SELECT * FROM availability_shards WHERE concert_id = \(Self.concert) AND shard = 0 FOR UPDATE")
        } catch {
            checkoutOutcome = "\(error)"
        }
        try checkout.execute("ROLLBACK")
        #expect(done.wait(timeout: .now() + 30) == .success)
        print("deadlock: checkout \(checkoutOutcome); cancel \(outcome.value ?? "running")")

        // Whoever was the victim, the customer's cancel went through, once.
        #expect(outcome.value == "cancelled")
        let state = try setup.query("SELECT status FROM reservations WHERE id = \(spanning.reservationId)").first?
            .decode("status", as: String.self)
        #expect(state == "cancelled")
        let released = try ReservationsTestDatabase.count(
            """
            SELECT count(*)::int AS n FROM es_events
            WHERE event_type = 'TicketsReleased' AND data->>'reservationId' = '\(spanning.reservationId)'
            """, on: setup)
        #expect(released == 2)
        #expect(try Figures.fromEvents(on: setup) == Figures.readModel(on: setup))
        #expect(
            Figures.perLevel(try Figures.readModel(on: setup))["\(Self.concert)/a"]?.held == 200
                - spanning.items[0].quantity)
    }
}
