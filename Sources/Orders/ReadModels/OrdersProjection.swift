import EventStore
import Foundation
import Postgres

/// The `orders` read model: one row per order, with its items, delivery and status history,
/// for the buyer's "My orders", the organisers' lists and the API. Inline: the checkout's answer
/// and the order pages read it the moment an order changes.
public struct OrdersProjection: Projection {
    public let name = "orders"
    public var kind: ProjectionKind { .inline }
    public var tables: [String] { ["orders"] }

    public init() {}

    public func createTables(in target: ProjectionTarget) throws {
        let table = target.table("orders")
        try target.connection.executeScript(
            unsafeSQL: """
                CREATE TABLE \(table) (
                    id text PRIMARY KEY,
                    number text NOT NULL,
                    checkout_id text NOT NULL,
                    payment_id text NOT NULL,
                    reservation_id text NOT NULL,
                    concert_id text NOT NULL,
                    concert_name text NOT NULL,
                    user_id text NOT NULL,
                    buyer_email text NOT NULL,
                    buyer_name text NOT NULL,
                    delivery jsonb NOT NULL,
                    items jsonb NOT NULL,
                    total bigint NOT NULL,
                    currency text NOT NULL,
                    status text NOT NULL,
                    refunded bigint NOT NULL DEFAULT 0,
                    history jsonb NOT NULL,
                    created_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL
                );
                CREATE INDEX ON \(table) (user_id, created_at);
                CREATE INDEX ON \(table) (checkout_id);
                CREATE INDEX ON \(table) (concert_id, created_at);
                CREATE INDEX ON \(table) (number);
                CREATE INDEX ON \(table) (lower(buyer_email));
                """)
    }

    public func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        let table = target.table("orders")
        let connection = target.connection
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .iso8601
        func json<T: Encodable>(_ value: T) throws -> String {
            String(decoding: try encoder.encode(value), as: UTF8.self)
        }
        func step(_ status: String, _ at: Date, _ note: String? = nil) throws -> String {
            try json([HistoryEntry(status: status, at: at, note: note)])
        }
        for recorded in events where recorded.streamType == TicketOrder.streamType {
            switch try TicketOrder.eventTypes.decode(recorded) {
            case .created(let e):
                try connection.executeLater(
                    """
                    INSERT INTO \(unsafeSQL: table)
                        (id, number, checkout_id, payment_id, reservation_id, concert_id, concert_name, user_id,
                         buyer_email, buyer_name, delivery, items, total, currency, status, history, created_at, updated_at)
                    VALUES (\(e.orderId), \(e.number), \(e.checkoutId), \(e.paymentId), \(e.reservationId), \(e.concertId),
                            \(e.concertName), \(e.userId), \(e.buyerEmail), \(e.buyerName), \(try json(e.delivery))::jsonb,
                            \(try json(e.items))::jsonb, \(e.total), \(e.currency), 'pending',
                            \(try step("pending", e.createdAt))::jsonb, \(e.createdAt), \(e.createdAt))
                    ON CONFLICT (id) DO NOTHING
                    """)
            case .completed(let e):
                try connection.executeLater(
                    """
                    UPDATE \(unsafeSQL: table) SET status = 'completed', reservation_id = \(e.reservationId),
                        history = history || \(try step("completed", e.completedAt))::jsonb, updated_at = \(e.completedAt)
                    WHERE id = \(e.orderId)
                    """)
            case .cancelled(let e):
                try connection.executeLater(
                    """
                    UPDATE \(unsafeSQL: table) SET status = 'cancelled',
                        history = history || \(try step("cancelled", e.cancelledAt, e.reason))::jsonb, updated_at = \(e.cancelledAt)
                    WHERE id = \(e.orderId)
                    """)
            case .refunded(let e):
                try connection.executeLater(
                    """
                    UPDATE \(unsafeSQL: table) SET status = 'refunded', refunded = refunded + \(e.amount),
                        history = history || \(try step("refunded", e.refundedAt, e.reason))::jsonb, updated_at = \(e.refundedAt)
                    WHERE id = \(e.orderId)
                    """)
            }
        }
    }

    struct HistoryEntry: Codable {
        let status: String
        let at: Date
        let note: String?
    }
}

/// The `concert_takings` read model: per concert and level, tickets sold and refunded and
/// their money, from completed and refunded orders. Async: the organisers' figures may lag a
/// moment behind the sales, and no sale waits for them.
public struct TakingsProjection: Projection {
    public let name = "concert_takings"
    public var tables: [String] { ["concert_takings"] }

    public init() {}

    public func createTables(in target: ProjectionTarget) throws {
        try target.connection.executeScript(
            unsafeSQL: """
                CREATE TABLE \(target.table("concert_takings")) (
                    concert_id text NOT NULL,
                    level_id text NOT NULL,
                    level_name text NOT NULL,
                    currency text NOT NULL,
                    tickets_sold bigint NOT NULL DEFAULT 0,
                    gross bigint NOT NULL DEFAULT 0,
                    tickets_refunded bigint NOT NULL DEFAULT 0,
                    refunded bigint NOT NULL DEFAULT 0,
                    PRIMARY KEY (concert_id, level_id)
                );
                """)
    }

    public func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        let table = target.table("concert_takings")
        for recorded in events where recorded.streamType == TicketOrder.streamType {
            let (concertId, items, currency, refund): (String, [OrderItem], String, Bool)
            switch try TicketOrder.eventTypes.decode(recorded) {
            case .completed(let e): (concertId, items, currency, refund) = (e.concertId, e.items, e.currency, false)
            case .refunded(let e): (concertId, items, currency, refund) = (e.concertId, e.items, e.currency, true)
            case .created, .cancelled: continue
            }
            for item in items {
                let tickets = refund ? 0 : item.quantity
                let gross = refund ? 0 : item.quantity * item.unitPrice
                let ticketsBack = refund ? item.quantity : 0
                let moneyBack = refund ? item.quantity * item.unitPrice : 0
                try target.connection.execute(
                    """
                    INSERT INTO \(unsafeSQL: table) AS t
                        (concert_id, level_id, level_name, currency, tickets_sold, gross, tickets_refunded, refunded)
                    VALUES (\(concertId), \(item.ticketLevelId), \(item.levelName), \(currency), \(tickets), \(gross),
                            \(ticketsBack), \(moneyBack))
                    ON CONFLICT (concert_id, level_id) DO UPDATE SET
                        tickets_sold = t.tickets_sold + excluded.tickets_sold, gross = t.gross + excluded.gross,
                        tickets_refunded = t.tickets_refunded + excluded.tickets_refunded,
                        refunded = t.refunded + excluded.refunded
                    """)
            }
        }
    }
}
