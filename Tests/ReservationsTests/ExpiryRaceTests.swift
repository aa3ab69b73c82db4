import EventStore
import Foundation
import Postgres
import Testing

@testable import Reservations

/// Expiry raced by two runners against real PostgreSQL: every held reservation whose time is
/// up is expired once, and each of its shard allocations is released exactly once.
@Suite(.serialized) struct ExpiryRaceTests {
    static let first = "expiry-one"  // levels a (200: two shards) and b (1,000: ten shards)
    static let second = "expiry-two"  // level c (300: one shard)
    static let hold: TimeInterval = 3

    static func line(_ concert: String, _ level: String, _ quantity: Int) -> TicketReservations.Line {
        TicketReservations.Line(
            concertId: concert, ticketLevelId: level, quantity: quantity, unitPrice: 10_000, currency: "PLN")
    }

    static func reserve(_ checkoutId: String, _ lines: [TicketReservations.Line], on connection: Connection) throws
        -> [ReservationHeld]
    {
        try TicketReservations.retrying(retries: 50) { inOrder in
            try connection.transaction { tx in
                try TicketReservations(connection: tx, inlineProjections: ReservationsTestDatabase.inline)
                    .reserve(
                        checkoutId: checkoutId, userId: "u", lines: lines, holdFor: hold, now: Date(), inOrder: inOrder)
            }
        }
    }

