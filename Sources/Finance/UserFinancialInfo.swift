import EventStore
import Foundation

/// A user's financial details (stream `financial-info-<userId>`): the legal name, address and
/// tax id their invoices show, as a buyer, and as the seller for an organiser. Created once,
/// then updated; an invoice takes a copy of them when it is issued, so later changes never
/// touch it.
public enum UserFinancialInfo: Decider {
    public struct State: Sendable, Equatable {
        public var userId: String?
        public var details: FinancialDetails?
        public var updatedAt: Date?
    }

    public enum Command: Sendable, Equatable {
        case create(CreateUserFinancialInfo)
        case update(UpdateUserFinancialInfo)
    }

    public enum Event: Sendable, Equatable {
        case created(UserFinancialInfoCreated)
        case updated(UserFinancialInfoUpdated)
    }

    public static let streamType = "financial_info"
    public static func streamId(_ userId: String) -> String { "financial-info-\(userId)" }

    public static let initial = State()

    public static func evolve(_ state: State, _ event: Event) -> State {
        var next = state
        switch event {
        case .created(let e):
            next.userId = e.userId
            next.details = e.details
            next.updatedAt = e.createdAt
        case .updated(let e):
            next.details = e.details
            next.updatedAt = e.updatedAt
        }
        return next
    }

    public static func decide(_ command: Command, _ state: State) throws -> [Event] {
        switch command {
        case .create(let c):
            guard let current = state.details else {
                return [.created(UserFinancialInfoCreated(userId: c.userId, details: c.details, createdAt: c.now))]
            }
            guard current == c.details else { throw FinanceError.financialInfoExists }
            return []  // the same details again (a retried request): nothing new
        case .update(let c):
            guard let current = state.details, let userId = state.userId else { throw FinanceError.noFinancialInfo }
            guard current != c.details else { return [] }
            return [.updated(UserFinancialInfoUpdated(userId: userId, details: c.details, updatedAt: c.now))]
        }
    }

    public static let eventTypes = EventTypes<Event> { event in
        switch event {
        case .created(let e): e
        case .updated(let e): e
        }
    }
    .register(UserFinancialInfoCreated.self) { .created($0) }
    .register(UserFinancialInfoUpdated.self) { .updated($0) }
}
