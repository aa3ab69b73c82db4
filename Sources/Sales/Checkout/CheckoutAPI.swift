import Concerts
import EventStore
import Foundation
import Identity
import Logging
import Orders
import Payments
import Postgres
import Reservations
import ShoppingCarts
import Web

/// The checkout's API: confirming the cart, the checkout as it stands, paying it with a card,
/// and, for organisers and admins, refunding an order.
struct CheckoutAPI: Sendable {
    let checkout: Checkout
    let payments: PaymentsContext
    let orders: OrdersContext

    func add(to router: inout Router<RequestContext>) {
        router.post("/api/cart/confirm", confirm)
        router.get("/api/checkouts/:id", show)
        router.post("/api/checkouts/:id/pay", pay)
        router.post("/api/checkouts/:id/sync", sync)
        router.post("/api/orders/:id/refund", refund)
    }

    struct CheckoutBody: Encodable {
        let checkout: CheckoutView
    }

    var browser: GatewayBrowserSettings { payments.gateway.browser }

    func confirm(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let buyer = try context.requireSignedIn()
        let view = try context.database.with { connection in
            let held = try checkout.confirm(buyer: buyer, requestId: request.requestId, on: connection)
            let checkoutId = checkout.afterConfirm(
                held, requestId: request.requestId, on: connection, logger: context.logger)
            return try CheckoutView.load(checkoutId, for: buyer, browser: browser, on: connection)
        }
        return try .json(CheckoutBody(checkout: view), status: 201)
    }

    func show(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let buyer = try context.requireSignedIn()
        let view = try context.database.with {
            try CheckoutView.load(request.routeParameters["id"] ?? "", for: buyer, browser: browser, on: $0)
        }
        return try .json(CheckoutBody(checkout: view))
    }

    struct Paid: Encodable {
        struct Outcome: Encodable {
            /// `paid`, `requires_action` (finish with Stripe.js's `confirmCardPayment`) or
            /// `processing` (the result comes by webhook).
            let status: String
            let clientSecret: String?
        }
        let outcome: Outcome
        let checkout: CheckoutView
    }

    /// Pays the checkout with the card the browser's Stripe.js turned into a PaymentMethod (or
    /// a card id): `{"paymentMethod": "pm_..."}`. A declined card is 402 `card_declined`, and
    /// another card may be tried while the hold lasts.
    func pay(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        struct Body: Decodable { let paymentMethod: String }
        let buyer = try context.requireSignedIn()
        let body = try request.decodeJSON(Body.self)
        let method = body.paymentMethod.trimmingCharacters(in: .whitespaces)
        guard (1...255).contains(method.count),
            method.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
        else { throw HTTPError.invalid("paymentMethod", "Give the payment method's id from Stripe.js.") }
        let checkoutId = request.routeParameters["id"] ?? ""
        let (outcome, view) = try context.database.with { connection in
            _ = try CheckoutView.load(checkoutId, for: buyer, browser: browser, on: connection)
            let metadata = EventMetadata(correlationId: request.requestId, userId: buyer.userId)
            let outcome = try payments.commands(on: connection, store: checkout.store).pay(
                checkoutId, paymentMethod: method, metadata: metadata)
            if outcome == .paid {
                checkout.settle(checkoutId, on: connection, metadata: metadata, logger: context.logger)
            }
            return (outcome, try CheckoutView.load(checkoutId, for: buyer, browser: browser, on: connection))
        }
        switch outcome {
        case .paid: return try .json(Paid(outcome: .init(status: "paid", clientSecret: nil), checkout: view))
        case .requiresAction(let secret):
            return try .json(Paid(outcome: .init(status: "requires_action", clientSecret: secret), checkout: view))
        case .processing:
            return try .json(Paid(outcome: .init(status: "processing", clientSecret: nil), checkout: view))
        case .declined(let message):
            throw HTTPError(status: 402, code: "card_declined", message: message + " Try another card.")
        }
    }

    /// After Stripe.js finished a card's 3-D Secure step: asks the gateway how the payment
    /// stands and records it.
    func sync(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let buyer = try context.requireSignedIn()
        let checkoutId = request.routeParameters["id"] ?? ""
        let view = try context.database.with { connection in
            _ = try CheckoutView.load(checkoutId, for: buyer, browser: browser, on: connection)
            let metadata = EventMetadata(correlationId: request.requestId, userId: buyer.userId)
            let state = try payments.commands(on: connection, store: checkout.store).sync(
                checkoutId, source: .api, metadata: metadata)
            if state.status == .confirmed {
                checkout.settle(checkoutId, on: connection, metadata: metadata, logger: context.logger)
            }
            return try CheckoutView.load(checkoutId, for: buyer, browser: browser, on: connection)
        }
        return try .json(CheckoutBody(checkout: view))
    }

    /// `POST /api/orders/{id}/refund`: the concert's organiser or an admin gives an order's
    /// money back through the gateway; the order becomes refunded and its tickets go back on
    /// sale. 409 when the order is not completed.
    func refund(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.require(.organiser)
        let order = try context.database.with { connection in
            try refund(
                request.routeParameters["id"] ?? "", by: principal, requestId: request.requestId, on: connection,
                logger: context.logger)
        }
        return try .json(["order": order])
    }

    /// The refund itself, shared with the organisers' page.
    func refund(
        _ orderId: String, by principal: Principal, requestId: String, on connection: Connection, logger: Logger
    ) throws -> OrderView {
        let order = try orders.access.manageable(orderId, by: principal, on: connection)
        guard order.status == "completed" else {
            throw OrderError.notCompleted(TicketOrder.Status(rawValue: order.status) ?? .none)
        }
        let metadata = EventMetadata(correlationId: requestId, userId: principal.userId)
        let commands = payments.commands(on: connection, store: checkout.store)
        if let refunded = try commands.refund(
            order.paymentId, orderIds: [order.id], reason: "requested_by_organiser", metadata: metadata)
        {
            // The process manager does this too; doing it now shows the outcome at once.
            checkout.settleRefund(refunded, on: connection, metadata: metadata, logger: logger)
        }
        guard let refunded = try OrderQueries.find(id: order.id, on: connection) else { throw OrderError.notFound }
        return refunded
    }
}
