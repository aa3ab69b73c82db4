import EventStore
import Foundation
import Postgres
import Web

/// The cart's JSON API. Every route needs a signed-in user; the cart is theirs.
struct CartAPI: Sendable {
    let store: StoreSetup
    let catalog: CartCatalog

    func add(to router: inout Router<RequestContext>) {
        router.get("/api/cart", show)
        router.post("/api/cart/items", addItem)
        router.patch("/api/cart/items/:concertId/:levelId", changeQuantity)
        router.delete("/api/cart/items/:concertId/:levelId", removeItem)
        router.put("/api/cart/delivery", chooseDelivery)
        router.post("/api/cart/cancel", cancel)
    }

    struct CartBody: Encodable {
        let cart: CartJSON
    }

    func show(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let user = try context.requireSignedIn()
        return try .json(CartBody(cart: try context.database.with { try CartJSON.current(user.userId, $0) }))
    }

    func addItem(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        struct Body: Decodable {
            let concertId: String
            let ticketLevelId: String
            let quantity: Int
        }
        try context.requireSignedIn()
        let body = try request.decodeJSON(Body.self)
        let cart = try run(request, context) { connection, _ in
            .addItem(
                concertId: body.concertId, ticketLevelId: body.ticketLevelId, quantity: body.quantity,
                offer: try catalog.offer(body.concertId, body.ticketLevelId, connection))
        }
        return try .json(CartBody(cart: cart), status: 201)
    }

    func changeQuantity(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        struct Body: Decodable { let quantity: Int }
        try context.requireSignedIn()
        let body = try request.decodeJSON(Body.self)
        let (concertId, levelId) = item(request)
        let cart = try run(request, context, needsOpenCart: true) { connection, _ in
            .changeQuantity(
                concertId: concertId, ticketLevelId: levelId, quantity: body.quantity,
                offer: try catalog.offer(concertId, levelId, connection))
        }
        return try .json(CartBody(cart: cart))
    }

    func removeItem(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let (concertId, levelId) = item(request)
        let cart = try run(request, context, needsOpenCart: true) { _, _ in
            .removeItem(concertId: concertId, ticketLevelId: levelId)
        }
        return try .json(CartBody(cart: cart))
    }

    func chooseDelivery(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        try context.requireSignedIn()
        let body = try request.decodeJSON(DeliveryJSON.self)
        let cart = try run(request, context) { _, _ in .chooseDelivery(try body.delivery()) }
        return try .json(CartBody(cart: cart))
    }

    func cancel(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let user = try context.requireSignedIn()
        let cart = try context.database.with { connection in
            try cancel(userId: user.userId, request: request, on: connection)
            return try CartJSON.current(user.userId, connection)
        }
        return try .json(CartBody(cart: cart))
    }

    // MARK: Shared with the cart page

    /// Runs a command on the signed-in user's cart, opening one first unless `needsOpenCart`
    /// (then a missing cart is "no such item"); answers the cart as it is afterwards.
    @discardableResult
    func run(
        _ request: HTTPRequest, _ context: RequestContext, needsOpenCart: Bool = false,
        _ command: (Connection, String) throws -> ShoppingCart.Command
    ) throws -> CartJSON {
        let user = try context.requireSignedIn()
        return try context.database.with { connection in
            let carts = ShoppingCarts(connection: connection, store: store)
            if needsOpenCart, try carts.openCartId(userId: user.userId) == nil { throw CartError.itemNotInCart }
            _ = try carts.handle(
                userId: user.userId, try command(connection, user.userId),
                metadata: EventMetadata(correlationId: request.requestId, userId: user.userId))
            return try CartJSON.current(user.userId, connection)
        }
    }

    func cancel(userId: String, request: HTTPRequest, on connection: Connection) throws {
        try ShoppingCarts(connection: connection, store: store).cancelOpenCart(
            userId: userId, metadata: EventMetadata(correlationId: request.requestId, userId: userId))
    }

    func item(_ request: HTTPRequest) -> (concertId: String, levelId: String) {
        (request.routeParameters["concertId"] ?? "", request.routeParameters["levelId"] ?? "")
    }
}

