import EventStore
import Foundation
import Postgres

/// The Reservations context's command side: holds tickets for a checkout, all or nothing,
/// and releases them exactly once.
///
/// ## The write path for a hot concert
/// A checkout's items are reserved in one short transaction:
/// 1. Items are taken in a fixed order (concert id, then level id), so two checkouts never wait
///    on each other's shards in opposite orders.
/// 2. For each item, the shard rows of its level (`availability_shards`, the shards' inline
///    snapshot) are locked one at a time with `FOR UPDATE SKIP LOCKED`, starting from a random
///    shard: concurrent checkouts spread over the shards instead of queueing on one row. The
///    decider runs on the locked row, and the `TicketsHeld` event is appended with the version
///    the row holds, so the expected-version check can never fail while the lock is held.
///    A quantity larger than one shard's rest is taken from several shards.
/// 3. Only when every unlocked shard is empty does it wait for a locked one, and only when the
///    level's total rest is too small does it answer "not enough tickets", naming the level;
///    the transaction then rolls back and nothing is held. It waits only for a shard ranked
///    above every shard it holds, in the order (concert, level, shard): the lowest-numbered
///    shard with tickets above those it holds of the level. Every wait then points up that
///    order, so waits cannot form a cycle. (Before session 8 a checkout waited for "the first
///    locked shard from its random start", which could be below one it held: near a sell-out
///    two checkouts each held the shard the other waited for, PostgreSQL broke each cycle
///    after its deadlock_timeout of a second, and the flash sale's last confirmations were
///    answered long after the others: bench/flash-sale/FINDINGS.md, session 8. Even holding
///    nothing of the level, a wait from a random start is not safe: a `FOR UPDATE` that
///    waited for a row its holder then emptied keeps that row locked while it moves on to the
///    next one, here possibly a lower one.) When the tickets left are only below a shard it
///    holds, `reserve` throws `WaitOutOfOrder`: the caller rolls back and runs it again
///    `inOrder`, taking and waiting for shards strictly upwards from the lowest, which needs
///    no such exit. Only a shard locked by `SKIP LOCKED` just as another transaction emptied
///    it stays held unseen (the same rule of PostgreSQL's), so a deadlock remains possible in
///    that narrow window; PostgreSQL then aborts one side, which the caller retries.
/// 4. One `ReservationHeld` per concert records what was taken from which shard.
/// Releasing (`end`) locks a reservation's shards in the same order. The sum of a level's
/// shard capacities is its capacity, and no shard holds more than its capacity, so the level
/// is never oversold.
///
/// In a rush, `reserveBatch` (BatchReservations.swift) holds a batch of checkouts with one
/// lock pass, one append and one commit, and refuses those whose level falls short; `reserve`
/// is then the path of the checkouts a batch could not decide without waiting.
public struct TicketReservations {
    public let connection: Connection
    public let inlineProjections: [any Projection]

    public init(connection: Connection, inlineProjections: [any Projection]) {
        self.connection = connection
        self.inlineProjections = inlineProjections
    }

    /// A line of a checkout to reserve.
    public struct Line: Sendable, Equatable {
        public let concertId: String
        public let ticketLevelId: String
        public let quantity: Int
        public let unitPrice: Int
        public let currency: String

        public init(concertId: String, ticketLevelId: String, quantity: Int, unitPrice: Int, currency: String) {
            self.concertId = concertId
            self.ticketLevelId = ticketLevelId
            self.quantity = quantity
            self.unitPrice = unitPrice
            self.currency = currency
        }
    }

    var store: EventStore {
        EventStore(connection: connection, inlineProjections: inlineProjections, joinsCallerTransaction: true)
    }

    /// Holds every line or none. Must run inside the caller's transaction on `connection`.
    /// Throws `WaitOutOfOrder` when it would have to wait for a shard below one it holds;
    /// the caller then rolls back and calls it again with `inOrder` (see step 3 above).
    public func reserve(
        checkoutId: String, userId: String, lines: [Line], holdFor: TimeInterval, now: Date,
        metadata: EventMetadata = EventMetadata(), inOrder: Bool = false
    ) throws -> [ReservationHeld] {
        try Self.byConcert(lines).map { index, concertId, lines in
            let reservationId = Self.reservationId(checkoutId: checkoutId, index: index)
            let items = try lines.map { line in
                ReservedItem(
                    ticketLevelId: line.ticketLevelId, quantity: line.quantity, unitPrice: line.unitPrice,
                    currency: line.currency,
                    shards: try hold(line, reservationId: reservationId, metadata: metadata, inOrder: inOrder))
            }
            let held = ReservationHeld(
                reservationId: reservationId, checkoutId: checkoutId, userId: userId, concertId: concertId,
                items: items, heldAt: now, expiresAt: now.addingTimeInterval(holdFor))
            try store.append(
                to: Reservation.streamId(reservationId), type: Reservation.streamType, expectedVersion: .noStream,
                events: [try Reservation.eventTypes.encode(.held(held))], metadata: metadata)
            return held
        }
    }

