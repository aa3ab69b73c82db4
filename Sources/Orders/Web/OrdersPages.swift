import EventStore
import Foundation
import Identity
import Postgres
import Web

/// The buyer's "My orders" (`/orders`, `/orders/{id}` with its status history) and the
/// organisers' orders of a concert (`/admin/concerts/{id}/orders`: search by e-mail or order
/// number, filter by status, the takings per level, a refund link per paid order).
struct OrdersPages: Sendable {
    let access: OrderAccess
    let deliveries: DeliveryProgress

    func add(to router: inout Router<RequestContext>) {
        router.get("/orders", mine)
        router.get("/orders/:id", order)
        router.get("/admin/concerts/:id/orders", concertOrders)
    }

    /// An order in a list.
    struct Line: Encodable {
        let id: String
        let number: String
        let concertName: String
        let buyer: String
        let createdAt: String
        let total: String
        let status: String
        let refundable: Bool

        init(_ order: OrderView) {
            id = order.id
            number = order.number
            concertName = order.concertName
            buyer = "\(order.buyerName) <\(order.buyerEmail)>"
            createdAt = EventFormatter.timestamp(order.createdAt)
            total = MoneyText.display(order.total.amount, order.total.currency)
            status = order.status
            refundable = order.status == "completed"
        }
    }

    struct MyOrdersPage: Encodable {
        let orders: [Line]
        let hasOrders: Bool
    }

    func mine(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        guard let user = context.principal else { return .redirect(to: "/signin?next=/orders", status: 303) }
        let orders = try context.database.with { try OrderQueries.mine(userId: user.userId, on: $0) }.map(Line.init)
        return try context.page(
            "orders", title: "Your orders", MyOrdersPage(orders: orders, hasOrders: !orders.isEmpty))
    }

    struct OrderPage: Encodable {
        struct Item: Encodable {
            let level: String
            let quantity: Int
            let price: String
            let subtotal: String
        }
        struct Step: Encodable {
            let status: String
            let at: String
            let note: String?
        }
        let id: String
        let number: String
        let checkoutId: String
        let concertName: String
        let status: String
        let pending: Bool
        let items: [Item]
        let total: String
        let refunded: String?
        let delivery: String
        /// How the tickets are on their way (once paid), and a link to them.
        let progress: String?
        let hasTickets: Bool
        let history: [Step]
    }

    func order(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let id = request.routeParameters["id"] ?? ""
        guard let principal = context.principal else { return .redirect(to: "/signin?next=/orders/\(id)", status: 303) }
        let (order, progress) = try context.database.with { connection in
            let order = try access.visible(id, to: principal, on: connection)
            return (order, try deliveries.of(order.id, connection))
        }
        let currency = order.total.currency
        return try context.page(
            "order", title: "Order \(order.number)",
            OrderPage(
                id: order.id, number: order.number, checkoutId: order.checkoutId, concertName: order.concertName,
                status: order.status, pending: order.status == "pending",
                items: order.items.map {
                    .init(
                        level: $0.levelName, quantity: $0.quantity, price: MoneyText.display($0.unitPrice, currency),
                        subtotal: MoneyText.display($0.unitPrice * $0.quantity, currency))
                }, total: MoneyText.display(order.total.amount, currency),
                refunded: order.refunded > 0 ? MoneyText.display(order.refunded, currency) : nil,
                delivery: order.delivery.method == "printed"
                    ? "Printed, by post to "
                        + (order.delivery.address ?? []).filter { !$0.isEmpty }.joined(separator: ", ")
                    : "Online, by e-mail to \(order.delivery.email ?? order.buyerEmail)",
                progress: progress?.text, hasTickets: progress?.hasTickets == true && principal.userId == order.userId,
                history: order.history.map {
                    .init(status: $0.status, at: EventFormatter.timestamp($0.at), note: $0.note)
                }))
    }

    struct ConcertOrdersPage: Encodable {
        struct Takings: Encodable {
            let level: String
            let ticketsSold: Int
            let ticketsRefunded: Int
            let gross: String
            let refunded: String
            let net: String
        }
        struct Status: Encodable {
            let value: String
            let selected: Bool
        }
        let concertId: String
        let q: String
        let statuses: [Status]
        let orders: [Line]
        let hasOrders: Bool
        let takings: [Takings]
        let hasTakings: Bool
        let notice: String?
    }

    func concertOrders(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.require(.organiser)
        let concertId = request.routeParameters["id"] ?? ""
        let search = request.query["q"] ?? ""
        let status = request.query["status"].flatMap { Self.statuses.contains($0) ? $0 : nil }
        let (orders, takings) = try context.database.with { connection in
            guard try access.managesConcert(concertId, principal, on: connection) else { throw OrderError.notFound }
            return (
                try OrderQueries.list(concertIds: [concertId], search: search, status: status, on: connection),
                try OrderQueries.takings(concertId: concertId, on: connection)
            )
        }
        return try context.page(
            "admin_orders", title: "Orders",
            ConcertOrdersPage(
                concertId: concertId, q: search,
                statuses: Self.statuses.map { .init(value: $0, selected: $0 == status) },
                orders: orders.map(Line.init), hasOrders: !orders.isEmpty,
                takings: takings.map {
                    .init(
                        level: $0.levelName, ticketsSold: $0.ticketsSold, ticketsRefunded: $0.ticketsRefunded,
                        gross: MoneyText.display($0.gross, $0.currency),
                        refunded: MoneyText.display($0.refunded, $0.currency),
                        net: MoneyText.display($0.net, $0.currency))
                }, hasTakings: !takings.isEmpty,
                notice: request.query["done"] == "refunded"
                    ? "The order is refunded; its tickets are on sale again." : nil))
    }

    static let statuses = ["pending", "completed", "cancelled", "refunded"]
}
