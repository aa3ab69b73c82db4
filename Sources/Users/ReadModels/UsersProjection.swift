import EventStore
import Foundation
import Postgres

/// The `users` read model: one row per account, for sign-in, `/api/me`, and the admins' list.
///
/// Inline: it is written in the same transaction as the user's events, so a user can sign in
/// the moment registration answers, and an admin sees a role change at once.
public struct UsersProjection: Projection {
    public let name = "users"
    public var kind: ProjectionKind { .inline }
    public var tables: [String] { ["users"] }

    public init() {}

    public func createTables(in target: ProjectionTarget) throws {
        let table = target.table("users")
        try target.connection.executeScript(
            unsafeSQL: """
                CREATE TABLE \(table) (
                    id text PRIMARY KEY,
                    email text NOT NULL UNIQUE,
                    name text NOT NULL,
                    role text NOT NULL,
                    registered_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL
                );
                CREATE INDEX ON \(table) (registered_at DESC);
                """)
    }

    public func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        let table = target.table("users")
        for recorded in events where recorded.streamType == User.streamType {
            switch try User.eventTypes.decode(recorded) {
            case .registered(let e):
                try target.connection.execute(
                    """
                    INSERT INTO \(unsafeSQL: table) (id, email, name, role, registered_at, updated_at)
                    VALUES (\(e.userId), \(e.email), \(e.name), \(e.role.rawValue), \(e.registeredAt), \(e.registeredAt))
                    ON CONFLICT (id) DO NOTHING
                    """)
            case .roleChanged(let e):
                try target.connection.execute(
                    "UPDATE \(unsafeSQL: table) SET role = \(e.role.rawValue), updated_at = \(e.changedAt) WHERE id = \(e.userId)"
                )
            case .nameChanged(let e):
                try target.connection.execute(
                    "UPDATE \(unsafeSQL: table) SET name = \(e.name), updated_at = \(e.changedAt) WHERE id = \(e.userId)"
                )
            case .passwordChanged(let e):
                try target.connection.execute(
                    "UPDATE \(unsafeSQL: table) SET updated_at = \(e.changedAt) WHERE id = \(e.userId)")
            }
        }
    }
}

/// A row of the `users` read model.
public struct UserSummary: Sendable, Equatable, Codable {
    public let id: String
    public let email: String
    public let name: String
    public let role: String
    public let registeredAt: Date

    init(row: Row) throws {
        id = try row.decode("id")
        email = try row.decode("email")
        name = try row.decode("name")
        role = try row.decode("role")
        registeredAt = try row.decode("registered_at")
    }
}

/// Queries of the `users` read model.
public enum UsersQueries {
    public static func find(id: String, on connection: Connection) throws -> UserSummary? {
        try connection.query("SELECT * FROM users WHERE id = \(id)").first.map(UserSummary.init)
    }

    public static func find(email: String, on connection: Connection) throws -> UserSummary? {
        try connection.query("SELECT * FROM users WHERE email = \(email)").first.map(UserSummary.init)
    }

    /// Display names by user id, in one query.
    public static func names(of userIds: [String], on connection: Connection) throws -> [String: String] {
        guard !userIds.isEmpty else { return [:] }
        var names: [String: String] = [:]
        for row in try connection.query("SELECT id, name FROM users WHERE id = ANY(\(SQLArray(userIds))::text[])") {
            names[try row.decode("id")] = try row.decode("name")
        }
        return names
    }

    /// Newest first; `search` matches e-mail or name, case-insensitively.
    public static func list(search: String?, limit: Int = 100, on connection: Connection) throws -> [UserSummary] {
        let pattern = search.flatMap { $0.isEmpty ? nil : "%" + escapeLike($0) + "%" }
        return try connection.query(
            """
            SELECT * FROM users
            WHERE \(pattern)::text IS NULL OR email ILIKE \(pattern) OR name ILIKE \(pattern)
            ORDER BY registered_at DESC LIMIT \(limit)
            """
        ).map(UserSummary.init)
    }

    static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }
}
