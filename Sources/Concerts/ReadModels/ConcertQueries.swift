import Foundation
import Postgres

/// A concert as the pages and the API show it.
public struct ConcertView: Sendable, Equatable, Encodable {
    public struct Level: Sendable, Equatable, Encodable {
        public let id: String
        public let name: String
        public let capacity: Int
        public let price: Int
        /// Tickets still on sale. Equals capacity until the Reservations context keeps counts.
        public let available: Int
    }

    public let id: String
    public let organiserId: String
    public let artist: String
    public let title: String
    public let venue: String
    public let city: String
    public let startsAt: Date
    public let currency: String
    public let status: String
    public let ticketLevels: [Level]
    public let minPrice: Int
    public let updatedAt: Date
    public let version: Int64

    public var isCancelled: Bool { status == "cancelled" }
    public var isSoldOut: Bool { !isCancelled && ticketLevels.allSatisfy { $0.available == 0 } }

    init(row: Row, availability: [String: Int]) throws {
        id = try row.decode("id")
        organiserId = try row.decode("organiser_id")
        artist = try row.decode("artist")
        title = try row.decode("title")
        venue = try row.decode("venue")
        city = try row.decode("city")
        startsAt = try row.decode("starts_at")
        currency = try row.decode("currency")
        status = try row.decode("status")
        minPrice = try row.decode("min_price")
        updatedAt = try row.decode("updated_at")
        version = try row.decode("version")
        let levels = try JSONDecoder().decode(
            [TicketLevel].self, from: Data((try row.decode("ticket_levels", as: String.self)).utf8))
        ticketLevels = levels.map {
            Level(
                id: $0.id, name: $0.name, capacity: $0.capacity, price: $0.price,
                available: availability[$0.id] ?? $0.capacity)
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, artist, title, venue, city, startsAt, currency, status, ticketLevels
    }
}

/// Queries of the `concerts` read model.
public enum ConcertQueries {
    /// Where per-level availability comes from; the Reservations context provides it when it
    /// runs. Until then every level shows its capacity.
    /// Given concert ids, it returns per concert the tickets left per level id; set once at
    /// start-up by the composition root, before any thread serves.
    nonisolated(unsafe) public static var availability: (Connection, [String]) throws -> [String: [String: Int]] = {
        _, _ in [:]
    }

    /// Tickets held or sold per level, from the same source; set once at start-up, like
    /// `availability`.
    nonisolated(unsafe) public static var taken: (Connection, String) throws -> [String: Int] = { _, _ in [:] }

    /// Refuses new levels that would leave a level with less capacity than its held and sold
    /// tickets, or remove a level that has any: those tickets are customers'.
    public static func checkCapacity(_ levels: [TicketLevel], concertId: String, on connection: Connection) throws {
        let taken = try taken(connection, concertId)
        for (levelId, count) in taken.sorted(by: { $0.key < $1.key }) where count > 0 {
            guard let level = levels.first(where: { $0.id == levelId }) else {
                throw ConcertError.capacityBelowTaken(levelId: levelId, taken: count)
            }
            if level.capacity < count { throw ConcertError.capacityBelowTaken(levelId: levelId, taken: count) }
        }
    }

    /// A concert; `withAvailability: false` leaves out what is left per level (one query
    /// fewer, for callers that only need names).
    public static func find(id: String, withAvailability: Bool = true, on connection: Connection) throws
        -> ConcertView?
    {
        guard
            let row = try connection.query("SELECT * FROM concerts WHERE id = \(id)").first
        else { return nil }
        let left = withAvailability ? try availability(connection, [id])[id] ?? [:] : [:]
        return try ConcertView(row: row, availability: left)
    }

    /// Concerts that have not started yet (and those that started in the last day), scheduled
    /// ones first, each group by date.
    public static func upcoming(now: Date = Date(), limit: Int = 200, on connection: Connection) throws -> [ConcertView]
    {
        let rows = try connection.query(
            """
            SELECT * FROM concerts WHERE starts_at > \(now.addingTimeInterval(-86_400))
            ORDER BY status = 'cancelled', starts_at, id LIMIT \(limit)
            """
        ).rows
        return try views(rows, on: connection)
    }

    /// The concerts an organiser manages (every concert, for an admin), newest start first.
    public static func managed(by organiserId: String?, on connection: Connection) throws -> [ConcertView] {
        let rows = try connection.query(
            """
            SELECT * FROM concerts WHERE \(organiserId)::text IS NULL OR organiser_id = \(organiserId)
            ORDER BY starts_at DESC LIMIT 500
            """
        ).rows
        return try views(rows, on: connection)
    }

    /// Views of several rows, with the availability of all of them read in one query.
    static func views(_ rows: [Row], on connection: Connection) throws -> [ConcertView] {
        let ids = try rows.map { try $0.decode("id", as: String.self) }
        let left = ids.isEmpty ? [:] : try availability(connection, ids)
        return try zip(rows, ids).map { try ConcertView(row: $0, availability: left[$1] ?? [:]) }
    }
}
