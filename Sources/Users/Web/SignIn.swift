import Foundation
import Web

/// Signing in, shared by the API and the sign-in form: throttling, one answer for every
/// failure, a new session (never the old token), and the session cookie.
enum SignIn {
    struct Result {
        let user: UserSummary
        let session: Sessions.Started
    }

    static let invalid = HTTPError(
        status: 401, code: "invalid_credentials", message: "The e-mail address or the password is not right.")

    static func attempt(email: String, password: String, request: HTTPRequest, context: RequestContext) throws -> Result
    {
        enum Outcome {
            case throttled(seconds: Int)
            case failed
            case signedIn(Result)
        }
        let key = email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let outcome: Outcome = try context.database.with { connection in
            // Attempts for one address take turns: otherwise concurrent guesses all pass the
            // check below before any of them has recorded its failure, and a burst of N
            // guesses gets N tries instead of 5. The failure is committed before the next
            // attempt for the address reads the count.
            try connection.transaction { tx in
                try tx.execute("SELECT pg_advisory_xact_lock(hashtextextended(\("signin:" + key), 0))")
                let throttle = SignInThrottle(connection: tx)
                if let wait = try throttle.retryAfter(email: email, ip: request.remoteAddress) {
                    return .throttled(seconds: wait)
                }
                let accounts = UserAccounts(connection: tx, inlineProjections: [])
                guard let user = try accounts.authenticate(email: email, password: password) else {
                    try throttle.recordFailure(email: email, ip: request.remoteAddress)
                    return .failed
                }
                try throttle.recordSuccess(email: email, ip: request.remoteAddress)
                // A session that came with the request ends: the new one has a new token.
                if let old = context.principal {
                    try Sessions(connection: tx).end(id: old.sessionKey, userId: old.userId)
                }
                let session = try Sessions(connection: tx).start(
                    userId: user.id, userAgent: request.header("User-Agent") ?? "", ip: request.remoteAddress)
                return .signedIn(Result(user: user, session: session))
            }
        }
        switch outcome {
        case .throttled(let wait):
            var error = HTTPError(
                status: 429, code: "too_many_attempts",
                message: "Too many failed sign-ins from here. Try again in \(Self.duration(wait)).")
            error.headers["Retry-After"] = "\(wait)"
            throw error
        case .failed:
            context.logger.notice("sign-in failed", metadata: ["ip": "\(request.remoteAddress)"])
            throw invalid
        case .signedIn(let result):
            context.cookies.append(
                Cookies.make(
                    name: Cookies.sessionName, value: result.session.token, maxAge: Int(Sessions.absoluteLifetime),
                    secure: request.isSecure))
            return result
        }
    }

    /// "5 seconds", "3 minutes".
    static func duration(_ seconds: Int) -> String {
        seconds < 120 ? "\(seconds) second\(seconds == 1 ? "" : "s")" : "\((seconds + 59) / 60) minutes"
    }

    /// Ends the request's session (if any) and drops its cookie.
    static func signOut(_ context: RequestContext) throws {
        if let principal = context.principal {
            try context.database.with {
                try Sessions(connection: $0).end(id: principal.sessionKey, userId: principal.userId)
            }
        }
        context.principal = nil
        context.cookies.append(Cookies.expire(name: Cookies.sessionName, secure: false))
    }

    /// Ends every session of the signed-in user, this one included.
    static func signOutEverywhere(_ context: RequestContext) throws {
        let principal = try context.requireSignedIn()
        try context.database.with { try Sessions(connection: $0).deleteAll(userId: principal.userId) }
        context.principal = nil
        context.cookies.append(Cookies.expire(name: Cookies.sessionName, secure: false))
    }
}
