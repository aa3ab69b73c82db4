import EventStore
import Foundation

/// One shard of a ticket level's availability: a decider over a slice of its capacity.
///
/// A level's capacity is split over several shard streams (`availability-<concert>-<level>-<n>`)
/// so that a sell-out's confirmations do not all queue on one row lock: two carts that hold
/// tickets of the same level usually lock different shards, and their commits flush together.
/// Never more than a shard's capacity is held or sold, so never more than the level's.
public enum AvailabilityShard: Decider {
    public struct State: Sendable, Equatable, Codable {
        public var capacity = 0
        public var held = 0
        public var sold = 0
        public var closed = false
        public var exists = false
        public var available: Int { closed ? 0 : max(0, capacity - held - sold) }
    }

    public enum Command: Sendable, Equatable {
        case open(concertId: String, levelId: String, shard: Int, capacity: Int)
        case changeCapacity(Int)
        case hold(reservationId: String, quantity: Int)
        case release(reservationId: String, quantity: Int, reason: String)
        /// A paid reservation's held tickets become sold.
        case sell(reservationId: String, quantity: Int)
        /// Sold tickets come back on sale (a refund).
        case returnSold(reservationId: String, quantity: Int, reason: String)
        case close
    }

    public enum Event: Sendable, Equatable {
        case opened(ShardOpened)
        case capacityChanged(ShardCapacityChanged)
        case held(TicketsHeld)
        case released(TicketsReleased)
        case sold(TicketsSold)
        case returned(TicketsReturned)
        case closed(SalesClosed)
    }

    public static let streamType = "availability"
    public static func streamId(concertId: String, levelId: String, shard: Int) -> String {
        "availability-\(concertId)-\(levelId)-\(shard)"
    }

    public static let initial = State()

    public static func evolve(_ state: State, _ event: Event) -> State {
        var next = state
        switch event {
        case .opened(let e):
            next.exists = true
            next.capacity = e.capacity
        case .capacityChanged(let e): next.capacity = e.capacity
        case .held(let e): next.held += e.quantity
        case .released(let e): next.held -= e.quantity
        case .sold(let e):
            next.held -= e.quantity
            next.sold += e.quantity
        case .returned(let e): next.sold -= e.quantity
        case .closed: next.closed = true
        }
        return next
    }

    public static func decide(_ command: Command, _ state: State) throws -> [Event] {
        switch command {
        case .open(let concertId, let levelId, let shard, let capacity):
            guard !state.exists else { return [] }
            return [.opened(ShardOpened(concertId: concertId, levelId: levelId, shard: shard, capacity: capacity))]
        case .changeCapacity(let capacity):
            // Never below what is held or sold: those tickets are someone's.
            let floor = state.held + state.sold
            let target = max(capacity, floor)
            guard state.exists, target != state.capacity else { return [] }
            return [.capacityChanged(ShardCapacityChanged(capacity: target, requested: capacity))]
        case .hold(let reservationId, let quantity):
            guard quantity > 0 else { throw AvailabilityError.invalidQuantity }
            guard state.exists, !state.closed else { throw AvailabilityError.salesClosed }
            guard state.available >= quantity else { throw AvailabilityError.notEnough(available: state.available) }
            return [.held(TicketsHeld(reservationId: reservationId, quantity: quantity))]
        case .release(let reservationId, let quantity, let reason):
            guard quantity > 0, state.held >= quantity else { throw AvailabilityError.nothingToRelease }
            return [.released(TicketsReleased(reservationId: reservationId, quantity: quantity, reason: reason))]
        case .sell(let reservationId, let quantity):
            guard quantity > 0, state.held >= quantity else { throw AvailabilityError.nothingToRelease }
            return [.sold(TicketsSold(reservationId: reservationId, quantity: quantity))]
        case .returnSold(let reservationId, let quantity, let reason):
            guard quantity > 0, state.sold >= quantity else { throw AvailabilityError.nothingToRelease }
            return [.returned(TicketsReturned(reservationId: reservationId, quantity: quantity, reason: reason))]
        case .close:
            guard state.exists, !state.closed else { return [] }
            return [.closed(SalesClosed())]
        }
    }

    public static let eventTypes = EventTypes<Event> { event in
        switch event {
        case .opened(let e): e
        case .capacityChanged(let e): e
        case .held(let e): e
        case .released(let e): e
        case .sold(let e): e
        case .returned(let e): e
        case .closed(let e): e
        }
    }
    .register(ShardOpened.self) { .opened($0) }
    .register(ShardCapacityChanged.self) { .capacityChanged($0) }
    .register(TicketsHeld.self) { .held($0) }
    .register(TicketsReleased.self) { .released($0) }
    .register(TicketsSold.self) { .sold($0) }
    .register(TicketsReturned.self) { .returned($0) }
    .register(SalesClosed.self) { .closed($0) }
}

public enum AvailabilityError: Error, Equatable, Sendable {
    case invalidQuantity
    case salesClosed
    case notEnough(available: Int)
    case nothingToRelease
}

public struct ShardOpened: EventPayload, Equatable {
    public static let eventType = "AvailabilityShardOpened"
    public let concertId: String
    public let levelId: String
    public let shard: Int
    public let capacity: Int
}

public struct ShardCapacityChanged: EventPayload, Equatable {
    public static let eventType = "AvailabilityShardCapacityChanged"
    public let capacity: Int
    /// What the organiser asked for, when it was below what is held or sold.
    public let requested: Int
}

public struct TicketsHeld: EventPayload, Equatable {
    public static let eventType = "TicketsHeld"
    public let reservationId: String
    public let quantity: Int
}

public struct TicketsReleased: EventPayload, Equatable {
    public static let eventType = "TicketsReleased"
    public let reservationId: String
    public let quantity: Int
    /// `cancelled`, `expired` or `concert_cancelled`.
    public let reason: String
}

/// A paid reservation's tickets, held until now, are sold.
public struct TicketsSold: EventPayload, Equatable {
    public static let eventType = "TicketsSold"
    public let reservationId: String
    public let quantity: Int
}

/// Sold tickets are on sale again: their order was refunded.
public struct TicketsReturned: EventPayload, Equatable {
    public static let eventType = "TicketsReturned"
    public let reservationId: String
    public let quantity: Int
    /// `refunded`.
    public let reason: String
}

public struct SalesClosed: EventPayload, Equatable {
    public static let eventType = "AvailabilitySalesClosed"
}

/// How a level's capacity is split into shards: about 100 tickets each, at most 32.
///
/// Enough shards that the confirms in flight at once (as many as the pool's threads) each
/// find an unlocked one with `SKIP LOCKED`, and do not queue behind a shard another confirm
/// holds until its commit. Measured with 250-ticket shards (8 for a 2,000-ticket level), the
/// wait for a locked shard took more backend time than all the confirms' statements together
/// (bench/flash-sale/FINDINGS.md, "The second full run"). More shards cost a row each in the
/// availability sums, and near a sell-out a line takes its tickets from more shards.
public enum ShardPlan {
    public static let maxShards = 32
    public static let ticketsPerShard = 100

    public static func shardCount(capacity: Int) -> Int {
        min(maxShards, max(1, capacity / ticketsPerShard))
    }

    /// Capacities per shard, summing to `capacity`; the first shards take the remainder.
    public static func split(_ capacity: Int, into count: Int) -> [Int] {
        (0..<count).map { capacity / count + ($0 < capacity % count ? 1 : 0) }
    }
}
