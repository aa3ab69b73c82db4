import Foundation
import Identity
import Postgres
import Sodium

/// Sessions in PostgreSQL.
///
/// The token is 32 random bytes, given to the client once (cookie or bearer) and stored only
/// as its BLAKE2b hash, so a copy of the table signs nobody in. A session ends after 30
/// minutes without a request (idle timeout) or 12 hours after sign-in (absolute lifetime),
/// at sign-out, or when the user signs out everywhere or changes the password.
public struct Sessions {
    public static let idleTimeout: TimeInterval = 30 * 60
    public static let absoluteLifetime: TimeInterval = 12 * 60 * 60
    /// `last_seen_at` is written at most this often, so reading pages does not write a row
    /// on every request.
    static let touchInterval: TimeInterval = 60

    public let connection: Connection
    public init(connection: Connection) { self.connection = connection }

    /// What a new session gives the client.
    public struct Started: Sendable {
        public let id: String
        public let token: String
        public let csrfToken: String
    }

    /// Starts a session: always a new token (no fixation).
    public func start(userId: String, userAgent: String, ip: String, now: Date = Date()) throws -> Started {
        let token = SecureRandom.token()
        let started = Started(
            id: SecureRandom.token(byteCount: 12), token: token, csrfToken: SecureRandom.token(byteCount: 24))
        try connection.execute(
            """
            INSERT INTO sessions (id, token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, user_agent, ip)
            VALUES (\(started.id), \(Sessions.hash(token)), \(userId), \(started.csrfToken), \(now), \(now),
                    \(now.addingTimeInterval(Sessions.absoluteLifetime)), \(String(userAgent.prefix(300))), \(ip))
            """)
        return started
    }

    /// The signed-in user for a token, or nil when it is unknown or expired.
    ///
    /// A read-only statement; only when `last_seen_at` is older than `touchInterval` does a
    /// second one move it on (a data-modifying CTE in the lookup cost PostgreSQL about a third
    /// more on every request, bench/FINDINGS.md). That touch commits without waiting for its
    /// WAL flush: the UPDATE's `RETURNING` sets `synchronous_commit` off for its own
    /// transaction only. A crash can lose the last fraction of a second of touches, which moves
    /// a session's 30-minute idle timeout a minute earlier at most.
    public func resolve(token: String, credential: Principal.Credential, now: Date = Date()) throws -> Principal? {
        guard token.count <= 100 else { return nil }
        let idleLimit = now.addingTimeInterval(-Sessions.idleTimeout)
        let touchBefore = now.addingTimeInterval(-Sessions.touchInterval)
        guard
            let row = try connection.query(
                """
                SELECT s.id, s.csrf_token, s.last_seen_at < \(touchBefore) AS stale,
                       u.id AS user_id, u.email, u.name, u.role
                FROM sessions s JOIN users u ON u.id = s.user_id
                WHERE s.token_hash = \(Sessions.hash(token)) AND s.expires_at > \(now)
                  AND s.last_seen_at > \(idleLimit)
                """
            ).first
        else { return nil }
        let id: String = try row.decode("id")
        if try row.decode("stale", as: Bool.self) {
            try connection.execute(
                """
                UPDATE sessions SET last_seen_at = \(now) WHERE id = \(id) AND last_seen_at < \(touchBefore)
                RETURNING set_config('synchronous_commit', 'off', true)
                """)
        }
        return Principal(
            userId: try row.decode("user_id"), email: try row.decode("email"), name: try row.decode("name"),
            role: Role(rawValue: try row.decode("role")) ?? .customer, sessionKey: id,
            csrfToken: try row.decode("csrf_token"), credential: credential)
    }

    /// Ends one session of a user; false when the user has no such session.
    @discardableResult
    public func end(id: String, userId: String) throws -> Bool {
        try connection.execute("DELETE FROM sessions WHERE id = \(id) AND user_id = \(userId)") > 0
    }

    /// Ends every session of a user but `except` (sign out everywhere else).
    public func deleteAll(userId: String, except: String? = nil) throws {
        try connection.execute("DELETE FROM sessions WHERE user_id = \(userId) AND id IS DISTINCT FROM \(except)")
    }

    /// A user's live sessions, newest first.
    public func list(userId: String, now: Date = Date()) throws -> [SessionSummary] {
        try connection.query(
            """
            SELECT id, created_at, last_seen_at, user_agent, ip FROM sessions
            WHERE user_id = \(userId) AND expires_at > \(now) AND last_seen_at > \(now.addingTimeInterval(-Sessions.idleTimeout))
            ORDER BY last_seen_at DESC
            """
        ).map {
            SessionSummary(
                id: try $0.decode("id"), createdAt: try $0.decode("created_at"),
                lastSeenAt: try $0.decode("last_seen_at"),
                userAgent: try $0.decode("user_agent"), ip: try $0.decode("ip"))
        }
    }

    /// Removes expired sessions.
    public func purgeExpired(now: Date = Date()) throws -> Int {
        try connection.execute(
            "DELETE FROM sessions WHERE expires_at <= \(now) OR last_seen_at <= \(now.addingTimeInterval(-Sessions.idleTimeout))"
        )
    }

    static func hash(_ token: String) -> String {
        Digest.hex(Digest.blake2b(Array(token.utf8)))
    }
}

public struct SessionSummary: Sendable, Codable, Equatable {
    public let id: String
    public let createdAt: Date
    public let lastSeenAt: Date
    public let userAgent: String
    public let ip: String
}
