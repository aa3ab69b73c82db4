import EventStore
import Foundation
import Postgres
import Web

import enum Web.Role

/// The Users JSON API (see API.md): registration, sessions, the current user, and the
/// admins' user list and role changes.
public enum UsersAPI {
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

    public static func register(_ router: inout Router<RequestContext>) {
        router.post("/api/users") { request, context in
            struct Body: Decodable {
                let email: String
                let password: String
                let name: String
            }
            let body = try request.decodeJSON(Body.self)
            let user = try mappingUserErrors {
                try context.database.with {
                    try accounts($0).register(
                        email: body.email, password: body.password, name: body.name,
                        metadata: EventMetadata(correlationId: request.requestId))
                }
            }
            return try .json(UserBody(user: UserJSON(user)), status: 201)
        }

        router.post("/api/sessions") { request, context in
            struct Body: Decodable {
                let email: String
                let password: String
            }
            let body = try request.decodeJSON(Body.self)
            let signedIn = try SignIn.attempt(
                email: body.email, password: body.password, request: request, context: context)
            struct Created: Encodable {
                let token: String
                let user: UserJSON
            }
            return try .json(Created(token: signedIn.session.token, user: UserJSON(signedIn.user)), status: 201)
        }

        router.delete("/api/sessions/current") { _, context in
            let principal = try context.requireSignedIn()
            try context.database.with {
                try Sessions(connection: $0).end(id: principal.sessionKey, userId: principal.userId)
            }
            context.cookies.append(Cookies.expire(name: Cookies.sessionName, secure: false))
            return HTTPResponse(status: 204)
        }

        router.get("/api/me") { _, context in
            let principal = try context.requireSignedIn()
            return try .json(UserBody(user: UserJSON(principal)))
        }

        router.patch("/api/me") { request, context in
            struct Body: Decodable { let name: String }
            let principal = try context.requireSignedIn()
            let body = try request.decodeJSON(Body.self)
            try mappingUserErrors {
                try context.database.with {
                    try accounts($0).changeName(
                        userId: principal.userId, to: body.name,
                        metadata: EventMetadata(correlationId: request.requestId, userId: principal.userId))
                }
            }
            let user = try context.database.with { try UsersQueries.find(id: principal.userId, on: $0) }
            guard let user else { throw HTTPError.notFound }
            return try .json(UserBody(user: UserJSON(user)))
        }

        router.put("/api/me/password") { request, context in
            struct Body: Decodable {
                let currentPassword: String
                let newPassword: String
            }
            let principal = try context.requireSignedIn()
            let body = try request.decodeJSON(Body.self)
            try mappingUserErrors {
                try context.database.with {
                    try accounts($0).changePassword(
                        userId: principal.userId, current: body.currentPassword, new: body.newPassword,
                        keepingSession: principal.sessionKey,
                        metadata: EventMetadata(correlationId: request.requestId, userId: principal.userId))
                }
            }
            return HTTPResponse(status: 204)
        }

        router.get("/api/me/sessions") { _, context in
            let principal = try context.requireSignedIn()
            let sessions = try context.database.with { try Sessions(connection: $0).list(userId: principal.userId) }
            struct Item: Encodable {
                let id: String
                let createdAt: Date
                let lastSeenAt: Date
                let userAgent: String
                let current: Bool
            }
            return try .json([
                "sessions": sessions.map {
                    Item(
                        id: $0.id, createdAt: $0.createdAt, lastSeenAt: $0.lastSeenAt, userAgent: $0.userAgent,
                        current: $0.id == principal.sessionKey)
                }
            ])
        }

        // Sign out everywhere, this session included.
        router.delete("/api/me/sessions") { _, context in
            let principal = try context.requireSignedIn()
            try context.database.with { try Sessions(connection: $0).deleteAll(userId: principal.userId) }
            context.cookies.append(Cookies.expire(name: Cookies.sessionName, secure: false))
            return HTTPResponse(status: 204)
        }

        // Another user's session is "not found", never "forbidden": ids are not confirmed.
        router.delete("/api/me/sessions/:id") { request, context in
            let principal = try context.requireSignedIn()
            let ended = try context.database.with {
                try Sessions(connection: $0).end(id: request.routeParameters["id"] ?? "", userId: principal.userId)
            }
            guard ended else {
                throw HTTPError(status: 404, code: "unknown_session", message: "You have no such session.")
            }
            return HTTPResponse(status: 204)
        }

        router.get("/api/users") { request, context in
            try context.require(.admin)
            let users = try context.database.with { try UsersQueries.list(search: request.query["q"], on: $0) }
            return try .json(["users": users.map(UserJSON.init)])
        }

        router.get("/api/users/:id") { request, context in
            try context.require(.admin)
            let user = try context.database.with {
                try UsersQueries.find(id: request.routeParameters["id"] ?? "", on: $0)
            }
            guard let user else { throw UserError.notRegistered.http }
            return try .json(UserBody(user: UserJSON(user)))
        }

        router.put("/api/users/:id/role") { request, context in
            struct Body: Decodable { let role: String }
            let admin = try context.require(.admin)
            let body = try request.decodeJSON(Body.self)
            guard let role = Role(rawValue: body.role) else {
                throw HTTPError.invalid("role", "The role must be customer, organiser or admin.")
            }
            let id = request.routeParameters["id"] ?? ""
            let user = try mappingUserErrors {
                try context.database.with {
                    guard try UsersQueries.find(id: id, on: $0) != nil else { throw UserError.notRegistered }
                    return try accounts($0).changeRole(
                        userId: id, to: role, by: admin.userId,
                        metadata: EventMetadata(correlationId: request.requestId, userId: admin.userId))
                }
            }
            return try .json(UserBody(user: UserJSON(user)))
        }
    }

    static func accounts(_ connection: Connection) -> UserAccounts {
        UserAccounts(
            connection: connection, inlineProjections: ProjectionRegistry.shared.inline, groupCommit: .shared)
    }
}
