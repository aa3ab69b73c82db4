import EventStore
import Foundation

/// The organiser changes what the public sees: artist, title, venue, city, start time, time zone.
public struct UpdateConcert: Sendable, Equatable {
    public let details: ConcertDetails
    public let now: Date

    public init(details: ConcertDetails, now: Date) {
        self.details = details
        self.now = now
    }
}

/// Schema 2 added `details.timeZone`, like `ConcertCreated`.
public struct ConcertUpdated: EventPayload, Equatable {
    public static let eventType = "ConcertUpdated"
    public static let schemaVersion = 2
    public let concertId: String
    public let details: ConcertDetails
    public let updatedAt: Date
}

enum UpdatingConcerts {
    static func decide(_ command: UpdateConcert, _ state: Concert.State) throws -> [Concert.Event] {
        try Concert.requireChangeable(state)
        guard command.details != state.details else { return [] }
        if command.details.startsAt != state.details?.startsAt, command.details.startsAt <= command.now {
            throw ConcertError.invalid(field: "startsAt", message: "The concert must start in the future.")
        }
        return [.updated(ConcertUpdated(concertId: state.id!, details: command.details, updatedAt: command.now))]
    }
}
