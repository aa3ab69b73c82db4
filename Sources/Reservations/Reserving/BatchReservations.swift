import EventStore
import Foundation
import Postgres

/// Holding the tickets of several checkouts at once: the hot concert's write path when many
/// confirmations arrive together.
///
/// `reserve` costs each checkout its own transaction: a lock and an append per shard, an
/// append per reservation, a commit. `reserveBatch` does a batch of checkouts (gathered by the
/// caller: `Checkout.confirmations` in the Encore module) in one transaction:
/// 1. the tickets every level needs, summed over the batch, are locked shard by shard, each
///    level from a random shard on, with `FOR UPDATE SKIP LOCKED` only: the batch never waits
///    for a shard another transaction holds. Every level's first shard is locked in one
///    statement, which also reads all the levels' shards as last committed (step 4); a level
///    whose first shard falls short of the batch's demand gets more, one statement each;
/// 2. the checkouts are decided one after the other, in memory, on the locked shards' states
///    (`AvailabilityShard.decide`, then `evolve`): each gets all its lines or nothing, and one
///    that the locked shards cannot cover is left out (nothing is held for it);
/// 3. every shard's `TicketsHeld` events (a chain of appends, one per checkout, each with its
///    own metadata) and every `ReservationHeld`, with what the caller adds (`alsoAppend`), are
///    appended with one `appendMany`: one INSERT, the expected versions being those of the
///    locked rows;
/// 4. a checkout the locked shards cannot cover is refused in the batch when a level of it
///    falls short counting every shard: what the batch's locked shards have left, plus the
///    rest of the level's other shards as last committed (read by step 1's statement, so no
///    query of its own). That is the answer `reserve` would give, without its own
///    transaction, and in a sell-out many of the confirmations are refused
///    (bench/flash-sale/FINDINGS.md, session 4).
/// So a batch is usually three round trips: the lock (with BEGIN), the INSERT, and the
/// inline read models' statements (one per table: runs of like events are written together)
/// with the COMMIT. One lock statement for all levels, with the rest in it, made a batch fewer
/// round trips and shorter than a lock statement per level and a rest query of its own, and
/// made more sales a second (measured in alternating bench rounds:
/// bench/flash-sale/FINDINGS.md, session 12).
/// A checkout neither held nor refused (its tickets are in shards other transactions hold)
/// is tried in a later batch, and after a few such tries goes through `reserve`, which waits
/// for locked shards (`Checkout.batchRetries` in the Encore module says why in that order).
/// No shard ever holds more than its capacity, whichever way.
extension TicketReservations {
    /// One checkout of a batch.
    public struct Checkout: Sendable {
        public let checkoutId: String
        public let userId: String
        public let lines: [Line]
        public let holdFor: TimeInterval
        public let now: Date
        public let metadata: EventMetadata

        public init(
            checkoutId: String, userId: String, lines: [Line], holdFor: TimeInterval, now: Date,
            metadata: EventMetadata
        ) {
            self.checkoutId = checkoutId
            self.userId = userId
            self.lines = lines
            self.holdFor = holdFor
            self.now = now
            self.metadata = metadata
        }
    }

    /// What a batch did with one checkout.
    public enum BatchOutcome: Sendable, Equatable {
        /// Its tickets are held: one reservation per concert.
        case held([ReservationHeld])
        /// A level has fewer tickets left than it asks for (`notEnoughTickets`); nothing held.
        case refused(ReservationError)
        /// Not decided here: its tickets may be in shards that other transactions hold.
        /// `reserve` it alone.
        case leftOut
    }

