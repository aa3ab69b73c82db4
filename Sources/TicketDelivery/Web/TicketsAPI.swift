import EventStore
import Foundation
import Identity
import Postgres
import Web

/// The tickets' API: a buyer's tickets, check-in at the door, the door's count, an order's
/// delivery.
struct TicketsAPI: Sendable {
    let store: StoreSetup
    let mail: TicketMailSettings
    let concerts: TicketConcerts

    func add(to router: inout Router<RequestContext>) {
        router.get("/api/tickets", list)
        router.get("/api/tickets/:id", show)
        router.post("/api/check-ins", checkIn)
        router.get("/api/concerts/:id/check-ins", doorCount)
        router.get("/api/orders/:id/delivery", delivery)
    }

    /// A ticket with its code, for one who may see it.
    func withCode(_ ticket: TicketView) throws -> TicketView {
        var shown = ticket
        shown.code = try mail.codes.code(for: ticket.id)
        return shown
    }

    func list(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        let tickets = try context.database.with {
            try TicketQueries.mine(userId: principal.userId, orderId: request.query["orderId"], on: $0)
        }
        return try .json(["tickets": try tickets.map(withCode)])
    }

    /// The ticket, if `principal` may see it; otherwise `TicketError.notFound`.
    func visible(_ id: String, to principal: Principal, on connection: Connection) throws -> TicketView {
        guard let ticket = try TicketQueries.find(id: id, on: connection),
            TicketAccess.maySee(userId: ticket.userId, organiserId: ticket.organiserId, principal)
        else { throw TicketError.notFound }
        return try withCode(ticket)
    }

    func show(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        let ticket = try context.database.with {
            try visible(request.routeParameters["id"] ?? "", to: principal, on: $0)
        }
        return try .json(["ticket": ticket])
    }

    struct CheckInBody: Decodable {
        /// The QR's signed code.
        let code: String?
        /// The ticket's number, typed by door staff when a code cannot be read.
        let number: String?
        /// Which entrance is scanning, as it names itself.
        let gate: String?
    }

    struct CheckedIn: Encodable {
        let ticket: TicketView
        let checkedInAt: Date
        let gate: String?
    }

    /// `{code}` (or `{number}`): 200 the first time, with the ticket; 409 `already_checked_in`
    /// (with `checkedInAt`) or `ticket_void` after; 422 `invalid_code` for a code no key of
    /// ours signed; 404 `unknown_ticket` for a signed code of no ticket, or of another
    /// organiser's concert.
    func checkIn(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.require(.organiser)
        let body = try request.decodeJSON(CheckInBody.self)
        let gate = try body.gate.map { gate -> String in
            let trimmed = gate.trimmingCharacters(in: .whitespaces)
            guard trimmed.count <= 60 else {
                throw HTTPError.invalid("gate", "A gate's name is at most 60 characters.")
            }
            return trimmed
        }
        let now = Date()
        let door = try doorTicket(code: body.code, number: body.number)
        let checkedIn = try context.database.with { connection -> CheckedIn in
            let commands = TicketDeliveryCommands(connection: connection, store: store, mail: mail)
            let state = try commands.checkIn(
                at: door, CheckInTicket(by: principal.userId, gate: gate?.isEmpty == true ? nil : gate, now: now),
                metadata: EventMetadata(correlationId: request.requestId, userId: principal.userId)
            ) { TicketAccess.mayManage(organiserId: $0.concert.organiserId, principal) }
            guard let issued = state.issued else { throw TicketError.notFound }
            let after = TicketView(
                issued, status: state.status, checkedInAt: state.checkedInAt, voidReason: state.voidReason)
            return CheckedIn(ticket: try withCode(after), checkedInAt: state.checkedInAt ?? now, gate: gate)
        }
        return try .json(checkedIn)
    }

    /// The ticket a code or a number names, before the database is asked: a code's signature
    /// is checked here (422 `invalid_code` when no key of ours made it).
    func doorTicket(code: String?, number: String?) throws -> TicketDeliveryCommands.DoorTicket {
        if let code, !code.isEmpty {
            guard code.count <= 200, let id = mail.codes.ticketId(from: code) else { throw TicketError.invalidCode }
            return .id(id)
        }
        if let number = number?.trimmingCharacters(in: .whitespaces).uppercased(), !number.isEmpty {
            guard number.count <= 40 else { throw TicketError.notFound }
            return .number(number)
        }
        throw HTTPError.missing("code")
    }

    func doorCount(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.require(.organiser)
        let concertId = request.routeParameters["id"] ?? ""
        let count = try context.database.with { connection -> DoorCount in
            guard let concert = try concerts.find(concertId, connection),
                TicketAccess.mayManage(organiserId: concert.organiserId, principal)
            else { throw HTTPError(status: 404, code: "unknown_concert", message: "There is no such concert.") }
            return try TicketQueries.doorCount(concertId: concertId, on: connection)
        }
        return try .json(["checkIns": count])
    }

    func delivery(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        let delivery = try context.database.with { connection -> DeliveryView in
            guard
                let delivery = try TicketQueries.delivery(orderId: request.routeParameters["id"] ?? "", on: connection),
                TicketAccess.maySee(userId: delivery.userId, organiserId: delivery.organiserId, principal)
            else { throw DeliveryError.notFound }
            return delivery
        }
        return try .json(["delivery": delivery])
    }
}

/// The context's errors, as the API answers them.
extension TicketError: HTTPErrorConvertible {
    public var http: HTTPError {
        switch self {
        case .notFound: HTTPError(status: 404, code: "unknown_ticket", message: "There is no such ticket.")
        case .alreadyCheckedIn(let at):
            {
                var error = HTTPError(
                    status: 409, code: "already_checked_in",
                    message: "This ticket was checked in already, at \(DateText.rfc3339(at)).")
                error.details = ["checkedInAt": DateText.rfc3339(at)]
                return error
            }()
        case .void(let reason):
            {
                var error = HTTPError(
                    status: 409, code: "ticket_void",
                    message: reason == "concert_cancelled"
                        ? "This ticket is void: its concert was cancelled." : "This ticket is void: it was refunded.")
                error.details = ["reason": reason]
                return error
            }()
        case .invalidCode:
            HTTPError(
                status: 422, code: "invalid_code", message: "This is not a code of ours: its signature is wrong.",
                field: "code")
        case .invalid(let field, let message): .invalid(field, message)
        }
    }
}

extension DeliveryError: HTTPErrorConvertible {
    public var http: HTTPError {
        switch self {
        case .notFound: HTTPError(status: 404, code: "unknown_delivery", message: "There is no such delivery.")
        case .wrongMethod(let method):
            HTTPError(
                status: 409, code: "wrong_delivery_method",
                message: "These tickets are delivered \(method == .online ? "by e-mail" : "by post").")
        case .alreadyShipped(let tracking):
            HTTPError(
                status: 409, code: "already_shipped",
                message: "These tickets were shipped already (tracking \(tracking)).")
        case .invalid(let field, let message): .invalid(field, message)
        }
    }
}
