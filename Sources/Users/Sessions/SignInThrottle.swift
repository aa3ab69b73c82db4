import Foundation
import Postgres

/// Limits failed sign-ins: 5 per e-mail address or 50 per client address in 15 minutes.
///
/// Failures are rows in `signin_failures`; a success clears the address's failures. Counting
/// by e-mail stops guessing one account's password; counting by client stops one client
/// trying many accounts (credential stuffing). nginx's `limit_req` zone bounds the rate of
/// requests in front of this.
public struct SignInThrottle {
    public static let window: TimeInterval = 15 * 60
    public static let perEmail = 5
    public static let perClient = 50

    public let connection: Connection
    public init(connection: Connection) { self.connection = connection }

    /// Seconds to wait before trying again, or nil when a sign-in may be tried now.
    public func retryAfter(email: String, ip: String, now: Date = Date()) throws -> Int? {
        let since = now.addingTimeInterval(-SignInThrottle.window)
        let key = email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let row = try connection.query(
            """
            SELECT
              (SELECT count(*) FROM signin_failures WHERE email = \(key) AND failed_at > \(since)) AS by_email,
              (SELECT min(failed_at) FROM (SELECT failed_at FROM signin_failures WHERE email = \(key) AND failed_at > \(since)
                 ORDER BY failed_at DESC LIMIT \(SignInThrottle.perEmail)) recent) AS email_oldest,
              (SELECT count(*) FROM signin_failures WHERE ip = \(ip) AND failed_at > \(since)) AS by_ip,
              (SELECT min(failed_at) FROM (SELECT failed_at FROM signin_failures WHERE ip = \(ip) AND failed_at > \(since)
                 ORDER BY failed_at DESC LIMIT \(SignInThrottle.perClient)) recent) AS ip_oldest
            """
        ).first
        guard let row else { return nil }
        var waits: [Int] = []
        if try row.decode("by_email", as: Int.self) >= SignInThrottle.perEmail,
            let oldest = try row.decodeIfPresent("email_oldest", as: Date.self)
        {
            waits.append(Int(oldest.addingTimeInterval(SignInThrottle.window).timeIntervalSince(now).rounded(.up)))
        }
        if try row.decode("by_ip", as: Int.self) >= SignInThrottle.perClient,
            let oldest = try row.decodeIfPresent("ip_oldest", as: Date.self)
        {
            waits.append(Int(oldest.addingTimeInterval(SignInThrottle.window).timeIntervalSince(now).rounded(.up)))
        }
        // Never more than the window: stored times carry microseconds, so the sum may round past it.
        return waits.max().map { min(max($0, 1), Int(SignInThrottle.window)) }
    }

    public func recordFailure(email: String, ip: String, now: Date = Date()) throws {
        let key = email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        try connection.execute(
            "INSERT INTO signin_failures (email, ip, failed_at) VALUES (\(String(key.prefix(254))), \(ip), \(now))")
    }

    public func recordSuccess(email: String) throws {
        let key = email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        try connection.execute("DELETE FROM signin_failures WHERE email = \(key)")
    }

    public func purge(now: Date = Date()) throws {
        try connection.execute(
            "DELETE FROM signin_failures WHERE failed_at <= \(now.addingTimeInterval(-SignInThrottle.window))")
    }
}
