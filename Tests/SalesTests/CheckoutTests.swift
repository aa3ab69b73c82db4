import Concerts
import EventStore
import Foundation
import Identity
import Mail
import Orders
import Payments
import Postgres
import Reservations
import ShoppingCarts
import Stripe
import TestSupport
import Testing
import TicketDelivery
import WaitingLists
import Web

@testable import Sales

/// A principal for a test's customer.
func buyer(_ userId: String) -> Principal {
    Principal(
        userId: userId, email: "\(userId)@example.com", name: userId.capitalized, role: .customer, sessionKey: "s",
        csrfToken: "t", credential: .bearer)
}

/// The localstripe bin/test runs (ENCORE_STRIPE_API_BASE), as the payment gateway.
enum Localstripe {
    static var base: String { ProcessInfo.processInfo.environment["ENCORE_STRIPE_API_BASE"] ?? "http://127.0.0.1:8421" }
    static let gateway = StripeGateway(
        configuration: StripeClient.Configuration(baseURL: base, secretKey: StripeSecret("sk_test_encore_sales")),
        browser: GatewayBrowserSettings(
            publishableKey: "pk_test_encore_sales", stripeJSURL: base + "/js.stripe.com/v3/"))
}

/// The checkout against a real database: given concerts on sale and a customer's cart, when the
/// cart is confirmed, then every item is held (and the cart closed) or nothing is.
@Suite struct CheckoutTests {
    /// Everything a checkout touches: the event store, carts, availability, reservations, concerts.
    static let inline: [any Projection] = [
        ConcertsProjection(), AvailabilityProjection(), ReservationsProjection(), CartsProjection(), OrdersProjection(),
        PaymentsProjection(), TicketsProjection(), WaitingListProjection(),
    ]

    struct World {
        let url: String
        let connection: Connection
        let store: StoreSetup
        let checkout: Checkout
        let catalog: ConcertCatalog

        let payments: PaymentsContext
        let tickets: TicketDeliveryContext

        init(_ name: String = #function, holdTime: TimeInterval = 900) throws {
            url = try TestDatabases.fresh(
                prefix: "encore_sales_t", name,
                migrations: EventStoreSchema.migrations + ShoppingCartsSchema.migrations + OrdersSchema.migrations
                    + PaymentsSchema.migrations + TicketDeliverySchema.migrations,
                projections: CheckoutTests.inline)
            connection = try Connection(url: url)
            store = StoreSetup(inlineProjections: CheckoutTests.inline)
            catalog = ConcertCatalog(ticketCounts: .none)
            payments = PaymentsContext(
                gateway: Localstripe.gateway, webhooks: StripeWebhook(commaSeparatedSecrets: "whsec_test"),
                reconcileAfter: 60)
            checkout = Checkout(store: store, holdTime: holdTime, catalog: catalog, payments: payments)
            tickets = TicketDeliveryContext(
                concerts: TicketConcerts { _, _ in nil },
                mail: TicketMailSettings(
                    from: Mailbox("tickets@encore.test", name: "Encore"), publicURL: "https://tickets.encore.test",
                    codes: TicketCodes(commaSeparatedKeys: String(repeating: "s", count: 32))),
                mailer: MailerSettings(smtp: .init(host: "127.0.0.1", port: 1), retryMax: 2))
        }

        func confirm(_ userId: String, on connection: Connection? = nil) throws -> [ReservationHeld] {
            try checkout.confirm(buyer: buyer(userId), requestId: "r-\(userId)", on: connection ?? self.connection)
        }

        /// A concert on sale: created, and its availability set by the process manager, as
        /// `ConcertSalesManager` does from the concert's events.
        func concert(_ id: String, artist: String, levels: [(String, Int, Int)]) throws {
            try ConcertCommands(connection: connection, store: store).create(
                organiserId: "organiser",
                details: try ConcertDetails(
                    artist: artist, title: "", venue: "Arena", city: "Warsaw",
                    startsAt: Date().addingTimeInterval(86_400)),
                currency: "PLN",
                ticketLevels: try levels.map {
                    try TicketLevel(id: $0.0, name: $0.0.capitalized, capacity: $0.1, price: $0.2)
                },
                concertId: id)
            try runSalesManager(id)
        }

        /// Runs the process manager over a concert's events, as the projection daemon would.
        func runSalesManager(_ concertId: String) throws {
            let events = try EventStore(connection: connection).readStream(Concert.streamId(concertId))
            try connection.transaction { tx in
                try ConcertSalesManager(store: store).apply(
                    events, to: ProjectionTarget(connection: tx, schema: "public", isRebuild: false))
            }
        }

        /// Puts tickets into a user's cart and chooses online delivery.
        func cart(_ userId: String, _ items: [(String, String, Int)]) throws {
            let carts = ShoppingCarts(connection: connection, store: store)
            for (concertId, levelId, quantity) in items {
                let level = try catalog.levelOnSale(concertId: concertId, levelId: levelId, on: connection)
                _ = try carts.handle(
                    userId: userId,
                    .addItem(
                        concertId: concertId, ticketLevelId: levelId, quantity: quantity,
                        offer: .init(unitPrice: level.price, currency: level.currency, available: level.available)))
            }
            _ = try carts.handle(
                userId: userId, .chooseDelivery(try Delivery.online(validating: "\(userId)@example.com")))
        }

