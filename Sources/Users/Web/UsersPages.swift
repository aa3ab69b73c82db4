import EventStore
import Foundation
import Postgres
import Web

import enum Web.Role

/// The Users pages: register, sign in and out, the account page, and the admins' user list.
///
/// Forms post back to the same path; a success redirects (PRG), a failure renders the form
/// again with what was typed (never the password) and the error next to its field.
public enum UsersPages {
    public static func register(_ router: inout Router<RequestContext>) {
        router.get("/register") { _, context in
            try context.page("register", title: "Create an account", forms: true)
        }
        router.post("/register") { request, context in
            let form = request.form
            do {
                _ = try context.database.with {
                    try UsersAPI.accounts($0).register(
                        email: form["email"] ?? "", password: form["password"] ?? "", name: form["name"] ?? "",
                        metadata: EventMetadata(correlationId: request.requestId))
                }
                _ = try SignIn.attempt(
                    email: form["email"] ?? "", password: form["password"] ?? "", request: request, context: context)
                return .redirect(to: "/account")
            } catch let error as UserError {
                return try formError(
                    "register", title: "Create an account", error: error.http,
                    values: ["email": form["email"] ?? "", "name": form["name"] ?? ""], context: context)
            }
        }

        router.get("/signin") { request, context in
            try context.page("signin", title: "Sign in", ["next": safeNext(request.query["next"])], forms: true)
        }
        router.post("/signin") { request, context in
            let form = request.form
            do {
                _ = try SignIn.attempt(
                    email: form["email"] ?? "", password: form["password"] ?? "", request: request, context: context)
                return .redirect(to: safeNext(form["next"]))
            } catch let error as HTTPError where error.status == 401 || error.status == 429 {
                var response = try formError(
                    "signin", title: "Sign in", error: error,
                    values: ["email": form["email"] ?? "", "next": safeNext(form["next"])], context: context)
                for (name, value) in error.headers { response.headers.append((name, value)) }
                return response
            }
        }

        router.post("/signout") { _, context in
            if let principal = context.principal {
                try context.database.with {
                    try Sessions(connection: $0).end(id: principal.sessionKey, userId: principal.userId)
                }
            }
            context.principal = nil
            context.cookies.append(Cookies.expire(name: Cookies.sessionName, secure: false))
            return .redirect(to: "/")
        }

        router.get("/account") { request, context in
            guard context.principal != nil else { return .redirect(to: "/signin?next=/account") }
            return try accountPage(context: context, notice: request.query["done"].map(notice))
        }
        router.post("/account/name") { request, context in
            let principal = try context.requireSignedIn()
            do {
                try context.database.with {
                    try UsersAPI.accounts($0).changeName(
                        userId: principal.userId, to: request.form["name"] ?? "",
                        metadata: EventMetadata(correlationId: request.requestId, userId: principal.userId))
                }
                return .redirect(to: "/account?done=name")
            } catch let error as UserError {
                return try accountPage(context: context, error: error.http, typedName: request.form["name"])
            }
        }
        router.post("/account/password") { request, context in
            let principal = try context.requireSignedIn()
            do {
                try context.database.with {
                    try UsersAPI.accounts($0).changePassword(
                        userId: principal.userId, current: request.form["currentPassword"] ?? "",
                        new: request.form["newPassword"] ?? "", keepingSession: principal.sessionKey,
                        metadata: EventMetadata(correlationId: request.requestId, userId: principal.userId))
                }
                return .redirect(to: "/account?done=password")
            } catch let error as UserError {
                return try accountPage(context: context, error: error.http)
            }
        }
        router.post("/account/signout-everywhere") { _, context in
            let principal = try context.requireSignedIn()
            try context.database.with { try Sessions(connection: $0).deleteAll(userId: principal.userId) }
            context.principal = nil
            context.cookies.append(Cookies.expire(name: Cookies.sessionName, secure: false))
            return .redirect(to: "/signin?signedout=everywhere")
        }

        router.get("/admin/users") { request, context in
            try context.require(.admin)
            let search = request.query["q"] ?? ""
            let users = try context.database.with { try UsersQueries.list(search: search, on: $0) }
            return try context.page(
                "admin_users", title: "Users",
                [
                    "q": search,
                    "users": users.map {
                        [
                            "id": $0.id, "email": $0.email, "name": $0.name, "role": $0.role,
                            "registeredAt": EventFormatter.timestamp($0.registeredAt),
                        ]
                    },
                ])
        }
        router.get("/admin/users/:id") { request, context in
            try context.require(.admin)
            return try adminUserPage(id: request.routeParameters["id"] ?? "", context: context)
        }
        router.post("/admin/users/:id/role") { request, context in
            let admin = try context.require(.admin)
            let id = request.routeParameters["id"] ?? ""
            guard let role = Role(rawValue: request.form["role"] ?? "") else {
                return try adminUserPage(
                    id: id, context: context, error: HTTPError.invalid("role", "Choose customer, organiser or admin."))
            }
            try mappingUserErrors {
                _ = try context.database.with {
                    guard try UsersQueries.find(id: id, on: $0) != nil else { throw UserError.notRegistered }
                    return try UsersAPI.accounts($0).changeRole(
                        userId: id, to: role, by: admin.userId,
                        metadata: EventMetadata(correlationId: request.requestId, userId: admin.userId))
                }
            }
            return .redirect(to: "/admin/users/\(id)")
        }
    }

