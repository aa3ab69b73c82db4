import EventStore
import Foundation
import Logging
import Postgres
import Stripe
import Web

/// `POST /webhooks/stripe`: the gateway tells what became of a payment.
///
/// - The `Stripe-Signature` must be valid for a configured secret and recent (`StripeWebhook`):
///   otherwise 400 and nothing changes. A body that is not an event is 400 too.
/// - Each event is taken in once: its id goes into `stripe_webhook_events` in the transaction
///   that records its effect, so a replay (or ten at once) answers 200 and changes nothing.
/// - 2xx only once the effect is committed; when PostgreSQL cannot take it, 503, and the
///   gateway delivers again. Deliveries out of order converge: the Payment decider decides
///   from what the event says of the intent, not from when it came.
/// - Types other than the payment's and intents that are not Encore's answer 200 and change
///   nothing (the latter is logged).
/// No session, no CSRF token (it carries neither), and no rate limit in nginx: a dropped
/// delivery is a payment nobody hears of.
struct StripeWebhooks: Sendable {
    let store: StoreSetup
    let gateway: any PaymentGateway
    let verifier: StripeWebhook

    static let handled: Set<String> = [
        "payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled", "charge.refunded",
    ]

    func add(to router: inout Router<RequestContext>) {
        router.post("/webhooks/stripe", receive)
    }

    struct Received: Encodable {
        let received: Bool
        let outcome: String
    }

    func receive(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let event: StripeEvent
        do {
            event = try verifier.verifiedEvent(
                payload: request.body, signatureHeader: request.header("Stripe-Signature"), now: Date())
        } catch {
            context.logger.warning("webhook refused", metadata: ["reason": "\(error)"])
            throw Self.refusal(error)
        }
        guard Self.handled.contains(event.type) else { return try answer("ignored") }
        guard let intentId = Self.intentId(of: event) else { return try answer("ignored") }
        let outcome = try context.database.with { connection in
            try CommandRetry.onConflict {
                try connection.transaction { tx -> String in
                    guard let paymentId = try PaymentQueries.paymentId(ofIntent: intentId, on: tx) else {
                        context.logger.notice(
                            "webhook for an intent that is not Encore's",
                            metadata: ["event": "\(event.id)", "type": "\(event.type)"])
                        return "unknown_payment"
                    }
                    let inserted = try tx.execute(
                        """
                        INSERT INTO stripe_webhook_events (event_id, type, payment_id) VALUES (\(event.id), \(event.type), \(paymentId))
                        ON CONFLICT (event_id) DO NOTHING
                        """)
                    guard inserted == 1 else { return "replay" }
                    try apply(event, paymentId: paymentId, on: tx, requestId: request.requestId)
                    return "applied"
                }
            }
        }
        return try answer(outcome)
    }

    func answer(_ outcome: String) throws -> HTTPResponse {
        try .json(Received(received: true, outcome: outcome))
    }

    /// Records the event's effect on the payment, in the caller's transaction.
    func apply(_ event: StripeEvent, paymentId: String, on tx: Connection, requestId: String) throws {
        let commands = PaymentCommands(connection: tx, store: store, gateway: gateway)
        let metadata = EventMetadata(correlationId: requestId, causationId: event.id)
        let now = Date()
        switch event.object {
        case .paymentIntent(let intent):
            try commands.observe(
                paymentId, StripeGateway.intent(intent).observation(source: .webhook, now: now), metadata: metadata)
        case .charge(let charge) where event.type == "charge.refunded":
            // A refund made at the gateway itself (the dashboard): what Encore has not recorded.
            let state = try commands.load(paymentId)
            let unrecorded = charge.amountRefunded - state.refunded
            guard unrecorded > 0, state.status == .confirmed else { return }
            let orders =
                charge.refunded ? state.orders.map(\.orderId).filter { !state.refundedOrders.contains($0) } : []
            try PaymentCommands(connection: tx, store: store, gateway: gateway).recordGatewayRefund(
                paymentId, id: "\(charge.id)-\(charge.amountRefunded)", amount: unrecorded, orderIds: orders, now: now,
                metadata: metadata)
        default:
            return
        }
    }

    static func intentId(of event: StripeEvent) -> String? {
        switch event.object {
        case .paymentIntent(let intent): intent.id
        case .charge(let charge): charge.paymentIntent
        case .refund(let refund): refund.paymentIntent
        case .other: nil
        }
    }

    static func refusal(_ error: StripeWebhookError) -> HTTPError {
        switch error {
        case .invalidPayload:
            HTTPError(status: 400, code: "invalid_event", message: "The body is not a Stripe event.")
        case .timestampOutsideTolerance:
            HTTPError(
                status: 400, code: "stale_signature", message: "The signature's timestamp is too old or too far ahead.")
        default:
            HTTPError(status: 400, code: "invalid_signature", message: "The Stripe-Signature header does not verify.")
        }
    }
}

/// Runs a transaction again when its append met a newer version of a stream (a webhook and
/// the customer's own request recording the same payment at once).
enum CommandRetry {
    static func onConflict<T>(attempts: Int = 3, _ body: () throws -> T) throws -> T {
        var attempt = 1
        while true {
            do {
                return try body()
            } catch is WrongExpectedVersion where attempt < attempts {
                attempt += 1
            }
        }
    }
}
