import Foundation
import Postgres
import Web

/// A ticket as the API and the pages show it.
public struct TicketView: Sendable, Equatable, Encodable {
    public struct Concert: Sendable, Equatable, Encodable {
        public let id: String
        public let name: String
        public let venue: String
        public let city: String
        public let startsAt: Date
    }

    public let id: String
    public let number: String
    public let orderId: String
    public let concertId: String
    public let concert: Concert
    public let ticketLevelId: String
    public let levelName: String
    public let holder: String
    /// The signed code its QR carries (only for the ticket's own buyer and the concert's organiser).
    public var code: String?
    /// `online` or `printed`.
    public let delivery: String
    /// `valid`, `checkedIn` or `void`.
    public var status: String
    public var checkedInAt: Date?
    public let voidReason: String?
    public let issuedAt: Date
    let userId: String
    let organiserId: String

    enum CodingKeys: String, CodingKey {
        case id, number, orderId, concertId, concert, ticketLevelId, levelName, holder, code, delivery, status
        case checkedInAt, voidReason, issuedAt
    }

    /// The ticket as its own stream tells it (the same fields its row in `tickets` holds).
    init(_ issued: TicketIssued, status: Ticket.Status, checkedInAt: Date?, voidReason: String?) {
        id = issued.ticketId
        number = issued.number
        orderId = issued.orderId
        concertId = issued.concert.id
        concert = Concert(
            id: issued.concert.id, name: issued.concert.name, venue: issued.concert.venue, city: issued.concert.city,
            startsAt: issued.concert.startsAt)
        ticketLevelId = issued.ticketLevelId
        levelName = issued.levelName
        holder = issued.holder
        delivery = issued.delivery
        self.status = status.rawValue
        self.checkedInAt = checkedInAt
        self.voidReason = voidReason
        issuedAt = issued.issuedAt
        userId = issued.userId
        organiserId = issued.concert.organiserId
    }

    init(row: Row) throws {
        id = try row.decode("id")
        number = try row.decode("number")
        orderId = try row.decode("order_id")
        concertId = try row.decode("concert_id")
        concert = Concert(
            id: concertId, name: try row.decode("concert_name"), venue: try row.decode("venue"),
            city: try row.decode("city"), startsAt: try row.decode("starts_at"))
        ticketLevelId = try row.decode("ticket_level_id")
        levelName = try row.decode("level_name")
        holder = try row.decode("holder")
        delivery = try row.decode("delivery")
        status = try row.decode("status")
        checkedInAt = try row.decodeIfPresent("checked_in_at")
        voidReason = try row.decodeIfPresent("void_reason")
        issuedAt = try row.decode("issued_at")
        userId = try row.decode("user_id")
        organiserId = try row.decode("organiser_id")
    }
}

/// An order's delivery as the buyer, the print queue and the API show it.
public struct DeliveryView: Sendable, Equatable, Encodable {
    public let orderId: String
    public let orderNumber: String
    public let concertId: String
    public let concertName: String
    public let recipient: String
    /// `online` or `printed`.
    public let method: String
    public let email: String?
    public let address: [String]?
    public let tickets: [DeliveredTicket]
    /// `prepared` (being e-mailed, or waiting to be printed and posted), `sent`, `shipped`, `failed`.
    public let status: String
    public let trackingNumber: String?
    public let carrier: String?
    public let failure: String?
    public let preparedAt: Date
    public let updatedAt: Date
    let organiserId: String
    let userId: String

    enum CodingKeys: String, CodingKey {
        case orderId, orderNumber, concertId, concertName, recipient, method, email, address, tickets, status
        case trackingNumber, carrier, failure, preparedAt, updatedAt
    }

    /// Where the tickets are, in words, for the buyer's order page.
    public var progress: String {
        switch (method, status) {
        case ("online", "sent"): "Your tickets were e-mailed to \(email ?? "you") on \(DateText.display(updatedAt))."
        case ("online", "failed"):
            "The e-mail to \(email ?? "you") could not be delivered; the organiser has been told. Your tickets are here."
        case ("online", _): "Your tickets are being e-mailed to \(email ?? "you")."
        case (_, "shipped"):
            "Your tickets were posted on \(DateText.display(updatedAt))"
                + (carrier.map { " by \($0)" } ?? "") + (trackingNumber.map { ", tracking number \($0)" } ?? "") + "."
        default: "Your tickets will be printed and posted to you."
        }
    }

