import Postgres

/// The Payments context's tables outside its read models (versions 700-799).
/// - `stripe_webhook_events`: every webhook event taken in, by the gateway's event id, written
///   in the transaction that records its effect: a replay finds its id and changes nothing.
public enum PaymentsSchema {
    public static let migrations: [Migration] = [
        Migration(
            version: 700, name: "payments: webhook events taken in",
            sql: """
                CREATE TABLE stripe_webhook_events (
                    event_id text PRIMARY KEY,
                    type text NOT NULL,
                    payment_id text,
                    received_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE INDEX stripe_webhook_events_received_at ON stripe_webhook_events (received_at);
                """)
    ]
}
