import EventStore
import Foundation
import Identity

/// A user account, as a decider: the Users context's aggregate.
///
/// Its stream is `user-<id>`. The password hash is not part of it: hashes live in
/// `user_credentials`, outside the event log, so that changing a password really removes the
/// old hash; the log records only that the password changed.
public enum User: Decider {
    public struct State: Sendable, Equatable, Codable {
        public var id: String?
        public var email: String = ""
        public var name: String = ""
        public var role: Role = .customer
        public var isRegistered: Bool { id != nil }
    }

    public enum Command: Sendable, Equatable {
        case register(RegisterUser)
        case changeRole(ChangeUserRole)
        case changePassword(ChangeUserPassword)
        case changeName(ChangeUserName)
    }

    public enum Event: Sendable, Equatable {
        case registered(UserRegistered)
        case roleChanged(UserRoleChanged)
        case passwordChanged(UserPasswordChanged)
        case nameChanged(UserNameChanged)
    }

    public static let streamType = "user"
    public static func streamId(_ userId: String) -> String { "user-\(userId)" }

    public static let initial = State()

    public static func evolve(_ state: State, _ event: Event) -> State {
        var next = state
        switch event {
        case .registered(let e):
            next.id = e.userId
            next.email = e.email
            next.name = e.name
            next.role = e.role
        case .roleChanged(let e):
            next.role = e.role
        case .passwordChanged:
            break
        case .nameChanged(let e):
            next.name = e.name
        }
        return next
    }

    public static func decide(_ command: Command, _ state: State) throws -> [Event] {
        switch command {
        case .register(let c): try Registering.decide(c, state)
        case .changeRole(let c): try ChangingRoles.decide(c, state)
        case .changePassword(let c): try ChangingPasswords.decide(c, state)
        case .changeName(let c): try ChangingNames.decide(c, state)
        }
    }

    /// The event types of the stream, by their stored names.
    public static let eventTypes = EventTypes<Event> { event in
        switch event {
        case .registered(let e): e
        case .roleChanged(let e): e
        case .passwordChanged(let e): e
        case .nameChanged(let e): e
        }
    }
    .register(UserRegistered.self) { .registered($0) }
    .register(UserRoleChanged.self) { .roleChanged($0) }
    .register(UserPasswordChanged.self) { .passwordChanged($0) }
    .register(UserNameChanged.self) { .nameChanged($0) }
}

/// A business rule of the Users context that a command broke.
public enum UserError: Error, Equatable, Sendable {
    case alreadyRegistered
    case notRegistered
    case emailTaken
    case invalid(field: String, message: String)
}
