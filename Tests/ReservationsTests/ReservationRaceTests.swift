import EventStore
import Foundation
import Postgres
import Testing

@testable import Reservations

/// The sell-out rush against real PostgreSQL: 50 threads, each with its own connection, race
/// in several rounds for a hot level of 100 tickets and a bigger level of another concert,
/// with mixed quantities, some checkouts spanning both concerts and some customers cancelling.
/// Then the figures must add up, exactly.
@Suite(.serialized) struct ReservationRaceTests {
    static let threads = 50
    static let mixedRounds = 12
    /// Sorted first, so a checkout spanning both concerts holds the big level's tickets first
    /// and is then refused on the hot one: the refusal must roll those back.
    static let big = "race-big"
    static let hot = "race-hot"
    static let hotCapacity = 100
    static let bigCapacity = 500  // five shards of 100

    enum Outcome: Sendable {
        case held([ReservationHeld])
        case refused(ReservationError)
        case failed(String)
        case cancelled(String)
    }

    struct Attempt: Sendable {
        let checkoutId: String
        let lines: [TicketReservations.Line]
        let outcome: Outcome
    }

    static func line(_ concert: String, _ quantity: Int) -> TicketReservations.Line {
        TicketReservations.Line(
            concertId: concert, ticketLevelId: concert == hot ? "floor" : "stands", quantity: quantity,
            unitPrice: 45_000, currency: "PLN")
    }

    /// Reserves in the caller's transaction like `Checkout.confirm`, retrying a deadlock or
    /// serialization failure (nothing is held after one).
    static func reserve(
        _ checkoutId: String, _ lines: [TicketReservations.Line], user: String, on connection: Connection,
        retries: Shared<Int>
    ) -> Outcome {
        do {
            let held = try TicketReservations.retrying(retries: 50, retried: { retries.withLock { $0 += 1 } }) {
                inOrder in
                try connection.transaction { tx in
                    try TicketReservations(connection: tx, inlineProjections: ReservationsTestDatabase.inline)
                        .reserve(
                            checkoutId: checkoutId, userId: user, lines: lines, holdFor: 900, now: Date(),
                            inOrder: inOrder)
                }
            }
            return .held(held)
        } catch let error as ReservationError {
            return .refused(error)
        } catch {
            return .failed("\(checkoutId): \(error)")
        }
    }

    /// Reserves like `Checkout.confirm` in a rush: through committers shared by the threads, so
    /// that concurrent checkouts are held or refused together (`reserveBatch`); one the batch
    /// left out joins up to `batchRetries` later batches, and then, or when its batch failed,
    /// reserves by itself.
    static func reserveBatched(
        _ checkoutId: String, _ lines: [TicketReservations.Line], user: String, on connection: Connection,
        retries: Shared<Int>,
        through committers: Committers<TicketReservations.Checkout, TicketReservations.BatchOutcome>
    ) -> Outcome {
        let checkout = TicketReservations.Checkout(
            checkoutId: checkoutId, userId: user, lines: lines, holdFor: 900, now: Date(), metadata: EventMetadata())
        for _ in 0...batchRetries {
            switch committers.submit(checkout, on: connection) {
            case .held(let held): return .held(held)
            case .refused(let error): return .refused(error)
            case .leftOut: continue
            }
        }
        return reserve(checkoutId, lines, user: user, on: connection, retries: retries)
    }

    /// As `Checkout.batchRetries`.
    static let batchRetries = 3

    /// The checkout's committers, as `Checkout.confirmations` has them.
    static func committers() -> Committers<TicketReservations.Checkout, TicketReservations.BatchOutcome> {
        Committers(maxBatch: 32, threads: 1, key: { $0.userId }) { batch, connection, _ in
            do {
                return try connection.transaction { tx in
                    try TicketReservations(connection: tx, inlineProjections: ReservationsTestDatabase.inline)
                        .reserveBatch(batch)
                }
            } catch {
                return Array(repeating: .leftOut, count: batch.count)
            }
        } failed: { _ in
            .leftOut
        }
    }

