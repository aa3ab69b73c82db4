import Foundation
import Postgres

/// A concert as the pages and the API show it.
public struct ConcertView: Sendable, Equatable, Encodable {
    public struct Level: Sendable, Equatable, Encodable {
        public let id: String
        public let name: String
        public let capacity: Int
        public let price: Int
        /// Tickets still on sale (`TicketCounts.available`; the capacity when it has no count).
        public let available: Int
    }

    public let id: String
    public let organiserId: String
    public let artist: String
    public let title: String
    public let venue: String
    public let city: String
    public let startsAt: Date
    /// The venue's IANA time zone.
    public let timeZone: String
    public let currency: String
    public let status: String
    public let ticketLevels: [Level]
    public let minPrice: Int
    public let updatedAt: Date
    public let version: Int64

    public var isCancelled: Bool { status == "cancelled" }
    /// "Beyoncé — Cowboy Carter Tour, Warsaw".
    public var label: String { artist + (title.isEmpty ? "" : " — " + title) + ", " + city }
    public var isSoldOut: Bool { !isCancelled && ticketLevels.allSatisfy { $0.available == 0 } }

    /// The `concerts` row's columns, with the levels as the caller found them.
    private init(row: Row, levels: [Level]) throws {
        id = try row.decode("id")
        organiserId = try row.decode("organiser_id")
        artist = try row.decode("artist")
        title = try row.decode("title")
        venue = try row.decode("venue")
        city = try row.decode("city")
        startsAt = try row.decode("starts_at")
        timeZone = try row.decode("time_zone")
        currency = try row.decode("currency")
        status = try row.decode("status")
        minPrice = try row.decode("min_price")
        updatedAt = try row.decode("updated_at")
        version = try row.decode("version")
        ticketLevels = levels
    }

    init(row: Row, availability: [String: Int]) throws {
        let levels = try JSONDecoder().decode(
            [TicketLevel].self, from: Data((try row.decode("ticket_levels", as: String.self)).utf8))
        try self.init(
            row: row,
            levels: levels.map {
                Level(
                    id: $0.id, name: $0.name, capacity: $0.capacity, price: $0.price,
                    available: availability[$0.id] ?? $0.capacity)
            })
    }

    /// From `ConcertCatalog.find`'s rows: the concert's columns in each, one row per level
    /// (its `level_*` columns; one row with none for a concert without levels).
    init(levelRows rows: [Row]) throws {
        let levels = try rows.compactMap { row -> Level? in
            guard let levelId = try row.decodeIfPresent("level_id", as: String.self) else { return nil }
            let capacity = try row.decode("level_capacity", as: Int.self)
            return Level(
                id: levelId, name: try row.decode("level_name"), capacity: capacity,
                price: try row.decode("level_price"),
                available: try row.decodeIfPresent("level_available", as: Int.self) ?? capacity)
        }
        try self.init(row: rows[0], levels: levels)
    }

    enum CodingKeys: String, CodingKey {
        case id, artist, title, venue, city, startsAt, timeZone, currency, status, ticketLevels
    }
}

/// One page of the concert list.
public struct ConcertListPage<Concert: Sendable & Equatable>: Sendable, Equatable {
    public let concerts: [Concert]
    /// Where the next page starts; nil on the last page.
    public let next: ConcertCursor?
}

/// A concert as a list's card shows it: no levels, only whether any ticket is left.
public struct ConcertSummary: Sendable, Equatable {
    public let id: String
    public let artist: String
    public let title: String
    public let venue: String
    public let city: String
    public let startsAt: Date
    public let timeZone: String
    public let currency: String
    public let minPrice: Int
    public let isCancelled: Bool
    /// Scheduled, and no level has a ticket left.
    public let isSoldOut: Bool

    init(row: Row) throws {
        id = try row.decode("id")
        artist = try row.decode("artist")
        title = try row.decode("title")
        venue = try row.decode("venue")
        city = try row.decode("city")
        startsAt = try row.decode("starts_at")
        timeZone = try row.decode("time_zone")
        currency = try row.decode("currency")
        minPrice = try row.decode("min_price")
        isCancelled = try row.decode("status", as: String.self) == "cancelled"
        let soldOut = try row.decode("sold_out", as: Bool.self)
        isSoldOut = !isCancelled && soldOut
    }
}

/// A level on sale, as a cart needs it.
public struct LevelOnSale: Sendable, Equatable {
    public let price: Int
    public let currency: String
    public let available: Int
}

/// A concert's artist, title, city and start, and its levels' names.
public struct ConcertNames: Sendable, Equatable {
    public let artist: String
    public let title: String
    public let city: String
    public let startsAt: Date
    public let levels: [String: String]

    /// "Beyoncé — Cowboy Carter Tour, Warsaw".
    public var label: String { artist + (title.isEmpty ? "" : " — " + title) + ", " + city }
}

/// Queries of the `concerts` read model, with what is left of each level from `ticketCounts`.
public struct ConcertCatalog: Sendable {
    public let ticketCounts: TicketCounts

    public init(ticketCounts: TicketCounts) {
        self.ticketCounts = ticketCounts
    }

