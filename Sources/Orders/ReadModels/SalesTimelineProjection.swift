import EventStore
import Foundation
import Postgres

/// The `concert_sales_timeline` read model: per concert, ticket level and quarter of an hour,
/// the tickets sold (orders completed then) and refunded (orders refunded then) and their
/// money, for the organiser's dashboard. Async, like `concert_takings`: no sale waits for it.
///
/// Quarters of an hour (UTC), not days: a day begins at midnight where the concert is, and every
/// time zone's offset from UTC is a whole number of quarter-hours, so `OrderQueries.dailySales`
/// cuts the quarters into the days of any zone when it reads, and a concert that gets its time
/// zone needs no rebuild. A concert's sales make at most 96 rows a day per level.
public struct SalesTimelineProjection: Projection {
    public let name = "concert_sales_timeline"
    public var tables: [String] { ["concert_sales_timeline"] }

    public init() {}

    public func createTables(in target: ProjectionTarget) throws {
        try target.connection.executeScript(
            unsafeSQL: """
                CREATE TABLE \(target.table("concert_sales_timeline")) (
                    concert_id text NOT NULL,
                    period_start timestamptz NOT NULL,
                    level_id text NOT NULL,
                    level_name text NOT NULL,
                    currency text NOT NULL,
                    tickets_sold bigint NOT NULL DEFAULT 0,
                    gross bigint NOT NULL DEFAULT 0,
                    tickets_refunded bigint NOT NULL DEFAULT 0,
                    refunded bigint NOT NULL DEFAULT 0,
                    PRIMARY KEY (concert_id, period_start, level_id)
                );
                """)
    }

    public func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        let table = target.table("concert_sales_timeline")
        for recorded in events where recorded.streamType == TicketOrder.streamType {
            let (concertId, items, currency, at, refund): (String, [OrderItem], String, Date, Bool)
            switch try TicketOrder.eventTypes.decode(recorded) {
            case .completed(let e):
                (concertId, items, currency, at, refund) = (e.concertId, e.items, e.currency, e.completedAt, false)
            case .refunded(let e):
                (concertId, items, currency, at, refund) = (e.concertId, e.items, e.currency, e.refundedAt, true)
            case .created, .cancelled: continue
            }
            let period = Self.quarterHour(of: at)
            for item in items {
                let money = item.quantity * item.unitPrice
                try target.connection.execute(
                    """
                    INSERT INTO \(unsafeSQL: table) AS t
                        (concert_id, period_start, level_id, level_name, currency, tickets_sold, gross,
                         tickets_refunded, refunded)
                    VALUES (\(concertId), \(period), \(item.ticketLevelId), \(item.levelName), \(currency),
                            \(refund ? 0 : item.quantity), \(refund ? 0 : money), \(refund ? item.quantity : 0),
                            \(refund ? money : 0))
                    ON CONFLICT (concert_id, period_start, level_id) DO UPDATE SET
                        tickets_sold = t.tickets_sold + excluded.tickets_sold, gross = t.gross + excluded.gross,
                        tickets_refunded = t.tickets_refunded + excluded.tickets_refunded,
                        refunded = t.refunded + excluded.refunded
                    """)
            }
        }
    }

    /// The start of the quarter of an hour (UTC) that `date` falls in.
    static func quarterHour(of date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 900).rounded(.down) * 900)
    }
}