    @Test(arguments: [false, true]) func fiftyThreadsNeverOversell(batched: Bool) throws {
        let committers = Self.committers()
        defer { committers.stop() }
        @Sendable func reserve(
            _ checkoutId: String, _ lines: [TicketReservations.Line], _ user: String, _ connection: Connection,
            _ retries: Shared<Int>
        ) -> Outcome {
            if batched {
                return Self.reserveBatched(
                    checkoutId, lines, user: user, on: connection, retries: retries, through: committers)
            }
            return Self.reserve(checkoutId, lines, user: user, on: connection, retries: retries)
        }
        let url = try ReservationsTestDatabase.fresh(batched ? "race_batched" : "race")
        let setup = try Connection(url: url)
        try ReservationsTestDatabase.setLevels(Self.hot, [("floor", Self.hotCapacity)], on: setup)
        try ReservationsTestDatabase.setLevels(Self.big, [("stands", Self.bigCapacity)], on: setup)
        let before = try Figures.readModel(on: setup)
        #expect(before.values.filter { $0.concertId == Self.hot }.map(\.capacity) == [100])
        #expect(
            before.values.filter { $0.concertId == Self.big }.map(\.capacity).sorted() == [100, 100, 100, 100, 100])

        let connections = try (0..<Self.threads).map { _ in try Connection(url: url) }
        let attempts = Shared<[Attempt]>([])
        let retries = Shared(0)
        let started = Date()

        // Mixed rounds: 30% hot only, 40% big only, 20% both concerts, 10% cancel one of
        // one's own held reservations (rounds 3 to 7; big only otherwise); 1 to 4 tickets a
        // line. The later rounds ask for more than the cancellations give back.
        for round in 0..<Self.mixedRounds {
            onThreads(Self.threads) { thread in
                var random = SplitMix64(seed: UInt64(round * 1_000 + thread + 1))
                let connection = connections[thread]
                let user = "racer-\(thread)"
                let checkoutId = "co-r\(round)-t\(thread)"
                let kind = Int.random(in: 0..<10, using: &random)
                let q1 = Int.random(in: 1...4, using: &random)
                let q2 = Int.random(in: 1...4, using: &random)
                if kind == 9 && (2...6).contains(round) {
                    let mine = attempts.value.compactMap { attempt -> String? in
                        guard case .held(let held) = attempt.outcome, attempt.checkoutId.hasSuffix("-t\(thread)")
                        else { return nil }
                        return held.first?.reservationId
                    }
                    let cancelled = Set(
                        attempts.value.compactMap { if case .cancelled(let id) = $0.outcome { id } else { nil } })
                    if let id = mine.first(where: { !cancelled.contains($0) }) {
                        do {
                            try TicketReservations(
                                connection: connection, inlineProjections: ReservationsTestDatabase.inline
                            ).end(id, .cancel, now: Date())
                            attempts.withLock {
                                $0.append(Attempt(checkoutId: checkoutId, lines: [], outcome: .cancelled(id)))
                            }
                        } catch {
                            attempts.withLock {
                                $0.append(
                                    Attempt(checkoutId: checkoutId, lines: [], outcome: .failed("cancel: \(error)")))
                            }
                        }
                        return
                    }
                }
                let lines: [TicketReservations.Line] =
                    switch kind {
                    case 0..<3: [Self.line(Self.hot, q1)]
                    case 3..<7, 9: [Self.line(Self.big, q1)]
                    default: [Self.line(Self.hot, q1), Self.line(Self.big, q2)]
                    }
                let outcome = reserve(checkoutId, lines, user, connection, retries)
                attempts.withLock { $0.append(Attempt(checkoutId: checkoutId, lines: lines, outcome: outcome)) }
            }
        }
        let afterMixed = Figures.perLevel(try Figures.readModel(on: setup))