    /// A concert; `withAvailability: false` leaves out what is left per level (one query
    /// fewer, for callers that only need names).
    public func find(id: String, withAvailability: Bool = true, on connection: Connection) throws -> ConcertView? {
        if withAvailability, let availableSQL = ticketCounts.availableSQL {
            // One statement: the concert, a row per level, what is left of each joined in.
            let rows = try connection.query(
                """
                SELECT c.id, c.organiser_id, c.artist, c.title, c.venue, c.city, c.starts_at, c.time_zone, c.currency,
                       c.status,
                       c.min_price, c.updated_at, c.version, l.level->>'id' AS level_id, l.level->>'name' AS level_name,
                       (l.level->>'capacity')::int AS level_capacity, (l.level->>'price')::bigint AS level_price,
                       \(unsafeSQL: availableSQL("c.id", "l.level->>'id'")) AS level_available
                FROM concerts c
                LEFT JOIN LATERAL jsonb_array_elements(c.ticket_levels) WITH ORDINALITY AS l(level, n) ON true
                WHERE c.id = \(id)
                ORDER BY l.n
                """
            ).rows
            return rows.isEmpty ? nil : try ConcertView(levelRows: rows)
        }
        guard let row = try connection.query("SELECT * FROM concerts WHERE id = \(id)").first else { return nil }
        let left = withAvailability ? try ticketCounts.available([id], connection)[id] ?? [:] : [:]
        return try ConcertView(row: row, availability: left)
    }

    /// A page of the concert list: what `search` asks for, in its keyset order, and the cursor
    /// of the next page (nil on the last), with each concert's levels and what is left of them
    /// (for the API). One statement for the page and one for the levels' counts, whatever the
    /// number of concerts (see `ConcertSearch`).
    public func discover(_ search: ConcertSearch, now: Date = Date(), on connection: Connection) throws
        -> ConcertListPage<ConcertView>
    {
        let (rows, next) = try page(search, now: now, on: connection)
        return ConcertListPage(concerts: try views(rows, on: connection), next: next)
    }

    /// The same page as list cards show it, without levels: one statement in all.
    public func discoverSummaries(_ search: ConcertSearch, now: Date = Date(), on connection: Connection) throws
        -> ConcertListPage<ConcertSummary>
    {
        let (rows, next) = try page(search, now: now, on: connection)
        return ConcertListPage(concerts: try rows.map(ConcertSummary.init), next: next)
    }

    func page(_ search: ConcertSearch, now: Date, on connection: Connection) throws -> ([Row], ConcertCursor?) {
        let rows = try connection.query(search.sql(now: now, hasTicketsSQL: hasTicketsSQL)).rows
        let shown = Array(rows.prefix(search.limit))
        guard rows.count > search.limit, let last = shown.last else { return (shown, nil) }
        let next = ConcertCursor(
            cancelled: try last.decode("status", as: String.self) == "cancelled",
            startsAtMicros: try last.decode("starts_us"), id: try last.decode("id"))
        return (shown, next)
    }

    /// "Some level of concert `c` has a ticket left", as SQL, when the counts can be had so.
    var hasTicketsSQL: String? {
        ticketCounts.availableSQL.map { availableSQL in
            """
            EXISTS (SELECT 1 FROM jsonb_array_elements(c.ticket_levels) AS l(level)
                    WHERE coalesce(\(availableSQL("c.id", "l.level->>'id'")), (l.level->>'capacity')::int) > 0)
            """
        }
    }

    /// The concerts an organiser manages (every concert, for an admin), newest start first.
    public func managed(by organiserId: String?, on connection: Connection) throws -> [ConcertView] {
        let rows = try connection.query(
            """
            SELECT * FROM concerts WHERE \(organiserId)::text IS NULL OR organiser_id = \(organiserId)
            ORDER BY starts_at DESC LIMIT 500
            """
        ).rows
        return try views(rows, on: connection)
    }

    /// A level that is on sale: its price, the concert's currency and the tickets left. Throws
    /// when the concert or the level does not exist or the concert is cancelled.
    public func levelOnSale(concertId: String, levelId: String, on connection: Connection) throws -> LevelOnSale {
        guard let concert = try find(id: concertId, on: connection) else { throw ConcertError.unknownConcert }
        guard !concert.isCancelled else { throw ConcertError.notOnSale }
        guard let level = concert.ticketLevels.first(where: { $0.id == levelId }) else {
            throw ConcertError.unknownTicketLevel
        }
        return LevelOnSale(price: level.price, currency: concert.currency, available: level.available)
    }

    /// Concerts' artists and their levels' names by level id, in one query.
    public func names(of concertIds: [String], on connection: Connection) throws -> [String: ConcertNames] {
        guard !concertIds.isEmpty else { return [:] }
        var names: [String: ConcertNames] = [:]
        for row in try connection.query(
            "SELECT id, artist, title, city, starts_at, ticket_levels FROM concerts WHERE id = ANY(\(SQLArray(concertIds))::text[])"
        ) {
            let levels = try JSONDecoder().decode(
                [TicketLevel].self, from: Data((try row.decode("ticket_levels", as: String.self)).utf8))
            names[try row.decode("id")] = ConcertNames(
                artist: try row.decode("artist"), title: try row.decode("title"), city: try row.decode("city"),
                startsAt: try row.decode("starts_at"),
                levels: Dictionary(levels.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first }))
        }
        return names
    }

    /// Tickets held or sold per level of a concert.
    public func taken(concertId: String, on connection: Connection) throws -> [String: Int] {
        try ticketCounts.taken(concertId, connection)
    }

    /// Views of several rows, with the availability of all of them read in one query.
    func views(_ rows: [Row], on connection: Connection) throws -> [ConcertView] {
        let ids = try rows.map { try $0.decode("id", as: String.self) }
        let left = ids.isEmpty ? [:] : try ticketCounts.available(ids, connection)
        return try zip(rows, ids).map { try ConcertView(row: $0, availability: left[$1] ?? [:]) }
    }
}
