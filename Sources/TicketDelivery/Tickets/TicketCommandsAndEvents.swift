import EventStore
import Foundation

/// The concert as a ticket shows it, copied when the ticket is issued (a ticket is a document:
/// it keeps the names it was sold under).
public struct TicketConcert: Sendable, Equatable, Codable {
    public let id: String
    /// "Beyoncé — Cowboy Carter Tour, Warsaw".
    public let name: String
    public let venue: String
    public let city: String
    public let startsAt: Date
    /// Who may check its tickets in.
    public let organiserId: String

    public init(id: String, name: String, venue: String, city: String, startsAt: Date, organiserId: String) {
        self.id = id
        self.name = name
        self.venue = venue
        self.city = city
        self.startsAt = startsAt
        self.organiserId = organiserId
    }
}

/// One seat of a completed order becomes a ticket.
public struct IssueTicket: Sendable, Equatable {
    public let ticketId: String
    /// The order's number and the seat's: `EN-00001234-02`.
    public let number: String
    public let orderId: String
    public let userId: String
    public let concert: TicketConcert
    public let ticketLevelId: String
    public let levelName: String
    /// Who the ticket is for: the buyer's name.
    public let holder: String
    /// `online` or `printed`.
    public let delivery: String
    public let now: Date

    public init(
        ticketId: String, number: String, orderId: String, userId: String, concert: TicketConcert,
        ticketLevelId: String, levelName: String, holder: String, delivery: String, now: Date
    ) {
        self.ticketId = ticketId
        self.number = number
        self.orderId = orderId
        self.userId = userId
        self.concert = concert
        self.ticketLevelId = ticketLevelId
        self.levelName = levelName
        self.holder = holder
        self.delivery = delivery
        self.now = now
    }
}

public struct TicketIssued: EventPayload, Equatable {
    public static let eventType = "TicketIssued"
    public let ticketId: String
    public let number: String
    public let orderId: String
    public let userId: String
    public let concert: TicketConcert
    public let ticketLevelId: String
    public let levelName: String
    public let holder: String
    public let delivery: String
    public let issuedAt: Date
}

/// A gate scanned the ticket's code (or door staff typed its number).
public struct CheckInTicket: Sendable, Equatable {
    /// The user who checked it in.
    public let by: String
    /// Which entrance, as the scanner names itself ("north gate"); optional.
    public let gate: String?
    public let now: Date

    public init(by: String, gate: String?, now: Date) {
        self.by = by
        self.gate = gate
        self.now = now
    }
}

public struct TicketCheckedIn: EventPayload, Equatable {
    public static let eventType = "TicketCheckedIn"
    public let ticketId: String
    public let concertId: String
    public let checkedInBy: String
    public let gate: String?
    public let checkedInAt: Date
}

/// The ticket no longer admits anyone: its order was refunded, or its concert cancelled.
public struct VoidTicket: Sendable, Equatable {
    /// `refunded`, `concert_cancelled`.
    public let reason: String
    public let now: Date

    public init(reason: String, now: Date) {
        self.reason = reason
        self.now = now
    }
}

public struct TicketVoided: EventPayload, Equatable {
    public static let eventType = "TicketVoided"
    public let ticketId: String
    public let concertId: String
    public let reason: String
    public let voidedAt: Date
}
