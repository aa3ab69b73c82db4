import EventStore
import Foundation
import Identity
import Postgres
import Web

/// The Orders context as the composition root wires it: the orders a checkout makes, one per
/// concert, their outcomes, the takings they add up to (per level, and per day for the
/// organiser's dashboard), and the CSV export of a concert's orders.
public struct OrdersContext: BoundedContext {
    /// Who organises which concert, from the Concerts context: organisers see their concerts'
    /// orders.
    public let concerts: ConcertDirectory
    /// How a paid order's tickets are reaching the buyer, from the TicketDelivery context.
    public let deliveries: DeliveryProgress

    public init(concerts: ConcertDirectory, deliveries: DeliveryProgress) {
        self.concerts = concerts
        self.deliveries = deliveries
    }

    public var name: String { "orders" }
    public var migrations: [Migration] { OrdersSchema.migrations }
    public var inlineProjections: [any Projection] { [OrdersProjection()] }
    public func backgroundProjections(store: StoreSetup) -> [any Projection] {
        [TakingsProjection(), SalesTimelineProjection()]
    }
    public var resources: URL? { Bundle.module.resourceURL }

    public func routes(_ router: inout Router<RequestContext>, store: StoreSetup) {
        OrdersAPI(access: access).add(to: &router)
        OrdersPages(access: access, deliveries: deliveries).add(to: &router)
        OrdersExport(access: access).add(to: &router)
    }

    /// Who may see and manage which orders.
    public var access: OrderAccess { OrderAccess(concerts: concerts) }
}

/// What the Orders context needs to know of concerts. The Concerts context provides it.
public struct ConcertDirectory: Sendable {
    /// The organiser of a concert; nil when there is no such concert.
    public let organiser: @Sendable (_ concertId: String, _ connection: Connection) throws -> String?
    /// The concerts an organiser manages.
    public let managedBy: @Sendable (_ organiserId: String, _ connection: Connection) throws -> [String]

    public init(
        organiser: @escaping @Sendable (String, Connection) throws -> String?,
        managedBy: @escaping @Sendable (String, Connection) throws -> [String]
    ) {
        self.organiser = organiser
        self.managedBy = managedBy
    }
}

/// How a paid order's tickets are reaching its buyer, in words ("E-mailed to ann@example.com
/// on 6 Dec 2026, 10:00"), and whether there are tickets to show; nil before the order is paid.
public struct DeliveryProgress: Sendable {
    public struct Progress: Sendable, Equatable {
        public let text: String
        public let hasTickets: Bool

        public init(text: String, hasTickets: Bool) {
            self.text = text
            self.hasTickets = hasTickets
        }
    }

    public let of: @Sendable (_ orderId: String, _ connection: Connection) throws -> Progress?

    public init(of: @escaping @Sendable (String, Connection) throws -> Progress?) {
        self.of = of
    }
}

/// Who may see an order (its buyer, its concert's organiser, an admin) and manage it (refund:
/// the organiser or an admin). Another's order is "not found", never "forbidden".
public struct OrderAccess: Sendable {
    public let concerts: ConcertDirectory

    /// The order, if `principal` may see it; otherwise `OrderError.notFound`.
    public func visible(_ orderId: String, to principal: Principal, on connection: Connection) throws -> OrderView {
        guard let order = try OrderQueries.find(id: orderId, on: connection) else { throw OrderError.notFound }
        guard try principal.userId == order.userId || mayManage(order, principal, on: connection) else {
            throw OrderError.notFound
        }
        return order
    }

    /// The order, if `principal` may refund it (its concert's organiser, an admin).
    public func manageable(_ orderId: String, by principal: Principal, on connection: Connection) throws -> OrderView {
        guard let order = try OrderQueries.find(id: orderId, on: connection) else { throw OrderError.notFound }
        guard try mayManage(order, principal, on: connection) else { throw OrderError.notFound }
        return order
    }

    func mayManage(_ order: OrderView, _ principal: Principal, on connection: Connection) throws -> Bool {
        if principal.role == .admin { return true }
        guard principal.role >= .organiser else { return false }
        return try concerts.organiser(order.concertId, connection) == principal.userId
    }

    /// Whether `principal` may see every order of the concert (its organiser, an admin).
    public func managesConcert(_ concertId: String, _ principal: Principal, on connection: Connection) throws -> Bool {
        if principal.role == .admin { return try concerts.organiser(concertId, connection) != nil }
        guard principal.role >= .organiser else { return false }
        return try concerts.organiser(concertId, connection) == principal.userId
    }

    /// Nothing, when `principal` may see every order of the concert; otherwise 404
    /// `unknown_concert`: another organiser's concert is "not found", never "forbidden".
    public func requireManaging(_ concertId: String, _ principal: Principal, on connection: Connection) throws {
        guard try managesConcert(concertId, principal, on: connection) else { throw OrderAccess.unknownConcert }
    }

    public static let unknownConcert = HTTPError(
        status: 404, code: "unknown_concert", message: "You have no such concert.")
}