    static func notice(_ key: String) -> String {
        switch key {
        case "name": "Your name is saved."
        case "password": "Your password is changed. Your other sessions are signed out."
        default: "Saved."
        }
    }

    /// Only local paths: never an open redirect. Browsers drop tabs and newlines from a URL
    /// ("/\t/evil.example" becomes "//evil.example"), and a CR or LF would end the Location
    /// header, so any control character, space or backslash gives "/".
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"),
            !next.unicodeScalars.contains(where: {
                $0 == "\\" || $0.properties.isWhitespace || $0.properties.generalCategory == .control
            })
        else { return "/" }
        return next
    }

    static func formError(
        _ template: String, title: String, error: HTTPError, values: [String: String], context: RequestContext
    ) throws -> HTTPResponse {
        var data: [String: Any] = values
        data["error"] = error.message
        if let field = error.field { data["error_\(field)"] = error.message } else { data["formError"] = error.message }
        var response = try context.page(template, title: title, data, forms: true)
        response.status = error.status
        return response
    }

    static func accountPage(
        context: RequestContext, error: HTTPError? = nil, typedName: String? = nil, notice: String? = nil
    ) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        let sessions = try context.database.with { try Sessions(connection: $0).list(userId: principal.userId) }
        var data: [String: Any] = [
            "name": typedName ?? principal.name, "email": principal.email, "role": principal.role.rawValue,
            "sessions": sessions.map {
                [
                    "userAgent": $0.userAgent.isEmpty ? "Unknown browser" : $0.userAgent,
                    "lastSeenAt": EventFormatter.timestamp($0.lastSeenAt), "current": $0.id == principal.sessionKey,
                ]
            },
        ]
        if let notice { data["notice"] = notice }
        if let error, let field = error.field { data["error_\(field)"] = error.message }
        var response = try context.page("account", title: "Your account", data)
        if let error { response.status = error.status }
        return response
    }

    static func adminUserPage(id: String, context: RequestContext, error: HTTPError? = nil) throws -> HTTPResponse {
        let (user, history) = try context.database.with { connection in
            (try UsersQueries.find(id: id, on: connection), try StreamHistory.load(User.streamId(id), on: connection))
        }
        guard let user else { throw UserError.notRegistered.http }
        let names = try context.database.with { connection in
            Dictionary(
                try UsersQueries.list(search: nil, limit: 1000, on: connection).map { ($0.id, $0.name) },
                uniquingKeysWith: { a, _ in a })
        }
        let entries: [[String: Any]] = history.entries.reversed().map { entry in
            var line: [String: Any] = [
                "type": entry.eventType, "at": EventFormatter.timestamp(entry.recordedAt), "version": entry.version,
            ]
            if let who = entry.metadata.userId { line["by"] = names[who] ?? who }
            if entry.eventType == UserRoleChanged.eventType, let data = entry.data.data(using: .utf8),
                let change = try? JSONDecoder().decode([String: String].self, from: data)
            {
                line["detail"] = "\(change["previousRole"] ?? "?") → \(change["role"] ?? "?")"
            }
            return line
        }
        var data: [String: Any] = [
            "id": user.id, "email": user.email, "name": user.name, "role": user.role,
            "roles": Role.allCases.map { ["value": $0.rawValue, "selected": $0.rawValue == user.role] },
            "history": entries,
        ]
        if let error { data["error_role"] = error.message }
        var response = try context.page("admin_user", title: user.name, data)
        if let error { response.status = error.status }
        return response
    }
}
