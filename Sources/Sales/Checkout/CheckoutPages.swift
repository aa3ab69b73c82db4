import Concerts
import EventStore
import Foundation
import Identity
import Orders
import Payments
import Postgres
import Reservations
import ShoppingCarts
import Web

/// The checkout's pages: confirming the cart, the checkout page where the customer pays by
/// card (Stripe.js) and sees the truth of the read models, the customer's reservations, and the
/// organisers' refund with its confirmation step. Forms work without JavaScript, but for the
/// card itself, which Stripe.js takes.
struct CheckoutPages: Sendable {
    let api: CheckoutAPI
    let catalog: ConcertCatalog
    let carts: ShoppingCartsContext

    func add(to router: inout Router<RequestContext>) {
        router.post("/cart/confirm", confirm)
        router.get("/checkout/:id", checkoutPage)
        router.get("/reservations", reservationsPage)
        router.post("/reservations/:id/cancel") { request, context in
            let user = try context.requireSignedIn()
            _ = try ReservationsContext.cancel(
                request.routeParameters["id"] ?? "", user: user, requestId: request.requestId, context: context,
                store: api.checkout.store)
            return .redirect(to: "/reservations")
        }
        router.get("/admin/orders/:id/refund", confirmRefund)
        router.post("/admin/orders/:id/refund", refund)
    }

    func confirm(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let buyer = try context.requireSignedIn()
        return try HTTPError.answering {
            let checkoutId = try context.database.with { connection in
                let held = try api.checkout.confirm(buyer: buyer, requestId: request.requestId, on: connection)
                return api.checkout.afterConfirm(
                    held, requestId: request.requestId, on: connection, logger: context.logger)
            }
            return .redirect(to: "/checkout/\(checkoutId)")
        } withPage: { error in
            try carts.cartPage(context: context, error: error)
        }
    }

    /// One reservation (one concert's tickets) as the pages show it.
    struct ReservationGroup: Encodable {
        struct Item: Encodable {
            let level: String
            let quantity: Int
            let price: String
        }
        let id: String
        let status: String
        let held: Bool
        let checkoutId: String
        let artist: String
        let city: String
        let expiresAt: String
        let orderNumber: String?
        let orderStatus: String?
        let items: [Item]
    }

    struct CheckoutPage: Encodable {
        let id: String
        let status: String
        let held: Bool
        let paid: Bool
        /// Paid for nothing: every ticket was free.
        let free: Bool
        let cancelled: Bool
        let refunded: Bool
        /// The payment is confirmed but an order is not completed yet, or the gateway is still at it.
        let settling: Bool
        let payable: Bool
        let reservations: [ReservationGroup]
        let expiresAtISO: String
        let secondsLeft: Int
        let total: String
        let publishableKey: String
        let stripeJsUrl: String
        let clientSecret: String?
        let lastDecline: String?
    }

    func checkoutPage(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let id = request.routeParameters["id"] ?? ""
        guard let buyer = context.principal else { return .redirect(to: "/signin?next=/checkout/\(id)", status: 303) }
        let browser = api.browser
        let (view, shown) = try context.database.with { connection in
            let view = try CheckoutView.load(id, for: buyer, browser: browser, on: connection)
            return (view, try groups(view.reservations, orders: view.orders, connection))
        }
        let payment = view.payments.first
        let payable = payment.map { $0.status == "pending" || $0.status == "initiated" } ?? false
        let settling =
            (view.status == "paid" && view.orders.contains { $0.status == "pending" })
            || (payable && payment?.lastDecline == nil && request.query["paying"] == "1")
        var page = try context.page(
            "checkout", title: "Checkout",
            CheckoutPage(
                id: id, status: view.status, held: view.status == "held",
                paid: view.status == "paid" && payment?.amount != 0,
                free: view.status == "paid" && payment?.amount == 0, cancelled: view.status == "cancelled",
                refunded: view.status == "refunded", settling: settling,
                payable: payable && view.status == "held", reservations: shown,
                expiresAtISO: DateText.rfc3339(view.expiresAt),
                secondsLeft: max(0, Int(view.expiresAt.timeIntervalSinceNow)),
                total: payment.map { MoneyText.display($0.amount, $0.currency) } ?? "",
                publishableKey: view.publishableKey, stripeJsUrl: view.stripeJsUrl, clientSecret: payment?.clientSecret,
                lastDecline: payment?.lastDecline))
        if settling { page.headers.append(("Refresh", "2")) }
        return page.with(header: "Content-Security-Policy", Self.contentSecurityPolicy(stripe: browser.origin))
            .with(header: "Cache-Control", "no-store")
    }