    /// Runs `body`, a transaction that calls `reserve` with the `inOrder` it is given, until
    /// it needs no retry: again after a deadlock or serialization failure (PostgreSQL rolled it
    /// back, nothing is held), and again in order after `WaitOutOfOrder`, at most `retries`
    /// times in all; `retried` is told of each. Then the last error is thrown.
    public static func retrying<T>(
        retries: Int = 4, retried: () -> Void = {}, _ body: (_ inOrder: Bool) throws -> T
    ) throws -> T {
        var attempt = 0
        var inOrder = false
        while true {
            do {
                return try body(inOrder)
            } catch let error as PostgresError where error.isRetryable && attempt < retries {
            } catch is WaitOutOfOrder where attempt < retries {
                inOrder = true
            }
            attempt += 1
            retried()
        }
    }

    static func reservationId(checkoutId: String, index: Int) -> String {
        "\(checkoutId)-\(index + 1)"
    }

    /// A checkout's lines in the fixed order (concert id, level id), grouped by concert: one
    /// reservation each, numbered from 0.
    static func byConcert(_ lines: [Line]) -> [(index: Int, concertId: String, lines: [Line])] {
        let sorted = lines.sorted { ($0.concertId, $0.ticketLevelId) < ($1.concertId, $1.ticketLevelId) }
        var groups: [(index: Int, concertId: String, lines: [Line])] = []
        for line in sorted {
            if groups.last?.concertId == line.concertId {
                groups[groups.count - 1].lines.append(line)
            } else {
                groups.append((groups.count, line.concertId, [line]))
            }
        }
        return groups
    }

    struct ShardRow {
        let streamId: String
        let shard: Int
        let version: Int64
        let state: AvailabilityShard.State

        init(_ row: Row) throws {
            streamId = try row.decode("stream_id")
            shard = try row.decode("shard")
            version = try row.decode("version")
            state = AvailabilityShard.State(
                capacity: try row.decode("capacity"), held: try row.decode("held"), sold: try row.decode("sold"),
                closed: try row.decode("closed"), exists: true)
        }
    }

    /// Holds one line's tickets over as many shards as it takes.
    private func hold(_ line: Line, reservationId: String, metadata: EventMetadata, inOrder: Bool) throws
        -> [ShardAllocation]
    {
        var remaining = line.quantity
        var taken: [ShardAllocation] = []
        var locked: [Int] = []
        var lockedStreams: [String] = []
        let start = Int.random(in: 0..<ShardPlan.maxShards)
        while remaining > 0 {
            var row =
                inOrder
                ? nil
                : try lockShard(concertId: line.concertId, levelId: line.ticketLevelId, excluding: locked, start: start)
            if row == nil {
                let level = LevelKey(line)
                let rest = try self.rest(of: [level], excluding: lockedStreams)[level] ?? Rest()
                // A level whose shards the process manager has not opened yet (a concert created a
                // moment ago): not sold out, just not on sale for another moment.
                if rest.shards == 0 && locked.isEmpty {
                    throw ReservationError.notOnSaleYet(concertId: line.concertId, ticketLevelId: line.ticketLevelId)
                }
                if rest.shards > 0 && rest.open == 0 && taken.isEmpty {
                    throw ReservationError.salesClosed(concertId: line.concertId)
                }
                let available = rest.available
                guard available >= remaining else {
                    throw ReservationError.notEnoughTickets(
                        concertId: line.concertId, ticketLevelId: line.ticketLevelId,
                        available: available + line.quantity - remaining)
                }
                // Tickets are left, but in shards other checkouts hold: wait for the lowest one
                // ranked above every shard held (step 3).
                row = try lockShard(
                    concertId: line.concertId, levelId: line.ticketLevelId, excluding: locked, start: start,
                    waiting: true, above: locked.max() ?? -1)
                if row == nil {
                    // None above has tickets left: the rest is below a shard held (or was
                    // released there since an in-order pass went by), or was taken meanwhile.
                    if !locked.isEmpty { throw WaitOutOfOrder() }
                    continue
                }
            }
            guard let shard = row else { continue }
            locked.append(shard.shard)
            lockedStreams.append(shard.streamId)
            let quantity = min(remaining, shard.state.available)
            if quantity == 0 { continue }
            let events = try AvailabilityShard.decide(
                .hold(reservationId: reservationId, quantity: quantity), shard.state)
            try store.append(
                to: shard.streamId, type: AvailabilityShard.streamType, expectedVersion: .version(shard.version),
                events: try events.map { try AvailabilityShard.eventTypes.encode($0) }, metadata: metadata)
            taken.append(ShardAllocation(shard: shard.shard, quantity: quantity))
            remaining -= quantity
        }
        return taken
    }

