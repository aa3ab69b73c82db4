import Foundation
import Postgres

/// Every schema migration of the application, in one ordered list.
///
/// Each module owns a range of versions: 1-99 the composition root, 100-199 the event store,
/// then one hundred per bounded context.
public enum EncoreMigrations {
    public static var all: [Migration] {
        core
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

    /// Applies every pending migration.
    public static func migrate(_ connection: Connection) throws -> [Int] {
        try Migrator(all).migrate(connection)
    }
}
