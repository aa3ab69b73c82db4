import EventStore
import Foundation
import Postgres
import ShoppingCarts
import Users

/// Every schema migration of the application, in one ordered list.
///
/// Each module owns a range of versions: 1-99 the composition root, 100-199 the event store,
/// then one hundred per bounded context.
public enum EncoreMigrations {
    public static var all: [Migration] {
        core + IdempotentRequests.migrations + EventStoreSchema.migrations + UsersSchema.migrations
            + ShoppingCartsSchema.migrations
    }

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
                """)
    ]

    /// Applies every pending migration, then creates the tables of projections never run before.
    public static func migrate(_ connection: Connection) throws -> [Int] {
        let applied = try Migrator(all).migrate(connection)
        EncoreProjections.registerAll()
        try ProjectionSetup.prepare(ProjectionRegistry.shared.all, on: connection)
        return applied
    }
}
