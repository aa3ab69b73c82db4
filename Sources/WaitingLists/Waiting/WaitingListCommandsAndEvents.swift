import EventStore
import Foundation

/// A signed-in customer wants `quantity` tickets of a level with fewer left than that.
public struct JoinWaitingList: Sendable, Equatable {
    public let entryId: String
    public let concertId: String
    public let levelId: String
    public let userId: String
    /// Where offers are e-mailed.
    public let email: String
    public let name: String
    public let quantity: Int
    /// Tickets of the level on sale now (the read model's count).
    public let ticketsLeft: Int
    public let now: Date

    public init(
        entryId: String, concertId: String, levelId: String, userId: String, email: String, name: String,
        quantity: Int, ticketsLeft: Int, now: Date
    ) {
        self.entryId = entryId
        self.concertId = concertId
        self.levelId = levelId
        self.userId = userId
        self.email = email
        self.name = name
        self.quantity = quantity
        self.ticketsLeft = ticketsLeft
        self.now = now
    }
}

public struct WaitingListJoined: EventPayload, Equatable {
    public static let eventType = "WaitingListJoined"
    public let entryId: String
    public let concertId: String
    public let levelId: String
    public let userId: String
    public let email: String
    public let name: String
    public let quantity: Int
    public let joinedAt: Date
}

/// The customer leaves (signed in, or by the link in an e-mail: then `userId` is nil).
public struct LeaveWaitingList: Sendable, Equatable {
    public let entryId: String
    /// The customer asking, who must own the entry; nil when a signed link vouches for it.
    public let userId: String?
    /// `customer` or `link`.
    public let reason: String
    public let now: Date

    public init(entryId: String, userId: String?, reason: String, now: Date) {
        self.entryId = entryId
        self.userId = userId
        self.reason = reason
        self.now = now
    }
}

public struct WaitingListLeft: EventPayload, Equatable {
    public static let eventType = "WaitingListLeft"
    public let entryId: String
    public let concertId: String
    public let levelId: String
    public let reason: String
    public let leftAt: Date
}

/// Tickets of the level came back: `ticketsLeft` are on sale now. `checkoutIds` names the
/// checkout each entry's offer would be made under (made before deciding, so the decision stays
/// pure).
public struct OfferReturnedTickets: Sendable, Equatable {
    public let ticketsLeft: Int
    public let checkoutIds: [String: String]
    public let offerDuration: TimeInterval
    public let now: Date

    public init(ticketsLeft: Int, checkoutIds: [String: String], offerDuration: TimeInterval, now: Date) {
        self.ticketsLeft = ticketsLeft
        self.checkoutIds = checkoutIds
        self.offerDuration = offerDuration
        self.now = now
    }
}

public struct TicketsOffered: EventPayload, Equatable {
    public static let eventType = "WaitingListTicketsOffered"
    public let entryId: String
    public let concertId: String
    public let levelId: String
    public let quantity: Int
    /// The checkout that holds the tickets and takes the payment.
    public let checkoutId: String
    public let offeredAt: Date
    public let expiresAt: Date
}

/// A later entry was offered tickets this entry could not use (`Offering`, rule 2).
public struct WaitingListEntryOvertaken: EventPayload, Equatable {
    public static let eventType = "WaitingListEntryOvertaken"
    public let entryId: String
    public let concertId: String
    public let levelId: String
    public let at: Date
}

public struct OfferAccepted: EventPayload, Equatable {
    public static let eventType = "WaitingListOfferAccepted"
    public let entryId: String
    public let concertId: String
    public let levelId: String
    public let checkoutId: String
    public let acceptedAt: Date
}

public struct OfferLapsed: EventPayload, Equatable {
    public static let eventType = "WaitingListOfferLapsed"
    public let entryId: String
    public let concertId: String
    public let levelId: String
    public let checkoutId: String
    public let lapsedAt: Date
}
