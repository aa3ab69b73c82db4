import EventStore
import Foundation

/// An order: the tickets of one concert that a checkout buys (stream `order-<id>`, its id the
/// reservation's). Pending until its payment is confirmed, then completed; cancelled when the
/// payment fails or its hold ends first; refunded after.
///
/// Invariant: an order is never completed without a confirmed payment, its own (the command
/// carries the payment's outcome, and the decider checks it).
public enum TicketOrder: Decider {
    public enum Status: String, Sendable, Codable, Equatable {
        case none, pending, completed, cancelled, refunded
    }

    public struct State: Sendable, Equatable, Codable {
        public var id: String?
        public var number = ""
        public var checkoutId = ""
        public var paymentId = ""
        public var reservationId = ""
        public var concertId = ""
        public var concertName = ""
        public var userId = ""
        public var buyerName = ""
        public var buyerEmail = ""
        public var delivery = OrderDelivery(method: "online", email: nil, address: nil)
        public var items: [OrderItem] = []
        public var total = 0
        public var currency = ""
        public var status: Status = .none
        public var refunded = 0
    }

    public enum Command: Sendable, Equatable {
        case create(CreateOrder)
        case complete(CompleteOrder)
        case cancel(CancelOrder)
        case compensate(CompensateOrder)
        case refund(RefundOrder)
    }

    public enum Event: Sendable, Equatable {
        case created(OrderCreated)
        case completed(OrderCompleted)
        case cancelled(OrderCancelled)
        case refunded(OrderRefunded)
    }

    public static let streamType = "order"
    public static func streamId(_ orderId: String) -> String { "order-\(orderId)" }

    public static let initial = State()

    public static func evolve(_ state: State, _ event: Event) -> State {
        var next = state
        switch event {
        case .created(let e):
            next.id = e.orderId
            next.number = e.number
            next.checkoutId = e.checkoutId
            next.paymentId = e.paymentId
            next.reservationId = e.reservationId
            next.concertId = e.concertId
            next.concertName = e.concertName
            next.userId = e.userId
            next.buyerName = e.buyerName
            next.buyerEmail = e.buyerEmail
            next.delivery = e.delivery
            next.items = e.items
            next.total = e.total
            next.currency = e.currency
            next.status = .pending
        case .completed(let e):
            next.status = .completed
            next.reservationId = e.reservationId
        case .cancelled:
            next.status = .cancelled
        case .refunded(let e):
            next.status = .refunded
            next.refunded += e.amount
        }
        return next
    }

    public static func decide(_ command: Command, _ state: State) throws -> [Event] {
        switch command {
        case .create(let c): try Ordering.create(c, state)
        case .complete(let c): try Ordering.complete(c, state)
        case .cancel(let c): try Ordering.cancel(reason: c.reason, now: c.now, state)
        case .compensate(let c): try Ordering.cancel(reason: c.reason, now: c.now, state)
        case .refund(let c): try Ordering.refund(c, state)
        }
    }

    public static let eventTypes = EventTypes<Event> { event in
        switch event {
        case .created(let e): e
        case .completed(let e): e
        case .cancelled(let e): e
        case .refunded(let e): e
        }
    }
    .register(OrderCreated.self) { .created($0) }
    .register(OrderCompleted.self) { .completed($0) }
    .register(OrderCancelled.self) { .cancelled($0) }
    .register(OrderRefunded.self) { .refunded($0) }
}

/// One level's tickets in an order, at the price paid, named as they were when bought.
public struct OrderItem: Sendable, Equatable, Codable {
    public let ticketLevelId: String
    public let levelName: String
    public let quantity: Int
    public let unitPrice: Int

    public init(ticketLevelId: String, levelName: String, quantity: Int, unitPrice: Int) {
        self.ticketLevelId = ticketLevelId
        self.levelName = levelName
        self.quantity = quantity
        self.unitPrice = unitPrice
    }
}

/// How the order's tickets reach the buyer, as chosen in the cart.
public struct OrderDelivery: Sendable, Equatable, Codable {
    /// `online` or `printed`.
    public let method: String
    public let email: String?
    /// Name, lines, postal code, city and country, for printed tickets.
    public let address: [String]?

    public init(method: String, email: String?, address: [String]?) {
        self.method = method
        self.email = email
        self.address = address
    }
}

/// A business rule of the Orders context that a command broke.
public enum OrderError: Error, Equatable, Sendable {
    case notFound
    case alreadyExists
    /// Completing needs the order's own payment, confirmed.
    case paymentNotConfirmed
    case alreadyCompleted
    case notCompleted(TicketOrder.Status)
    case invalid(field: String, message: String)
}
