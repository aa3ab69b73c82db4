import EventStore
import Foundation

/// A concert, as a decider: the Concerts context's aggregate (stream `concert-<id>`).
///
/// Rules: a concert has an artist, a venue, a city, a start time in its venue's time zone, one
/// currency and at least one ticket level; capacities are 1 to 100,000; prices are 0 or more minor units; level ids are
/// unique; nothing changes after cancellation, and cancelling twice is refused.
public enum Concert: Decider {
    public struct State: Sendable, Equatable, Codable {
        public var id: String?
        public var organiserId: String = ""
        public var details: ConcertDetails?
        public var currency: String = ""
        public var ticketLevels: [TicketLevel] = []
        public var isCancelled = false
        public var exists: Bool { id != nil }
    }

    public enum Command: Sendable, Equatable {
        case create(CreateConcert)
        case update(UpdateConcert)
        case updateTicketLevels(UpdateTicketLevels)
        case cancel(CancelConcert)
    }

    public enum Event: Sendable, Equatable {
        case created(ConcertCreated)
        case updated(ConcertUpdated)
        case ticketLevelsUpdated(TicketLevelsUpdated)
        case cancelled(ConcertCancelled)
    }

    public static let streamType = "concert"
    public static func streamId(_ concertId: String) -> String { "concert-\(concertId)" }

    public static let initial = State()

    public static func evolve(_ state: State, _ event: Event) -> State {
        var next = state
        switch event {
        case .created(let e):
            next.id = e.concertId
            next.organiserId = e.organiserId
            next.details = e.details
            next.currency = e.currency
            next.ticketLevels = e.ticketLevels
        case .updated(let e):
            next.details = e.details
        case .ticketLevelsUpdated(let e):
            next.ticketLevels = e.ticketLevels
        case .cancelled:
            next.isCancelled = true
        }
        return next
    }

    public static func decide(_ command: Command, _ state: State) throws -> [Event] {
        switch command {
        case .create(let c): try CreatingConcerts.decide(c, state)
        case .update(let c): try UpdatingConcerts.decide(c, state)
        case .updateTicketLevels(let c): try UpdatingTicketLevels.decide(c, state)
        case .cancel(let c): try CancellingConcerts.decide(c, state)
        }
    }

    public static let eventTypes = EventTypes<Event> { event in
        switch event {
        case .created(let e): e
        case .updated(let e): e
        case .ticketLevelsUpdated(let e): e
        case .cancelled(let e): e
        }
    }
    .register(ConcertCreated.self) { .created($0) }
    .register(ConcertUpdated.self) { .updated($0) }
    .register(TicketLevelsUpdated.self) { .ticketLevelsUpdated($0) }
    .register(ConcertCancelled.self) { .cancelled($0) }
    .upcast(ConcertCreated.self, from: 1, Concert.addUTCZone)
    .upcast(ConcertUpdated.self, from: 1, Concert.addUTCZone)

    /// Schema 1 of `ConcertCreated` and `ConcertUpdated` had no time zone: their start times
    /// were entered in UTC (the form said so) and shown in UTC, so UTC is what they meant.
    /// Reading them so changes no moment and nothing any page showed; the organiser can set
    /// the venue's zone later, with the same moment (API) or its local time (the form).
    @Sendable static func addUTCZone(_ old: JSONValue) -> JSONValue {
        var new = old
        if new["details"]?["timeZone"] == nil { new["details"]?["timeZone"] = .string(VenueTimeZone.utc) }
        return new
    }

    /// Rules shared by commands that change a concert that must exist and not be cancelled.
    static func requireChangeable(_ state: State) throws {
        guard state.exists else { throw ConcertError.notFound }
        guard !state.isCancelled else { throw ConcertError.cancelled }
    }
}

/// A business rule of the Concerts context that a command broke.
public enum ConcertError: Error, Equatable, Sendable {
    case notFound
    case alreadyExists
    case cancelled
    case alreadyCancelled
    /// The concert is cancelled: its tickets are not on sale.
    case notOnSale
    /// A concert named in a request (a cart's item) that does not exist.
    case unknownConcert
    case unknownTicketLevel
    /// A new capacity below the tickets already held or sold of that level.
    case capacityBelowTaken(levelId: String, taken: Int)
    case invalid(field: String, message: String)
}
