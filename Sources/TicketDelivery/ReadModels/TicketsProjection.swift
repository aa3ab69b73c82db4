import EventStore
import Foundation
import Postgres

/// The `tickets` and `ticket_deliveries` read models. Inline: the gate's answer, the buyer's
/// ticket page and the organiser's print queue read them the moment a ticket or a delivery
/// changes.
public struct TicketsProjection: Projection {
    public let name = "tickets"
    public var kind: ProjectionKind { .inline }
    public var tables: [String] { ["tickets", "ticket_deliveries"] }
    /// 2: `tickets` leaves room on its pages and indexes no column a check-in or a void
    /// changes, so those updates are HOT (rebuild an older one to get it; its rows are the same).
    public var version: Int { 2 }

    public init() {}

    /// `tickets` is written once per ticket and updated at its check-in (and when it is
    /// voided): no index holds a column those updates change (the door's count reads a
    /// concert's tickets by `concert_id` alone), and each page keeps 15% free, so PostgreSQL
    /// updates the row in place on its page (HOT) without new entries in the five indexes: in
    /// a rush at the gates the check-in's UPDATE costs well under half of what it did with
    /// `status` indexed (measured: bench/FINDINGS.md, "The gate rush").
    public func createTables(in target: ProjectionTarget) throws {
        let tickets = target.table("tickets")
        let deliveries = target.table("ticket_deliveries")
        try target.connection.executeScript(
            unsafeSQL: """
                CREATE TABLE \(tickets) (
                    id text PRIMARY KEY,
                    number text NOT NULL,
                    order_id text NOT NULL,
                    user_id text NOT NULL,
                    concert_id text NOT NULL,
                    organiser_id text NOT NULL,
                    concert_name text NOT NULL,
                    venue text NOT NULL,
                    city text NOT NULL,
                    starts_at timestamptz NOT NULL,
                    ticket_level_id text NOT NULL,
                    level_name text NOT NULL,
                    holder text NOT NULL,
                    delivery text NOT NULL,
                    status text NOT NULL,
                    checked_in_at timestamptz,
                    checked_in_by text,
                    gate text,
                    void_reason text,
                    issued_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL
                ) WITH (fillfactor = 85);
                CREATE INDEX ON \(tickets) (user_id, issued_at);
                CREATE INDEX ON \(tickets) (order_id);
                CREATE INDEX ON \(tickets) (concert_id);
                CREATE UNIQUE INDEX ON \(tickets) (number);
                CREATE TABLE \(deliveries) (
                    order_id text PRIMARY KEY,
                    order_number text NOT NULL,
                    user_id text NOT NULL,
                    concert_id text NOT NULL,
                    organiser_id text NOT NULL,
                    concert_name text NOT NULL,
                    recipient text NOT NULL,
                    method text NOT NULL,
                    email text,
                    address jsonb,
                    tickets jsonb NOT NULL,
                    status text NOT NULL,
                    message_id text,
                    tracking_number text,
                    carrier text,
                    failure text,
                    prepared_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL
                );
                CREATE INDEX ON \(deliveries) (organiser_id, status, prepared_at);
                CREATE INDEX ON \(deliveries) (concert_id, status);
                """)
    }

    public func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        let connection = target.connection
        let tickets = target.table("tickets")
        let deliveries = target.table("ticket_deliveries")
        for recorded in events {
            switch recorded.streamType {
            case Ticket.streamType:
                switch try Ticket.eventTypes.decode(recorded) {
                case .issued(let e):
                    try connection.executeLater(
                        """
                        INSERT INTO \(unsafeSQL: tickets)
                            (id, number, order_id, user_id, concert_id, organiser_id, concert_name, venue, city,
                             starts_at, ticket_level_id, level_name, holder, delivery, status, issued_at, updated_at)
                        VALUES (\(e.ticketId), \(e.number), \(e.orderId), \(e.userId), \(e.concert.id),
                                \(e.concert.organiserId), \(e.concert.name), \(e.concert.venue), \(e.concert.city),
                                \(e.concert.startsAt), \(e.ticketLevelId), \(e.levelName), \(e.holder), \(e.delivery),
                                'valid', \(e.issuedAt), \(e.issuedAt))
                        ON CONFLICT (id) DO NOTHING
                        """)
                case .checkedIn(let e):
                    try connection.executeLater(
                        """
                        UPDATE \(unsafeSQL: tickets) SET status = 'checkedIn', checked_in_at = \(e.checkedInAt),
                            checked_in_by = \(e.checkedInBy), gate = \(e.gate), updated_at = \(e.checkedInAt)
                        WHERE id = \(e.ticketId)
                        """)
                case .voided(let e):
                    try connection.executeLater(
                        """
                        UPDATE \(unsafeSQL: tickets) SET status = 'void', void_reason = \(e.reason),
                            updated_at = \(e.voidedAt)
                        WHERE id = \(e.ticketId)
                        """)
                }
            case TicketDelivery.streamType:
                switch try TicketDelivery.eventTypes.decode(recorded) {
                case .prepared(let e):
                    try connection.executeLater(
                        """
                        INSERT INTO \(unsafeSQL: deliveries)
                            (order_id, order_number, user_id, concert_id, organiser_id, concert_name, recipient,
                             method, email, address, tickets, status, message_id, prepared_at, updated_at)
                        VALUES (\(e.orderId), \(e.orderNumber), \(e.userId), \(e.concert.id), \(e.concert.organiserId),
                                \(e.concert.name), \(e.recipient), \(e.method.rawValue), \(e.email),
                                \(try e.address.map(Self.json))::jsonb, \(try Self.json(e.tickets))::jsonb, 'prepared',
                                \(e.messageId), \(e.preparedAt), \(e.preparedAt))
                        ON CONFLICT (order_id) DO NOTHING
                        """)
                case .deliveredOnline(let e):
                    try connection.executeLater(
                        """
                        UPDATE \(unsafeSQL: deliveries) SET status = 'sent', message_id = \(e.messageId),
                            failure = NULL, updated_at = \(e.deliveredAt)
                        WHERE order_id = \(e.orderId)
                        """)
                case .deliveredPrinted(let e):
                    try connection.executeLater(
                        """
                        UPDATE \(unsafeSQL: deliveries) SET status = 'shipped', tracking_number = \(e.trackingNumber),
                            carrier = \(e.carrier), updated_at = \(e.shippedAt)
                        WHERE order_id = \(e.orderId)
                        """)
                case .failed(let e):
                    try connection.executeLater(
                        """
                        UPDATE \(unsafeSQL: deliveries) SET status = 'failed', failure = \(e.reason),
                            updated_at = \(e.failedAt)
                        WHERE order_id = \(e.orderId)
                        """)
                }
            default:
                continue
            }
        }
    }

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
