import Concerts
import EventStore
import Foundation
import Orders
import Payments
import Postgres
import Reservations
import ShoppingCarts
import TicketDelivery
import WaitingLists
import Web

/// Sales: the flows that cross contexts. The checkout, which holds a cart's tickets and closes
/// it in one transaction, the process managers that carry one context's events into
/// another's commands, each in a file of its own under `ProcessManagers/`, and the organiser's
/// dashboard of a concert (`Dashboard/`), a page that composes several contexts' read models.
public struct SalesContext: BoundedContext {
    public let catalog: ConcertCatalog
    public let carts: ShoppingCartsContext
    public let orders: OrdersContext
    public let payments: PaymentsContext
    public let tickets: TicketDeliveryContext
    public let waitingLists: WaitingListsContext
    /// How long a confirmed cart's tickets stay held, unpaid.
    public let holdTime: TimeInterval

    public init(
        catalog: ConcertCatalog, carts: ShoppingCartsContext, orders: OrdersContext, payments: PaymentsContext,
        tickets: TicketDeliveryContext, waitingLists: WaitingListsContext, holdTime: TimeInterval
    ) {
        self.catalog = catalog
        self.carts = carts
        self.orders = orders
        self.payments = payments
        self.tickets = tickets
        self.waitingLists = waitingLists
        self.holdTime = holdTime
    }

    public var name: String { "sales" }
    public var resources: URL? { Bundle.module.resourceURL }

    public func routes(_ router: inout Router<RequestContext>, store: StoreSetup) {
        let checkout = Checkout(store: store, holdTime: holdTime, catalog: catalog, payments: payments)
        let api = CheckoutAPI(checkout: checkout, payments: payments, orders: orders)
        api.add(to: &router)
        CheckoutPages(api: api, catalog: catalog, carts: carts).add(to: &router)
        ConcertDashboard(catalog: catalog, access: orders.access).add(to: &router)
    }

    /// The process managers, one file each under `ProcessManagers/`.
    public func backgroundProjections(store: StoreSetup) -> [any Projection] {
        let gateway = payments.gateway
        return [
            ConcertSalesManager(store: store),
            PaymentSettlement(store: store, gateway: gateway),
            PaymentCompensation(store: store, gateway: gateway),
            HoldEnding(store: store, gateway: gateway),
            RefundSettlement(store: store),
            ConcertCancellationRefunds(store: store, gateway: gateway),
            TicketFulfilment(store: store, tickets: tickets, catalog: catalog),
            WaitingListOffers(store: store, waitingLists: waitingLists, catalog: catalog, mail: tickets.mail),
        ]
    }
}
