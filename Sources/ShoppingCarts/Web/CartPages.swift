import EventStore
import Foundation
import Postgres
import Web

/// The cart page and its forms. Every form works without JavaScript; a successful post
/// redirects (PRG), a failed one shows the cart with the error.
struct CartPages: Sendable {
    let api: CartAPI

    func add(to router: inout Router<RequestContext>) {
        router.get("/cart", show)
        router.post("/cart/items", addItem)
        router.post("/cart/items/:concertId/:levelId", changeItem)
        router.post("/cart/delivery", chooseDelivery)
        router.post("/cart/cancel") { request, context in
            let user = try context.requireSignedIn()
            try context.database.with { try api.cancel(userId: user.userId, request: request, on: $0) }
            return .redirect(to: "/cart?done=emptied")
        }
    }

    func show(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        guard context.principal != nil else { return .redirect(to: "/signin?next=/cart", status: 303) }
        return try cartPage(context: context, notice: request.query["done"].flatMap(notice))
    }

    /// Adds tickets from a concert's page: a level already in the cart gets that many more.
    func addItem(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        guard context.principal != nil else { return .redirect(to: "/signin?next=/cart", status: 303) }
        let form = request.form
        let concertId = form["concertId"] ?? ""
        let levelId = form["ticketLevelId"] ?? ""
        return try answering(context) {
            try api.run(request, context) { connection, _ in
                .addMore(
                    concertId: concertId, ticketLevelId: levelId, quantity: quantity(form),
                    offer: try api.catalog.offer(concertId, levelId, connection))
            }
            return .redirect(to: "/cart?done=added")
        }
    }

    /// The quantity form of a line, or its remove button.
    func changeItem(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let (concertId, levelId) = api.item(request)
        let form = request.form
        return try answering(context) {
            try api.run(request, context, needsOpenCart: true) { connection, _ in
                if form["remove"] != nil { return .removeItem(concertId: concertId, ticketLevelId: levelId) }
                return .changeQuantity(
                    concertId: concertId, ticketLevelId: levelId, quantity: quantity(form),
                    offer: try api.catalog.offer(concertId, levelId, connection))
            }
            return .redirect(to: "/cart?done=updated")
        }
    }

    func chooseDelivery(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let form = request.form
        let choice = DeliveryJSON(
            method: form["method"] ?? "", email: form["email"],
            address: .init(
                name: form["name"] ?? "", line1: form["line1"] ?? "", line2: form["line2"],
                postalCode: form["postalCode"] ?? "", city: form["city"] ?? "", country: form["country"] ?? ""))
        return try answering(context, typed: form) {
            try api.run(request, context) { _, _ in .chooseDelivery(try choice.delivery()) }
            return .redirect(to: "/cart?done=delivery")
        }
    }

    /// A quantity field; anything that is not a small whole number is 0, which the cart refuses.
    func quantity(_ form: [String: String]) -> Int {
        let text = form["quantity"] ?? ""
        return text.count <= 6 ? Int(text) ?? 0 : 0
    }

    func answering(_ context: RequestContext, typed: [String: String] = [:], _ action: () throws -> HTTPResponse)
        throws -> HTTPResponse
    {
        try HTTPError.answering(action) { error in try cartPage(context: context, error: error, typed: typed) }
    }

    func notice(_ key: String) -> String? {
        switch key {
        case "added": "Added to your cart."
        case "updated": "Your cart is updated."
        case "delivery": "Delivery saved."
        case "emptied": "Your cart is empty again."
        default: nil
        }
    }

    struct CartPage: Encodable {
        struct Line: Encodable {
            let concertId: String
            let levelId: String
            let quantity: Int
            let artist: String
            let level: String
            let price: String
            let subtotal: String
        }
        struct Dropped: Encodable {
            let artist: String
            let level: String
        }
        let notice: String?
        let error: String?
        let items: [Line]
        let hasItems: Bool
        let totals: [String]
        let dropped: [Dropped]
        let online: Bool
        let printed: Bool
        let hasDelivery: Bool
        /// The delivery fields: what was typed, else what is saved, else from the account.
        let typed: FormFields
        let errors: FormFields
    }

    func cartPage(
        context: RequestContext, error: HTTPError? = nil, typed: [String: String] = [:], notice: String? = nil
    ) throws -> HTTPResponse {
        try Self.cartPage(context: context, catalog: api.catalog, error: error, typed: typed, notice: notice)
    }

    static func cartPage(
        context: RequestContext, catalog: CartCatalog, error: HTTPError? = nil, typed: [String: String] = [:],
        notice: String? = nil
    ) throws -> HTTPResponse {
        let user = try context.requireSignedIn()
        let (cart, labels) = try context.database.with { connection in
            let cart = try CartJSON.current(user.userId, connection)
            let concerts = Set(cart.items.map(\.concertId) + cart.dropped.map(\.concertId))
            return (cart, try catalog.labels(Array(concerts), connection))
        }
        func names(_ concertId: String, _ levelId: String) -> (String, String) {
            let label = labels[concertId]
            return (label?.artist ?? concertId, label?.levels[levelId] ?? levelId)
        }
        let address = cart.delivery?.address
        var fields = [
            "email": cart.delivery?.email ?? user.email, "name": address?.name ?? user.name,
            "line1": address?.line1 ?? "", "line2": address?.line2 ?? "", "postalCode": address?.postalCode ?? "",
            "city": address?.city ?? "", "country": address?.country ?? "PL",
        ]
        for (key, value) in typed where fields[key] != nil { fields[key] = value }
        let page = CartPage(
            notice: notice, error: error?.message,
            items: cart.items.map { item in
                let (artist, level) = names(item.concertId, item.ticketLevelId)
                return .init(
                    concertId: item.concertId, levelId: item.ticketLevelId, quantity: item.quantity, artist: artist,
                    level: level, price: MoneyText.display(item.unitPrice, item.currency),
                    subtotal: MoneyText.display(item.unitPrice * item.quantity, item.currency))
            }, hasItems: !cart.items.isEmpty, totals: cart.totals.map { MoneyText.display($0.amount, $0.currency) },
            dropped: cart.dropped.map {
                let (artist, level) = names($0.concertId, $0.ticketLevelId)
                return .init(artist: artist, level: level)
            }, online: cart.delivery?.method != "printed", printed: cart.delivery?.method == "printed",
            hasDelivery: cart.delivery != nil, typed: FormFields(fields), errors: FormFields(error: error))
        return try context.page("cart", title: "Your cart", page)
    }
}
