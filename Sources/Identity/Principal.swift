/// The roles of the Users context, as every route's access rule names them.
///
/// Identity is the Users context's published language: what other contexts and the web layer
/// know of who is asking. It knows no HTTP and no database, so deciders can use it.
///
/// Ordered: an admin may do everything an organiser may, an organiser everything a customer may.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    case customer
    case organiser
    case admin

    var rank: Int {
        switch self {
        case .customer: 0
        case .organiser: 1
        case .admin: 2
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}

/// Who is making the request: the signed-in user and how they proved it.
public struct Principal: Sendable, Equatable {
    public enum Credential: Sendable, Equatable {
        /// The session cookie: unsafe requests must carry the CSRF token.
        case cookie
        /// `Authorization: Bearer`: no ambient credential, so no CSRF check.
        case bearer
    }

    public let userId: String
    public let email: String
    public let name: String
    public let role: Role
    /// The hash of the session token, to sign this session out.
    public let sessionKey: String
    public let csrfToken: String
    public let credential: Credential

    public init(
        userId: String, email: String, name: String, role: Role, sessionKey: String, csrfToken: String,
        credential: Credential
    ) {
        self.userId = userId
        self.email = email
        self.name = name
        self.role = role
        self.sessionKey = sessionKey
        self.csrfToken = csrfToken
        self.credential = credential
    }
}
