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
        try context.database.with { connection in
            let throttle = SignInThrottle(connection: connection)
            if let wait = try throttle.retryAfter(email: email, ip: request.remoteAddress) {
                var error = HTTPError(
                    status: 429, code: "too_many_attempts",
                    message: "Too many failed sign-ins. Try again in \(wait / 60 + 1) minutes.")
                error.headers["Retry-After"] = "\(wait)"
                throw error
            }
            let accounts = UserAccounts(connection: connection, inlineProjections: [])
            guard let user = try accounts.authenticate(email: email, password: password) else {
                try throttle.recordFailure(email: email, ip: request.remoteAddress)
                context.logger.notice("sign-in failed", metadata: ["ip": "\(request.remoteAddress)"])
                throw invalid
            }
            try throttle.recordSuccess(email: email)
            // A session that came with the request ends: the new one has a new token.
            if let old = context.principal {
                try Sessions(connection: connection).end(id: old.sessionKey, userId: old.userId)
            }
            let session = try Sessions(connection: connection).start(
                userId: user.id, userAgent: request.header("User-Agent") ?? "", ip: request.remoteAddress)
            context.cookies.append(
                Cookies.make(
                    name: Cookies.sessionName, value: session.token, maxAge: Int(Sessions.absoluteLifetime),
                    secure: request.isSecure))
            return Result(user: user, session: session)
        }
    }
}
