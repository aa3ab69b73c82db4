import Postgres

/// The composition root's own migrations. Versions 1-99 belong to the root and the web layer
/// (`IdempotentRequests` has 2), 100-199 to the event store, then one hundred per context:
/// Users 200, ShoppingCarts 300.
enum EncoreMigrations {
    static let core: [Migration] = [
        Migration(
            version: 1, name: "site settings",
            sql: """
                CREATE TABLE site_settings (
                    key text PRIMARY KEY,
                    value text NOT NULL,
                    updated_at timestamptz NOT NULL DEFAULT now()
                );
                INSERT INTO site_settings (key, value) VALUES
                    ('site_name', 'Encore'),
                    ('tagline', 'Tickets for the concerts you will remember.');
                """),
        Migration(version: 3, name: "site settings dropped: nothing read them", sql: "DROP TABLE site_settings;"),
    ]
}
