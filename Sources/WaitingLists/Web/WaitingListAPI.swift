import EventStore
import Foundation
import Identity
import Postgres
import Web

/// The waiting lists' API: join, the caller's entries, leave.
struct WaitingListAPI: Sendable {
    let store: StoreSetup
    let levels: WaitingListCatalog
    let links: LeaveLinks

    func add(to router: inout Router<RequestContext>) {
        router.post("/api/waiting-list", join)
        router.get("/api/waiting-list", list)
        router.delete("/api/waiting-list/:id", leave)
    }

    struct JoinBody: Decodable {
        let concertId: String
        let ticketLevelId: String
        let quantity: Int
    }

    struct EntryBody: Encodable {
        let entry: WaitingListEntryView
    }

    /// `{concertId, ticketLevelId, quantity}`: 201 with the entry; 409 `tickets_left` when
    /// enough are on sale to buy now, `already_waiting` when the caller waits for the level.
    func join(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        let body = try request.decodeJSON(JoinBody.self)
        let entry = try context.database.with {
            try join(
                concertId: body.concertId, levelId: body.ticketLevelId, quantity: body.quantity, principal: principal,
                requestId: request.requestId, on: $0)
        }
        return try .json(EntryBody(entry: entry), status: 201)
    }

    func join(
        concertId: String, levelId: String, quantity: Int, principal: Principal, requestId: String,
        on connection: Connection
    ) throws -> WaitingListEntryView {
        guard concertId.count <= 200, levelId.count <= 100,
            let level = try levels.level(concertId, levelId, connection)
        else { throw WaitingListError.unknownLevel }
        guard level.onSale else {
            throw HTTPError(status: 409, code: "concert_cancelled", message: "This concert is cancelled.")
        }
        let entryId = UUID.timeOrdered().uuidString.lowercased()
        let result = try WaitingListCommands(connection: connection, store: store).handle(
            .join(
                JoinWaitingList(
                    entryId: entryId, concertId: concertId, levelId: levelId, userId: principal.userId,
                    email: principal.email, name: principal.name, quantity: quantity, ticketsLeft: level.ticketsLeft,
                    now: Date())), concertId: concertId, levelId: levelId,
            metadata: EventMetadata(correlationId: requestId, userId: principal.userId))
        guard case .joined(let joined)? = result.events.first,
            let entry = try WaitingListQueries.find(joined.entryId, on: connection)
        else { throw WaitingListError.alreadyWaiting }
        return entry
    }

    func list(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        let entries = try context.database.with { try WaitingListQueries.mine(userId: principal.userId, on: $0) }
        return try .json(["entries": entries])
    }

    func leave(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        let entry = try context.database.with {
            try leave(
                request.routeParameters["id"] ?? "", userId: principal.userId, requestId: request.requestId, on: $0)
        }
        return try .json(EntryBody(entry: entry))
    }

    /// Takes an entry off its list: the owner's (`userId`), or anyone's whose link was signed
    /// (`userId` nil). Leaving again changes nothing.
    func leave(_ entryId: String, userId: String?, requestId: String, on connection: Connection) throws
        -> WaitingListEntryView
    {
        guard let entry = try WaitingListQueries.find(entryId, on: connection),
            userId == nil || entry.userId == userId
        else { throw WaitingListError.notFound }
        try WaitingListCommands(connection: connection, store: store).handle(
            .leave(
                LeaveWaitingList(
                    entryId: entryId, userId: userId, reason: userId == nil ? "link" : "customer", now: Date())),
            concertId: entry.concertId, levelId: entry.levelId,
            metadata: EventMetadata(correlationId: requestId, userId: userId))
        return try WaitingListQueries.find(entryId, on: connection) ?? entry
    }
}

/// The context's errors, as the API answers them.
extension WaitingListError: HTTPErrorConvertible {
    public var http: HTTPError {
        switch self {
        case .notFound:
            HTTPError(status: 404, code: "unknown_entry", message: "There is no such waiting-list entry.")
        case .alreadyWaiting:
            HTTPError(status: 409, code: "already_waiting", message: "You are on this level's waiting list already.")
        case .ticketsLeft(let left):
            {
                var error = HTTPError(
                    status: 409, code: "tickets_left",
                    message: "\(left) tickets of this level are on sale: buy them instead of waiting.")
                error.details = ["available": String(left)]
                return error
            }()
        case .unknownLevel:
            HTTPError(status: 404, code: "unknown_ticket_level", message: "There is no such concert or ticket level.")
        case .invalid(let field, let message): .invalid(field, message)
        }
    }
}
