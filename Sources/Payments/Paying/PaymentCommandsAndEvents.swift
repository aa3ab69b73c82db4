import EventStore
import Foundation

// MARK: Initiating

/// The checkout records what is to be paid, before the gateway hears of it.
public struct InitiatePayment: Sendable, Equatable {
    public let paymentId: String
    public let checkoutId: String
    public let userId: String
    public let orders: [PaymentOrder]
    public let currency: String
    public let now: Date

    public init(
        paymentId: String, checkoutId: String, userId: String, orders: [PaymentOrder], currency: String, now: Date
    ) {
        self.paymentId = paymentId
        self.checkoutId = checkoutId
        self.userId = userId
        self.orders = orders
        self.currency = currency
        self.now = now
    }
}

public struct PaymentInitiated: EventPayload, Equatable {
    public static let eventType = "PaymentInitiated"
    public let paymentId: String
    public let checkoutId: String
    public let userId: String
    public let orders: [PaymentOrder]
    /// The orders' amounts summed, in minor units of `currency`.
    public let amount: Int
    public let currency: String
    public let initiatedAt: Date
}

enum Initiating {
    /// The largest amount one payment takes (Stripe's own limit is 99,999,999 minor units).
    static let maxAmount = 99_999_999

    static func decide(_ command: InitiatePayment, _ state: Payment.State) throws -> [Payment.Event] {
        guard state.status == .none else {
            // The same checkout initiating again (a retried request, the process manager after
            // a crash) is the same payment: nothing new.
            guard state.checkoutId == command.checkoutId, state.orders == command.orders else {
                throw PaymentError.alreadyExists
            }
            return []
        }
        guard !command.orders.isEmpty else {
            throw PaymentError.invalid(field: "orders", message: "A payment pays for at least one order.")
        }
        guard command.orders.allSatisfy({ $0.amount >= 0 && $0.amount <= maxAmount }) else {
            throw PaymentError.invalid(field: "amount", message: "An order's amount is out of range.")
        }
        let amount = command.orders.reduce(0) { $0 + $1.amount }  // bounded: at most 20 orders
        guard amount <= maxAmount else {
            throw PaymentError.invalid(field: "amount", message: "A payment is at most \(maxAmount) minor units.")
        }
        let initiated = PaymentInitiated(
            paymentId: command.paymentId, checkoutId: command.checkoutId, userId: command.userId,
            orders: command.orders, amount: amount, currency: command.currency, initiatedAt: command.now)
        guard amount == 0 else { return [.initiated(initiated)] }
        // Free tickets only: nothing for the gateway to take, so the payment is confirmed as it
        // is made, and its orders complete as any paid order's do (`PaymentSettlement`).
        return [
            .initiated(initiated),
            .confirmed(
                PaymentConfirmed(
                    paymentId: command.paymentId, checkoutId: command.checkoutId, gatewayPaymentId: "", amount: 0,
                    currency: command.currency, orders: command.orders, afterFailure: false, source: .free,
                    confirmedAt: command.now)),
        ]
    }
}

// MARK: Intents

/// A PaymentIntent was created at the gateway for the payment (the first, or a new one after
/// a declined card).
public struct RecordPaymentIntent: Sendable, Equatable {
    public let gatewayPaymentId: String
    public let clientSecret: String
    public let now: Date

    public init(gatewayPaymentId: String, clientSecret: String, now: Date) {
        self.gatewayPaymentId = gatewayPaymentId
        self.clientSecret = clientSecret
        self.now = now
    }
}

public struct PaymentIntentCreated: EventPayload, Equatable {
    public static let eventType = "PaymentIntentCreated"
    public let paymentId: String
    public let gatewayPaymentId: String
    /// What the paying customer's Stripe.js needs; never logged.
    public let clientSecret: String
    public let createdAt: Date
}

