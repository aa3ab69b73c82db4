import Concerts
import EventStore
import Foundation
import Postgres
import Reservations
import ShoppingCarts
import Web

/// The cart's JSON API (see API.md). Every route needs a signed-in user; the cart is theirs.
enum CartAPI {
    struct CartBody: Encodable {
        let cart: CartJSON
    }

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
    }

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
    }

    static func json(_ state: ShoppingCart.State, id: String?, dropped: [CartItemDropped]) -> CartJSON {
        var totals: [String: Int] = [:]
        for item in state.items { totals[item.currency, default: 0] += item.quantity * item.unitPrice }
        let delivery: DeliveryJSON? = state.delivery.map {
            switch $0 {
            case .online(let email): DeliveryJSON(method: "online", email: email, address: nil)
            case .printed(let a):
                DeliveryJSON(
                    method: "printed", email: nil,
                    address: .init(
                        name: a.name, line1: a.line1, line2: a.line2, postalCode: a.postalCode, city: a.city,
                        country: a.country))
            }
        }
        return CartJSON(
            id: id,
            items: state.items.map {
                .init(
                    concertId: $0.concertId, ticketLevelId: $0.ticketLevelId, quantity: $0.quantity,
                    unitPrice: $0.unitPrice, currency: $0.currency)
            },
            delivery: delivery,
            totals: totals.keys.sorted().map { .init(amount: totals[$0]!, currency: $0) },
            dropped: dropped.map { .init(concertId: $0.concertId, ticketLevelId: $0.ticketLevelId, reason: $0.reason) })
    }

    static func carts(_ connection: Connection) -> ShoppingCarts {
        ShoppingCarts(
            connection: connection, inlineProjections: ProjectionRegistry.shared.inline, groupCommit: .shared)
    }

    /// The price and what is left of a level, for the cart's rules.
    static func offer(concertId: String, levelId: String, on connection: Connection) throws -> ShoppingCart.LevelOffer {
        guard let concert = try ConcertQueries.find(id: concertId, on: connection) else {
            throw HTTPError(
                status: 404, code: "unknown_concert", message: "There is no such concert.", field: "concertId")
        }
        guard !concert.isCancelled else {
            throw HTTPError(status: 409, code: "concert_cancelled", message: "This concert is cancelled.")
        }
        guard let level = concert.ticketLevels.first(where: { $0.id == levelId }) else {
            throw HTTPError(
                status: 404, code: "unknown_ticket_level", message: "The concert has no such ticket level.",
                field: "ticketLevelId")
        }
        return ShoppingCart.LevelOffer(unitPrice: level.price, currency: concert.currency, available: level.available)
    }

    static func current(_ userId: String, _ connection: Connection) throws -> CartJSON {
        let cart = try carts(connection).openCart(userId: userId)
        let dropped = try cart.id.map { try CartQueries.dropped(cartId: $0, on: connection) } ?? []
        return json(cart.state, id: cart.id, dropped: dropped)
    }

    static func mapping<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CartError {
            throw CartErrors.http(error)
        }
    }

    static func delivery(from body: DeliveryJSON) throws -> Delivery {
        switch body.method {
        case "online": return try Delivery.online(validating: body.email ?? "")
        case "printed":
            guard let a = body.address else {
                throw HTTPError(
                    status: 422, code: "invalid_field", message: "Printed tickets need an address.", field: "address")
            }
            return .printed(
                try PostalAddress(
                    name: a.name, line1: a.line1, line2: a.line2 ?? "", postalCode: a.postalCode, city: a.city,
                    country: a.country))
        default:
            throw HTTPError(
                status: 422, code: "invalid_field", message: "The delivery method is online or printed.",
                field: "method")
        }
    }

    static func register(_ router: inout Router<RequestContext>) {
        router.get("/api/cart") { _, context in
            let user = try context.requireSignedIn()
            return try .json(CartBody(cart: try context.database.with { try current(user.userId, $0) }))
        }

        router.post("/api/cart/items") { request, context in
            struct Body: Decodable {
                let concertId: String
                let ticketLevelId: String
                let quantity: Int
            }
            let user = try context.requireSignedIn()
            let body = try request.decodeJSON(Body.self)
            let cart = try context.database.with { connection in
                let offer = try offer(concertId: body.concertId, levelId: body.ticketLevelId, on: connection)
                return try mapping {
                    _ = try carts(connection).handle(
                        userId: user.userId,
                        .addItem(
                            concertId: body.concertId, ticketLevelId: body.ticketLevelId, quantity: body.quantity,
                            offer: offer),
                        metadata: EventMetadata(correlationId: request.requestId, userId: user.userId))
                    return try current(user.userId, connection)
                }
            }
            return try .json(CartBody(cart: cart), status: 201)
        }

        router.patch("/api/cart/items/:concertId/:levelId") { request, context in
            struct Body: Decodable { let quantity: Int }
            let user = try context.requireSignedIn()
            let body = try request.decodeJSON(Body.self)
            let concertId = request.routeParameters["concertId"] ?? ""
            let levelId = request.routeParameters["levelId"] ?? ""
            let cart = try context.database.with { connection in
                let offer = try offer(concertId: concertId, levelId: levelId, on: connection)
                return try mapping {
                    guard try carts(connection).openCartId(userId: user.userId) != nil else {
                        throw CartError.itemNotInCart
                    }
                    _ = try carts(connection).handle(
                        userId: user.userId,
                        .changeQuantity(
                            concertId: concertId, ticketLevelId: levelId, quantity: body.quantity, offer: offer),
                        metadata: EventMetadata(correlationId: request.requestId, userId: user.userId))
                    return try current(user.userId, connection)
                }
            }
            return try .json(CartBody(cart: cart))
        }

        router.delete("/api/cart/items/:concertId/:levelId") { request, context in
            let user = try context.requireSignedIn()
            let cart = try context.database.with { connection in
                try mapping {
                    guard try carts(connection).openCartId(userId: user.userId) != nil else {
                        throw CartError.itemNotInCart
                    }
                    _ = try carts(connection).handle(
                        userId: user.userId,
                        .removeItem(
                            concertId: request.routeParameters["concertId"] ?? "",
                            ticketLevelId: request.routeParameters["levelId"] ?? ""),
                        metadata: EventMetadata(correlationId: request.requestId, userId: user.userId))
                    return try current(user.userId, connection)
                }
            }
            return try .json(CartBody(cart: cart))
        }

        router.put("/api/cart/delivery") { request, context in
            let user = try context.requireSignedIn()
            let body = try request.decodeJSON(DeliveryJSON.self)
            let cart = try context.database.with { connection in
                try mapping {
                    let choice = try delivery(from: body)
                    _ = try carts(connection).handle(
                        userId: user.userId, .chooseDelivery(choice),
                        metadata: EventMetadata(correlationId: request.requestId, userId: user.userId))
                    return try current(user.userId, connection)
                }
            }
            return try .json(CartBody(cart: cart))
        }

        router.post("/api/cart/confirm") { request, context in
            let user = try context.requireSignedIn()
            return try .json(
                Checkout.confirm(userId: user.userId, requestId: request.requestId, context: context), status: 201)
        }

        router.post("/api/cart/cancel") { request, context in
            let user = try context.requireSignedIn()
            let cart = try context.database.with { connection in
                let carts = carts(connection)
                let open = try carts.openCart(userId: user.userId)
                if let id = open.id {
                    try connection.transaction { _ in
                        try carts.close(
                            userId: user.userId, cartId: id, expectedVersion: open.version, state: open.state,
                            .cancel(now: Date()),
                            metadata: EventMetadata(correlationId: request.requestId, userId: user.userId))
                    }
                }
                return try current(user.userId, connection)
            }
            return try .json(CartBody(cart: cart))
        }
    }
}
