import EventStore
import Foundation
import Postgres

/// The `carts` read model: each cart's items and delivery, and the items it lost, for the
/// cart page and for finding the carts of a cancelled concert. Inline: a cart page shows
/// what the last request did.
public struct CartsProjection: Projection {
    public let name = "carts"
    public var kind: ProjectionKind { .inline }
    public var tables: [String] { ["carts"] }

    public init() {}

    public func createTables(in target: ProjectionTarget) throws {
        let table = target.table("carts")
        try target.connection.executeScript(
            unsafeSQL: """
                CREATE TABLE \(table) (
                    id text PRIMARY KEY,
                    user_id text NOT NULL,
                    status text NOT NULL,
                    concert_ids text[] NOT NULL DEFAULT '{}',
                    dropped jsonb NOT NULL DEFAULT '[]',
                    updated_at timestamptz NOT NULL
                );
                CREATE INDEX ON \(table) USING gin (concert_ids) WHERE status = 'open';
                """)
    }

    public func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        let table = target.table("carts")
        let connection = target.connection
        // A run of confirmed carts (a batch of checkouts) is one UPDATE.
        var confirmed: [(cartId: String, at: Date)] = []
        func updateConfirmed() throws {
            guard !confirmed.isEmpty else { return }
            try connection.executeLater(
                """
                UPDATE \(unsafeSQL: table) AS c SET status = 'confirmed', updated_at = u.at
                FROM unnest(\(SQLArray(confirmed.map(\.cartId)))::text[],
                            \(SQLArray(confirmed.map(\.at.postgresText)))::timestamptz[]) AS u(id, at)
                WHERE c.id = u.id
                """)
            confirmed.removeAll()
        }
        for recorded in events where recorded.streamType == ShoppingCart.streamType {
            let at = recorded.recordedAt
            let event = try ShoppingCart.eventTypes.decode(recorded)
            if case .confirmed(let e) = event {
                confirmed.append((e.cartId, at))
                continue
            }
            try updateConfirmed()
            switch event {
            case .opened(let e):
                try connection.executeLater(
                    """
                    INSERT INTO \(unsafeSQL: table) (id, user_id, status, updated_at)
                    VALUES (\(e.cartId), \(e.userId), 'open', \(e.openedAt)) ON CONFLICT (id) DO NOTHING
                    """)
            case .itemAdded(let e):
                try connection.executeLater(
                    """
                    UPDATE \(unsafeSQL: table) SET dropped = '[]', updated_at = \(at),
                        concert_ids = CASE WHEN \(e.item.concertId) = ANY(concert_ids) THEN concert_ids
                                           ELSE array_append(concert_ids, \(e.item.concertId)) END
                    WHERE id = \(e.cartId)
                    """)
            case .itemDropped(let e):
                let entry =
                    #"[{"concertId":\#(Self.quote(e.concertId)),"ticketLevelId":\#(Self.quote(e.ticketLevelId)),"reason":\#(Self.quote(e.reason))}]"#
                try connection.executeLater(
                    """
                    UPDATE \(unsafeSQL: table) SET dropped = dropped || \(entry)::jsonb, updated_at = \(at),
                        concert_ids = array_remove(concert_ids, \(e.concertId))
                    WHERE id = \(e.cartId)
                    """)
            case .itemRemoved(let e):
                try connection.executeLater(
                    "UPDATE \(unsafeSQL: table) SET dropped = '[]', updated_at = \(at) WHERE id = \(e.cartId)")
            case .quantityChanged(let e):
                try connection.executeLater(
                    "UPDATE \(unsafeSQL: table) SET dropped = '[]', updated_at = \(at) WHERE id = \(e.cartId)")
            case .deliveryChosen(let e):
                try connection.executeLater("UPDATE \(unsafeSQL: table) SET updated_at = \(at) WHERE id = \(e.cartId)")
            case .confirmed:
                break
            case .cancelled(let e):
                try connection.executeLater(
                    "UPDATE \(unsafeSQL: table) SET status = 'cancelled', updated_at = \(at) WHERE id = \(e.cartId)")
            }
        }
        try updateConfirmed()
    }

    static func quote(_ text: String) -> String {
        let data = try? JSONEncoder().encode(text)
        return data.map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
    }
}

public enum CartQueries {
    /// Open carts holding tickets of a concert.
    public static func openCarts(withConcert concertId: String, on connection: Connection) throws -> [String] {
        try connection.query(
            "SELECT id FROM carts WHERE status = 'open' AND \(concertId) = ANY(concert_ids)"
        ).map { try $0.decode("id") }
    }

    /// Items the cart lost since the customer last changed it (e.g. a cancelled concert).
    public static func dropped(cartId: String, on connection: Connection) throws -> [CartItemDropped] {
        guard let row = try connection.query("SELECT dropped FROM carts WHERE id = \(cartId)").first else { return [] }
        struct Entry: Decodable {
            let concertId: String
            let ticketLevelId: String
            let reason: String
        }
        let entries = try JSONDecoder().decode(
            [Entry].self, from: Data((try row.decode("dropped", as: String.self)).utf8))
        return entries.map {
            CartItemDropped(cartId: cartId, concertId: $0.concertId, ticketLevelId: $0.ticketLevelId, reason: $0.reason)
        }
    }
}
