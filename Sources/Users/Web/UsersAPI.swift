import EventStore
import Foundation
import Identity
import Postgres
import Web

/// The Users JSON API: registration, sessions, the current user, and the admins' user list
/// and role changes. Another user's session is "not found", never "forbidden".
struct UsersAPI: Sendable {
    let store: StoreSetup

    func add(to router: inout Router<RequestContext>) {
        router.post("/api/users", register)
        router.post("/api/sessions", signIn)
        router.delete("/api/sessions/current", signOut)
        router.get("/api/me", me)
        router.patch("/api/me", rename)
        router.put("/api/me/password", changePassword)
        router.get("/api/me/sessions", sessions)
        router.delete("/api/me/sessions", signOutEverywhere)
        router.delete("/api/me/sessions/:id", endSession)
        router.get("/api/users", list)
        router.get("/api/users/:id", user)
        router.put("/api/users/:id/role", changeRole)
    }

    struct UserBody: Encodable {
        let user: UserJSON
    }

    struct UserJSON: Encodable {
        let id: String
        let email: String
        let name: String
        let role: String
        let registeredAt: Date?

        init(_ user: UserSummary) {
            id = user.id
            email = user.email
            name = user.name
            role = user.role
            registeredAt = user.registeredAt
        }

        init(_ principal: Principal) {
            id = principal.userId
            email = principal.email
            name = principal.name
            role = principal.role.rawValue
            registeredAt = nil
        }
    }

    func register(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        struct Body: Decodable {
            let email: String
            let password: String
            let name: String
        }
        let body = try request.decodeJSON(Body.self)
        let user = try context.database.with {
            try accounts($0).register(
                email: body.email, password: body.password, name: body.name,
                metadata: EventMetadata(correlationId: request.requestId))
        }
        return try .json(UserBody(user: UserJSON(user)), status: 201)
    }

    func signIn(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        struct Body: Decodable {
            let email: String
            let password: String
        }
        struct Created: Encodable {
            let token: String
            let user: UserJSON
        }
        let body = try request.decodeJSON(Body.self)
        let signedIn = try SignIn.attempt(
            email: body.email, password: body.password, request: request, context: context)
        return try .json(Created(token: signedIn.session.token, user: UserJSON(signedIn.user)), status: 201)
    }

    func signOut(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        try context.requireSignedIn()
        try SignIn.signOut(context)
        return HTTPResponse(status: 204)
    }

    func me(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        try .json(UserBody(user: UserJSON(try context.requireSignedIn())))
    }

    func rename(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        struct Body: Decodable { let name: String }
        let principal = try context.requireSignedIn()
        let body = try request.decodeJSON(Body.self)
        let user = try context.database.with { connection in
            try accounts(connection).changeName(
                userId: principal.userId, to: body.name,
                metadata: EventMetadata(correlationId: request.requestId, userId: principal.userId))
            return try UsersQueries.find(id: principal.userId, on: connection)
        }
        guard let user else { throw UserError.notRegistered }
        return try .json(UserBody(user: UserJSON(user)))
    }

    func changePassword(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        struct Body: Decodable {
            let currentPassword: String
            let newPassword: String
        }
        let principal = try context.requireSignedIn()
        let body = try request.decodeJSON(Body.self)
        try context.database.with {
            try accounts($0).changePassword(
                userId: principal.userId, current: body.currentPassword, new: body.newPassword,
                keepingSession: principal.sessionKey,
                metadata: EventMetadata(correlationId: request.requestId, userId: principal.userId))
        }
        return HTTPResponse(status: 204)
    }

    func sessions(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        struct Item: Encodable {
            let id: String
            let createdAt: Date
            let lastSeenAt: Date
            let userAgent: String
            let current: Bool
        }
        let principal = try context.requireSignedIn()
        let sessions = try context.database.with { try Sessions(connection: $0).list(userId: principal.userId) }
        return try .json([
            "sessions": sessions.map {
                Item(
                    id: $0.id, createdAt: $0.createdAt, lastSeenAt: $0.lastSeenAt, userAgent: $0.userAgent,
                    current: $0.id == principal.sessionKey)
            }
        ])
    }

    /// Signs out everywhere, this session included.
    func signOutEverywhere(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        try SignIn.signOutEverywhere(context)
        return HTTPResponse(status: 204)
    }

    func endSession(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        let ended = try context.database.with {
            try Sessions(connection: $0).end(id: request.routeParameters["id"] ?? "", userId: principal.userId)
        }
        guard ended else { throw HTTPError(status: 404, code: "unknown_session", message: "You have no such session.") }
        return HTTPResponse(status: 204)
    }

    func list(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        try context.require(.admin)
        let users = try context.database.with { try UsersQueries.list(search: request.query["q"], on: $0) }
        return try .json(["users": users.map(UserJSON.init)])
    }

    func user(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        try context.require(.admin)
        let user = try context.database.with { try UsersQueries.find(id: request.routeParameters["id"] ?? "", on: $0) }
        guard let user else { throw UserError.notRegistered }
        return try .json(UserBody(user: UserJSON(user)))
    }

    func changeRole(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        struct Body: Decodable { let role: String }
        let admin = try context.require(.admin)
        let body = try request.decodeJSON(Body.self)
        let user = try changeRole(
            of: request.routeParameters["id"] ?? "", to: body.role, by: admin, request: request, context: context)
        return try .json(UserBody(user: UserJSON(user)))
    }

    /// An admin changes a user's role: the API's and the admin page's one way to do it.
    func changeRole(
        of userId: String, to role: String, by admin: Principal, request: HTTPRequest, context: RequestContext
    )
        throws -> UserSummary
    {
        guard let role = Role(rawValue: role) else {
            throw HTTPError.invalid("role", "The role must be customer, organiser or admin.")
        }
        return try context.database.with {
            guard try UsersQueries.find(id: userId, on: $0) != nil else { throw UserError.notRegistered }
            return try accounts($0).changeRole(
                userId: userId, to: role, by: admin.userId,
                metadata: EventMetadata(correlationId: request.requestId, userId: admin.userId))
        }
    }

    func accounts(_ connection: Connection) -> UserAccounts {
        UserAccounts(connection: connection, store: store)
    }
}