    @Test func twoRunnersReleaseEachReservationOnce() throws {
        let url = try ReservationsTestDatabase.fresh("expiry")
        let setup = try Connection(url: url)
        try ReservationsTestDatabase.setLevels(Self.first, [("a", 200), ("b", 1_000)], on: setup)
        try ReservationsTestDatabase.setLevels(Self.second, [("c", 300)], on: setup)

        // Level a's two shards of 100 filled so that some reservation takes from both (99 and
        // 99 leave 1 + 1 or 0 + 2; whichever the second took, one of the last two spans shards),
        // the last with level b too: one reservation of two levels.
        var reservations: [ReservationHeld] = []
        reservations += try Self.reserve("fill-0", [Self.line(Self.first, "a", 99)], on: setup)
        reservations += try Self.reserve("fill-1", [Self.line(Self.first, "a", 99)], on: setup)
        reservations += try Self.reserve(
            "fill-2", [Self.line(Self.first, "a", 2), Self.line(Self.first, "b", 3)], on: setup)
        #expect(reservations[2].items.count == 2)
        // 200 checkouts from 8 threads: level b, every third also level c of the other concert
        // (two reservations of one checkout).
        let made = Shared<[ReservationHeld]>([])
        let errors = Shared<[String]>([])
        let connections = try (0..<8).map { _ in try Connection(url: url) }
        onThreads(8) { thread in
            var random = SplitMix64(seed: UInt64(thread + 7))
            for index in 0..<25 {
                var lines = [Self.line(Self.first, "b", Int.random(in: 1...4, using: &random))]
                if index % 3 == 0 { lines.append(Self.line(Self.second, "c", Int.random(in: 1...2, using: &random))) }
                do {
                    let held = try Self.reserve("co-\(thread)-\(index)", lines, on: connections[thread])
                    made.withLock { $0 += held }
                } catch {
                    errors.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(errors.value.isEmpty, "\(errors.value.prefix(3))")
        reservations += made.value
        let count = reservations.count
        #expect(count == 3 + 200 + 72)
        let allocations = reservations.reduce(0) { $0 + $1.items.reduce(0) { $0 + $1.shards.count } }
        #expect(reservations.contains { $0.items.contains { $0.shards.count > 1 } }, "a reservation spans shards")
        let heldBefore = Figures.perLevel(try Figures.readModel(on: setup))
        #expect(heldBefore["\(Self.first)/a"]?.held == 200)

        // Before its time, nothing expires.
        let earliest = reservations.map(\.expiresAt).min()!
        let latest = reservations.map(\.expiresAt).max()!
        #expect(
            try TicketReservations(connection: setup, inlineProjections: ReservationsTestDatabase.inline)
                .expireDue(now: earliest.addingTimeInterval(-0.5), limit: 10_000) == 0)
        #expect(
            try ReservationsTestDatabase.count(
                "SELECT count(*)::int AS n FROM es_events WHERE event_type = 'TicketsReleased'", on: setup) == 0)

        // Two runners, released at the same moment, at a time when every hold is up (time
        // arrives in the command, so no test waits for the clock).
        let due = latest.addingTimeInterval(0.2)
        let expiredBy = Shared<[Int]>([0, 0])
        let runnerErrors = Shared<[String]>([])
        let runners = try (0..<2).map { _ in try Connection(url: url) }
        onThreads(2) { runner in
            let reservations = TicketReservations(
                connection: runners[runner], inlineProjections: ReservationsTestDatabase.inline)
            do {
                for _ in 0..<100 {
                    let expired = try reservations.expireDue(now: due, limit: 10_000)
                    expiredBy.withLock { $0[runner] += expired }
                    if try ReservationQueries.due(now: due, limit: 1, on: runners[runner]).isEmpty { break }
                }
            } catch {
                runnerErrors.withLock { $0.append("runner \(runner): \(error)") }
            }
        }
        print("expiry: \(count) reservations, \(allocations) shard allocations, expired by runner \(expiredBy.value)")
        #expect(runnerErrors.value.isEmpty, "\(runnerErrors.value)")
        #expect(expiredBy.value.reduce(0, +) == count, "each reservation is expired by exactly one runner")

        // Each reservation expired once, and each of its allocations released once.
        var expiredEvents: [String: Int] = [:]
        for row in try setup.query(
            "SELECT data->>'reservationId' AS id, count(*)::int AS n FROM es_events WHERE event_type = 'ReservationExpired' GROUP BY 1"
        ) {
            expiredEvents[try row.decode("id")] = try row.decode("n")
        }
        var released: [String: [Int]] = [:]
        for row in try setup.query(
            """
            SELECT stream_id || ' ' || (data->>'reservationId') AS key, (data->>'quantity')::int AS n,
                   data->>'reason' AS reason
            FROM es_events WHERE event_type = 'TicketsReleased'
            """)
        {
            released[try row.decode("key"), default: []].append(try row.decode("n"))
            #expect(try row.decode("reason", as: String.self) == "expired")
        }
        var expectedReleases: [String: [Int]] = [:]
        for reservation in reservations {
            #expect(expiredEvents[reservation.reservationId] == 1, "\(reservation.reservationId)")
            for item in reservation.items {
                for allocation in item.shards {
                    let stream = AvailabilityShard.streamId(
                        concertId: reservation.concertId, levelId: item.ticketLevelId, shard: allocation.shard)
                    expectedReleases["\(stream) \(reservation.reservationId)", default: []].append(allocation.quantity)
                }
            }
        }
        #expect(released.values.reduce(0) { $0 + $1.count } == allocations)
        #expect(released.mapValues { $0.sorted() } == expectedReleases.mapValues { $0.sorted() })

        // Every ticket is back, and the read models equal the events.
        let shards = try Figures.readModel(on: setup)
        #expect(shards.values.allSatisfy { $0.held == 0 }, "\(shards.values.filter { $0.held != 0 })")
        #expect(try Figures.fromEvents(on: setup) == shards)
        #expect(try Figures.everOverfull(on: setup) == [], "never below zero: no double release")
        #expect(
            try ReservationsTestDatabase.count(
                "SELECT count(*)::int AS n FROM reservations WHERE status <> 'expired'", on: setup) == 0)
        #expect(try ReservationsTestDatabase.count("SELECT count(*)::int AS n FROM reservations", on: setup) == count)

        // A later run finds nothing to do, and a cancel after expiry is refused.
        #expect(
            try TicketReservations(connection: setup, inlineProjections: ReservationsTestDatabase.inline)
                .expireDue(now: Date(), limit: 10_000) == 0)
        #expect(throws: ReservationError.alreadyExpired) {
            try TicketReservations(connection: setup, inlineProjections: ReservationsTestDatabase.inline)
                .end(reservations[0].reservationId, .cancel, now: Date())
        }
    }
}
