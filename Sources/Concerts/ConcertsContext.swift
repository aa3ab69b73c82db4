import EventStore
import Foundation
import Postgres
import Web

/// The Concerts context as the composition root wires it: organisers' concerts and levels.
public struct ConcertsContext: BoundedContext {
    /// How many tickets each level has left and has taken, from the context that sells them.
    public let ticketCounts: TicketCounts
    /// Users' display names by id (for the history pages), from the Users context.
    public let userNames: UserNames

    public init(ticketCounts: TicketCounts, userNames: @escaping UserNames) {
        self.ticketCounts = ticketCounts
        self.userNames = userNames
    }

    public var name: String { "concerts" }
    public var inlineProjections: [any Projection] { [ConcertsProjection()] }
    public var resources: URL? { Bundle.module.resourceURL }

    /// The concerts' read model, with what is left of each level: for the pages and for the
    /// contexts that sell tickets.
    public var catalog: ConcertCatalog { ConcertCatalog(ticketCounts: ticketCounts) }

    public func routes(_ router: inout Router<RequestContext>, store: StoreSetup) {
        let api = ConcertsAPI(store: store, catalog: catalog)
        api.add(to: &router)
        ConcertPages(catalog: catalog).add(to: &router)
        OrganiserPages(api: api, userNames: userNames).add(to: &router)
    }
}

/// What the Concerts context needs to know of ticket sales. The context that sells tickets
/// provides it; until it does, every level shows its capacity and nothing is taken.
public struct TicketCounts: Sendable {
    /// Tickets still on sale, per concert id and level id.
    public let available: @Sendable (_ concertIds: [String], _ connection: Connection) throws -> [String: [String: Int]]
    /// Tickets held or sold per level id of one concert.
    public let taken: @Sendable (_ concertId: String, _ connection: Connection) throws -> [String: Int]
    /// The same count as `available`, as a SQL expression a concert's own query can select,
    /// so that a concert page needs one statement, not two: given the SQL of a concert id and
    /// of a level id (columns, such as `c.id`), the tickets left of that level, or NULL when it
    /// has no count. Nil when the counts cannot be had that way; then `available` is asked.
    public let availableSQL: (@Sendable (_ concertIdSQL: String, _ levelIdSQL: String) -> String)?

    public init(
        available:
            @escaping @Sendable (_ concertIds: [String], _ connection: Connection) throws -> [String: [String: Int]],
        taken: @escaping @Sendable (_ concertId: String, _ connection: Connection) throws -> [String: Int],
        availableSQL: (@Sendable (_ concertIdSQL: String, _ levelIdSQL: String) -> String)? = nil
    ) {
        self.available = available
        self.taken = taken
        self.availableSQL = availableSQL
    }

    /// Nothing sold anywhere: every level shows its capacity.
    public static let none = TicketCounts(available: { _, _ in [:] }, taken: { _, _ in [:] })
}

/// Display names of users by id, from the context that keeps users.
public typealias UserNames = @Sendable (_ userIds: [String], _ connection: Connection) throws -> [String: String]
