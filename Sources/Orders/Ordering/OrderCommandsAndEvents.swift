import EventStore
import Foundation

/// The checkout orders a concert's tickets from a held reservation.
public struct CreateOrder: Sendable, Equatable {
    public let orderId: String
    public let number: String
    public let checkoutId: String
    public let paymentId: String
    public let reservationId: String
    public let concertId: String
    /// The concert as the buyer saw it ("Beyoncé — Cowboy Carter Tour, Warsaw").
    public let concertName: String
    public let userId: String
    public let buyerEmail: String
    public let buyerName: String
    public let delivery: OrderDelivery
    public let items: [OrderItem]
    public let currency: String
    public let now: Date

    public init(
        orderId: String, number: String, checkoutId: String, paymentId: String, reservationId: String,
        concertId: String,
        concertName: String, userId: String, buyerEmail: String, buyerName: String, delivery: OrderDelivery,
        items: [OrderItem], currency: String, now: Date
    ) {
        self.orderId = orderId
        self.number = number
        self.checkoutId = checkoutId
        self.paymentId = paymentId
        self.reservationId = reservationId
        self.concertId = concertId
        self.concertName = concertName
        self.userId = userId
        self.buyerEmail = buyerEmail
        self.buyerName = buyerName
        self.delivery = delivery
        self.items = items
        self.currency = currency
        self.now = now
    }
}

public struct OrderCreated: EventPayload, Equatable {
    public static let eventType = "OrderCreated"
    public let orderId: String
    public let number: String
    public let checkoutId: String
    public let paymentId: String
    public let reservationId: String
    public let concertId: String
    public let concertName: String
    public let userId: String
    public let buyerEmail: String
    public let buyerName: String
    public let delivery: OrderDelivery
    public let items: [OrderItem]
    public let total: Int
    public let currency: String
    public let createdAt: Date
}

/// The order's payment is confirmed (`payment` says so): the order is completed, with the
/// reservation that holds its tickets (its own, or a new one when the payment came after the
/// hold ended and the tickets could still be had).
public struct CompleteOrder: Sendable, Equatable {
    /// What the Payments context says of the payment.
    public struct PaymentOutcome: Sendable, Equatable {
        public let paymentId: String
        public let confirmed: Bool

        public init(paymentId: String, confirmed: Bool) {
            self.paymentId = paymentId
            self.confirmed = confirmed
        }
    }

    public let payment: PaymentOutcome
    public let reservationId: String
    public let now: Date

    public init(payment: PaymentOutcome, reservationId: String, now: Date) {
        self.payment = payment
        self.reservationId = reservationId
        self.now = now
    }
}

public struct OrderCompleted: EventPayload, Equatable {
    public static let eventType = "OrderCompleted"
    public let orderId: String
    public let paymentId: String
    public let reservationId: String
    public let concertId: String
    public let items: [OrderItem]
    public let total: Int
    public let currency: String
    public let completedAt: Date
}

/// The customer (or the shop) calls the order off before it is paid.
public struct CancelOrder: Sendable, Equatable {
    public let reason: String
    public let now: Date

    public init(reason: String, now: Date) {
        self.reason = reason
        self.now = now
    }
}

/// The order is undone because its payment failed or its hold ended unpaid.
public struct CompensateOrder: Sendable, Equatable {
    public let reason: String
    public let now: Date

    public init(reason: String, now: Date) {
        self.reason = reason
        self.now = now
    }
}

public struct OrderCancelled: EventPayload, Equatable {
    public static let eventType = "OrderCancelled"
    public let orderId: String
    public let checkoutId: String
    public let reservationId: String
    /// `payment_failed`, `hold_expired`, `tickets_gone`, `customer`.
    public let reason: String
    public let cancelledAt: Date
}

/// The order's money went back to the buyer (`refund` of the payment, with the gateway's id).
public struct RefundOrder: Sendable, Equatable {
    public let gatewayRefundId: String
    public let reason: String
    public let now: Date

    public init(gatewayRefundId: String, reason: String, now: Date) {
        self.gatewayRefundId = gatewayRefundId
        self.reason = reason
        self.now = now
    }
}

public struct OrderRefunded: EventPayload, Equatable {
    public static let eventType = "OrderRefunded"
    public let orderId: String
    public let reservationId: String
    public let concertId: String
    public let items: [OrderItem]
    public let amount: Int
    public let currency: String
    public let gatewayRefundId: String
    public let reason: String
    public let refundedAt: Date
}

enum Ordering {
    /// The most tickets of one level an order has (the cart's own limit, with room).
    static let maxQuantity = 100

    static func create(_ command: CreateOrder, _ state: TicketOrder.State) throws -> [TicketOrder.Event] {
        guard state.status == .none else {
            guard state.checkoutId == command.checkoutId, state.items == command.items else {
                throw OrderError.alreadyExists
            }
            return []  // the same checkout again: the order it made
        }
        guard !command.items.isEmpty,
            command.items.allSatisfy({
                (1...maxQuantity).contains($0.quantity) && $0.unitPrice >= 0 && $0.unitPrice <= 100_000_000
            })
        else { throw OrderError.invalid(field: "items", message: "An order has 1 to 100 tickets per level, priced.") }
        let total = command.items.reduce(0) { $0 + $1.quantity * $1.unitPrice }  // bounded above
        return [
            .created(
                OrderCreated(
                    orderId: command.orderId, number: command.number, checkoutId: command.checkoutId,
                    paymentId: command.paymentId, reservationId: command.reservationId, concertId: command.concertId,
                    concertName: command.concertName, userId: command.userId, buyerEmail: command.buyerEmail,
                    buyerName: command.buyerName, delivery: command.delivery, items: command.items, total: total,
                    currency: command.currency, createdAt: command.now))
        ]
    }

    static func complete(_ command: CompleteOrder, _ state: TicketOrder.State) throws -> [TicketOrder.Event] {
        switch state.status {
        case .none: throw OrderError.notFound
        case .completed, .refunded: return []
        case .cancelled, .pending: break
        }
        guard command.payment.confirmed, command.payment.paymentId == state.paymentId else {
            throw OrderError.paymentNotConfirmed
        }
        // A cancelled order is completed too when its money arrived after all and its tickets
        // could be had again (`reservationId` then names the new hold).
        return [
            .completed(
                OrderCompleted(
                    orderId: state.id!, paymentId: state.paymentId, reservationId: command.reservationId,
                    concertId: state.concertId, items: state.items, total: state.total, currency: state.currency,
                    completedAt: command.now))
        ]
    }

    static func cancel(reason: String, now: Date, _ state: TicketOrder.State) throws -> [TicketOrder.Event] {
        switch state.status {
        case .none: throw OrderError.notFound
        case .cancelled: return []
        case .completed, .refunded: throw OrderError.alreadyCompleted
        case .pending:
            return [
                .cancelled(
                    OrderCancelled(
                        orderId: state.id!, checkoutId: state.checkoutId, reservationId: state.reservationId,
                        reason: reason, cancelledAt: now))
            ]
        }
    }

    static func refund(_ command: RefundOrder, _ state: TicketOrder.State) throws -> [TicketOrder.Event] {
        switch state.status {
        case .refunded: return []
        case .completed:
            return [
                .refunded(
                    OrderRefunded(
                        orderId: state.id!, reservationId: state.reservationId, concertId: state.concertId,
                        items: state.items, amount: state.total, currency: state.currency,
                        gatewayRefundId: command.gatewayRefundId, reason: command.reason, refundedAt: command.now))
            ]
        default: throw OrderError.notCompleted(state.status)
        }
    }
}
