import Orders
import TicketDelivery
import Web

/// The attendees of a concert as a CSV file: a row per ticket that admits someone (void tickets,
/// of refunded orders or a cancelled concert, left out), by ticket number. The ticket comes from
/// the TicketDelivery context (number, level, holder, check-in), the buyer's e-mail from the
/// Orders context; hence here, in Sales, where a page may compose contexts.
enum AttendeesExport {
    static let header = [
        "Ticket", "Level", "Name", "E-mail", "Order", "Checked in", "Checked in at (UTC)",
    ]

    static func csv(tickets: [TicketView], orders: [OrderView]) -> CSV {
        let ordersById = Dictionary(orders.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var csv = CSV(header: header)
        for ticket in tickets {
            let order = ordersById[ticket.orderId]
            csv.append([
                ticket.number, ticket.levelName, ticket.holder, order?.buyerEmail ?? "", order?.number ?? "",
                ticket.checkedInAt == nil ? "no" : "yes", ticket.checkedInAt.map(DateText.rfc3339) ?? "",
            ])
        }
        return csv
    }
}
