import Foundation
import Postgres

/// Slows password guessing without locking an account's owner out.
///
/// Failures are rows in `signin_failures` (e-mail address, client address, time), counted over
/// the last `window`. The policy, in the order it is checked:
/// - **Per account and client together.** A client may get an account's password wrong
///   `perPair` times; after that it waits before each next try, `firstBackOff` (15 s) after the
///   last failure, then 30, 60, 120... up to the window (exponential back-off, answered 429 with
///   `Retry-After`). Guessing one account from one client slows to a crawl within a few dozen
///   tries, while the same account from any other client is not slowed at all: the owner on
///   their own phone is never locked out by someone else's guesses (an account-wide lock would
///   let anyone lock anyone out).
/// - **Per account, from many clients.** When an account has had `accountUnderAttack` failures
///   from all clients together (guessing spread over many addresses), every client that has
///   itself failed for it waits from its first failure on. A client that has not failed for
///   the account still passes: that is how the owner still gets in.
/// - **Per client, over all accounts.** A client with `perClient` failures over all accounts
///   (credential stuffing) backs off the same way for every account.
/// A success clears the account's failures from that client. nginx's `limit_req` zone bounds
/// the rate of sign-in requests in front of this.
public struct SignInThrottle {
    public static let window: TimeInterval = 15 * 60
    public static let perPair = 5
    public static let accountUnderAttack = 20
    public static let perClient = 50
    public static let firstBackOff: TimeInterval = 15

    public let connection: Connection
    public init(connection: Connection) { self.connection = connection }

    /// Seconds to wait before trying again, or nil when a sign-in may be tried now.
    public func retryAfter(email: String, ip: String, now: Date = Date()) throws -> Int? {
        let since = now.addingTimeInterval(-SignInThrottle.window)
        let key = Self.key(email)
        guard
            let row = try connection.query(
                """
                SELECT
                  count(*) FILTER (WHERE email = \(key) AND ip = \(ip)) AS pair,
                  max(failed_at) FILTER (WHERE email = \(key) AND ip = \(ip)) AS pair_last,
                  count(*) FILTER (WHERE email = \(key)) AS account,
                  count(*) FILTER (WHERE ip = \(ip)) AS client,
                  max(failed_at) FILTER (WHERE ip = \(ip)) AS client_last
                FROM signin_failures WHERE (email = \(key) OR ip = \(ip)) AND failed_at > \(since)
                """
            ).first
        else { return nil }
        var waits: [Int] = []
        let pair: Int = try row.decode("pair")
        let allowed = try row.decode("account", as: Int.self) >= Self.accountUnderAttack ? 0 : Self.perPair
        if pair > 0, pair >= allowed, let last = try row.decodeIfPresent("pair_last", as: Date.self) {
            waits.append(Self.wait(failures: pair - allowed, since: last, now: now))
        }
        let client: Int = try row.decode("client")
        if client >= Self.perClient, let last = try row.decodeIfPresent("client_last", as: Date.self) {
            waits.append(Self.wait(failures: client - Self.perClient, since: last, now: now))
        }
        return waits.filter { $0 > 0 }.max()
    }

    /// The seconds left of the back-off after `failures` failures over the allowance, the last
    /// at `since`: 15, 30, 60... seconds, never more than the window.
    static func wait(failures: Int, since last: Date, now: Date) -> Int {
        let backOff = min(SignInThrottle.window, firstBackOff * pow(2, Double(min(failures, 20))))
        return Int(last.addingTimeInterval(backOff).timeIntervalSince(now).rounded(.up))
    }

    public func recordFailure(email: String, ip: String, now: Date = Date()) throws {
        try connection.execute(
            "INSERT INTO signin_failures (email, ip, failed_at) VALUES (\(String(Self.key(email).prefix(254))), \(ip), \(now))"
        )
    }

    /// Clears the account's failures from this client.
    public func recordSuccess(email: String, ip: String) throws {
        try connection.execute("DELETE FROM signin_failures WHERE email = \(Self.key(email)) AND ip = \(ip)")
    }

    public func purge(now: Date = Date()) throws {
        try connection.execute(
            "DELETE FROM signin_failures WHERE failed_at <= \(now.addingTimeInterval(-SignInThrottle.window))")
    }

    static func key(_ email: String) -> String {
        email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }
}
