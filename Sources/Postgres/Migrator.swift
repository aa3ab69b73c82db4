import Foundation
import Logging

/// One versioned schema change. Versions are applied in ascending order, each once.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
}

/// Applies migrations in order, each in its own transaction, and records them.
///
/// Safe to run from several processes at once: a transaction-scoped advisory lock makes the
/// others wait, and then they see the versions already applied and do nothing.
public struct Migrator: Sendable {
    public let migrations: [Migration]
    private static let lockKey = 7_242_017_001

    public init(_ migrations: [Migration]) {
        precondition(
            Set(migrations.map(\.version)).count == migrations.count, "migration versions must be unique")
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Applies what is missing; returns the versions it applied.
    @discardableResult
    public func migrate(_ connection: Connection, logger: Logger? = nil) throws -> [Int] {
        try connection.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        var applied: [Int] = []
        for migration in migrations {
            let done: Bool = try connection.transaction { tx in
                try tx.execute("SELECT pg_advisory_xact_lock(\(Migrator.lockKey))")
                let exists =
                    try tx.query(
                        "SELECT 1 FROM schema_migrations WHERE version = \(migration.version)"
                    ).count > 0
                if exists { return false }
                try tx.executeScript(unsafeSQL: migration.sql)
                try tx.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))")
                return true
            }
            if done {
                applied.append(migration.version)
                logger?.info(
                    "applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
        }
        return applied
    }

    /// The versions already applied, in order.
    public func appliedVersions(_ connection: Connection) throws -> [Int] {
        let rows = try connection.query(
            "SELECT version FROM schema_migrations ORDER BY version")
        return try rows.map { try $0.decode("version") }
    }
}