    /// Holds several checkouts' tickets; must run inside the caller's transaction. Returns
    /// each checkout's outcome, in order (see above). `alsoAppend` is given the outcomes
    /// (`held` or `leftOut`; refusals are decided after the append) when some checkout is held,
    /// and its appends go into the same `appendMany`: one round trip less than an append of
    /// their own, in the batch that every confirmation waits for (the checkout's closes of the
    /// held checkouts' carts).
    public func reserveBatch(
        _ checkouts: [Checkout], alsoAppend: ([BatchOutcome]) throws -> [StreamAppend] = { _ in [] }
    ) throws -> [BatchOutcome] {
        var demand: [LevelKey: Int] = [:]
        for checkout in checkouts {
            for line in checkout.lines { demand[LevelKey(line), default: 0] += line.quantity }
        }
        let levels = demand.keys.sorted()
        let first = try lockFirstShards(of: levels)
        var shards: [LevelKey: [LockedShard]] = [:]
        for level in levels {
            guard let first = first[level] else { continue }
            shards[level] = try lockShards(of: level, covering: demand[level] ?? 0, from: first)
        }
        var outcomes: [BatchOutcome] = []
        var reservations: [StreamAppend] = []
        for checkout in checkouts {
            var trial = shards
            guard let held = try hold(checkout, on: &trial) else {
                outcomes.append(.leftOut)
                continue
            }
            shards = trial
            outcomes.append(.held(held))
            reservations += try held.map { reservation in
                StreamAppend(
                    streamId: Reservation.streamId(reservation.reservationId), streamType: Reservation.streamType,
                    expectedVersion: .noStream, events: [try Reservation.eventTypes.encode(.held(reservation))],
                    metadata: checkout.metadata)
            }
        }
        let shardAppends = levels.flatMap { shards[$0] ?? [] }.flatMap(\.appends)
        if !reservations.isEmpty { try store.appendMany(shardAppends + reservations + alsoAppend(outcomes)) }
        let rests = first.reduce(into: [LevelKey: Rest]()) { rests, entry in
            rests[entry.key] = entry.value.rest(excluding: (shards[entry.key] ?? []).map(\.shard))
        }
        for index in outcomes.indices where outcomes[index] == .leftOut {
            if let shortfall = shortfall(of: checkouts[index], locked: shards, rests: rests) {
                outcomes[index] = .refused(shortfall)
            }
        }
        return outcomes
    }

    /// The first level of a checkout, in the fixed order, that falls short counting every
    /// shard; nil when none does, or when a level is not simply short (not on sale yet,
    /// closed: `reserve` gives those answers).
    private func shortfall(of checkout: Checkout, locked: [LevelKey: [LockedShard]], rests: [LevelKey: Rest])
        -> ReservationError?
    {
        for (_, _, lines) in Self.byConcert(checkout.lines) {
            for line in lines {
                let level = LevelKey(line)
                let mine = locked[level] ?? []
                let rest = rests[level] ?? Rest()
                guard !mine.isEmpty || rest.open > 0 else { return nil }
                let available = mine.reduce(rest.available) { $0 + $1.state.available }
                if available < line.quantity {
                    return .notEnoughTickets(
                        concertId: line.concertId, ticketLevelId: line.ticketLevelId, available: available)
                }
            }
        }
        return nil
    }

    /// A shard this transaction holds, with what the batch has decided on it so far.
    private struct LockedShard {
        let streamId: String
        let shard: Int
        var state: AvailabilityShard.State
        /// The version after `appends`.
        var version: Int64
        var appends: [StreamAppend] = []

        init(_ row: ShardRow) {
            streamId = row.streamId
            shard = row.shard
            state = row.state
            version = row.version
        }
    }

    /// A level's shard locked first (nil when none is both free and unlocked), and its shards
    /// as last committed, for what `shortfall` counts as the rest.
    private struct FirstShard {
        /// Where the level's shards were taken from (they are tried in a rotation from it).
        let start: Int
        let locked: ShardRow?
        /// How many shards the level has.
        let shards: Int
        /// The open shards' tickets left, by shard, as last committed.
        let open: [Int: Int]

        /// The level's shards other than `locked`, as last committed.
        func rest(excluding locked: [Int]) -> Rest {
            let others = open.filter { !locked.contains($0.key) }
            return Rest(available: others.values.reduce(0, +), shards: shards - locked.count, open: others.count)
        }
    }

