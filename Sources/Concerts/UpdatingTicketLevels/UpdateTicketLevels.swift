import EventStore
import Foundation

/// The organiser replaces the ticket levels and prices.
///
/// A level's capacity may not fall below its tickets already held or sold, and a level that
/// has any may not be removed: those tickets are customers'. The count comes from the context
/// that sells tickets, read when the command is made (`taken`, by level id); the availability
/// shards never shrink below what they hold either, so a sale racing this change is safe.
public struct UpdateTicketLevels: Sendable, Equatable {
    public let ticketLevels: [TicketLevel]
    public let taken: [String: Int]
    public let now: Date

    public init(ticketLevels: [TicketLevel], taken: [String: Int] = [:], now: Date) {
        self.ticketLevels = ticketLevels
        self.taken = taken
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
        for (levelId, count) in command.taken.sorted(by: { $0.key < $1.key }) where count > 0 {
            let capacity = command.ticketLevels.first { $0.id == levelId }?.capacity ?? 0
            guard capacity >= count else { throw ConcertError.capacityBelowTaken(levelId: levelId, taken: count) }
        }
        guard command.ticketLevels != state.ticketLevels else { return [] }
        return [
            .ticketLevelsUpdated(
                TicketLevelsUpdated(concertId: state.id!, ticketLevels: command.ticketLevels, updatedAt: command.now))
        ]
    }
}