/// A cart as the API shows it.
struct CartJSON: Encodable {
    struct Item: Encodable {
        let concertId: String
        let ticketLevelId: String
        let quantity: Int
        let unitPrice: Int
        let currency: String
    }
    struct Total: Encodable {
        let amount: Int
        let currency: String
    }
    struct Dropped: Encodable {
        let concertId: String
        let ticketLevelId: String
        let reason: String
    }
    let id: String?
    let items: [Item]
    let delivery: DeliveryJSON?
    let totals: [Total]
    let dropped: [Dropped]

    init(_ state: ShoppingCart.State, id: String?, dropped: [CartItemDropped]) {
        self.id = id
        items = state.items.map {
            .init(
                concertId: $0.concertId, ticketLevelId: $0.ticketLevelId, quantity: $0.quantity,
                unitPrice: $0.unitPrice, currency: $0.currency)
        }
        delivery = state.delivery.map(DeliveryJSON.init)
        totals = state.totals.map { .init(amount: $0.amount, currency: $0.currency) }
        self.dropped = dropped.map {
            .init(concertId: $0.concertId, ticketLevelId: $0.ticketLevelId, reason: $0.reason)
        }
    }

    /// The user's open cart (empty when there is none) and what it lost.
    static func current(_ userId: String, _ connection: Connection) throws -> CartJSON {
        let cart = try ShoppingCarts(connection: connection, inlineProjections: []).openCart(userId: userId)
        let dropped = try cart.id.map { try CartQueries.dropped(cartId: $0, on: connection) } ?? []
        return CartJSON(cart.state, id: cart.id, dropped: dropped)
    }
}

/// The delivery choice, in and out of the API.
struct DeliveryJSON: Codable {
    struct Address: Codable {
        let name: String
        let line1: String
        let line2: String?
        let postalCode: String
        let city: String
        let country: String
    }
    let method: String
    let email: String?
    let address: Address?

    init(method: String, email: String?, address: Address?) {
        self.method = method
        self.email = email
        self.address = address
    }

    init(_ delivery: Delivery) {
        switch delivery {
        case .online(let email):
            self.init(method: "online", email: email, address: nil)
        case .printed(let a):
            self.init(
                method: "printed", email: nil,
                address: .init(
                    name: a.name, line1: a.line1, line2: a.line2, postalCode: a.postalCode, city: a.city,
                    country: a.country))
        }
    }

    /// The validated choice; throws naming the field that is wrong.
    func delivery() throws -> Delivery {
        switch method {
        case "online": return try Delivery.online(validating: email ?? "")
        case "printed":
            guard let a = address else {
                throw CartError.invalid(field: "address", message: "Printed tickets need an address.")
            }
            return .printed(
                try PostalAddress(
                    name: a.name, line1: a.line1, line2: a.line2 ?? "", postalCode: a.postalCode, city: a.city,
                    country: a.country))
        default:
            throw CartError.invalid(field: "method", message: "The delivery method is online or printed.")
        }
    }
}

/// The ShoppingCarts context's errors, as the API answers them.
extension CartError: HTTPErrorConvertible {
    public var http: HTTPError {
        switch self {
        case .notFound: HTTPError(status: 404, code: "no_cart", message: "You have no open cart.")
        case .alreadyOpened: HTTPError(status: 409, code: "cart_exists", message: "You have an open cart already.")
        case .closed: HTTPError(status: 409, code: "cart_closed", message: "This cart is confirmed or cancelled.")
        case .itemAlreadyInCart:
            HTTPError(
                status: 409, code: "item_already_in_cart",
                message: "These tickets are in your cart already; change the quantity instead.")
        case .itemNotInCart: HTTPError(status: 404, code: "item_not_in_cart", message: "Your cart has no such item.")
        case .notEnoughTickets(let available):
            HTTPError(
                status: 409, code: "not_enough_tickets",
                message: available == 0 ? "These tickets are sold out." : "Only \(available) of these tickets are left."
            )
        case .empty: HTTPError(status: 409, code: "cart_empty", message: "Your cart is empty.")
        case .deliveryMissing:
            HTTPError(status: 409, code: "delivery_missing", message: "Choose how the tickets are delivered first.")
        case .currencyMismatch(let currency):
            HTTPError(
                status: 409, code: "currency_mismatch",
                message: "Your cart holds tickets priced in \(currency), and one payment is in one currency: "
                    + "pay for those first, or empty the cart.", field: "concertId")
        case .invalid(let field, let message): .invalid(field, message)
        }
    }
}
