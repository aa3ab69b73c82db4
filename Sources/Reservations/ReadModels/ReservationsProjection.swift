import EventStore
import Foundation
import Postgres

/// The `reservations` read model: one row per reservation, for the customer's list, the
/// checkout page and the expiry job. Inline, so a confirmed checkout shows at once.
public struct ReservationsProjection: Projection {
    public let name = "reservations"
    public var kind: ProjectionKind { .inline }
    public var tables: [String] { ["reservations"] }

    public init() {}

    public func createTables(in target: ProjectionTarget) throws {
        let table = target.table("reservations")
        try target.connection.executeScript(
            unsafeSQL: """
                CREATE TABLE \(table) (
                    id text PRIMARY KEY,
                    checkout_id text NOT NULL,
                    user_id text NOT NULL,
                    concert_id text NOT NULL,
                    status text NOT NULL,
                    items jsonb NOT NULL,
                    held_at timestamptz NOT NULL,
                    expires_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL
                );
                CREATE INDEX ON \(table) (user_id, held_at DESC);
                CREATE INDEX ON \(table) (checkout_id);
                CREATE INDEX ON \(table) (expires_at) WHERE status = 'held';
                """)
    }

    public func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        let table = target.table("reservations")
        let connection = target.connection
        // A run of new reservations (a batch of checkouts: `reserveBatch`) is one INSERT.
        var held: [ReservationHeld] = []
        func insertHeld() throws {
            guard !held.isEmpty else { return }
            let encoder = JSONEncoder()
            let items = try held.map { String(decoding: try encoder.encode($0.items), as: UTF8.self) }
            try connection.executeLater(
                """
                INSERT INTO \(unsafeSQL: table) (id, checkout_id, user_id, concert_id, status, items, held_at, expires_at, updated_at)
                SELECT id, checkout_id, user_id, concert_id, 'held', items, held_at, expires_at, held_at
                FROM unnest(\(SQLArray(held.map(\.reservationId)))::text[], \(SQLArray(held.map(\.checkoutId)))::text[],
                            \(SQLArray(held.map(\.userId)))::text[], \(SQLArray(held.map(\.concertId)))::text[],
                            \(SQLArray(items))::jsonb[], \(SQLArray(held.map(\.heldAt.postgresText)))::timestamptz[],
                            \(SQLArray(held.map(\.expiresAt.postgresText)))::timestamptz[])
                     AS r(id, checkout_id, user_id, concert_id, items, held_at, expires_at)
                ON CONFLICT (id) DO NOTHING
                """)
            held.removeAll()
        }
        for recorded in events where recorded.streamType == Reservation.streamType {
            let event = try Reservation.eventTypes.decode(recorded)
            if case .held(let e) = event {
                held.append(e)
                continue
            }
            try insertHeld()
            switch event {
            case .held:
                break
            case .cancelled(let e):
                try connection.executeLater(
                    "UPDATE \(unsafeSQL: table) SET status = 'cancelled', updated_at = \(e.cancelledAt) WHERE id = \(e.reservationId)"
                )
            case .expired(let e):
                try connection.executeLater(
                    "UPDATE \(unsafeSQL: table) SET status = 'expired', updated_at = \(e.expiredAt) WHERE id = \(e.reservationId)"
                )
            case .confirmed(let e):
                try connection.executeLater(
                    "UPDATE \(unsafeSQL: table) SET status = 'confirmed', updated_at = \(e.confirmedAt) WHERE id = \(e.reservationId)"
                )
            case .returned(let e):
                try connection.executeLater(
                    "UPDATE \(unsafeSQL: table) SET status = 'returned', updated_at = \(e.returnedAt) WHERE id = \(e.reservationId)"
                )
            }
        }
        try insertHeld()
    }
}

/// A reservation as the API shows it.
public struct ReservationView: Sendable, Equatable, Encodable {
    public struct Item: Sendable, Equatable, Encodable {
        public let ticketLevelId: String
        public let quantity: Int
        public let unitPrice: Int
        public let currency: String
    }

    public let id: String
    public let checkoutId: String
    public let userId: String
    public let concertId: String
    public let status: String
    public let items: [Item]
    public let heldAt: Date
    public let expiresAt: Date

    init(row: Row) throws {
        id = try row.decode("id")
        checkoutId = try row.decode("checkout_id")
        userId = try row.decode("user_id")
        concertId = try row.decode("concert_id")
        status = try row.decode("status")
        heldAt = try row.decode("held_at")
        expiresAt = try row.decode("expires_at")
        let reserved = try JSONDecoder().decode(
            [ReservedItem].self, from: Data((try row.decode("items", as: String.self)).utf8))
        items = reserved.map {
            Item(ticketLevelId: $0.ticketLevelId, quantity: $0.quantity, unitPrice: $0.unitPrice, currency: $0.currency)
        }
    }

    /// The view of a reservation just held, as the read model will show it.
    public init(held: ReservationHeld) {
        id = held.reservationId
        checkoutId = held.checkoutId
        userId = held.userId
        concertId = held.concertId
        status = "held"
        heldAt = held.heldAt
        expiresAt = held.expiresAt
        items = held.items.map {
            Item(ticketLevelId: $0.ticketLevelId, quantity: $0.quantity, unitPrice: $0.unitPrice, currency: $0.currency)
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, checkoutId, concertId, status, items, heldAt, expiresAt
    }
}

public enum ReservationQueries {
    public static func find(id: String, userId: String?, on connection: Connection) throws -> ReservationView? {
        try connection.query(
            "SELECT * FROM reservations WHERE id = \(id) AND (\(userId)::text IS NULL OR user_id = \(userId))"
        ).first.map(ReservationView.init)
    }

    public static func mine(userId: String, on connection: Connection) throws -> [ReservationView] {
        try connection.query("SELECT * FROM reservations WHERE user_id = \(userId) ORDER BY held_at DESC LIMIT 200")
            .map(ReservationView.init)
    }

    public static func forCheckout(_ checkoutId: String, on connection: Connection) throws -> [ReservationView] {
        try connection.query("SELECT * FROM reservations WHERE checkout_id = \(checkoutId) ORDER BY concert_id")
            .map(ReservationView.init)
    }

    /// Held reservations whose time is up, oldest first.
    public static func due(now: Date, limit: Int, on connection: Connection) throws -> [String] {
        try connection.query(
            "SELECT id FROM reservations WHERE status = 'held' AND expires_at <= \(now) ORDER BY expires_at LIMIT \(limit)"
        ).map { try $0.decode("id") }
    }
}
