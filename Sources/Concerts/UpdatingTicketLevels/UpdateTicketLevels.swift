import EventStore
import Foundation

/// The organiser replaces the ticket levels and prices.
///
/// Capacity may not fall below the tickets already held or sold: that count lives in the
/// Reservations context, which refuses such a change through its availability streams; this
/// decider enforces the Concerts rules only.
public struct UpdateTicketLevels: Sendable, Equatable {
    public let ticketLevels: [TicketLevel]
    public let now: Date

    public init(ticketLevels: [TicketLevel], now: Date) {
        self.ticketLevels = ticketLevels
        self.now = now
    }
}

public struct TicketLevelsUpdated: EventPayload, Equatable {
    public static let eventType = "TicketLevelsUpdated"
    public let concertId: String
    public let ticketLevels: [TicketLevel]
    public let updatedAt: Date
}

enum UpdatingTicketLevels {
    static func decide(_ command: UpdateTicketLevels, _ state: Concert.State) throws -> [Concert.Event] {
        try Concert.requireChangeable(state)
        try TicketLevel.validate(command.ticketLevels)
        guard command.ticketLevels != state.ticketLevels else { return [] }
        return [
            .ticketLevelsUpdated(
                TicketLevelsUpdated(concertId: state.id!, ticketLevels: command.ticketLevels, updatedAt: command.now))
        ]
    }
}
