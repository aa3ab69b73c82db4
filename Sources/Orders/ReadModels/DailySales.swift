import Foundation
import Postgres

/// One ticket level's sales on one day: tickets in orders completed that day and in orders
/// refunded that day, and their money (minor units).
public struct DailySales: Sendable, Equatable {
    /// `2026-03-05`, a day in the time zone the figures were asked in.
    public let day: String
    public let levelId: String
    /// The level's name on its latest sale that day.
    public let levelName: String
    public let currency: String
    public let ticketsSold: Int
    public let gross: Int
    public let ticketsRefunded: Int
    public let refunded: Int

    /// What the day took for the level, refunds deducted (negative on a day of more refunds
    /// than sales).
    public var net: Int { gross - refunded }

    public init(
        day: String, levelId: String, levelName: String, currency: String, ticketsSold: Int, gross: Int,
        ticketsRefunded: Int, refunded: Int
    ) {
        self.day = day
        self.levelId = levelId
        self.levelName = levelName
        self.currency = currency
        self.ticketsSold = ticketsSold
        self.gross = gross
        self.ticketsRefunded = ticketsRefunded
        self.refunded = refunded
    }
}

extension OrderQueries {
    /// A concert's sales per day and level, from the `concert_sales_timeline` read model, days
    /// with sales or refunds only, by day then level id. `timeZone` (IANA) says where a day
    /// begins; the caller gives a zone it knows to be valid (PostgreSQL refuses others).
    public static func dailySales(concertId: String, timeZone: String = "UTC", on connection: Connection) throws
        -> [DailySales]
    {
        try connection.query(
            """
            SELECT to_char(period_start AT TIME ZONE \(timeZone)::text, 'YYYY-MM-DD') AS day, level_id,
                   (array_agg(level_name ORDER BY period_start DESC))[1] AS level_name, currency,
                   sum(tickets_sold)::bigint AS tickets_sold, sum(gross)::bigint AS gross,
                   sum(tickets_refunded)::bigint AS tickets_refunded, sum(refunded)::bigint AS refunded
            FROM concert_sales_timeline WHERE concert_id = \(concertId)
            GROUP BY 1, level_id, currency ORDER BY 1, level_id
            """
        ).map {
            DailySales(
                day: try $0.decode("day"), levelId: try $0.decode("level_id"), levelName: try $0.decode("level_name"),
                currency: try $0.decode("currency"), ticketsSold: try $0.decode("tickets_sold"),
                gross: try $0.decode("gross"), ticketsRefunded: try $0.decode("tickets_refunded"),
                refunded: try $0.decode("refunded"))
        }
    }

    /// Every order of a concert, oldest first (the export: no limit).
    public static func ofConcert(_ concertId: String, on connection: Connection) throws -> [OrderView] {
        try connection.query(
            "SELECT * FROM orders WHERE concert_id = \(concertId) ORDER BY created_at, id"
        ).map(OrderView.init)
    }
}
