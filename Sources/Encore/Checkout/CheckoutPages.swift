import Concerts
import EventStore
import Foundation
import Postgres
import Reservations
import ShoppingCarts
import Web

/// The cart, checkout and reservations pages. Every form works without JavaScript; a
/// successful post redirects (PRG), a failed one shows the cart with the error.
enum CheckoutPages {
    static func register(_ router: inout Router<RequestContext>) {
        router.get("/cart") { request, context in
            guard context.principal != nil else { return .redirect(to: "/signin?next=/cart", status: 303) }
            return try cartPage(context: context, notice: request.query["done"].map(notice))
        }

        router.post("/cart/items") { request, context in
            guard let user = context.principal else { return .redirect(to: "/signin?next=/cart", status: 303) }
            let form = request.form
            let concertId = form["concertId"] ?? ""
            let levelId = form["ticketLevelId"] ?? ""
            return try withCartErrors(context) {
                try context.database.with { connection in
                    let offer = try CartAPI.offer(concertId: concertId, levelId: levelId, on: connection)
                    let quantity = Int(form["quantity"] ?? "") ?? 0
                    let carts = CartAPI.carts(connection)
                    let state = try carts.openCart(userId: user.userId).state
                    let metadata = EventMetadata(correlationId: request.requestId, userId: user.userId)
                    if let existing = state.items.first(where: {
                        $0.concertId == concertId && $0.ticketLevelId == levelId
                    }) {
                        _ = try carts.handle(
                            userId: user.userId,
                            .changeQuantity(
                                concertId: concertId, ticketLevelId: levelId, quantity: existing.quantity + quantity,
                                offer: offer), metadata: metadata)
                    } else {
                        _ = try carts.handle(
                            userId: user.userId,
                            .addItem(concertId: concertId, ticketLevelId: levelId, quantity: quantity, offer: offer),
                            metadata: metadata)
                    }
                }
                return .redirect(to: "/cart?done=added")
            }
        }

        router.post("/cart/items/:concertId/:levelId") { request, context in
            let user = try context.requireSignedIn()
            let concertId = request.routeParameters["concertId"] ?? ""
            let levelId = request.routeParameters["levelId"] ?? ""
            return try withCartErrors(context) {
                try context.database.with { connection in
                    let metadata = EventMetadata(correlationId: request.requestId, userId: user.userId)
                    if request.form["remove"] != nil {
                        _ = try CartAPI.carts(connection).handle(
                            userId: user.userId, .removeItem(concertId: concertId, ticketLevelId: levelId),
                            metadata: metadata)
                    } else {
                        let offer = try CartAPI.offer(concertId: concertId, levelId: levelId, on: connection)
                        _ = try CartAPI.carts(connection).handle(
                            userId: user.userId,
                            .changeQuantity(
                                concertId: concertId, ticketLevelId: levelId,
                                quantity: Int(request.form["quantity"] ?? "") ?? 0, offer: offer), metadata: metadata)
                    }
                }
                return .redirect(to: "/cart?done=updated")
            }
        }

        router.post("/cart/delivery") { request, context in
            let user = try context.requireSignedIn()
            let form = request.form
            return try withCartErrors(context, typed: form) {
                let body = CartAPI.DeliveryJSON(
                    method: form["method"] ?? "", email: form["email"],
                    address: .init(
                        name: form["name"] ?? "", line1: form["line1"] ?? "", line2: form["line2"],
                        postalCode: form["postalCode"] ?? "", city: form["city"] ?? "", country: form["country"] ?? ""))
                try context.database.with { connection in
                    let choice = try CartAPI.delivery(from: body)
                    _ = try CartAPI.carts(connection).handle(
                        userId: user.userId, .chooseDelivery(choice),
                        metadata: EventMetadata(correlationId: request.requestId, userId: user.userId))
                }
                return .redirect(to: "/cart?done=delivery")
            }
        }

        router.post("/cart/confirm") { request, context in
            let user = try context.requireSignedIn()
            return try withCartErrors(context) {
                let result = try Checkout.confirm(userId: user.userId, requestId: request.requestId, context: context)
                return .redirect(to: "/checkout/\(result.checkout.id)")
            }
        }

        router.post("/cart/cancel") { request, context in
            let user = try context.requireSignedIn()
            try context.database.with { connection in
                let carts = CartAPI.carts(connection)
                let open = try carts.openCart(userId: user.userId)
                if let id = open.id {
                    try connection.transaction { _ in
                        try carts.close(
                            userId: user.userId, cartId: id, expectedVersion: open.version, state: open.state,
                            .cancel(now: Date()),
                            metadata: EventMetadata(correlationId: request.requestId, userId: user.userId))
                    }
                }
            }
            return .redirect(to: "/cart?done=emptied")
        }

        router.get("/checkout/:id") { request, context in
            let user = try context.requireSignedIn()
            let id = request.routeParameters["id"] ?? ""
            let reservations = try context.database.with { try ReservationQueries.forCheckout(id, on: $0) }
                .filter { $0.userId == user.userId }
            guard let first = reservations.first else {
                throw HTTPError(status: 404, code: "unknown_checkout", message: "You have no such checkout.")
            }
            let groups = try context.database.with { connection in try reservations.map { try group($0, connection) } }
            var totals: [String: Int] = [:]
            for reservation in reservations {
                for item in reservation.items { totals[item.currency, default: 0] += item.quantity * item.unitPrice }
            }
            return try context.page(
                "checkout", title: "Checkout",
                [
                    "id": id, "reservations": groups,
                    "expiresAtISO": DateText.rfc3339(first.expiresAt),
                    "held": first.status == "held",
                    "secondsLeft": max(0, Int(first.expiresAt.timeIntervalSinceNow)),
                    "totals": totals.keys.sorted().map { ["amount": money(totals[$0]!, $0)] },
                ])
        }

        router.get("/reservations") { _, context in
            guard let user = context.principal else { return .redirect(to: "/signin?next=/reservations", status: 303) }
            let list = try context.database.with { connection in
                try ReservationQueries.mine(userId: user.userId, on: connection).map { try group($0, connection) }
            }
            return try context.page(
                "reservations", title: "Your reservations", ["reservations": list, "hasAny": !list.isEmpty])
        }

        router.post("/reservations/:id/cancel") { request, context in
            let user = try context.requireSignedIn()
            _ = try ReservationsAPI.cancel(
                request.routeParameters["id"] ?? "", user: user, requestId: request.requestId, context: context,
                errors: ReservationErrors.http)
            return .redirect(to: "/reservations")
        }
    }

