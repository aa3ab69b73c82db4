import EventStore
import Foundation

/// A checkout's payment, as a decider: the Payments context's aggregate (stream
/// `payment-<id>`, one per checkout, the checkout's id).
///
/// It follows what the gateway says of its PaymentIntents, whatever the order in which that
/// arrives (the answer to a call, a webhook, reconciliation): money taken is `confirmed` and
/// stays so, whatever failure is reported after; a declined card leaves the payment pending,
/// so the customer can try another card (with a new intent) while the hold lasts; a payment
/// ends `failed` only when its intent is cancelled. Refunds are recorded as they are made,
/// never more than was paid.
public enum Payment: Decider {
    public enum Status: String, Sendable, Codable, Equatable {
        /// No such payment.
        case none
        /// Recorded, its first intent not created yet.
        case initiated
        /// An intent exists; nothing taken yet.
        case pending
        /// The money is taken.
        case confirmed
        /// Ended without money taken (its intent was cancelled).
        case failed
        /// All of it was refunded.
        case refunded
    }

    public struct State: Sendable, Equatable, Codable {
        public var id: String?
        public var checkoutId = ""
        public var userId = ""
        public var orders: [PaymentOrder] = []
        public var amount = 0
        public var currency = ""
        public var status: Status = .none
        /// The gateway's intents, in the order they were made; the last is the current one.
        public var intents: [PaymentIntentRecord] = []
        public var declinedIntents: [String] = []
        public var lastDecline: String?
        /// The intent whose success took the money.
        public var paidIntent: String?
        public var refunded = 0
        public var refunds: [String] = []
        /// The orders refunded so far (a refund made at the gateway alone names none).
        public var refundedOrders: [String] = []
        public var failureReason: String?

        public var currentIntent: PaymentIntentRecord? { intents.last }
        /// Whether the current intent can still take a card (it exists and was not declined).
        public var hasUsableIntent: Bool {
            guard let current = currentIntent else { return false }
            return !declinedIntents.contains(current.id)
        }
    }

    public enum Command: Sendable, Equatable {
        case initiate(InitiatePayment)
        case recordIntent(RecordPaymentIntent)
        case observe(GatewayObservation)
        case fail(FailPayment)
        case recordRefund(RecordRefund)
    }

    public enum Event: Sendable, Equatable {
        case initiated(PaymentInitiated)
        case intentCreated(PaymentIntentCreated)
        case attemptDeclined(PaymentAttemptDeclined)
        case confirmed(PaymentConfirmed)
        case failed(PaymentFailed)
        case refunded(PaymentRefunded)
    }

    public static let streamType = "payment"
    public static func streamId(_ paymentId: String) -> String { "payment-\(paymentId)" }

    public static let initial = State()

    public static func evolve(_ state: State, _ event: Event) -> State {
        var next = state
        switch event {
        case .initiated(let e):
            next.id = e.paymentId
            next.checkoutId = e.checkoutId
            next.userId = e.userId
            next.orders = e.orders
            next.amount = e.amount
            next.currency = e.currency
            next.status = .initiated
        case .intentCreated(let e):
            next.intents.append(PaymentIntentRecord(id: e.gatewayPaymentId, clientSecret: e.clientSecret))
            if next.status == .initiated { next.status = .pending }
        case .attemptDeclined(let e):
            next.declinedIntents.append(e.gatewayPaymentId)
            next.lastDecline = e.message
        case .confirmed(let e):
            next.status = .confirmed
            next.paidIntent = e.gatewayPaymentId
        case .failed(let e):
            next.status = .failed
            next.failureReason = e.reason
        case .refunded(let e):
            next.refunded += e.amount
            next.refunds.append(e.gatewayRefundId)
            next.refundedOrders += e.orderIds
            if next.refunded >= next.amount { next.status = .refunded }
        }
        return next
    }

    public static func decide(_ command: Command, _ state: State) throws -> [Event] {
        switch command {
        case .initiate(let c): try Initiating.decide(c, state)
        case .recordIntent(let c): try RecordingIntents.decide(c, state)
        case .observe(let c): try Observing.decide(c, state)
        case .fail(let c): try Failing.decide(c, state)
        case .recordRefund(let c): try Refunding.decide(c, state)
        }
    }

    public static let eventTypes = EventTypes<Event> { event in
        switch event {
        case .initiated(let e): e
        case .intentCreated(let e): e
        case .attemptDeclined(let e): e
        case .confirmed(let e): e
        case .failed(let e): e
        case .refunded(let e): e
        }
    }
    .register(PaymentInitiated.self) { .initiated($0) }
    .register(PaymentIntentCreated.self) { .intentCreated($0) }
    .register(PaymentAttemptDeclined.self) { .attemptDeclined($0) }
    .register(PaymentConfirmed.self) { .confirmed($0) }
    .register(PaymentFailed.self) { .failed($0) }
    .register(PaymentRefunded.self) { .refunded($0) }

    static func requireExists(_ state: State) throws {
        guard state.status != .none else { throw PaymentError.notFound }
    }
}

/// One order a payment pays for, and its share of the amount.
public struct PaymentOrder: Sendable, Equatable, Codable {
    public let orderId: String
    public let concertId: String
    public let amount: Int

    public init(orderId: String, concertId: String, amount: Int) {
        self.orderId = orderId
        self.concertId = concertId
        self.amount = amount
    }
}

/// A PaymentIntent the payment made at the gateway.
public struct PaymentIntentRecord: Sendable, Equatable, Codable {
    public let id: String
    /// For the paying customer's browser only; never logged.
    public let clientSecret: String
}

/// A business rule of the Payments context that a command broke.
public enum PaymentError: Error, Equatable, Sendable {
    case notFound
    case alreadyExists
    case invalid(field: String, message: String)
    /// The gateway spoke of an intent that is not this payment's.
    case unknownIntent(String)
    /// The payment cannot take a card now (it is paid, failed or refunded).
    case notPayable(Payment.Status)
    /// A refund of more than is left to refund, or of a payment that took no money.
    case notRefundable(left: Int)
}