enum RecordingIntents {
    static func decide(_ command: RecordPaymentIntent, _ state: Payment.State) throws -> [Payment.Event] {
        try Payment.requireExists(state)
        if state.intents.contains(where: { $0.id == command.gatewayPaymentId }) { return [] }
        guard state.status == .initiated || state.status == .pending else {
            throw PaymentError.notPayable(state.status)
        }
        return [
            .intentCreated(
                PaymentIntentCreated(
                    paymentId: state.id!, gatewayPaymentId: command.gatewayPaymentId,
                    clientSecret: command.clientSecret, createdAt: command.now))
        ]
    }
}

// MARK: Observing the gateway

/// What the gateway says of one of the payment's intents, from whatever source.
public struct GatewayObservation: Sendable, Equatable {
    public enum Source: String, Sendable, Codable, Equatable {
        /// The answer to a call Encore made.
        case api
        /// A webhook delivery.
        case webhook
        /// Reconciliation asked the gateway.
        case reconciliation
        /// No gateway: the payment was of nothing (free tickets), confirmed as it was made.
        case free
    }

    public let gatewayPaymentId: String
    public let status: GatewayIntentStatus
    /// The amount the intent takes, in minor units.
    public let amount: Int
    /// Why the last attempt failed (a declined card), when the gateway said.
    public let declineCode: String?
    public let declineMessage: String?
    public let source: Source
    public let now: Date

    public init(
        gatewayPaymentId: String, status: GatewayIntentStatus, amount: Int, declineCode: String? = nil,
        declineMessage: String? = nil, source: Source, now: Date
    ) {
        self.gatewayPaymentId = gatewayPaymentId
        self.status = status
        self.amount = amount
        self.declineCode = declineCode
        self.declineMessage = declineMessage
        self.source = source
        self.now = now
    }
}

/// A PaymentIntent's status, as far as a payment cares.
public enum GatewayIntentStatus: String, Sendable, Codable, Equatable {
    /// Waiting for a card, or a card was declined (`requires_payment_method`).
    case awaitingPaymentMethod
    /// Waiting for the customer (`requires_action`: 3-D Secure) or the gateway
    /// (`requires_confirmation`, `processing`, `requires_capture`).
    case inProgress
    case succeeded
    case canceled
}

public struct PaymentAttemptDeclined: EventPayload, Equatable {
    public static let eventType = "PaymentAttemptDeclined"
    public let paymentId: String
    public let gatewayPaymentId: String
    public let code: String?
    public let message: String
    public let source: GatewayObservation.Source
    public let declinedAt: Date
}

public struct PaymentConfirmed: EventPayload, Equatable {
    public static let eventType = "PaymentConfirmed"
    public let paymentId: String
    public let checkoutId: String
    public let gatewayPaymentId: String
    public let amount: Int
    public let currency: String
    public let orders: [PaymentOrder]
    /// Whether the payment had been given up (its hold ended) when the money arrived: then the
    /// checkout must see whether the tickets can still be had, or refund.
    public let afterFailure: Bool
    public let source: GatewayObservation.Source
    public let confirmedAt: Date
}

enum Observing {
    static func decide(_ command: GatewayObservation, _ state: Payment.State) throws -> [Payment.Event] {
        try Payment.requireExists(state)
        guard state.intents.contains(where: { $0.id == command.gatewayPaymentId }) else {
            throw PaymentError.unknownIntent(command.gatewayPaymentId)
        }
        switch command.status {
        case .succeeded:
            // Money taken is money taken, whatever was said before: confirmed, once.
            guard state.status != .confirmed && state.status != .refunded else { return [] }
            return [
                .confirmed(
                    PaymentConfirmed(
                        paymentId: state.id!, checkoutId: state.checkoutId, gatewayPaymentId: command.gatewayPaymentId,
                        amount: command.amount, currency: state.currency, orders: state.orders,
                        afterFailure: state.status == .failed, source: command.source, confirmedAt: command.now))
            ]
        case .awaitingPaymentMethod:
            // A decline of a pending payment's intent, reported once; anything later is moot.
            guard state.status == .pending, let message = command.declineMessage ?? command.declineCode,
                !state.declinedIntents.contains(command.gatewayPaymentId)
            else { return [] }
            return [
                .attemptDeclined(
                    PaymentAttemptDeclined(
                        paymentId: state.id!, gatewayPaymentId: command.gatewayPaymentId, code: command.declineCode,
                        message: message, source: command.source, declinedAt: command.now))
            ]
        case .canceled:
            // Only the current intent's cancellation ends the payment: an earlier one was
            // replaced after a decline.
            guard state.status == .pending, state.currentIntent?.id == command.gatewayPaymentId else { return [] }
            return [
                .failed(
                    PaymentFailed(
                        paymentId: state.id!, checkoutId: state.checkoutId, reason: "cancelled", failedAt: command.now))
            ]
        case .inProgress:
            return []
        }
    }
}

