import Concerts
import EventStore
import Foundation
import Postgres
import Reservations
import ShoppingCarts
import Web

/// The checkout's API and pages: confirming the cart, the checkout page, and the customer's
/// reservations with the concerts' names. Every form works without JavaScript; a successful
/// post redirects (PRG); a refused confirmation shows the cart with the reason.
struct CheckoutRoutes: Sendable {
    let checkout: Checkout
    let catalog: ConcertCatalog
    let carts: ShoppingCartsContext

    func add(to router: inout Router<RequestContext>) {
        router.post("/api/cart/confirm", confirm)
        router.post("/cart/confirm", confirmPage)
        router.get("/checkout/:id", checkoutPage)
        router.get("/reservations", reservationsPage)
        router.post("/reservations/:id/cancel") { request, context in
            let user = try context.requireSignedIn()
            _ = try ReservationsContext.cancel(
                request.routeParameters["id"] ?? "", user: user, requestId: request.requestId, context: context,
                store: checkout.store)
            return .redirect(to: "/reservations")
        }
    }

    struct Confirmed: Encodable {
        struct Body: Encodable {
            let id: String
            let reservations: [ReservationView]
            let orders: [String]
            let payment: String?
            let expiresAt: Date
        }
        let checkout: Body
    }

    func confirm(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let user = try context.requireSignedIn()
        // The answer is built from the events just committed: the read model, written in the
        // same transaction, holds the same values.
        let held = try context.database.with {
            try checkout.confirm(userId: user.userId, requestId: request.requestId, on: $0)
        }
        let reservations = held.map(ReservationView.init(held:))
        let body = Confirmed.Body(
            id: held.first?.checkoutId ?? "", reservations: reservations, orders: [], payment: nil,
            expiresAt: reservations.first?.expiresAt ?? Date().addingTimeInterval(checkout.holdTime))
        return try .json(Confirmed(checkout: body), status: 201)
    }

    func confirmPage(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let user = try context.requireSignedIn()
        return try HTTPError.answering {
            let held = try context.database.with {
                try checkout.confirm(userId: user.userId, requestId: request.requestId, on: $0)
            }
            return .redirect(to: "/checkout/\(held.first?.checkoutId ?? "")")
        } withPage: { error in
            try carts.cartPage(context: context, error: error)
        }
    }

    /// One reservation as the pages show it.
    struct ReservationGroup {
        struct Item {
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
        let items: [Item]
    }

    struct CheckoutPage {
        let id: String
        let reservations: [ReservationGroup]
        let expiresAtISO: String
        let held: Bool
        let secondsLeft: Int
        let totals: [String]
    }

    func checkoutPage(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let user = try context.requireSignedIn()
        let id = request.routeParameters["id"] ?? ""
        let (reservations, shown) = try context.database.with { connection in
            let reservations = try ReservationQueries.forCheckout(id, on: connection).filter {
                $0.userId == user.userId
            }
            return (reservations, try groups(reservations, connection))
        }
        guard let first = reservations.first else {
            throw HTTPError(status: 404, code: "unknown_checkout", message: "You have no such checkout.")
        }
        var totals: [String: Int] = [:]
        for reservation in reservations {
            for item in reservation.items { totals[item.currency, default: 0] += item.quantity * item.unitPrice }
        }
        return try context.page(
            "checkout", title: "Checkout",
            CheckoutPage(
                id: id, reservations: shown, expiresAtISO: DateText.rfc3339(first.expiresAt),
                held: first.status == "held", secondsLeft: max(0, Int(first.expiresAt.timeIntervalSinceNow)),
                totals: totals.keys.sorted().map { MoneyText.display(totals[$0] ?? 0, $0) }))
    }

    struct ReservationsPage {
        let reservations: [ReservationGroup]
        let hasAny: Bool
    }

    func reservationsPage(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        guard let user = context.principal else { return .redirect(to: "/signin?next=/reservations", status: 303) }
        let list = try context.database.with { connection in
            try groups(try ReservationQueries.mine(userId: user.userId, on: connection), connection)
        }
        return try context.page(
            "reservations", title: "Your reservations", ReservationsPage(reservations: list, hasAny: !list.isEmpty))
    }

    /// The reservations with their concerts' and levels' names (each concert read once).
    func groups(_ reservations: [ReservationView], _ connection: Connection) throws -> [ReservationGroup] {
        var concerts: [String: ConcertView] = [:]
        for id in Set(reservations.map(\.concertId)) {
            concerts[id] = try catalog.find(id: id, withAvailability: false, on: connection)
        }
        return reservations.map { reservation in
            let concert = concerts[reservation.concertId]
            return ReservationGroup(
                id: reservation.id, status: reservation.status, held: reservation.status == "held",
                checkoutId: reservation.checkoutId, artist: concert?.artist ?? reservation.concertId,
                city: concert?.city ?? "", expiresAt: EventFormatter.timestamp(reservation.expiresAt),
                items: reservation.items.map { item in
                    .init(
                        level: concert?.ticketLevels.first { $0.id == item.ticketLevelId }?.name ?? item.ticketLevelId,
                        quantity: item.quantity, price: MoneyText.display(item.unitPrice, item.currency))
                })
        }
    }
}
