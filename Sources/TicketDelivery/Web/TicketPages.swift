import Foundation
import Identity
import QRCode
import Web

/// The buyer's tickets (`/tickets`) and the e-ticket page (`/tickets/{id}`): phone-first, the
/// QR code as large as the screen allows, printable.
struct TicketPages: Sendable {
    let api: TicketsAPI

    func add(to router: inout Router<RequestContext>) {
        router.get("/tickets", mine)
        router.get("/tickets/:id", ticket)
    }

    /// A ticket in a list.
    struct Line: Encodable {
        let id: String
        let number: String
        let concertName: String
        let when: String
        let level: String
        let status: String
        let statusText: String

        init(_ ticket: TicketView) {
            id = ticket.id
            number = ticket.number
            concertName = ticket.concert.name
            when = DateText.display(ticket.concert.startsAt)
            level = ticket.levelName
            status = ticket.status
            statusText = TicketPages.statusText(ticket)
        }
    }

    struct MyTicketsPage: Encodable {
        let tickets: [Line]
        let hasTickets: Bool
        let orderId: String?
    }

    func mine(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        guard let user = context.principal else { return .redirect(to: "/signin?next=/tickets", status: 303) }
        let orderId = request.query["orderId"].flatMap { $0.isEmpty ? nil : $0 }
        let tickets = try context.database.with {
            try TicketQueries.mine(userId: user.userId, orderId: orderId, on: $0)
        }.map(Line.init)
        return try context.page(
            "tickets", title: "Your tickets",
            MyTicketsPage(tickets: tickets, hasTickets: !tickets.isEmpty, orderId: orderId))
    }

    struct TicketPage: Encodable {
        let id: String
        let number: String
        let concertName: String
        let venue: String
        let when: String
        let startsAt: String
        let level: String
        let holder: String
        let status: String
        let statusText: String
        let admits: Bool
        let qr: HTML
        let code: String
        let orderId: String
        let delivery: String
    }

    func ticket(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let id = request.routeParameters["id"] ?? ""
        guard let principal = context.principal else {
            return .redirect(
                to:
                    "/signin?next=/tickets/\(id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(["-"])) ?? "")",
                status: 303)
        }
        let ticket = try context.database.with { try api.visible(id, to: principal, on: $0) }
        let code = ticket.code ?? ""
        let qr = try QRCode(code, correction: .quartile).svg(title: "QR code of ticket \(ticket.number)")
        let response = try context.page(
            "ticket", title: "Ticket \(ticket.number)",
            TicketPage(
                id: ticket.id, number: ticket.number, concertName: ticket.concert.name,
                venue: "\(ticket.concert.venue), \(ticket.concert.city)",
                when: DateText.display(ticket.concert.startsAt),
                startsAt: DateText.rfc3339(ticket.concert.startsAt), level: ticket.levelName, holder: ticket.holder,
                status: ticket.status, statusText: Self.statusText(ticket), admits: ticket.status == "valid",
                qr: HTML(trusted: qr), code: code, orderId: ticket.orderId,
                delivery: ticket.delivery == "printed" ? "Printed, by post" : "Online"))
        // A ticket is a bearer document: never stored by a cache.
        return response.with(header: "Cache-Control", "private, no-store")
    }

    static func statusText(_ ticket: TicketView) -> String {
        switch ticket.status {
        case "valid": "Valid"
        case "checkedIn": "Checked in" + (ticket.checkedInAt.map { " at " + DateText.display($0) } ?? "")
        case "void": ticket.voidReason == "concert_cancelled" ? "Void: the concert was cancelled" : "Void: refunded"
        default: ticket.status
        }
    }
}
