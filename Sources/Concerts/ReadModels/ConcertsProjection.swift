import EventStore
import Foundation
import Postgres

/// The `concerts` read model: one row per concert, with its levels as JSON, for the public
/// list and detail pages, the API and the organisers' panel; with the indexes that make the
/// list's pages and searches cheap at any size (`ConcertCatalog.discover`).
///
/// Inline, so an organiser's change is on the public pages the moment the request answers,
/// and so the hottest pages of an on-sale read one row by primary key.
public struct ConcertsProjection: Projection {
    public let name = "concerts"
    public var kind: ProjectionKind { .inline }
    public var tables: [String] { ["concerts"] }

    public init() {}

    /// 2: the time zone, the venue's date, and the folded text and city that search reads.
    public var version: Int { 2 }

    public func createTables(in target: ProjectionTarget) throws {
        let table = target.table("concerts")
        try target.connection.executeScript(unsafeSQL: Self.searchFunctions)
        try target.connection.executeScript(
            unsafeSQL: """
                CREATE TABLE \(table) (
                    id text PRIMARY KEY,
                    organiser_id text NOT NULL,
                    artist text NOT NULL,
                    title text NOT NULL,
                    venue text NOT NULL,
                    city text NOT NULL,
                    starts_at timestamptz NOT NULL,
                    time_zone text NOT NULL DEFAULT 'UTC',
                    local_date date,
                    currency text NOT NULL,
                    status text NOT NULL,
                    ticket_levels jsonb NOT NULL,
                    min_price bigint NOT NULL,
                    created_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL,
                    version bigint NOT NULL,
                    search text GENERATED ALWAYS AS
                        (concerts_fold(artist || ' ' || title || ' ' || venue || ' ' || city)) STORED,
                    city_key text GENERATED ALWAYS AS (concerts_fold(city)) STORED
                );
                CREATE INDEX ON \(table) (status, starts_at, id);
                CREATE INDEX ON \(table) (city_key, status, starts_at, id);
                CREATE INDEX ON \(table) USING gin (search gin_trgm_ops);
                CREATE INDEX ON \(table) (organiser_id, starts_at);
                """)
    }

    /// What search needs in the database: `unaccent` and `pg_trgm` (contrib extensions that
    /// PostgreSQL 13 and later let a database's owner create; with another role an
    /// administrator creates them once, and these statements then skip them), and
    /// `concerts_fold`, the accent- and case-free form of a text that the `search` and
    /// `city_key` columns hold and that queries compare with. Declared immutable so that a
    /// column can be generated from it (`unaccent` itself is only stable, as its rules file
    /// could change; it does not between rebuilds).
    static let searchFunctions = """
        CREATE EXTENSION IF NOT EXISTS unaccent;
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE OR REPLACE FUNCTION concerts_fold(text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            AS $$ SELECT lower(unaccent('unaccent'::regdictionary, $1)) $$;
        """

    public func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        let table = target.table("concerts")
        let connection = target.connection
        for recorded in events where recorded.streamType == Concert.streamType {
            switch try Concert.eventTypes.decode(recorded) {
            case .created(let e):
                try connection.execute(
                    """
                    INSERT INTO \(unsafeSQL: table)
                        (id, organiser_id, artist, title, venue, city, starts_at, time_zone, local_date, currency,
                         status, ticket_levels, min_price, created_at, updated_at, version)
                    VALUES (\(e.concertId), \(e.organiserId), \(e.details.artist), \(e.details.title), \(e.details.venue),
                            \(e.details.city), \(e.details.startsAt), \(e.details.timeZone),
                            \(Self.localDate(e.details))::date, \(e.currency), 'scheduled',
                            \(try Self.json(e.ticketLevels))::jsonb, \(Self.minPrice(e.ticketLevels)), \(e.createdAt),
                            \(e.createdAt), \(recorded.streamVersion))
                    ON CONFLICT (id) DO NOTHING
                    """)
            case .updated(let e):
                try connection.execute(
                    """
                    UPDATE \(unsafeSQL: table) SET artist = \(e.details.artist), title = \(e.details.title),
                        venue = \(e.details.venue), city = \(e.details.city), starts_at = \(e.details.startsAt),
                        time_zone = \(e.details.timeZone), local_date = \(Self.localDate(e.details))::date,
                        updated_at = \(e.updatedAt), version = \(recorded.streamVersion)
                    WHERE id = \(e.concertId)
                    """)
            case .ticketLevelsUpdated(let e):
                try connection.execute(
                    """
                    UPDATE \(unsafeSQL: table) SET ticket_levels = \(try Self.json(e.ticketLevels))::jsonb,
                        min_price = \(Self.minPrice(e.ticketLevels)), updated_at = \(e.updatedAt),
                        version = \(recorded.streamVersion)
                    WHERE id = \(e.concertId)
                    """)
            case .cancelled(let e):
                try connection.execute(
                    """
                    UPDATE \(unsafeSQL: table) SET status = 'cancelled', updated_at = \(e.cancelledAt),
                        version = \(recorded.streamVersion)
                    WHERE id = \(e.concertId)
                    """)
            }
        }
    }

    static func json(_ levels: [TicketLevel]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(levels), as: UTF8.self)
    }

    /// The venue's calendar date of the start (`2027-06-05`), for the date filters.
    static func localDate(_ details: ConcertDetails) -> String {
        String(details.localStart.description.prefix(10))
    }

    static func minPrice(_ levels: [TicketLevel]) -> Int {
        levels.map(\.price).min() ?? 0
    }
}