        // The last round: everyone wants one more ticket of each level until both refuse, so
        // a level whose last tickets were too few for the mixed carts still sells out.
        onThreads(Self.threads) { thread in
            var seq = 0
            for concert in thread % 2 == 0 ? [Self.hot, Self.big] : [Self.big, Self.hot] {
                while true {
                    seq += 1
                    let checkoutId = "co-last-t\(thread)-\(seq)"
                    let lines = [Self.line(concert, 1)]
                    let outcome = reserve(checkoutId, lines, "racer-\(thread)", connections[thread], retries)
                    attempts.withLock { $0.append(Attempt(checkoutId: checkoutId, lines: lines, outcome: outcome)) }
                    guard case .held = outcome else { break }
                }
            }
        }
        let elapsed = Date().timeIntervalSince(started)

        // ---- what happened
        let all = attempts.value
        let failures = all.compactMap { if case .failed(let message) = $0.outcome { message } else { nil } }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        let succeeded = all.filter { if case .held = $0.outcome { true } else { false } }
        let refused = all.filter { if case .refused = $0.outcome { true } else { false } }
        let cancelledIds = Set(all.compactMap { if case .cancelled(let id) = $0.outcome { id } else { nil } })
        print(
            "race: \(all.count) attempts in \(String(format: "%.2f", elapsed)) s, \(succeeded.count) held, "
                + "\(refused.count) refused, \(cancelledIds.count) cancelled, \(retries.value) retried; "
                + "after the mixed rounds: \(afterMixed.mapValues { "\($0.held)/\($0.capacity)" })")

        // ---- never more than capacity, and exactly capacity once demand exceeded it
        let shards = try Figures.readModel(on: setup)
        for figures in shards.values {
            #expect(figures.held + figures.sold <= figures.capacity, "\(figures)")
            #expect(figures.held >= 0)
        }
        // ... at no point of any shard's history either
        #expect(try Figures.everOverfull(on: setup) == [])
        let levels = Figures.perLevel(shards)
        #expect(levels["\(Self.hot)/floor"]?.capacity == Self.hotCapacity)
        #expect(levels["\(Self.hot)/floor"]?.held == Self.hotCapacity)
        #expect(levels["\(Self.big)/stands"]?.capacity == Self.bigCapacity)
        #expect(levels["\(Self.big)/stands"]?.held == Self.bigCapacity)
        // the mixed rounds alone asked for more than both levels have
        #expect(afterMixed["\(Self.hot)/floor"].map { $0.held > Self.hotCapacity - 4 } == true)
        #expect(afterMixed["\(Self.big)/stands"].map { $0.held > Self.bigCapacity - 4 } == true)

        // ---- the tickets the successful checkouts hold, less the cancelled ones, are the held ones
        var expected: [String: Int] = [:]
        var heldReservations: [String: ReservationHeld] = [:]
        for attempt in succeeded {
            guard case .held(let reservations) = attempt.outcome else { continue }
            #expect(Set(reservations.map(\.concertId)) == Set(attempt.lines.map(\.concertId)))
            for reservation in reservations {
                heldReservations[reservation.reservationId] = reservation
                for item in reservation.items {
                    #expect(item.shards.map(\.quantity).reduce(0, +) == item.quantity)
                    #expect(item.shards.allSatisfy { $0.quantity > 0 })
                    let asked = attempt.lines.first {
                        $0.concertId == reservation.concertId && $0.ticketLevelId == item.ticketLevelId
                    }
                    #expect(asked?.quantity == item.quantity)
                    if !cancelledIds.contains(reservation.reservationId) {
                        expected["\(reservation.concertId)/\(item.ticketLevelId)", default: 0] += item.quantity
                    }
                }
            }
        }
        #expect(expected["\(Self.hot)/floor"] == Self.hotCapacity)
        #expect(expected["\(Self.big)/stands"] == Self.bigCapacity)
        #expect(!cancelledIds.isEmpty, "some customers cancelled during the race")

