import EventStore
import Foundation
import Identity
import Postgres
import Web

/// The Users pages: register, sign in and out, the account page, and the admins' user list.
///
/// Forms post back to the same path; a success redirects (PRG), a failure renders the form
/// again with what was typed (never the password) and the error next to its field.
struct UsersPages: Sendable {
    let api: UsersAPI

    func add(to router: inout Router<RequestContext>) {
        router.get("/register") { _, context in
            try context.page("register", title: "Create an account", FormPage(), forms: true)
        }
        router.post("/register", register)
        router.get("/signin") { request, context in
            try context.page(
                "signin", title: "Sign in", FormPage(next: Self.safeNext(request.query["next"])), forms: true)
        }
        router.post("/signin", signIn)
        router.post("/signout") { _, context in
            try SignIn.signOut(context)
            return .redirect(to: "/")
        }
        router.get("/account", account)
        router.post("/account/name", rename)
        router.post("/account/password", changePassword)
        router.post("/account/signout-everywhere") { _, context in
            try SignIn.signOutEverywhere(context)
            return .redirect(to: "/signin?signedout=everywhere")
        }
        router.get("/admin/users", users)
        router.get("/admin/users/:id") { request, context in
            try context.require(.admin)
            return try adminUserPage(id: request.routeParameters["id"] ?? "", context: context)
        }
        router.post("/admin/users/:id/role", changeRole)
    }

    /// The register and sign-in forms.
    struct FormPage: Encodable {
        var typed = FormFields()
        var errors = FormFields()
        var next: String?
    }

    func register(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let form = request.form
        return try HTTPError.answering {
            _ = try context.database.with {
                try api.accounts($0).register(
                    email: form["email"] ?? "", password: form["password"] ?? "", name: form["name"] ?? "",
                    metadata: EventMetadata(correlationId: request.requestId))
            }
            _ = try SignIn.attempt(
                email: form["email"] ?? "", password: form["password"] ?? "", request: request, context: context)
            return .redirect(to: "/account")
        } withPage: { error in
            try context.page(
                "register", title: "Create an account",
                FormPage(typed: typed(form, ["email", "name"]), errors: FormFields(error: error)), forms: true)
        }
    }

    func signIn(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let form = request.form
        return try HTTPError.answering(statuses: HTTPError.formStatuses.union([401])) {
            _ = try SignIn.attempt(
                email: form["email"] ?? "", password: form["password"] ?? "", request: request, context: context)
            return .redirect(to: Self.safeNext(form["next"]))
        } withPage: { error in
            var page = try context.page(
                "signin", title: "Sign in",
                FormPage(
                    typed: typed(form, ["email"]), errors: FormFields(error: error), next: Self.safeNext(form["next"])),
                forms: true)
            for (name, value) in error.headers { page.headers.append((name, value)) }
            return page
        }
    }

    /// What was typed into the fields named, for the form shown again.
    func typed(_ form: [String: String], _ names: [String]) -> FormFields {
        FormFields(form.filter { names.contains($0.key) })
    }

    struct AccountPage: Encodable {
        struct Session: Encodable {
            let userAgent: String
            let lastSeenAt: String
            let current: Bool
        }
        let name: String
        let email: String
        let role: String
        let sessions: [Session]
        let notice: String?
        let errors: FormFields
    }

    func account(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        guard context.principal != nil else { return .redirect(to: "/signin?next=/account") }
        return try accountPage(context: context, notice: request.query["done"].map(notice))
    }

    func rename(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        return try HTTPError.answering {
            try context.database.with {
                try api.accounts($0).changeName(
                    userId: principal.userId, to: request.form["name"] ?? "",
                    metadata: EventMetadata(correlationId: request.requestId, userId: principal.userId))
            }
            return .redirect(to: "/account?done=name")
        } withPage: { error in
            try accountPage(context: context, error: error, typedName: request.form["name"])
        }
    }

