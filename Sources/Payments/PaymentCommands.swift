import EventStore
import Foundation
import Postgres

/// The Payments context's command side: each method is one command on one payment stream,
/// with the gateway call it needs made before (for what the gateway is asked to do) or after
/// (for what it is told) the append. A method repeated after a failure or a crash does nothing
/// twice: the gateway calls carry idempotency keys and the decider ignores what it knows.
public struct PaymentCommands {
    public let connection: Connection
    public let store: StoreSetup
    public let gateway: any PaymentGateway

    public init(connection: Connection, store: StoreSetup, gateway: any PaymentGateway) {
        self.connection = connection
        self.store = store
        self.gateway = gateway
    }

    /// In a caller's transaction (a process manager's), appends join it and never retry.
    private var handler: CommandHandler<Payment> {
        CommandHandler<Payment>(
            store: EventStore(
                connection: connection, inlineProjections: store.inlineProjections,
                joinsCallerTransaction: connection.isInTransaction),
            streamType: Payment.streamType, eventTypes: Payment.eventTypes)
    }

    @discardableResult
    private func handle(_ command: Payment.Command, _ paymentId: String, _ metadata: EventMetadata) throws
        -> Payment.State
    {
        try handler.handle(command, on: Payment.streamId(paymentId), metadata: metadata, retriesOnConflict: 3).state
    }

    public func load(_ paymentId: String) throws -> Payment.State {
        try handler.load(Payment.streamId(paymentId)).state
    }

    /// Records what a checkout is to pay and makes its first intent at the gateway.
    public func start(
        paymentId: String, checkoutId: String, userId: String, orders: [PaymentOrder], currency: String,
        now: Date = Date(), metadata: EventMetadata = EventMetadata()
    ) throws -> Payment.State {
        let state = try handle(
            .initiate(
                InitiatePayment(
                    paymentId: paymentId, checkoutId: checkoutId, userId: userId, orders: orders, currency: currency,
                    now: now)), paymentId, metadata)
        return try ensureIntent(state, now: now, metadata: metadata)
    }

    /// Makes the payment's intent at the gateway when it has no usable one.
    @discardableResult
    public func prepareIntent(_ paymentId: String, now: Date = Date(), metadata: EventMetadata = EventMetadata()) throws
        -> Payment.State
    {
        try ensureIntent(try load(paymentId), now: now, metadata: metadata)
    }

    /// A usable intent for the payment: the current one, or a new one when there is none or
    /// its card was declined.
    private func ensureIntent(_ state: Payment.State, now: Date, metadata: EventMetadata) throws -> Payment.State {
        guard state.status == .initiated || state.status == .pending, !state.hasUsableIntent, let id = state.id else {
            return state
        }
        let intent = try gateway.createIntent(
            amount: state.amount, currency: state.currency, paymentId: id, attempt: state.intents.count + 1)
        return try handle(
            .recordIntent(
                RecordPaymentIntent(gatewayPaymentId: intent.id, clientSecret: intent.clientSecret ?? "", now: now)),
            id, metadata)
    }

    /// What paying with a card came to.
    public enum PayOutcome: Sendable, Equatable {
        case paid
        /// The customer must finish in the browser (3-D Secure) with this client secret.
        case requiresAction(clientSecret: String)
        /// The card was declined; another may be tried.
        case declined(message: String)
        /// The gateway is still at it; the result comes by webhook.
        case processing
    }

    /// Pays with the customer's card (a PaymentMethod or card id from Stripe.js).
    public func pay(
        _ paymentId: String, paymentMethod: String, now: Date = Date(), metadata: EventMetadata = EventMetadata()
    )
        throws -> PayOutcome
    {
        var state = try load(paymentId)
        guard state.status != .confirmed else { return .paid }
        guard state.status == .initiated || state.status == .pending else {
            throw PaymentError.notPayable(state.status)
        }
        state = try ensureIntent(state, now: now, metadata: metadata)
        guard let current = state.currentIntent else { throw PaymentError.notPayable(state.status) }
        let intent = try gateway.pay(intentId: current.id, paymentMethod: paymentMethod)
        state = try handle(.observe(intent.observation(source: .api, now: now)), paymentId, metadata)
        if state.status == .confirmed { return .paid }
        if intent.requiresAction, let secret = intent.clientSecret { return .requiresAction(clientSecret: secret) }
        if intent.status == .awaitingPaymentMethod {
            return .declined(message: intent.declineMessage ?? "The card was declined.")
        }
        return .processing
    }