    /// `reserve` would have to wait for a shard ranked below one it holds, which could
    /// deadlock (step 3): nothing must stay held, so the caller rolls its transaction back and
    /// runs `reserve` again with `inOrder`.
    public struct WaitOutOfOrder: Error, Equatable {}

    /// A level of a concert, ordered as locks are taken.
    struct LevelKey: Hashable, Comparable {
        let concertId: String
        let levelId: String

        init(_ line: Line) {
            concertId = line.concertId
            levelId = line.ticketLevelId
        }

        init(concertId: String, levelId: String) {
            self.concertId = concertId
            self.levelId = levelId
        }

        static func < (a: Self, b: Self) -> Bool { (a.concertId, a.levelId) < (b.concertId, b.levelId) }
    }

    /// A level's shards other than those this transaction holds: their tickets left, as last
    /// committed (other transactions may hold some of them), how many there are and how many
    /// are open.
    struct Rest {
        var available = 0
        var shards = 0
        var open = 0
    }

    /// The rest of each level in `levels`, leaving out the shards `excluding` names (those this
    /// transaction holds); a level without shards is absent. One statement: the shards of the
    /// levels' concerts, by the concert index (matching (concert, level) pairs in SQL cost more
    /// than the few rows it saves).
    func rest(of levels: Set<LevelKey>, excluding streamIds: [String]) throws -> [LevelKey: Rest] {
        let concerts = Set(levels.map(\.concertId)).sorted()
        var rests: [LevelKey: Rest] = [:]
        let query: SQLQuery = """
            SELECT concert_id, level_id,
                   coalesce(sum(capacity - held - sold) FILTER (WHERE NOT closed), 0)::int AS available,
                   count(*)::int AS shards, count(*) FILTER (WHERE NOT closed)::int AS open
            FROM availability_shards
            WHERE concert_id = ANY(\(SQLArray(concerts))::text[])
              AND NOT (stream_id = ANY(\(SQLArray(streamIds))::text[]))
            GROUP BY concert_id, level_id
            """
        for row in try connection.query(query.withGenericPlan()) {
            let level = LevelKey(concertId: try row.decode("concert_id"), levelId: try row.decode("level_id"))
            guard levels.contains(level) else { continue }
            rests[level] = Rest(
                available: try row.decode("available"), shards: try row.decode("shards"), open: try row.decode("open"))
        }
        return rests
    }

    /// Locks the first shard of a level, from `start` on, that has tickets left, other than
    /// those in `excluding`, that no other transaction holds (`SKIP LOCKED`). With `above`,
    /// the first numbered higher than it instead, in shard order; with `waiting`, waiting for
    /// its holder (only upwards: see step 3).
    func lockShard(
        concertId: String, levelId: String, excluding: [Int], start: Int, waiting: Bool = false, above: Int? = nil
    ) throws -> ShardRow? {
        let order: SQLQuery =
            if let above {
                "AND shard > \(above) ORDER BY shard"
            } else {
                "ORDER BY (shard + \(ShardPlan.maxShards) - \(start)) % \(ShardPlan.maxShards)"
            }
        return try connection.query(
            """
            SELECT stream_id, shard, version, capacity, held, sold, closed FROM availability_shards
            WHERE concert_id = \(concertId) AND level_id = \(levelId) AND NOT closed
              AND capacity - held - sold > 0 AND NOT (shard = ANY(\(SQLArray(unquoted: excluding))::int[]))
              \(subquery: order)
            LIMIT 1 FOR UPDATE\(unsafeSQL: waiting ? "" : " SKIP LOCKED")
            """
        ).first.map(ShardRow.init)
    }

    // MARK: Releasing

    /// What happens to a reservation, and with it to the tickets its shards hold or sold.
    public enum Ending: Sendable, Equatable {
        /// The customer lets it go: its held tickets return to sale.
        case cancel
        /// Its time is up unpaid: its held tickets return to sale.
        case expire
        /// It is paid: its held tickets become sold, and it no longer expires.
        case confirm
        /// Its order was refunded: its sold tickets return to sale.
        case returnTickets(reason: String)

        func command(now: Date) -> Reservation.Command {
            switch self {
            case .cancel: .cancel(now: now)
            case .expire: .expire(now: now)
            case .confirm: .confirm(now: now)
            case .returnTickets(let reason): .returnTickets(reason: reason, now: now)
            }
        }