    /// Locks a free shard of every level, each from a random shard on, and reads every shard
    /// of them as last committed: one statement, which is most batches' only lock (one shard
    /// of about 100 tickets covers a batch's demand for a level until near its sell-out), and
    /// whose reading is the rest a refusal counts (in the same round trip, where a query of
    /// its own was one more on the batch's chain, which every confirmation waits for).
    private func lockFirstShards(of levels: [LevelKey]) throws -> [LevelKey: FirstShard] {
        guard !levels.isEmpty else { return [:] }
        let starts = levels.map { _ in Int.random(in: 0..<ShardPlan.maxShards) }
        let rows = try connection.query(
            """
            SELECT w.ord, l.shards, l.open_shards, l.open_available,
                   s.stream_id, s.shard, s.version, s.capacity, s.held, s.sold, s.closed
            FROM unnest(\(SQLArray(levels.map(\.concertId)))::text[], \(SQLArray(levels.map(\.levelId)))::text[],
                        \(SQLArray(unquoted: starts))::int[]) WITH ORDINALITY AS w(concert_id, level_id, start, ord)
            CROSS JOIN LATERAL (
                SELECT count(*)::int AS shards,
                       coalesce(array_agg(a.shard ORDER BY a.shard) FILTER (WHERE NOT a.closed), '{}') AS open_shards,
                       coalesce(array_agg(a.capacity - a.held - a.sold ORDER BY a.shard) FILTER (WHERE NOT a.closed),
                                '{}') AS open_available
                FROM availability_shards AS a WHERE a.concert_id = w.concert_id AND a.level_id = w.level_id
            ) AS l
            LEFT JOIN LATERAL (
                SELECT a.stream_id, a.shard, a.version, a.capacity, a.held, a.sold, a.closed
                FROM availability_shards AS a
                WHERE a.concert_id = w.concert_id AND a.level_id = w.level_id AND NOT a.closed
                  AND a.capacity - a.held - a.sold > 0
                ORDER BY (a.shard + \(ShardPlan.maxShards) - w.start) % \(ShardPlan.maxShards)
                LIMIT 1 FOR UPDATE SKIP LOCKED
            ) AS s ON true
            """)
        var first: [LevelKey: FirstShard] = [:]
        for row in rows {
            let index = try row.decode("ord", as: Int.self) - 1
            guard levels.indices.contains(index),
                let shards = SQLArray.int64s(try row.decode("open_shards")),
                let available = SQLArray.int64s(try row.decode("open_available")), shards.count == available.count
            else { throw PostgresError(kind: .protocolViolation, message: "unexpected shards of a level") }
            first[levels[index]] = FirstShard(
                start: starts[index], locked: row["stream_id"] == nil ? nil : try ShardRow(row),
                shards: try row.decode("shards"),
                open: Dictionary(zip(shards.map(Int.init), available.map(Int.init)), uniquingKeysWith: { a, _ in a }))
        }
        return first
    }

    /// Locks free shards of a level, after its first, until they hold `quantity` tickets or
    /// none is left.
    private func lockShards(of level: LevelKey, covering quantity: Int, from first: FirstShard) throws
        -> [LockedShard]
    {
        guard let row = first.locked else { return [] }
        var locked = [LockedShard(row)]
        var free = row.state.available
        while free < quantity,
            let row = try lockShard(
                concertId: level.concertId, levelId: level.levelId, excluding: locked.map(\.shard), start: first.start)
        {
            locked.append(LockedShard(row))
            free += row.state.available
        }
        return locked
    }

    /// Decides one checkout on the locked shards: its reservations, one per concert, or nil
    /// when a line cannot be covered (then `shards` must be thrown away).
    private func hold(_ checkout: Checkout, on shards: inout [LevelKey: [LockedShard]]) throws -> [ReservationHeld]? {
        var held: [ReservationHeld] = []
        for (index, concertId, lines) in Self.byConcert(checkout.lines) {
            let reservationId = Self.reservationId(checkoutId: checkout.checkoutId, index: index)
            var items: [ReservedItem] = []
            for line in lines {
                var remaining = line.quantity
                var taken: [ShardAllocation] = []
                let level = LevelKey(line)
                for slot in (shards[level] ?? []).indices where remaining > 0 {
                    var shard = shards[level]![slot]
                    let quantity = min(remaining, shard.state.available)
                    guard quantity > 0 else { continue }
                    let events = try AvailabilityShard.decide(
                        .hold(reservationId: reservationId, quantity: quantity), shard.state)
                    shard.appends.append(
                        StreamAppend(
                            streamId: shard.streamId, streamType: AvailabilityShard.streamType,
                            expectedVersion: .version(shard.version),
                            events: try events.map { try AvailabilityShard.eventTypes.encode($0) },
                            metadata: checkout.metadata))
                    shard.state = AvailabilityShard.fold(events, from: shard.state)
                    shard.version += Int64(events.count)
                    shards[level]![slot] = shard
                    taken.append(ShardAllocation(shard: shard.shard, quantity: quantity))
                    remaining -= quantity
                }
                guard remaining == 0 else { return nil }
                items.append(
                    ReservedItem(
                        ticketLevelId: line.ticketLevelId, quantity: line.quantity, unitPrice: line.unitPrice,
                        currency: line.currency, shards: taken))
            }
            held.append(
                ReservationHeld(
                    reservationId: reservationId, checkoutId: checkout.checkoutId, userId: checkout.userId,
                    concertId: concertId, items: items, heldAt: checkout.now,
                    expiresAt: checkout.now.addingTimeInterval(checkout.holdFor)))
        }
        return held
    }
}