    /// Asks the gateway about the payment's current intent and records what it says.
    @discardableResult
    public func sync(
        _ paymentId: String, source: GatewayObservation.Source, now: Date = Date(),
        metadata: EventMetadata = EventMetadata()
    ) throws -> Payment.State {
        let state = try load(paymentId)
        guard let current = state.currentIntent else { return state }
        return try observe(
            paymentId, try gateway.retrieve(intentId: current.id).observation(source: source, now: now),
            metadata: metadata)
    }

    /// Records what the gateway said of one of the payment's intents.
    @discardableResult
    public func observe(
        _ paymentId: String, _ observation: GatewayObservation, metadata: EventMetadata = EventMetadata()
    )
        throws -> Payment.State
    {
        try handle(.observe(observation), paymentId, metadata)
    }

    /// Gives the payment up (its hold ended): recorded first, then its intent cancelled at the
    /// gateway. When the intent had taken the money meanwhile, that is recorded too
    /// (`PaymentConfirmed` with `afterFailure`), and the checkout honours or refunds it.
    public func giveUp(
        _ paymentId: String, reason: String, now: Date = Date(), metadata: EventMetadata = EventMetadata()
    )
        throws
    {
        let state = try handle(.fail(FailPayment(reason: reason, now: now)), paymentId, metadata)
        guard state.status == .failed, let current = state.currentIntent else { return }
        let intent = try gateway.cancel(intentId: current.id)
        if intent.status == .succeeded {
            try handle(.observe(intent.observation(source: .api, now: now)), paymentId, metadata)
        }
    }

    /// Refunds orders of a paid payment at the gateway (their amounts, those not refunded yet)
    /// and records the refund; returns it (nil when there was nothing left to refund).
    @discardableResult
    public func refund(
        _ paymentId: String, orderIds: [String], reason: String, now: Date = Date(),
        metadata: EventMetadata = EventMetadata()
    ) throws -> PaymentRefunded? {
        let state = try load(paymentId)
        let orderIds = orderIds.filter { !state.refundedOrders.contains($0) }.sorted()
        guard !orderIds.isEmpty else { return nil }
        guard state.status == .confirmed, let intent = state.paidIntent else {
            throw PaymentError.notRefundable(left: 0)
        }
        let amount = min(Refunding.refundable(orderIds, of: state), state.amount - state.refunded)
        // An order of free tickets in a paid checkout has no money to give back: the gateway
        // refuses a refund of nothing (found by the fuzz stage as a 502).
        guard amount > 0 else { throw PaymentError.notRefundable(left: 0) }
        let refund = try gateway.refund(
            intentId: intent, amount: amount, key: "orders-" + orderIds.joined(separator: "+"))
        let events = try handler.handle(
            .recordRefund(
                RecordRefund(
                    gatewayRefundId: refund.id, amount: refund.amount, orderIds: orderIds, reason: reason, now: now)),
            on: Payment.streamId(paymentId), metadata: metadata, retriesOnConflict: 3
        ).events
        guard case .refunded(let refunded)? = events.first else { return nil }
        return refunded
    }

    /// Records a refund made at the gateway without Encore asking (the dashboard).
    public func recordGatewayRefund(
        _ paymentId: String, id: String, amount: Int, orderIds: [String], now: Date = Date(),
        metadata: EventMetadata = EventMetadata()
    ) throws {
        try handle(
            .recordRefund(
                RecordRefund(gatewayRefundId: id, amount: amount, orderIds: orderIds, reason: "gateway", now: now)),
            paymentId, metadata)
    }
}