    func changePassword(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        return try HTTPError.answering {
            try context.database.with {
                try api.accounts($0).changePassword(
                    userId: principal.userId, current: request.form["currentPassword"] ?? "",
                    new: request.form["newPassword"] ?? "", keepingSession: principal.sessionKey,
                    metadata: EventMetadata(correlationId: request.requestId, userId: principal.userId))
            }
            return .redirect(to: "/account?done=password")
        } withPage: { error in
            try accountPage(context: context, error: error)
        }
    }

    func notice(_ key: String) -> String {
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

    func accountPage(context: RequestContext, error: HTTPError? = nil, typedName: String? = nil, notice: String? = nil)
        throws -> HTTPResponse
    {
        let principal = try context.requireSignedIn()
        let sessions = try context.database.with { try Sessions(connection: $0).list(userId: principal.userId) }
        return try context.page(
            "account", title: "Your account",
            AccountPage(
                name: typedName ?? principal.name, email: principal.email, role: principal.role.rawValue,
                sessions: sessions.map {
                    AccountPage.Session(
                        userAgent: $0.userAgent.isEmpty ? "Unknown browser" : $0.userAgent,
                        lastSeenAt: EventFormatter.timestamp($0.lastSeenAt), current: $0.id == principal.sessionKey)
                }, notice: notice, errors: FormFields(error: error)))
    }

    struct UsersPage: Encodable {
        struct User: Encodable {
            let id: String
            let email: String
            let name: String
            let role: String
            let registeredAt: String
        }
        let q: String
        let users: [User]
    }

    func users(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        try context.require(.admin)
        let search = request.query["q"] ?? ""
        let users = try context.database.with { try UsersQueries.list(search: search, on: $0) }
        return try context.page(
            "admin_users", title: "Users",
            UsersPage(
                q: search,
                users: users.map {
                    .init(
                        id: $0.id, email: $0.email, name: $0.name, role: $0.role,
                        registeredAt: EventFormatter.timestamp($0.registeredAt))
                }))
    }

    func changeRole(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let admin = try context.require(.admin)
        let id = request.routeParameters["id"] ?? ""
        return try HTTPError.answering {
            _ = try api.changeRole(
                of: id, to: request.form["role"] ?? "", by: admin, request: request, context: context)
            return .redirect(to: "/admin/users/\(id)")
        } withPage: { error in
            try adminUserPage(id: id, context: context, error: error)
        }
    }

    struct AdminUserPage: Encodable {
        struct Role: Encodable {
            let value: String
            let selected: Bool
        }
        struct Entry: Encodable {
            let type: String
            let at: String
            let version: Int64
            let by: String?
            let detail: String?
        }
        let id: String
        let email: String
        let name: String
        let role: String
        let roles: [Role]
        let history: [Entry]
        let errors: FormFields
    }

    func adminUserPage(id: String, context: RequestContext, error: HTTPError? = nil) throws -> HTTPResponse {
        let (user, history, names) = try context.database.with { connection in
            let history = try StreamHistory.load(User.streamId(id), on: connection)
            let names = try UsersQueries.names(
                of: Array(Set(history.entries.compactMap(\.metadata.userId))), on: connection)
            return (try UsersQueries.find(id: id, on: connection), history, names)
        }
        guard let user else { throw UserError.notRegistered }
        let entries = try history.entries.reversed().map { entry in
            AdminUserPage.Entry(
                type: entry.eventType, at: EventFormatter.timestamp(entry.recordedAt), version: entry.version,
                by: entry.metadata.userId.map { names[$0] ?? $0 }, detail: try roleChange(entry))
        }
        return try context.page(
            "admin_user", title: user.name,
            AdminUserPage(
                id: user.id, email: user.email, name: user.name, role: user.role,
                roles: Identity.Role.allCases.map { .init(value: $0.rawValue, selected: $0.rawValue == user.role) },
                history: entries, errors: FormFields(error: error)))
    }

    /// "customer → organiser" for a role change in a user's history.
    func roleChange(_ entry: StreamHistory.Entry) throws -> String? {
        struct Change: Decodable {
            let role: String
            let previousRole: String
        }
        guard entry.eventType == UserRoleChanged.eventType else { return nil }
        let change = try JSONDecoder().decode(Change.self, from: Data(entry.data.utf8))
        return "\(change.previousRole) → \(change.role)"
    }
}
