import Concerts
import EventStore
import Foundation
import Postgres
import Reservations
import ShoppingCarts
import Web

/// Sales: the flows that cross contexts. The checkout, which holds a cart's tickets and closes
/// it in one transaction, and the process managers that carry one context's events into
/// another's commands, each in a file of its own under `ProcessManagers/`.
public struct SalesContext: BoundedContext {
    public let catalog: ConcertCatalog
    public let carts: ShoppingCartsContext
    /// How long a confirmed cart's tickets stay held, unpaid.
    public let holdTime: TimeInterval

    public init(catalog: ConcertCatalog, carts: ShoppingCartsContext, holdTime: TimeInterval) {
        self.catalog = catalog
        self.carts = carts
        self.holdTime = holdTime
    }

    public var name: String { "sales" }
    public var resources: URL? { Bundle.module.resourceURL }

    public func routes(_ router: inout Router<RequestContext>, store: StoreSetup) {
        let checkout = Checkout(store: store, holdTime: holdTime, catalog: catalog)
        CheckoutRoutes(checkout: checkout, catalog: catalog, carts: carts).add(to: &router)
    }

    public func backgroundProjections(store: StoreSetup) -> [any Projection] {
        [ConcertSalesManager(store: store)]
    }
}
