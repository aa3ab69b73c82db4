import Foundation
import Postgres

/// An order as the API and the pages show it.
public struct OrderView: Sendable, Equatable, Encodable {
    public struct Item: Sendable, Equatable, Codable {
        public let ticketLevelId: String
        public let levelName: String
        public let quantity: Int
        public let unitPrice: Int
    }
    public struct Money: Sendable, Equatable, Encodable {
        public let amount: Int
        public let currency: String
    }
    public struct Step: Sendable, Equatable, Codable {
        public let status: String
        public let at: Date
        public let note: String?
    }

    public let id: String
    public let number: String
    public let checkoutId: String
    public let paymentId: String
    public let reservationId: String
    public let concertId: String
    public let concertName: String
    public let userId: String
    public let buyerEmail: String
    public let buyerName: String
    public let delivery: OrderDelivery
    public let items: [Item]
    public let total: Money
    /// `pending`, `completed`, `cancelled` or `refunded`.
    public let status: String
    public let refunded: Int
    public let history: [Step]
    public let createdAt: Date
    public let updatedAt: Date

    init(row: Row) throws {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        func json<T: Decodable>(_ column: String, as type: T.Type) throws -> T {
            try decoder.decode(T.self, from: Data(try row.decode(column, as: String.self).utf8))
        }
        id = try row.decode("id")
        number = try row.decode("number")
        checkoutId = try row.decode("checkout_id")
        paymentId = try row.decode("payment_id")
        reservationId = try row.decode("reservation_id")
        concertId = try row.decode("concert_id")
        concertName = try row.decode("concert_name")
        userId = try row.decode("user_id")
        buyerEmail = try row.decode("buyer_email")
        buyerName = try row.decode("buyer_name")
        delivery = try json("delivery", as: OrderDelivery.self)
        items = try json("items", as: [Item].self)
        total = Money(amount: try row.decode("total"), currency: try row.decode("currency"))
        status = try row.decode("status")
        refunded = try row.decode("refunded")
        history = try json("history", as: [Step].self)
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }
}

/// One level's takings of a concert.
public struct LevelTakings: Sendable, Equatable, Encodable {
    public let levelId: String
    public let levelName: String
    public let currency: String
    public let ticketsSold: Int
    public let gross: Int
    public let ticketsRefunded: Int
    public let refunded: Int
    /// What the level took, refunds deducted.
    public let net: Int
}

/// Queries of the `orders` and `concert_takings` read models.
public enum OrderQueries {
    public static func find(id: String, on connection: Connection) throws -> OrderView? {
        try connection.query("SELECT * FROM orders WHERE id = \(id)").first.map(OrderView.init)
    }

    /// A buyer's orders, newest first.
    public static func mine(userId: String, limit: Int = 200, on connection: Connection) throws -> [OrderView] {
        try connection.query(
            "SELECT * FROM orders WHERE user_id = \(userId) ORDER BY created_at DESC, id LIMIT \(limit)"
        ).map(OrderView.init)
    }

    public static func forCheckout(_ checkoutId: String, on connection: Connection) throws -> [OrderView] {
        try connection.query("SELECT * FROM orders WHERE checkout_id = \(checkoutId) ORDER BY id").map(OrderView.init)
    }

    /// Orders of concerts (nil: of all), newest first; `search` matches the buyer's e-mail or
    /// the order number (case-insensitive, part of either), `status` one status.
    public static func list(
        concertIds: [String]?, search: String?, status: String?, limit: Int = 500, on connection: Connection
    ) throws -> [OrderView] {
        let pattern = search.flatMap { $0.isEmpty ? nil : "%" + escapeLike($0.lowercased()) + "%" }
        let concerts = concertIds.map { SQLArray($0) }
        return try connection.query(
            """
            SELECT * FROM orders
            WHERE (\(concerts)::text[] IS NULL OR concert_id = ANY(\(concerts)::text[]))
              AND (\(pattern)::text IS NULL OR lower(buyer_email) LIKE \(pattern) OR lower(number) LIKE \(pattern))
              AND (\(status)::text IS NULL OR status = \(status))
            ORDER BY created_at DESC, id LIMIT \(limit)
            """
        ).map(OrderView.init)
    }

    /// Completed orders of a concert (what a cancelled concert refunds).
    public static func completed(concertId: String, on connection: Connection) throws -> [OrderView] {
        try connection.query(
            "SELECT * FROM orders WHERE concert_id = \(concertId) AND status = 'completed' ORDER BY id"
        ).map(OrderView.init)
    }

    public static func takings(concertId: String, on connection: Connection) throws -> [LevelTakings] {
        try connection.query(
            "SELECT * FROM concert_takings WHERE concert_id = \(concertId) ORDER BY level_id"
        ).map {
            let gross: Int = try $0.decode("gross")
            let refunded: Int = try $0.decode("refunded")
            return LevelTakings(
                levelId: try $0.decode("level_id"), levelName: try $0.decode("level_name"),
                currency: try $0.decode("currency"), ticketsSold: try $0.decode("tickets_sold"), gross: gross,
                ticketsRefunded: try $0.decode("tickets_refunded"), refunded: refunded, net: gross - refunded)
        }
    }

    static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }
}
