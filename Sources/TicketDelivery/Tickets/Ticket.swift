import EventStore
import Foundation

/// A ticket: one seat of a completed order (stream `ticket-<id>`). Valid when issued, checked
/// in once at the door, void when its order is refunded or its concert cancelled.
///
/// Invariant: a ticket is checked in at most once; a void ticket is never checked in. The
/// stream's expected version makes two gates scanning one code at once take turns, and the
/// second finds it checked in.
public enum Ticket: Decider {
    public enum Status: String, Sendable, Codable, Equatable {
        case none, valid, checkedIn, void
    }

    public struct State: Sendable, Equatable {
        public var id: String?
        public var concertId = ""
        public var status: Status = .none
        public var checkedInAt: Date?
        public var voidReason: String?
        /// The ticket as it was issued (its number, holder, concert and organiser): what the
        /// door needs to know of it, from its own stream.
        public var issued: TicketIssued?
    }

    public enum Command: Sendable, Equatable {
        case issue(IssueTicket)
        case checkIn(CheckInTicket)
        case void(VoidTicket)
    }

    public enum Event: Sendable, Equatable {
        case issued(TicketIssued)
        case checkedIn(TicketCheckedIn)
        case voided(TicketVoided)
    }

    public static let streamType = "ticket"
    public static func streamId(_ ticketId: String) -> String { "ticket-\(ticketId)" }

    public static let initial = State()

    public static func evolve(_ state: State, _ event: Event) -> State {
        var next = state
        switch event {
        case .issued(let e):
            next.id = e.ticketId
            next.concertId = e.concert.id
            next.status = .valid
            next.issued = e
        case .checkedIn(let e):
            next.status = .checkedIn
            next.checkedInAt = e.checkedInAt
        case .voided(let e):
            next.status = .void
            next.voidReason = e.reason
        }
        return next
    }

    public static func decide(_ command: Command, _ state: State) throws -> [Event] {
        switch command {
        case .issue(let c):
            // Issuing again (a process manager's replay) changes nothing.
            guard state.status == .none else { return [] }
            guard c.ticketId.count <= 100, !c.number.isEmpty else {
                throw TicketError.invalid(field: "ticketId", message: "A ticket needs an id and a number.")
            }
            return [
                .issued(
                    TicketIssued(
                        ticketId: c.ticketId, number: c.number, orderId: c.orderId, userId: c.userId,
                        concert: c.concert, ticketLevelId: c.ticketLevelId, levelName: c.levelName, holder: c.holder,
                        delivery: c.delivery, issuedAt: c.now))
            ]
        case .checkIn(let c):
            switch state.status {
            case .none: throw TicketError.notFound
            case .void: throw TicketError.void(reason: state.voidReason ?? "void")
            case .checkedIn: throw TicketError.alreadyCheckedIn(at: state.checkedInAt ?? c.now)
            case .valid:
                return [
                    .checkedIn(
                        TicketCheckedIn(
                            ticketId: state.id!, concertId: state.concertId, checkedInBy: c.by, gate: c.gate,
                            checkedInAt: c.now))
                ]
            }
        case .void(let c):
            switch state.status {
            case .none: throw TicketError.notFound
            case .void: return []
            case .valid, .checkedIn:
                return [
                    .voided(
                        TicketVoided(ticketId: state.id!, concertId: state.concertId, reason: c.reason, voidedAt: c.now)
                    )
                ]
            }
        }
    }

    public static let eventTypes = EventTypes<Event> { event in
        switch event {
        case .issued(let e): e
        case .checkedIn(let e): e
        case .voided(let e): e
        }
    }
    .register(TicketIssued.self) { .issued($0) }
    .register(TicketCheckedIn.self) { .checkedIn($0) }
    .register(TicketVoided.self) { .voided($0) }
}

/// A business rule of tickets that a command broke.
public enum TicketError: Error, Equatable, Sendable {
    case notFound
    case alreadyCheckedIn(at: Date)
    case void(reason: String)
    /// The code's signature is wrong: forged, mistyped, or signed with a key no longer held.
    case invalidCode
    case invalid(field: String, message: String)
}