        func held(_ concertId: String, _ levelId: String) throws -> Int {
            try TestDatabases.count(
                "SELECT coalesce(sum(held), 0)::int AS n FROM availability_shards WHERE concert_id = '\(concertId)' AND level_id = '\(levelId)'",
                on: connection)
        }

        func openCart(_ userId: String) throws -> String? {
            try ShoppingCarts(connection: connection, store: store).openCartId(userId: userId)
        }
    }

    @Test func aCartOfTwoConcertsHoldsEachConcertsTicketsAndClosesTheCart() throws {
        let world = try World()
        try world.concert("beyonce", artist: "Beyoncé", levels: [("golden", 100, 89_900), ("regular", 500, 45_000)])
        try world.concert("dua", artist: "Dua Lipa", levels: [("standing", 50, 39_900)])
        try world.cart("ann", [("beyonce", "golden", 2), ("beyonce", "regular", 3), ("dua", "standing", 4)])
        let cartId = try #require(try world.openCart("ann"))

        let held = try world.confirm("ann")

        #expect(held.map(\.concertId).sorted() == ["beyonce", "dua"])
        #expect(Set(held.map(\.checkoutId)).count == 1)
        #expect(try world.held("beyonce", "golden") == 2)
        #expect(try world.held("beyonce", "regular") == 3)
        #expect(try world.held("dua", "standing") == 4)
        #expect(try world.openCart("ann") == nil)
        let cartEvents = try EventStore(connection: world.connection).readStream(ShoppingCart.streamId(cartId))
        #expect(cartEvents.last?.eventType == CartConfirmed.eventType)
    }

    @Test func aLevelThatFallsShortHoldsNothingAndNamesTheLevel() throws {
        let world = try World()
        try world.concert("beyonce", artist: "Beyoncé", levels: [("golden", 3, 89_900), ("regular", 500, 45_000)])
        try world.cart("ann", [("beyonce", "regular", 2), ("beyonce", "golden", 3)])
        try world.cart("bob", [("beyonce", "golden", 2)])
        _ = try world.confirm("ann")

        #expect {
            try world.confirm("bob")
        } throws: { error in
            let http = HTTPError.face(of: error)
            return http?.code == "not_enough_tickets"
                && http?.message == "Golden for Beyoncé is sold out. Nothing was reserved."
                && http?.details["ticketLevelId"] == "golden"
        }
        #expect(try world.held("beyonce", "golden") == 3)
        #expect(try world.openCart("bob") != nil, "the refused cart stays open")
    }

    @Test func anEmptyCartOrOneWithoutDeliveryIsRefused() throws {
        let world = try World()
        try world.concert("dua", artist: "Dua Lipa", levels: [("standing", 50, 39_900)])
        #expect(throws: CartError.empty) { try world.confirm("nobody") }
        let level = try world.catalog.levelOnSale(concertId: "dua", levelId: "standing", on: world.connection)
        _ = try ShoppingCarts(connection: world.connection, store: world.store).handle(
            userId: "cy",
            .addItem(
                concertId: "dua", ticketLevelId: "standing", quantity: 1,
                offer: .init(unitPrice: level.price, currency: level.currency, available: level.available)))
        #expect(throws: CartError.deliveryMissing) {
            try world.confirm("cy")
        }
        #expect(try world.held("dua", "standing") == 0)
    }

    @Test func manyCustomersAtOnceNeverHoldMoreThanTheCapacity() throws {
        let world = try World()
        try world.concert("dua", artist: "Dua Lipa", levels: [("standing", 30, 39_900)])
        let customers = (0..<24).map { "fan\($0)" }
        for customer in customers { try world.cart(customer, [("dua", "standing", 2)]) }
        let url = world.connection.url
        let outcomes = Locked([String: String]())
        onThreads(customers.count) { index in
            let outcome: String
            do {
                let connection = try Connection(url: url)
                _ = try world.confirm(customers[index], on: connection)
                outcome = "held"
            } catch {
                outcome = HTTPError.face(of: error)?.code ?? "\(error)"
            }
            outcomes.withLock { $0[customers[index]] = outcome }
        }
        let held = outcomes.value.values.filter { $0 == "held" }.count
        #expect(held == 15, "30 tickets, 2 each: \(outcomes.value)")
        #expect(outcomes.value.values.allSatisfy { $0 == "held" || $0 == "not_enough_tickets" }, "\(outcomes.value)")
        #expect(try world.held("dua", "standing") == 30)
    }

    @Test func aCancelledConcertLeavesEveryOpenCartAndClosesItsSales() throws {
        let world = try World()
        try world.concert("dua", artist: "Dua Lipa", levels: [("standing", 50, 39_900)])
        try world.concert("beyonce", artist: "Beyoncé", levels: [("regular", 50, 45_000)])
        try world.cart("ann", [("dua", "standing", 2), ("beyonce", "regular", 1)])
        try ConcertCommands(connection: world.connection, store: world.store).cancel("dua", by: "organiser")
        try world.runSalesManager("dua")
        try world.runSalesManager("dua")  // replayed: no second effect

        let cart = try ShoppingCarts(connection: world.connection, store: world.store).openCart(userId: "ann")
        #expect(cart.state.items.map(\.concertId) == ["beyonce"])
        #expect(try CartQueries.dropped(cartId: try #require(cart.id), on: world.connection).count == 1)
        #expect(
            try TestDatabases.count(
                "SELECT count(*)::int AS n FROM availability_shards WHERE concert_id = 'dua' AND NOT closed",
                on: world.connection) == 0)
    }
}
