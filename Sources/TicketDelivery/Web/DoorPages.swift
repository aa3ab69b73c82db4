import EventStore
import Foundation
import Identity
import Postgres
import QRCode
import Web

/// The organiser's side of tickets: the door's scanner (`/admin/concerts/{id}/check-in`), the
/// deliveries (`/admin/deliveries`: printed tickets to print and post, e-mails the server
/// refused), a print-ready batch, and marking a posted order shipped.
struct DoorPages: Sendable {
    let api: TicketsAPI

    func add(to router: inout Router<RequestContext>) {
        router.get("/admin/concerts/:id/check-in", scanner)
        router.get("/admin/deliveries", deliveries)
        router.get("/admin/deliveries/print", printBatch)
        router.post("/admin/deliveries/:orderId/shipped", shipped)
    }

    struct ScannerPage: Encodable {
        let concertId: String
        let concertName: String
        let when: String
        let issued: Int
        let checkedIn: Int
    }

    /// The scanner: the camera where the browser has `BarcodeDetector`, a field to type a code
    /// or a ticket number otherwise (public/js/scanner.js posts to `/api/check-ins`).
    func scanner(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.require(.organiser)
        let concertId = request.routeParameters["id"] ?? ""
        let (concert, count) = try context.database.with { connection in
            guard let concert = try api.concerts.find(concertId, connection),
                TicketAccess.mayManage(organiserId: concert.organiserId, principal)
            else { throw HTTPError(status: 404, code: "unknown_concert", message: "There is no such concert.") }
            return (concert, try TicketQueries.doorCount(concertId: concertId, on: connection))
        }
        return try context.page(
            "admin_scanner", title: "Check-in · \(concert.name)",
            ScannerPage(
                concertId: concertId, concertName: concert.name, when: DateText.display(concert.startsAt),
                issued: count.issued - count.void, checkedIn: count.checkedIn)
        ).with(header: "Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
    }

    struct DeliveriesPage: Encodable {
        struct Line: Encodable {
            let orderId: String
            let orderNumber: String
            let concertName: String
            let recipient: String
            let destination: String
            let tickets: Int
            let status: String
            let trackingNumber: String?
            let failure: String?
            let preparedAt: String
            let toShip: Bool
            let error: String?
        }
        struct Tab: Encodable {
            let key: String
            let label: String
            let selected: Bool
        }
        let tabs: [Tab]
        let show: String
        let lines: [Line]
        let hasLines: Bool
        let toPrint: Bool
        let notice: String?
        /// A form's error for an order not in the list shown (shipped already, say).
        let problem: String?
    }

    static let tabs = [("print", "To print and post"), ("shipped", "Shipped"), ("failed", "E-mails refused")]

    func deliveries(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        try deliveriesPage(request, context, error: nil)
    }

    func deliveriesPage(
        _ request: HTTPRequest, _ context: RequestContext, error: (orderId: String, HTTPError)?
    ) throws -> HTTPResponse {
        let principal = try context.require(.organiser)
        let show = Self.tabs.map(\.0).contains(request.query["show"] ?? "") ? request.query["show"]! : "print"
        let (method, statuses) =
            switch show {
            case "shipped": ("printed", ["shipped"])
            case "failed": ("online", ["failed"])
            default: ("printed", ["prepared"])
            }
        let found = try context.database.with {
            try TicketQueries.deliveries(
                organiserId: principal.role == .admin ? nil : principal.userId, method: method, statuses: statuses,
                on: $0)
        }
        let lines = found.map { delivery in
            DeliveriesPage.Line(
                orderId: delivery.orderId, orderNumber: delivery.orderNumber, concertName: delivery.concertName,
                recipient: delivery.recipient,
                destination: delivery.method == "printed"
                    ? (delivery.address ?? []).filter { !$0.isEmpty }.joined(separator: ", ") : delivery.email ?? "",
                tickets: delivery.tickets.count, status: delivery.status, trackingNumber: delivery.trackingNumber,
                failure: delivery.failure, preparedAt: EventFormatter.timestamp(delivery.preparedAt),
                toShip: delivery.status == "prepared" && delivery.method == "printed",
                error: error?.orderId == delivery.orderId ? error?.1.message : nil)
        }
        return try context.page(
            "admin_deliveries", title: "Deliveries",
            DeliveriesPage(
                tabs: Self.tabs.map { .init(key: $0.0, label: $0.1, selected: $0.0 == show) }, show: show, lines: lines,
                hasLines: !lines.isEmpty, toPrint: show == "print" && !lines.isEmpty,
                notice: request.query["done"] == "shipped"
                    ? "Marked shipped; the buyer sees the tracking number." : nil,
                problem: error.flatMap { failed in
                    lines.contains { $0.orderId == failed.orderId } ? nil : failed.1.message
                }
            ))
    }

    struct PrintPage: Encodable {
        struct PrintedTicket: Encodable {
            let number: String
            let concertName: String
            let venue: String
            let when: String
            let level: String
            let holder: String
            let orderNumber: String
            let address: [String]
            let qr: HTML
        }
        let tickets: [PrintedTicket]
        let hasTickets: Bool
    }

    /// Every ticket still to be posted (or those of `?orderId=`), one to a printed page.
    func printBatch(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.require(.organiser)
        let only = request.query["orderId"].flatMap { $0.isEmpty ? nil : $0 }
        let tickets = try context.database.with { connection -> [PrintPage.PrintedTicket] in
            let due = try TicketQueries.deliveries(
                organiserId: principal.role == .admin ? nil : principal.userId, method: "printed",
                statuses: only == nil ? ["prepared"] : ["prepared", "shipped"], on: connection
            ).filter { only == nil || $0.orderId == only }
            return try due.flatMap { delivery in
                try TicketQueries.ofOrder(delivery.orderId, on: connection).filter { $0.status != "void" }.map {
                    ticket in
                    let code = try api.mail.codes.code(for: ticket.id)
                    return PrintPage.PrintedTicket(
                        number: ticket.number, concertName: ticket.concert.name,
                        venue: "\(ticket.concert.venue), \(ticket.concert.city)",
                        when: DateText.display(ticket.concert.startsAt), level: ticket.levelName, holder: ticket.holder,
                        orderNumber: delivery.orderNumber, address: (delivery.address ?? []).filter { !$0.isEmpty },
                        qr: HTML(
                            trusted: try QRCode(code, correction: .quartile).svg(
                                title: "QR code of ticket \(ticket.number)")
                        ))
                }
            }
        }
        return try context.page(
            "admin_print_batch", title: "Tickets to print", PrintPage(tickets: tickets, hasTickets: !tickets.isEmpty)
        ).with(header: "Cache-Control", "private, no-store")
    }

    /// `trackingNumber` (and `carrier`): the order's printed tickets were posted.
    func shipped(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.require(.organiser)
        let orderId = request.routeParameters["orderId"] ?? ""
        let form = request.form
        return try HTTPError.answering {
            try context.database.with { connection in
                guard let delivery = try TicketQueries.delivery(orderId: orderId, on: connection),
                    TicketAccess.mayManage(organiserId: delivery.organiserId, principal)
                else { throw DeliveryError.notFound }
                let carrier = form["carrier"].map { $0.trimmingCharacters(in: .whitespaces) }
                guard (carrier ?? "").count <= 60 else {
                    throw HTTPError.invalid("carrier", "A carrier's name is at most 60 characters.")
                }
                try TicketDeliveryCommands(connection: connection, store: api.store, mail: api.mail).ship(
                    orderId,
                    DeliverPrintedTicket(
                        trackingNumber: form["trackingNumber"] ?? "", carrier: carrier?.isEmpty == true ? nil : carrier,
                        now: Date()),
                    metadata: EventMetadata(correlationId: request.requestId, userId: principal.userId))
            }
            return .redirect(to: "/admin/deliveries?done=shipped")
        } withPage: { error in
            try deliveriesPage(request, context, error: (orderId, error))
        }
    }
}
