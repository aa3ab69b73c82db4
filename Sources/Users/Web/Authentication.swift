import Foundation
import Web

/// Resolves who is making a request: `Authorization: Bearer <token>` first, then the session
/// cookie. A bearer token that is unknown or expired is refused with 401 `invalid_token` on
/// every route (RFC 6750), so an API client learns at once that it must sign in again; an
/// unknown or expired cookie counts as no sign-in, so a browser simply sees the public page.
public enum Authentication {
    public static func resolve(_ request: HTTPRequest, context: RequestContext) throws {
        if let authorization = request.header("Authorization") {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw HTTPError(status: 401, code: "invalid_token", message: "Use Authorization: Bearer <token>.")
            }
            context.principal = try context.database.with {
                try Sessions(connection: $0).resolve(token: String(parts[1]), credential: .bearer)
            }
            guard context.principal != nil else {
                throw HTTPError(status: 401, code: "invalid_token", message: "The token is unknown or has expired.")
            }
            return
        }
        if let token = request.cookies[Cookies.sessionName], !token.isEmpty {
            context.principal = try context.database.with {
                try Sessions(connection: $0).resolve(token: token, credential: .cookie)
            }
        }
    }
}

/// The Users context's errors, as the API answers them.
extension UserError: HTTPErrorConvertible {
    public var http: HTTPError {
        switch self {
        case .emailTaken:
            HTTPError(
                status: 409, code: "email_taken", message: "An account with this e-mail address exists already.",
                field: "email")
        case .alreadyRegistered:
            HTTPError(status: 409, code: "already_registered", message: "This account exists already.")
        case .notRegistered:
            HTTPError(status: 404, code: "unknown_user", message: "There is no such user.")
        case .invalid(let field, let message):
            .invalid(field, message)
        }
    }
}
