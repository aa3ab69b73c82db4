import EventStore
import Foundation

/// A user changes the name shown on their account and tickets.
public struct ChangeUserName: Sendable, Equatable {
    public let name: PersonName
    public let now: Date

    public init(name: PersonName, now: Date) {
        self.name = name
        self.now = now
    }
}

public struct UserNameChanged: EventPayload, Equatable {
    public static let eventType = "UserNameChanged"
    public let userId: String
    public let name: String
    public let changedAt: Date
}

enum ChangingNames {
    static func decide(_ command: ChangeUserName, _ state: User.State) throws -> [User.Event] {
        guard let id = state.id else { throw UserError.notRegistered }
        guard command.name.value != state.name else { return [] }
        return [.nameChanged(UserNameChanged(userId: id, name: command.name.value, changedAt: command.now))]
    }
}
