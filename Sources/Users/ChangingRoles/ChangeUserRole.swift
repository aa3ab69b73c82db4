import EventStore
import Foundation
import Identity

/// An admin gives a user another role. The event names who did it.
public struct ChangeUserRole: Sendable, Equatable {
    public let role: Role
    public let changedBy: String
    public let now: Date

    public init(role: Role, changedBy: String, now: Date) {
        self.role = role
        self.changedBy = changedBy
        self.now = now
    }
}

public struct UserRoleChanged: EventPayload, Equatable {
    public static let eventType = "UserRoleChanged"
    public let userId: String
    public let role: Role
    public let previousRole: Role
    public let changedBy: String
    public let changedAt: Date
}

enum ChangingRoles {
    static func decide(_ command: ChangeUserRole, _ state: User.State) throws -> [User.Event] {
        guard let id = state.id else { throw UserError.notRegistered }
        // Setting the role a user already has changes nothing, so it records nothing.
        guard command.role != state.role else { return [] }
        return [
            .roleChanged(
                UserRoleChanged(
                    userId: id, role: command.role, previousRole: state.role, changedBy: command.changedBy,
                    changedAt: command.now))
        ]
    }
}
