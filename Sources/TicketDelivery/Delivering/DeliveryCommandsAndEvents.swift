import EventStore
import Foundation

public enum DeliveryMethod: String, Sendable, Codable, Equatable {
    case online, printed
}

/// A ticket as its delivery lists it.
public struct DeliveredTicket: Sendable, Equatable, Codable {
    public let ticketId: String
    public let number: String
    public let levelName: String

    public init(ticketId: String, number: String, levelName: String) {
        self.ticketId = ticketId
        self.number = number
        self.levelName = levelName
    }
}

/// A completed order's tickets are to reach its buyer by the method chosen in the cart.
public struct PrepareTicketDelivery: Sendable, Equatable {
    public let orderId: String
    public let orderNumber: String
    public let concert: TicketConcert
    public let userId: String
    /// The buyer's name.
    public let recipient: String
    public let method: DeliveryMethod
    public let email: String?
    /// Name, lines, postal code, city and country.
    public let address: [String]?
    public let tickets: [DeliveredTicket]
    /// The e-mail's Message-ID, for online delivery.
    public let messageId: String
    public let now: Date

    public init(
        orderId: String, orderNumber: String, concert: TicketConcert, userId: String, recipient: String,
        method: DeliveryMethod, email: String?, address: [String]?, tickets: [DeliveredTicket], messageId: String,
        now: Date
    ) {
        self.orderId = orderId
        self.orderNumber = orderNumber
        self.concert = concert
        self.userId = userId
        self.recipient = recipient
        self.method = method
        self.email = email
        self.address = address
        self.tickets = tickets
        self.messageId = messageId
        self.now = now
    }
}

public struct TicketDeliveryPrepared: EventPayload, Equatable {
    public static let eventType = "TicketDeliveryPrepared"
    public let orderId: String
    public let orderNumber: String
    public let concert: TicketConcert
    public let userId: String
    public let recipient: String
    public let method: DeliveryMethod
    public let email: String?
    public let address: [String]?
    public let tickets: [DeliveredTicket]
    public let messageId: String?
    public let preparedAt: Date
}

/// The mail server accepted the tickets' e-mail.
public struct DeliverOnlineTicket: Sendable, Equatable {
    public let messageId: String
    public let now: Date

    public init(messageId: String, now: Date) {
        self.messageId = messageId
        self.now = now
    }
}

public struct OnlineTicketDelivered: EventPayload, Equatable {
    public static let eventType = "OnlineTicketDelivered"
    public let orderId: String
    public let messageId: String
    public let deliveredAt: Date
}

/// The organiser posted the printed tickets.
public struct DeliverPrintedTicket: Sendable, Equatable {
    public let trackingNumber: String
    public let carrier: String?
    public let now: Date

    public init(trackingNumber: String, carrier: String?, now: Date) {
        self.trackingNumber = trackingNumber
        self.carrier = carrier
        self.now = now
    }
}

public struct PrintedTicketDelivered: EventPayload, Equatable {
    public static let eventType = "PrintedTicketDelivered"
    public let orderId: String
    public let trackingNumber: String
    public let carrier: String?
    public let shippedAt: Date
}

/// The mail server refused the e-mail for good (no such mailbox, say).
public struct RecordDeliveryFailure: Sendable, Equatable {
    public let reason: String
    public let now: Date

    public init(reason: String, now: Date) {
        self.reason = reason
        self.now = now
    }
}

public struct TicketDeliveryFailed: EventPayload, Equatable {
    public static let eventType = "TicketDeliveryFailed"
    public let orderId: String
    public let reason: String
    public let failedAt: Date
}
