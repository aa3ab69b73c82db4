import EventStore
import Foundation

/// The organiser cancels the concert. Refunds of paid orders follow through events.
public struct CancelConcert: Sendable, Equatable {
    public let cancelledBy: String
    public let reason: String
    public let now: Date

    public init(cancelledBy: String, reason: String = "", now: Date) {
        self.cancelledBy = cancelledBy
        self.reason = reason
        self.now = now
    }
}

public struct ConcertCancelled: EventPayload, Equatable {
    public static let eventType = "ConcertCancelled"
    public let concertId: String
    public let cancelledBy: String
    public let reason: String
    public let cancelledAt: Date
}

enum CancellingConcerts {
    /// The longest reason, in characters (the form's field allows as many).
    static let maxReason = 300

    static func decide(_ command: CancelConcert, _ state: Concert.State) throws -> [Concert.Event] {
        let reason = try Text.optional(command.reason, field: "reason", max: maxReason)
        guard state.exists else { throw ConcertError.notFound }
        guard !state.isCancelled else { throw ConcertError.alreadyCancelled }
        return [
            .cancelled(
                ConcertCancelled(
                    concertId: state.id!, cancelledBy: command.cancelledBy, reason: reason, cancelledAt: command.now))
        ]
    }
}
