import Foundation
import Identity
import Postgres
import Web

/// The customer's waiting lists (`/waiting-list`), joining from a concert page's sold-out
/// level, and leaving: signed in, or by the signed link in an e-mail
/// (`/waiting-list/leave?entry=...&token=...`, no sign-in needed).
struct WaitingListPages: Sendable {
    let api: WaitingListAPI

    func add(to router: inout Router<RequestContext>) {
        router.get("/waiting-list", mine)
        router.post("/waiting-list", joinForm)
        router.post("/waiting-list/:id/leave", leaveForm)
        router.get("/waiting-list/leave", leaveByLinkPage)
        router.post("/waiting-list/leave", leaveByLink)
    }

    struct MyListsPage: Encodable {
        struct Line: Encodable {
            let id: String
            let concertName: String
            let levelName: String
            let concertId: String
            let quantity: Int
            let status: String
            let statusText: String
            let open: Bool
            let offered: Bool
            let checkoutId: String?
        }
        let lines: [Line]
        let hasLines: Bool
        let notice: String?
        let problem: String?
    }

    func mine(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        try minePage(request, context, problem: nil)
    }

    func minePage(_ request: HTTPRequest, _ context: RequestContext, problem: HTTPError?) throws -> HTTPResponse {
        guard let user = context.principal else { return .redirect(to: "/signin?next=/waiting-list", status: 303) }
        let lines = try context.database.with { connection in
            try WaitingListQueries.mine(userId: user.userId, on: connection).map { entry in
                let level = try api.levels.level(entry.concertId, entry.levelId, connection)
                return MyListsPage.Line(
                    id: entry.id, concertName: level?.concertName ?? entry.concertId,
                    levelName: level?.levelName ?? entry.levelId, concertId: entry.concertId, quantity: entry.quantity,
                    status: entry.status, statusText: Self.statusText(entry),
                    open: entry.status == "waiting" || entry.status == "offered", offered: entry.status == "offered",
                    checkoutId: entry.checkoutId)
            }
        }
        let notices = [
            "joined": "You are on the waiting list. We e-mail you when tickets come back.",
            "left": "You left the waiting list.",
        ]
        return try context.page(
            "waiting_list", title: "Your waiting lists",
            MyListsPage(
                lines: lines, hasLines: !lines.isEmpty, notice: request.query["done"].flatMap { notices[$0] },
                problem: problem?.message))
    }

    static func statusText(_ entry: WaitingListEntryView) -> String {
        switch entry.status {
        case "waiting":
            entry.ahead.map { $0 == 0 ? "Waiting, first in line" : "Waiting, \($0) ahead of you" } ?? "Waiting"
        case "offered":
            "Tickets held for you" + (entry.expiresAt.map { " until " + DateText.display($0) } ?? "")
        case "accepted": "Bought"
        case "lapsed": "The offer lapsed"
        case "left": "Left"
        default: entry.status
        }
    }

    /// The concert page's form: `concertId`, `ticketLevelId`, `quantity`.
    func joinForm(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        let form = request.form
        return try HTTPError.answering {
            guard let quantity = Int(form["quantity"] ?? "") else {
                throw HTTPError.invalid("quantity", "Wait for 1 to \(WaitingList.maxQuantity) tickets.")
            }
            _ = try context.database.with {
                try api.join(
                    concertId: form["concertId"] ?? "", levelId: form["ticketLevelId"] ?? "", quantity: quantity,
                    principal: principal, requestId: request.requestId, on: $0)
            }
            return .redirect(to: "/waiting-list?done=joined")
        } withPage: { error in
            try minePage(request, context, problem: error)
        }
    }

    func leaveForm(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        _ = try context.database.with {
            try api.leave(
                request.routeParameters["id"] ?? "", userId: principal.userId, requestId: request.requestId, on: $0)
        }
        return .redirect(to: "/waiting-list?done=left")
    }

    struct LeavePage: Encodable {
        let entry: String
        let token: String
        let concertName: String
        let levelName: String
        let quantity: Int
        let open: Bool
        let done: Bool
    }

    /// The e-mail's link: asks before leaving (a link may be followed by a mail scanner).
    func leaveByLinkPage(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let (entryId, token) = (request.query["entry"] ?? "", request.query["token"] ?? "")
        let entry = try context.database.with { try linked(entryId, token, on: $0) }
        return try leavePage(
            entry, token: token, done: request.query["done"] == "1" && entry.0.status == "left", context)
    }

    func leaveByLink(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let form = request.form
        let (entryId, token) = (form["entry"] ?? "", form["token"] ?? "")
        try context.database.with { connection in
            _ = try linked(entryId, token, on: connection)
            _ = try api.leave(entryId, userId: nil, requestId: request.requestId, on: connection)
        }
        return .redirect(to: api.links.path(for: entryId) + "&done=1")
    }

    /// The entry a link names, if its token is ours.
    func linked(_ entryId: String, _ token: String, on connection: Connection) throws -> (
        WaitingListEntryView, WaitingListCatalog.Level?
    ) {
        guard entryId.count <= 100, token.count <= 100, api.links.verify(token, entryId: entryId),
            let entry = try WaitingListQueries.find(entryId, on: connection)
        else { throw WaitingListError.notFound }
        return (entry, try api.levels.level(entry.concertId, entry.levelId, connection))
    }

    func leavePage(
        _ found: (WaitingListEntryView, WaitingListCatalog.Level?), token: String, done: Bool, _ context: RequestContext
    ) throws -> HTTPResponse {
        let (entry, level) = found
        return try context.page(
            "waiting_list_leave", title: "Leave the waiting list",
            LeavePage(
                entry: entry.id, token: token, concertName: level?.concertName ?? entry.concertId,
                levelName: level?.levelName ?? entry.levelId, quantity: entry.quantity,
                open: entry.status == "waiting" || entry.status == "offered", done: done),
            forms: true
        ).with(header: "Cache-Control", "private, no-store")
    }
}