        func shardCommand(reservationId: String, quantity: Int) -> AvailabilityShard.Command {
            switch self {
            case .cancel: .release(reservationId: reservationId, quantity: quantity, reason: "cancelled")
            case .expire: .release(reservationId: reservationId, quantity: quantity, reason: "expired")
            case .confirm: .sell(reservationId: reservationId, quantity: quantity)
            case .returnTickets(let reason):
                .returnSold(reservationId: reservationId, quantity: quantity, reason: reason)
            }
        }
    }

    /// Moves a reservation on (`Ending`) and its shards' tickets with it, in one transaction.
    /// Of two racing calls, one succeeds; the other throws (a conflict or the reservation's
    /// new state) and changes nothing. Repeating a confirmation or a return that happened
    /// changes nothing either. Its shards are locked in the checkouts' order (step 3 above), so
    /// it cannot deadlock with them; should PostgreSQL still pick it as a deadlock victim, the
    /// transaction is tried again with the reservation read anew.
    public func end(_ reservationId: String, _ ending: Ending, now: Date, metadata: EventMetadata = EventMetadata())
        throws
    {
        var attempt = 0
        while true {
            do {
                try connection.transaction { tx in
                    try endOnce(reservationId, ending, now: now, metadata: metadata, on: tx)
                }
                return
            } catch let error as PostgresError where error.isRetryable && attempt < 5 {
                attempt += 1
            }
        }
    }

    /// A reservation's state, from its stream.
    public func load(_ reservationId: String) throws -> Reservation.State {
        try CommandHandler<Reservation>(
            store: EventStore(connection: connection), streamType: Reservation.streamType,
            eventTypes: Reservation.eventTypes
        ).load(Reservation.streamId(reservationId)).state
    }

    /// `end`, inside the caller's transaction (a process manager's, with its checkpoint).
    public func end(
        _ reservationId: String, _ ending: Ending, now: Date, metadata: EventMetadata,
        inCallersTransaction tx: Connection
    ) throws {
        try endOnce(reservationId, ending, now: now, metadata: metadata, on: tx)
    }

    private func endOnce(
        _ reservationId: String, _ ending: Ending, now: Date, metadata: EventMetadata, on tx: Connection
    ) throws {
        let joined = EventStore(connection: tx, inlineProjections: inlineProjections, joinsCallerTransaction: true)
        let handler = CommandHandler<Reservation>(
            store: joined, streamType: Reservation.streamType, eventTypes: Reservation.eventTypes)
        let loaded = try handler.load(Reservation.streamId(reservationId))
        let events = try Reservation.decide(ending.command(now: now), loaded.state)
        guard !events.isEmpty else { return }
        try joined.append(
            to: Reservation.streamId(reservationId), type: Reservation.streamType,
            expectedVersion: .version(loaded.version),
            events: try events.map { try Reservation.eventTypes.encode($0) }, metadata: metadata)
        try moveShards(loaded.state, ending, store: joined, on: tx, metadata: metadata)
    }

    /// Applies the ending to what the reservation took from each shard, shard by shard in a
    /// fixed order.
    private func moveShards(
        _ reservation: Reservation.State, _ ending: Ending, store: EventStore, on tx: Connection,
        metadata: EventMetadata
    ) throws {
        var allocations: [(level: String, shard: Int, quantity: Int)] = []
        for item in reservation.items {
            for allocation in item.shards {
                allocations.append((item.ticketLevelId, allocation.shard, allocation.quantity))
            }
        }
        allocations.sort { ($0.level, $0.shard) < ($1.level, $1.shard) }
        for allocation in allocations {
            guard
                let row = try tx.query(
                    """
                    SELECT stream_id, shard, version, capacity, held, sold, closed FROM availability_shards
                    WHERE concert_id = \(reservation.concertId) AND level_id = \(allocation.level)
                      AND shard = \(allocation.shard) FOR UPDATE
                    """
                ).first.map(ShardRow.init)
            else { continue }
            let events = try AvailabilityShard.decide(
                ending.shardCommand(reservationId: reservation.id ?? "", quantity: allocation.quantity), row.state)
            try store.append(
                to: row.streamId, type: AvailabilityShard.streamType, expectedVersion: .version(row.version),
                events: try events.map { try AvailabilityShard.eventTypes.encode($0) }, metadata: metadata)
        }
    }

    /// Expires every held reservation whose time is up; returns how many it expired.
    /// Safe to run in several processes at once: each reservation is expired by one of them.
    public func expireDue(now: Date, limit: Int = 100) throws -> Int {
        var expired = 0
        for id in try ReservationQueries.due(now: now, limit: limit, on: connection) {
            do {
                try end(id, .expire, now: now, metadata: EventMetadata(causationId: "expiry"))
                expired += 1
            } catch is WrongExpectedVersion {
                continue  // another runner got there first
            } catch let error as ReservationError where error != .notExpiredYet {
                continue  // no longer held: cancelled or expired meanwhile
            }
        }
        return expired
    }
}