    init(row: Row) throws {
        orderId = try row.decode("order_id")
        orderNumber = try row.decode("order_number")
        concertId = try row.decode("concert_id")
        concertName = try row.decode("concert_name")
        recipient = try row.decode("recipient")
        method = try row.decode("method")
        email = try row.decodeIfPresent("email")
        address = try row.decodeIfPresent("address", as: String.self).map {
            try JSONDecoder().decode([String].self, from: Data($0.utf8))
        }
        tickets = try JSONDecoder().decode(
            [DeliveredTicket].self, from: Data(try row.decode("tickets", as: String.self).utf8))
        status = try row.decode("status")
        trackingNumber = try row.decodeIfPresent("tracking_number")
        carrier = try row.decodeIfPresent("carrier")
        failure = try row.decodeIfPresent("failure")
        preparedAt = try row.decode("prepared_at")
        updatedAt = try row.decode("updated_at")
        organiserId = try row.decode("organiser_id")
        userId = try row.decode("user_id")
    }
}

/// What a concert's door has seen.
public struct DoorCount: Sendable, Equatable, Encodable {
    public let concertId: String
    public let issued: Int
    public let checkedIn: Int
    public let void: Int
}

/// Reads of the tickets' and deliveries' read models.
public enum TicketQueries {
    public static func find(id: String, on connection: Connection) throws -> TicketView? {
        guard UUID(uuidString: id) != nil else { return nil }
        return try connection.query("SELECT * FROM tickets WHERE id = \(id)").first.map(TicketView.init)
    }

    public static func find(number: String, on connection: Connection) throws -> TicketView? {
        try connection.query("SELECT * FROM tickets WHERE number = \(number)").first.map(TicketView.init)
    }

    /// A buyer's tickets, the next concert first, then by number.
    public static func mine(userId: String, orderId: String? = nil, on connection: Connection) throws -> [TicketView] {
        try connection.query(
            """
            SELECT * FROM tickets WHERE user_id = \(userId) AND (\(orderId)::text IS NULL OR order_id = \(orderId))
            ORDER BY starts_at < now(), starts_at, number LIMIT 1000
            """
        ).map(TicketView.init)
    }

    public static func ofOrder(_ orderId: String, on connection: Connection) throws -> [TicketView] {
        try connection.query("SELECT * FROM tickets WHERE order_id = \(orderId) ORDER BY number").map(TicketView.init)
    }

    public static func ofConcert(_ concertId: String, on connection: Connection) throws -> [String] {
        try connection.query("SELECT id FROM tickets WHERE concert_id = \(concertId) AND status <> 'void' ORDER BY id")
            .map { try $0.decode("id") }
    }

    /// The tickets of a concert that admit someone (valid or checked in; not void), by number:
    /// the attendees.
    public static func attendees(concertId: String, on connection: Connection) throws -> [TicketView] {
        try connection.query(
            "SELECT * FROM tickets WHERE concert_id = \(concertId) AND status <> 'void' ORDER BY number"
        ).map(TicketView.init)
    }

    public static func doorCount(concertId: String, on connection: Connection) throws -> DoorCount {
        let row = try connection.query(
            """
            SELECT count(*)::int AS issued,
                   count(*) FILTER (WHERE status = 'checkedIn')::int AS checked_in,
                   count(*) FILTER (WHERE status = 'void')::int AS void
            FROM tickets WHERE concert_id = \(concertId)
            """
        ).first!
        return DoorCount(
            concertId: concertId, issued: try row.decode("issued"), checkedIn: try row.decode("checked_in"),
            void: try row.decode("void"))
    }

    public static func delivery(orderId: String, on connection: Connection) throws -> DeliveryView? {
        try connection.query("SELECT * FROM ticket_deliveries WHERE order_id = \(orderId)").first.map(DeliveryView.init)
    }

    /// Deliveries of an organiser's concerts (every organiser's for nil: an admin), by status.
    public static func deliveries(
        organiserId: String?, method: String?, statuses: [String], concertId: String? = nil, limit: Int = 500,
        on connection: Connection
    ) throws -> [DeliveryView] {
        try connection.query(
            """
            SELECT * FROM ticket_deliveries
            WHERE (\(organiserId)::text IS NULL OR organiser_id = \(organiserId))
              AND (\(method)::text IS NULL OR method = \(method))
              AND status = ANY(\(SQLArray(statuses))::text[])
              AND (\(concertId)::text IS NULL OR concert_id = \(concertId))
            ORDER BY prepared_at, order_id LIMIT \(limit)
            """
        ).map(DeliveryView.init)
    }
}