    static func notice(_ key: String) -> String {
        switch key {
        case "added": "Added to your cart."
        case "updated": "Your cart is updated."
        case "delivery": "Delivery saved."
        case "emptied": "Your cart is empty again."
        default: "Saved."
        }
    }

    static func money(_ amount: Int, _ currency: String) -> String {
        "\(amount / 100).\(amount % 100 < 10 ? "0" : "")\(amount % 100) \(currency)"
    }

    static func group(_ reservation: ReservationView, _ connection: Connection) throws -> [String: Any] {
        let concert = try ConcertQueries.find(id: reservation.concertId, on: connection)
        return [
            "id": reservation.id, "status": reservation.status, "held": reservation.status == "held",
            "checkoutId": reservation.checkoutId,
            "artist": concert?.artist ?? reservation.concertId, "city": concert?.city ?? "",
            "expiresAt": EventFormatter.timestamp(reservation.expiresAt),
            "items": reservation.items.map { item in
                [
                    "level": concert?.ticketLevels.first { $0.id == item.ticketLevelId }?.name ?? item.ticketLevelId,
                    "quantity": item.quantity, "price": money(item.unitPrice, item.currency),
                ] as [String: Any]
            },
        ]
    }

    /// Runs a cart action; a business error shows the cart page with the message.
    static func withCartErrors(
        _ context: RequestContext, typed: [String: String] = [:], _ body: () throws -> HTTPResponse
    ) throws -> HTTPResponse {
        do {
            return try body()
        } catch let error as CartError {
            return try cartPage(context: context, error: CartErrors.http(error), typed: typed)
        } catch let error as HTTPError where [404, 409, 422].contains(error.status) {
            return try cartPage(context: context, error: error, typed: typed)
        }
    }

    static func cartPage(
        context: RequestContext, error: HTTPError? = nil, typed: [String: String] = [:], notice: String? = nil
    ) throws -> HTTPResponse {
        let user = try context.requireSignedIn()
        let (cart, names) = try context.database.with { connection -> (CartAPI.CartJSON, [String: (String, String)]) in
            let cart = try CartAPI.current(user.userId, connection)
            var names: [String: (String, String)] = [:]
            for concertId in Set(cart.items.map(\.concertId) + cart.dropped.map(\.concertId)) {
                if let concert = try ConcertQueries.find(id: concertId, on: connection) {
                    for level in concert.ticketLevels {
                        names["\(concertId)/\(level.id)"] = (concert.artist, level.name)
                    }
                }
            }
            return (cart, names)
        }
        var data: [String: Any] = [
            "items": cart.items.map { item -> [String: Any] in
                let name = names["\(item.concertId)/\(item.ticketLevelId)"]
                return [
                    "concertId": item.concertId, "levelId": item.ticketLevelId, "quantity": item.quantity,
                    "artist": name?.0 ?? item.concertId, "level": name?.1 ?? item.ticketLevelId,
                    "price": money(item.unitPrice, item.currency),
                    "subtotal": money(item.unitPrice * item.quantity, item.currency),
                ]
            },
            "hasItems": !cart.items.isEmpty,
            "totals": cart.totals.map { ["amount": money($0.amount, $0.currency)] },
            "dropped": cart.dropped.map { d -> [String: Any] in
                let name = names["\(d.concertId)/\(d.ticketLevelId)"]
                return ["artist": name?.0 ?? d.concertId, "level": name?.1 ?? d.ticketLevelId]
            },
            "online": cart.delivery?.method != "printed",
            "printed": cart.delivery?.method == "printed",
            "email": typed["email"] ?? cart.delivery?.email ?? user.email,
            "hasDelivery": cart.delivery != nil,
        ]
        let address = cart.delivery?.address
        for (key, value) in [
            ("name", address?.name ?? user.name), ("line1", address?.line1 ?? ""), ("line2", address?.line2 ?? ""),
            ("postalCode", address?.postalCode ?? ""), ("city", address?.city ?? ""),
            ("country", address?.country ?? "PL"),
        ] {
            data[key] = typed[key] ?? value
        }
        if let notice { data["notice"] = notice }
        if let error {
            data["error"] = error.message
            if let field = error.field {
                data["error_\(field.replacingOccurrences(of: "address.", with: ""))"] = error.message
            }
        }
        var response = try context.page("cart", title: "Your cart", data)
        if let error { response.status = error.status }
        return response
    }
}
