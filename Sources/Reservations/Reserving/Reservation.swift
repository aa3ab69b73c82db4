import EventStore
import Foundation

/// A reservation: the tickets of one concert that one checkout holds (stream
/// `reservation-<id>`). Held until paid (confirmed), cancelled, or expired; a paid one's
/// tickets are returned to sale when its order is refunded.
///
/// Its state machine is what makes a release happen once: expiring or cancelling moves it out
/// of `held`, appended with the version that was read, so of two racing expiry runs only one
/// succeeds, and only that one releases the tickets.
public enum Reservation: Decider {
    public enum Status: String, Sendable, Codable, Equatable {
        case none, held, confirmed, cancelled, expired, returned
    }

    public struct State: Sendable, Equatable, Codable {
        public var id: String?
        public var status: Status = .none
        public var concertId = ""
        public var userId = ""
        public var items: [ReservedItem] = []
        public var expiresAt = Date.distantPast
    }

    public enum Command: Sendable, Equatable {
        case hold(ReservationHeld)
        case cancel(now: Date)
        case expire(now: Date)
        case confirm(now: Date)
        /// A paid reservation's tickets go back on sale (its order was refunded).
        case returnTickets(reason: String, now: Date)
    }

    public enum Event: Sendable, Equatable {
        case held(ReservationHeld)
        case cancelled(ReservationCancelled)
        case expired(ReservationExpired)
        case confirmed(ReservationConfirmed)
        case returned(ReservationReturned)
    }

    public static let streamType = "reservation"
    public static func streamId(_ id: String) -> String { "reservation-\(id)" }

    public static let initial = State()

    public static func evolve(_ state: State, _ event: Event) -> State {
        var next = state
        switch event {
        case .held(let e):
            next.id = e.reservationId
            next.status = .held
            next.concertId = e.concertId
            next.userId = e.userId
            next.items = e.items
            next.expiresAt = e.expiresAt
        case .cancelled: next.status = .cancelled
        case .expired: next.status = .expired
        case .confirmed: next.status = .confirmed
        case .returned: next.status = .returned
        }
        return next
    }

    public static func decide(_ command: Command, _ state: State) throws -> [Event] {
        switch command {
        case .hold(let held):
            guard state.id == nil else { throw ReservationError.alreadyExists }
            return [.held(held)]
        case .cancel(let now):
            try requireHeld(state)
            return [.cancelled(ReservationCancelled(reservationId: state.id!, cancelledAt: now))]
        case .expire(let now):
            try requireHeld(state)
            guard now >= state.expiresAt else { throw ReservationError.notExpiredYet }
            return [.expired(ReservationExpired(reservationId: state.id!, expiredAt: now))]
        case .confirm(let now):
            if state.status == .confirmed { return [] }
            try requireHeld(state)
            return [.confirmed(ReservationConfirmed(reservationId: state.id!, confirmedAt: now))]
        case .returnTickets(let reason, let now):
            switch state.status {
            case .returned: return []
            case .confirmed:
                return [.returned(ReservationReturned(reservationId: state.id!, reason: reason, returnedAt: now))]
            case .none: throw ReservationError.notFound
            case .held: throw ReservationError.notPaid
            case .cancelled: throw ReservationError.alreadyCancelled
            case .expired: throw ReservationError.alreadyExpired
            }
        }
    }

    static func requireHeld(_ state: State) throws {
        switch state.status {
        case .none: throw ReservationError.notFound
        case .held: return
        case .confirmed, .returned: throw ReservationError.alreadyPaid
        case .cancelled: throw ReservationError.alreadyCancelled
        case .expired: throw ReservationError.alreadyExpired
        }
    }

    public static let eventTypes = EventTypes<Event> { event in
        switch event {
        case .held(let e): e
        case .cancelled(let e): e
        case .expired(let e): e
        case .confirmed(let e): e
        case .returned(let e): e
        }
    }
    .register(ReservationHeld.self) { .held($0) }
    .register(ReservationCancelled.self) { .cancelled($0) }
    .register(ReservationExpired.self) { .expired($0) }
    .register(ReservationConfirmed.self) { .confirmed($0) }
    .register(ReservationReturned.self) { .returned($0) }
}

public enum ReservationError: Error, Equatable, Sendable {
    case notFound
    case alreadyExists
    case alreadyCancelled
    case alreadyExpired
    case alreadyPaid
    /// Only a paid reservation's tickets can be returned.
    case notPaid
    case notExpiredYet
    /// A level of the cart has fewer tickets left than asked for; nothing was reserved.
    case notEnoughTickets(concertId: String, ticketLevelId: String, available: Int)
    case salesClosed(concertId: String)
    /// The level's availability is not set up yet (its concert was created a moment ago).
    case notOnSaleYet(concertId: String, ticketLevelId: String)
}

/// One level's tickets in a reservation, and which shards they were taken from.
public struct ReservedItem: Sendable, Equatable, Codable {
    public let ticketLevelId: String
    public let quantity: Int
    public let unitPrice: Int
    public let currency: String
    public let shards: [ShardAllocation]

    public init(ticketLevelId: String, quantity: Int, unitPrice: Int, currency: String, shards: [ShardAllocation]) {
        self.ticketLevelId = ticketLevelId
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.currency = currency
        self.shards = shards
    }
}

public struct ShardAllocation: Sendable, Equatable, Codable {
    public let shard: Int
    public let quantity: Int
}

public struct ReservationHeld: EventPayload, Equatable {
    public static let eventType = "ReservationHeld"
    public let reservationId: String
    public let checkoutId: String
    public let userId: String
    public let concertId: String
    public let items: [ReservedItem]
    public let heldAt: Date
    public let expiresAt: Date
}

public struct ReservationCancelled: EventPayload, Equatable {
    public static let eventType = "ReservationCancelled"
    public let reservationId: String
    public let cancelledAt: Date
}

public struct ReservationExpired: EventPayload, Equatable {
    public static let eventType = "ReservationExpired"
    public let reservationId: String
    public let expiredAt: Date
}

public struct ReservationConfirmed: EventPayload, Equatable {
    public static let eventType = "ReservationConfirmed"
    public let reservationId: String
    public let confirmedAt: Date
}

/// A paid reservation's tickets are back on sale: its order was refunded.
public struct ReservationReturned: EventPayload, Equatable {
    public static let eventType = "ReservationReturned"
    public let reservationId: String
    public let reason: String
    public let returnedAt: Date
}
