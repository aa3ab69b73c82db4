import EventStore
import Foundation
import Postgres
import Sodium
import Web

/// The WaitingLists context as the composition root wires it: customers waiting for tickets
/// of sold-out levels, and the offers made to them when tickets come back (made by Sales'
/// `WaitingListOffers` process manager, which holds the tickets and sends the e-mail).
public struct WaitingListsContext: BoundedContext {
    public let levels: WaitingListCatalog
    public let links: LeaveLinks
    /// How long an offer holds its tickets for the customer.
    public let offerDuration: TimeInterval

    public init(levels: WaitingListCatalog, links: LeaveLinks, offerDuration: TimeInterval) {
        self.levels = levels
        self.links = links
        self.offerDuration = offerDuration
    }

    public var name: String { "waiting lists" }
    public var inlineProjections: [any Projection] { [WaitingListProjection()] }
    public var resources: URL? { Bundle.module.resourceURL }

    public func routes(_ router: inout Router<RequestContext>, store: StoreSetup) {
        let api = WaitingListAPI(store: store, levels: levels, links: links)
        api.add(to: &router)
        WaitingListPages(api: api).add(to: &router)
    }

    public func commands(on connection: Connection, store: StoreSetup) -> WaitingListCommands {
        WaitingListCommands(connection: connection, store: store)
    }

    public func metrics(on connection: Connection) throws -> [Metric] {
        let rows = try connection.query(
            "SELECT status, count(*)::int AS n FROM waiting_list_entries WHERE status IN ('waiting', 'offered') GROUP BY status"
        )
        return [
            Metric(
                "encore_waiting_list_entries", .gauge, help: "Waiting-list entries waiting, and with an offer open.",
                try rows.map {
                    .init(Double(try $0.decode("n", as: Int.self)), labels: [("status", try $0.decode("status"))])
                })
        ]
    }
}

/// What the WaitingLists context needs to know of a ticket level. The Concerts context (with
/// Reservations' counts) provides it.
public struct WaitingListCatalog: Sendable {
    public struct Level: Sendable, Equatable {
        public let concertName: String
        public let levelName: String
        public let ticketsLeft: Int
        /// The concert is not cancelled.
        public let onSale: Bool

        public init(concertName: String, levelName: String, ticketsLeft: Int, onSale: Bool) {
            self.concertName = concertName
            self.levelName = levelName
            self.ticketsLeft = ticketsLeft
            self.onSale = onSale
        }
    }

    /// The level, nil when there is no such concert or level.
    public let level: @Sendable (_ concertId: String, _ levelId: String, _ connection: Connection) throws -> Level?

    public init(level: @escaping @Sendable (String, String, Connection) throws -> Level?) {
        self.level = level
    }
}

/// Links that take a customer off a waiting list without signing in, as every waiting-list
/// e-mail carries: the entry id and a MAC of it (HMAC-SHA-256 under the server's key, with a
/// purpose of its own, so a ticket's code can never pass for one, nor one for a ticket's).
public struct LeaveLinks: Sendable {
    let keys: [[UInt8]]
    static let purpose = Array("encore-waitinglist-leave-v1:".utf8)

    /// `commaSeparatedKeys`: the server's keys (`ticket_signing_keys`); the first signs.
    public init(commaSeparatedKeys: String) {
        keys = commaSeparatedKeys.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.map { Array($0.utf8) }
    }

    public func token(for entryId: String) -> String {
        guard let key = keys.first else { return "" }
        return Base64URL.encode(Self.mac(key, entryId))
    }

    public func verify(_ token: String, entryId: String) -> Bool {
        keys.contains {
            Digest.constantTimeEqual(Array(Base64URL.encode(Self.mac($0, entryId)).utf8), Array(token.utf8))
        }
    }

    /// The page that asks whether to leave: `/waiting-list/leave?entry=...&token=...`.
    public func path(for entryId: String) -> String {
        "/waiting-list/leave?entry=\(entryId)&token=\(token(for: entryId))"
    }

    static func mac(_ key: [UInt8], _ entryId: String) -> [UInt8] {
        Array(Digest.hmacSHA256(key: key, message: purpose + Array(entryId.utf8)).prefix(16))
    }
}
