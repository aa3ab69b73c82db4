import EventStore
import Foundation
import Postgres

/// The `payments` read model (one row per payment) and `payment_intents` (which payment each
/// gateway intent belongs to, for webhooks). Inline: the checkout answers from it the moment
/// the payment is recorded, and a webhook finds its payment at once.
public struct PaymentsProjection: Projection {
    public let name = "payments"
    public var kind: ProjectionKind { .inline }
    public var tables: [String] { ["payments", "payment_intents"] }

    public init() {}

    public func createTables(in target: ProjectionTarget) throws {
        let payments = target.table("payments")
        let intents = target.table("payment_intents")
        try target.connection.executeScript(
            unsafeSQL: """
                CREATE TABLE \(payments) (
                    id text PRIMARY KEY,
                    checkout_id text NOT NULL,
                    user_id text NOT NULL,
                    amount bigint NOT NULL,
                    currency text NOT NULL,
                    status text NOT NULL,
                    gateway_payment_id text,
                    client_secret text,
                    last_decline text,
                    refunded bigint NOT NULL DEFAULT 0,
                    created_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL
                );
                CREATE INDEX ON \(payments) (checkout_id);
                CREATE INDEX ON \(payments) (updated_at) WHERE status IN ('initiated', 'pending');
                CREATE TABLE \(intents) (
                    intent_id text PRIMARY KEY,
                    payment_id text NOT NULL
                );
                """)
    }

    public func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        let payments = target.table("payments")
        let intents = target.table("payment_intents")
        let connection = target.connection
        for recorded in events where recorded.streamType == Payment.streamType {
            switch try Payment.eventTypes.decode(recorded) {
            case .initiated(let e):
                try connection.executeLater(
                    """
                    INSERT INTO \(unsafeSQL: payments)
                        (id, checkout_id, user_id, amount, currency, status, created_at, updated_at)
                    VALUES (\(e.paymentId), \(e.checkoutId), \(e.userId), \(e.amount), \(e.currency), 'initiated',
                            \(e.initiatedAt), \(e.initiatedAt))
                    ON CONFLICT (id) DO NOTHING
                    """)
            case .intentCreated(let e):
                try connection.executeLater(
                    """
                    UPDATE \(unsafeSQL: payments) SET status = 'pending', gateway_payment_id = \(e.gatewayPaymentId),
                        client_secret = \(e.clientSecret), last_decline = NULL, updated_at = \(e.createdAt)
                    WHERE id = \(e.paymentId)
                    """)
                try connection.executeLater(
                    """
                    INSERT INTO \(unsafeSQL: intents) (intent_id, payment_id) VALUES (\(e.gatewayPaymentId), \(e.paymentId))
                    ON CONFLICT (intent_id) DO NOTHING
                    """)
            case .attemptDeclined(let e):
                try connection.executeLater(
                    "UPDATE \(unsafeSQL: payments) SET last_decline = \(e.message), updated_at = \(e.declinedAt) WHERE id = \(e.paymentId)"
                )
            case .confirmed(let e):
                try connection.executeLater(
                    """
                    UPDATE \(unsafeSQL: payments) SET status = 'confirmed', gateway_payment_id = NULLIF(\(e.gatewayPaymentId), ''),
                        last_decline = NULL, updated_at = \(e.confirmedAt)
                    WHERE id = \(e.paymentId)
                    """)
            case .failed(let e):
                try connection.executeLater(
                    "UPDATE \(unsafeSQL: payments) SET status = 'failed', updated_at = \(e.failedAt) WHERE id = \(e.paymentId)"
                )
            case .refunded(let e):
                try connection.executeLater(
                    """
                    UPDATE \(unsafeSQL: payments) SET refunded = refunded + \(e.amount),
                        status = CASE WHEN refunded + \(e.amount) >= amount THEN 'refunded' ELSE status END,
                        updated_at = \(e.refundedAt)
                    WHERE id = \(e.paymentId)
                    """)
            }
        }
    }
}

/// A payment as the checkout shows it.
public struct PaymentView: Sendable, Equatable, Encodable {
    public let id: String
    public let checkoutId: String
    public let userId: String
    /// `initiated`, `pending`, `confirmed`, `failed` or `refunded`.
    public let status: String
    public let amount: Int
    public let currency: String
    public let gatewayPaymentId: String?
    /// Only for the paying customer (the checkout API leaves it out for anyone else).
    public let clientSecret: String?
    public let lastDecline: String?
    public let refunded: Int
    public let updatedAt: Date

    init(row: Row) throws {
        id = try row.decode("id")
        checkoutId = try row.decode("checkout_id")
        userId = try row.decode("user_id")
        status = try row.decode("status")
        amount = try row.decode("amount")
        currency = try row.decode("currency")
        gatewayPaymentId = try row.decodeIfPresent("gateway_payment_id")
        clientSecret = try row.decodeIfPresent("client_secret")
        lastDecline = try row.decodeIfPresent("last_decline")
        refunded = try row.decode("refunded")
        updatedAt = try row.decode("updated_at")
    }
}

/// Queries of the `payments` read model.
public enum PaymentQueries {
    public static func find(id: String, on connection: Connection) throws -> PaymentView? {
        try connection.query("SELECT * FROM payments WHERE id = \(id)").first.map(PaymentView.init)
    }

    public static func forCheckout(_ checkoutId: String, on connection: Connection) throws -> [PaymentView] {
        try connection.query("SELECT * FROM payments WHERE checkout_id = \(checkoutId) ORDER BY id").map(
            PaymentView.init)
    }

    /// The payment a gateway intent belongs to, if it is one of Encore's.
    public static func paymentId(ofIntent intentId: String, on connection: Connection) throws -> String? {
        try connection.query("SELECT payment_id FROM payment_intents WHERE intent_id = \(intentId)").first?.decode(
            "payment_id")
    }

    /// Payments still waiting for their outcome that last changed before `before`.
    public static func unsettled(before: Date, limit: Int, on connection: Connection) throws -> [String] {
        try connection.query(
            """
            SELECT id FROM payments WHERE status IN ('initiated', 'pending') AND updated_at < \(before)
            ORDER BY updated_at LIMIT \(limit)
            """
        ).map { try $0.decode("id") }
    }
}