        // ---- every refusal is "not enough tickets", naming a level of that checkout
        var refusedSecond = 0
        for attempt in refused {
            guard case .refused(let error) = attempt.outcome else { continue }
            guard case .notEnoughTickets(let concertId, let levelId, let available) = error else {
                Issue.record("\(attempt.checkoutId) refused with \(error)")
                continue
            }
            let line = attempt.lines.first { $0.concertId == concertId && $0.ticketLevelId == levelId }
            #expect(line != nil, "\(attempt.checkoutId) refused naming \(concertId)/\(levelId), not one of its lines")
            #expect(available >= 0 && available < (line?.quantity ?? 0), "\(attempt.checkoutId): \(error)")
            if attempt.lines.count == 2 && concertId == Self.hot { refusedSecond += 1 }
        }
        #expect(!refused.isEmpty)
        // checkouts that held the big concert's tickets and were then refused on the hot one
        #expect(refusedSecond > 0, "no spanning checkout was refused on its second concert")

        // ---- a refused checkout holds nothing, in either concert
        let streams = Set(
            try setup.query("SELECT stream_id FROM es_streams WHERE stream_type = 'reservation'").map {
                try $0.decode("stream_id", as: String.self)
            })
        let heldFor = Set(
            try setup.query(
                "SELECT DISTINCT data->>'reservationId' AS id FROM es_events WHERE event_type = 'TicketsHeld'"
            )
            .map { try $0.decode("id", as: String.self) })
        let listed = Set(
            try setup.query("SELECT checkout_id FROM reservations").map {
                try $0.decode("checkout_id", as: String.self)
            })
        for attempt in refused {
            for index in 0..<2 {
                let id = TicketReservations.reservationId(checkoutId: attempt.checkoutId, index: index)
                #expect(!heldFor.contains(id), "refused \(attempt.checkoutId) holds tickets as \(id)")
                #expect(!streams.contains(Reservation.streamId(id)))
            }
            #expect(!listed.contains(attempt.checkoutId))
        }
        #expect(heldFor == Set(heldReservations.keys))
        #expect(streams == Set(heldReservations.keys.map(Reservation.streamId)))

        // ---- the read models equal the events
        let recomputed = try Figures.fromEvents(on: setup)
        #expect(recomputed == shards)
        let streamVersions = Dictionary(
            uniqueKeysWithValues: try setup.query(
                "SELECT stream_id, version FROM es_streams WHERE stream_type = 'availability'"
            )
            .map { (try $0.decode("stream_id", as: String.self), try $0.decode("version", as: Int64.self)) })
        #expect(streamVersions == shards.mapValues(\.version))
        #expect(try Figures.heldInReservations(on: setup) == levels.mapValues(\.held))
        // each reservation's allocations are exactly its TicketsHeld events
        var allocated: [String: Int] = [:]
        for reservation in heldReservations.values {
            for item in reservation.items {
                for allocation in item.shards {
                    let stream = AvailabilityShard.streamId(
                        concertId: reservation.concertId, levelId: item.ticketLevelId, shard: allocation.shard)
                    allocated["\(stream) \(reservation.reservationId)", default: 0] += allocation.quantity
                }
            }
        }
        var heldEvents: [String: Int] = [:]
        for row in try setup.query(
            """
            SELECT stream_id || ' ' || (data->>'reservationId') AS key, sum((data->>'quantity')::int)::int AS n
            FROM es_events WHERE event_type = 'TicketsHeld' GROUP BY 1
            """)
        {
            heldEvents[try row.decode("key")] = try row.decode("n")
        }
        #expect(heldEvents == allocated)
        let statuses = try setup.query("SELECT status, count(*)::int AS n FROM reservations GROUP BY status")
            .reduce(into: [String: Int]()) { $0[try $1.decode("status")] = try $1.decode("n") }
        #expect(statuses["cancelled"] == cancelledIds.count)
        #expect(statuses["held"] == heldReservations.count - cancelledIds.count)
    }
}
