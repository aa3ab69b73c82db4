import EventStore
import Foundation

/// Records that a user's password changed. The new hash is written beside the event, in the
/// same transaction, to `user_credentials`; it never enters the log.
public struct ChangeUserPassword: Sendable, Equatable {
    public let now: Date
    public init(now: Date) { self.now = now }
}

public struct UserPasswordChanged: EventPayload, Equatable {
    public static let eventType = "UserPasswordChanged"
    public let userId: String
    public let changedAt: Date
}

enum ChangingPasswords {
    static func decide(_ command: ChangeUserPassword, _ state: User.State) throws -> [User.Event] {
        guard let id = state.id else { throw UserError.notRegistered }
        return [.passwordChanged(UserPasswordChanged(userId: id, changedAt: command.now))]
    }
}