// MARK: Failing

/// The payment is given up before its intent took money: its hold ended. The gateway's intent
/// is cancelled by whoever sends this (see `PaymentCommands.giveUp`).
public struct FailPayment: Sendable, Equatable {
    public let reason: String
    public let now: Date

    public init(reason: String, now: Date) {
        self.reason = reason
        self.now = now
    }
}

public struct PaymentFailed: EventPayload, Equatable {
    public static let eventType = "PaymentFailed"
    public let paymentId: String
    public let checkoutId: String
    /// `cancelled` (at the gateway), `hold_expired`.
    public let reason: String
    public let failedAt: Date
}

enum Failing {
    static func decide(_ command: FailPayment, _ state: Payment.State) throws -> [Payment.Event] {
        try Payment.requireExists(state)
        guard state.status == .initiated || state.status == .pending else { return [] }
        return [
            .failed(
                PaymentFailed(
                    paymentId: state.id!, checkoutId: state.checkoutId, reason: command.reason, failedAt: command.now))
        ]
    }
}

// MARK: Refunding

/// A refund the gateway made, of some of the payment's orders (or, from the gateway's side
/// alone, of none in particular).
public struct RecordRefund: Sendable, Equatable {
    public let gatewayRefundId: String
    public let amount: Int
    public let orderIds: [String]
    public let reason: String
    public let now: Date

    public init(gatewayRefundId: String, amount: Int, orderIds: [String], reason: String, now: Date) {
        self.gatewayRefundId = gatewayRefundId
        self.amount = amount
        self.orderIds = orderIds
        self.reason = reason
        self.now = now
    }
}

public struct PaymentRefunded: EventPayload, Equatable {
    public static let eventType = "PaymentRefunded"
    public let paymentId: String
    public let checkoutId: String
    public let gatewayRefundId: String
    public let amount: Int
    public let currency: String
    /// The orders this refund is for (empty: made at the gateway, for no order in particular).
    public let orderIds: [String]
    /// `requested_by_organiser`, `concert_cancelled`, `tickets_gone`, `gateway`.
    public let reason: String
    public let refundedAt: Date
}

enum Refunding {
    static func decide(_ command: RecordRefund, _ state: Payment.State) throws -> [Payment.Event] {
        try Payment.requireExists(state)
        if state.refunds.contains(command.gatewayRefundId) { return [] }
        let left = state.status == .confirmed ? state.amount - state.refunded : 0
        guard command.amount > 0, command.amount <= left else { throw PaymentError.notRefundable(left: left) }
        return [
            .refunded(
                PaymentRefunded(
                    paymentId: state.id!, checkoutId: state.checkoutId, gatewayRefundId: command.gatewayRefundId,
                    amount: command.amount, currency: state.currency, orderIds: command.orderIds,
                    reason: command.reason,
                    refundedAt: command.now))
        ]
    }

    /// The amount of these orders still paid for and not refunded yet.
    static func refundable(_ orderIds: [String], of state: Payment.State) -> Int {
        state.orders.filter { orderIds.contains($0.orderId) }.reduce(0) { $0 + $1.amount }
    }
}
