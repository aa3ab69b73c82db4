import EventStore
import Foundation
import Identity

/// Registers a new account. The e-mail address arrives normalised (see `EmailAddress`).
public struct RegisterUser: Sendable, Equatable {
    public let userId: String
    public let email: EmailAddress
    public let name: PersonName
    public let role: Role
    public let now: Date

    public init(userId: String, email: EmailAddress, name: PersonName, role: Role = .customer, now: Date) {
        self.userId = userId
        self.email = email
        self.name = name
        self.role = role
        self.now = now
    }
}

public struct UserRegistered: EventPayload, Equatable {
    public static let eventType = "UserRegistered"
    public let userId: String
    public let email: String
    public let name: String
    public let role: Role
    public let registeredAt: Date
}

enum Registering {
    static func decide(_ command: RegisterUser, _ state: User.State) throws -> [User.Event] {
        guard !state.isRegistered else { throw UserError.alreadyRegistered }
        return [
            .registered(
                UserRegistered(
                    userId: command.userId, email: command.email.value, name: command.name.value, role: command.role,
                    registeredAt: command.now))
        ]
    }
}