    /// The site's own policy, with Stripe.js's origin allowed to run its script and frames and
    /// to be called: that origin and nothing more.
    static func contentSecurityPolicy(stripe origin: String) -> String {
        let stripe = origin.isEmpty ? "" : " " + origin
        return "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'\(stripe); "
            + "frame-src\(stripe.isEmpty ? " 'none'" : stripe); connect-src 'self'\(stripe); object-src 'none'; "
            + "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    }

    struct ReservationsPage: Encodable {
        let reservations: [ReservationGroup]
        let hasAny: Bool
    }

    func reservationsPage(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        guard let user = context.principal else { return .redirect(to: "/signin?next=/reservations", status: 303) }
        let list = try context.database.with { connection in
            try groups(try ReservationQueries.mine(userId: user.userId, on: connection), orders: [], connection)
        }
        return try context.page(
            "reservations", title: "Your reservations", ReservationsPage(reservations: list, hasAny: !list.isEmpty))
    }

    /// The reservations with their concerts' and levels' names (read once) and their orders.
    func groups(_ reservations: [ReservationView], orders: [OrderView], _ connection: Connection) throws
        -> [ReservationGroup]
    {
        let names = try catalog.names(of: Array(Set(reservations.map(\.concertId))), on: connection)
        return reservations.map { reservation in
            let concert = names[reservation.concertId]
            let order = orders.first { $0.id == reservation.id }
            return ReservationGroup(
                id: reservation.id, status: reservation.status, held: reservation.status == "held",
                checkoutId: reservation.checkoutId, artist: concert?.artist ?? reservation.concertId,
                city: concert?.city ?? "", expiresAt: EventFormatter.timestamp(reservation.expiresAt),
                orderNumber: order?.number, orderStatus: order?.status,
                items: reservation.items.map { item in
                    .init(
                        level: concert?.levels[item.ticketLevelId] ?? item.ticketLevelId, quantity: item.quantity,
                        price: MoneyText.display(item.unitPrice, item.currency))
                })
        }
    }

    struct RefundPage: Encodable {
        let id: String
        let number: String
        let concertId: String
        let concertName: String
        let buyer: String
        let total: String
        let refundable: Bool
        let status: String
    }

    func confirmRefund(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.require(.organiser)
        let order = try context.database.with {
            try api.orders.access.manageable(request.routeParameters["id"] ?? "", by: principal, on: $0)
        }
        return try context.page(
            "admin_order_refund", title: "Refund \(order.number)",
            RefundPage(
                id: order.id, number: order.number, concertId: order.concertId, concertName: order.concertName,
                buyer: "\(order.buyerName) <\(order.buyerEmail)>",
                total: MoneyText.display(order.total.amount, order.total.currency),
                refundable: order.status == "completed",
                status: order.status))
    }

    func refund(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.require(.organiser)
        let order = try context.database.with {
            try api.refund(
                request.routeParameters["id"] ?? "", by: principal, requestId: request.requestId, on: $0,
                logger: context.logger)
        }
        return .redirect(to: "/admin/concerts/\(order.concertId)/orders?done=refunded#order-\(order.id)")
    }
}
