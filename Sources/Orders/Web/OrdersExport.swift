import Foundation
import Identity
import Postgres
import Web

/// `GET /admin/concerts/{id}/orders.csv`: every order of a concert, oldest first, as a CSV file
/// (`CSV`: RFC 4180, UTF-8, formula injection neutralised) for the concert's organiser or an
/// admin. All statuses, with a column for it, so that the file adds up to what the orders
/// page lists.
struct OrdersExport: Sendable {
    let access: OrderAccess

    func add(to router: inout Router<RequestContext>) {
        router.get("/admin/concerts/:id/orders.csv", orders)
    }

    func orders(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.require(.organiser)
        let concertId = request.routeParameters["id"] ?? ""
        let orders = try context.database.with { connection in
            try access.requireManaging(concertId, principal, on: connection)
            return try OrderQueries.ofConcert(concertId, on: connection)
        }
        return Self.csv(orders).response(filename: "orders-\(concertId).csv")
    }

    static let header = [
        "Order", "Placed at (UTC)", "Status", "Buyer", "E-mail", "Delivery", "Tickets", "Levels", "Total", "Refunded",
        "Currency", "Paid at (UTC)", "Refunded at (UTC)",
    ]

    /// The file: a row per order, times in RFC 3339 (UTC), money in major units ("750.00").
    static func csv(_ orders: [OrderView]) -> CSV {
        var csv = CSV(header: header)
        for order in orders {
            func last(_ status: String) -> String {
                order.history.last { $0.status == status }.map { DateText.rfc3339($0.at) } ?? ""
            }
            csv.append([
                order.number, DateText.rfc3339(order.createdAt), order.status, order.buyerName, order.buyerEmail,
                order.delivery.method, String(order.items.reduce(0) { $0 + $1.quantity }),
                order.items.map { "\($0.levelName) × \($0.quantity)" }.joined(separator: "; "),
                MoneyText.majorUnits(order.total.amount, alwaysCents: true),
                MoneyText.majorUnits(order.refunded, alwaysCents: true), order.total.currency, last("completed"),
                last("refunded"),
            ])
        }
        return csv
    }
}
