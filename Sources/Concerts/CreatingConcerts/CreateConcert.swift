import EventStore
import Foundation

/// An organiser creates a concert. The id and the time arrive in the command.
public struct CreateConcert: Sendable, Equatable {
    public let concertId: String
    public let organiserId: String
    public let details: ConcertDetails
    public let currency: String
    public let ticketLevels: [TicketLevel]
    public let now: Date

    public init(
        concertId: String, organiserId: String, details: ConcertDetails, currency: String, ticketLevels: [TicketLevel],
        now: Date
    ) {
        self.concertId = concertId
        self.organiserId = organiserId
        self.details = details
        self.currency = currency
        self.ticketLevels = ticketLevels
        self.now = now
    }
}

/// Schema 2 added `details.timeZone`; schema 1 events (times entered and shown in UTC) are
/// read with `UTC` (`Concert.eventTypes`' upcaster).
public struct ConcertCreated: EventPayload, Equatable {
    public static let eventType = "ConcertCreated"
    public static let schemaVersion = 2
    public let concertId: String
    public let organiserId: String
    public let details: ConcertDetails
    public let currency: String
    public let ticketLevels: [TicketLevel]
    public let createdAt: Date
}

enum CreatingConcerts {
    static func decide(_ command: CreateConcert, _ state: Concert.State) throws -> [Concert.Event] {
        guard !state.exists else { throw ConcertError.alreadyExists }
        guard command.details.startsAt > command.now else {
            throw ConcertError.invalid(field: "startsAt", message: "The concert must start in the future.")
        }
        let currency = try Currency.validate(command.currency)
        try TicketLevel.validate(command.ticketLevels)
        return [
            .created(
                ConcertCreated(
                    concertId: command.concertId, organiserId: command.organiserId, details: command.details,
                    currency: currency, ticketLevels: command.ticketLevels, createdAt: command.now))
        ]
    }
}
