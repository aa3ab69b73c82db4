import EventStore
import Foundation
import Postgres
import Web

/// The ShoppingCarts context as the composition root wires it: one open cart per customer,
/// its items and delivery choice. Confirming a cart is the checkout's (Sales).
public struct ShoppingCartsContext: BoundedContext {
    /// Prices, what is left and names of the levels a cart holds, from the Concerts context.
    public let catalog: CartCatalog

    public init(catalog: CartCatalog) {
        self.catalog = catalog
    }

    public var name: String { "shopping-carts" }
    public var migrations: [Migration] { ShoppingCartsSchema.migrations }
    public var inlineProjections: [any Projection] { [CartsProjection()] }
    public var resources: URL? { Bundle.module.resourceURL }

    public func routes(_ router: inout Router<RequestContext>, store: StoreSetup) {
        let api = CartAPI(store: store, catalog: catalog)
        api.add(to: &router)
        CartPages(api: api).add(to: &router)
    }

    /// The cart page, with an error above it: what a failed confirmation shows.
    public func cartPage(context: RequestContext, error: HTTPError) throws -> HTTPResponse {
        var page = try CartPages.cartPage(context: context, catalog: catalog, error: error)
        page.status = error.status
        return page
    }
}

/// What a cart needs to know of concerts. The Concerts context provides it.
public struct CartCatalog: Sendable {
    /// The price, currency and tickets left of a level. Throws an error with an HTTP face when
    /// the concert or level does not exist or the concert is cancelled.
    public let offer:
        @Sendable (_ concertId: String, _ ticketLevelId: String, _ connection: Connection) throws ->
            ShoppingCart
            .LevelOffer
    /// The names to show for concerts: the artist and each level's name by level id.
    public let labels: @Sendable (_ concertIds: [String], _ connection: Connection) throws -> [String: ConcertLabel]

    public init(
        offer: @escaping @Sendable (String, String, Connection) throws -> ShoppingCart.LevelOffer,
        labels: @escaping @Sendable ([String], Connection) throws -> [String: ConcertLabel]
    ) {
        self.offer = offer
        self.labels = labels
    }
}

/// A concert's name and its levels' names, for showing a cart.
public struct ConcertLabel: Sendable, Equatable {
    public let artist: String
    public let levels: [String: String]

    public init(artist: String, levels: [String: String]) {
        self.artist = artist
        self.levels = levels
    }
}
