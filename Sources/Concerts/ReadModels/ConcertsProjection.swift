import EventStore
import Foundation
import Postgres

/// The `concerts` read model: one row per concert, with its levels as JSON, for the public
/// list and detail pages, the API and the organisers' panel.
///
/// Inline, so an organiser's change is on the public pages the moment the request answers,
/// and so the hottest pages of an on-sale read one row by primary key.
public struct ConcertsProjection: Projection {
    public let name = "concerts"
    public var kind: ProjectionKind { .inline }
    public var tables: [String] { ["concerts"] }

    public init() {}

    public func createTables(in target: ProjectionTarget) throws {
        let table = target.table("concerts")
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
                    currency text NOT NULL,
                    status text NOT NULL,
                    ticket_levels jsonb NOT NULL,
                    min_price bigint NOT NULL,
                    created_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL,
                    version bigint NOT NULL
                );
                CREATE INDEX ON \(table) (starts_at);
                CREATE INDEX ON \(table) (organiser_id, starts_at);
                """)
    }

    public func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        let table = target.table("concerts")
        let connection = target.connection
        for recorded in events where recorded.streamType == Concert.streamType {
            switch try Concert.eventTypes.decode(recorded) {
            case .created(let e):
                try connection.execute(
                    """
                    INSERT INTO \(unsafeSQL: table)
                        (id, organiser_id, artist, title, venue, city, starts_at, currency, status, ticket_levels,
                         min_price, created_at, updated_at, version)
                    VALUES (\(e.concertId), \(e.organiserId), \(e.details.artist), \(e.details.title), \(e.details.venue),
                            \(e.details.city), \(e.details.startsAt), \(e.currency), 'scheduled',
                            \(try Self.json(e.ticketLevels))::jsonb, \(Self.minPrice(e.ticketLevels)), \(e.createdAt),
                            \(e.createdAt), \(recorded.streamVersion))
                    ON CONFLICT (id) DO NOTHING
                    """)
            case .updated(let e):
                try connection.execute(
                    """
                    UPDATE \(unsafeSQL: table) SET artist = \(e.details.artist), title = \(e.details.title),
                        venue = \(e.details.venue), city = \(e.details.city), starts_at = \(e.details.startsAt),
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

    static func minPrice(_ levels: [TicketLevel]) -> Int {
        levels.map(\.price).min() ?? 0
    }
}
