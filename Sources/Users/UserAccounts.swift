import EventStore
import Foundation
import Identity
import Postgres
import Sodium

/// The Users context's command side: registers accounts and changes them.
///
/// Each method is one command on one `user-<id>` stream. Registration and password changes
/// also write the uniqueness guard or the credential row, in the same transaction as the
/// events, so either both happen or neither does.
public struct UserAccounts {
    public let connection: Connection
    public let inlineProjections: [any Projection]
    /// Shared with the process's other threads, so that concurrent commands' appends share
    /// transactions (`GroupCommit`); nil: each append is its own.
    public let groupCommit: GroupCommit?

    public init(connection: Connection, inlineProjections: [any Projection], groupCommit: GroupCommit? = nil) {
        self.connection = connection
        self.inlineProjections = inlineProjections
        self.groupCommit = groupCommit
    }

    /// Commands on `connection`, appending as the application's `store` says.
    public init(connection: Connection, store: StoreSetup) {
        self.init(connection: connection, inlineProjections: store.inlineProjections, groupCommit: store.groupCommit)
    }

    private func handler(on connection: Connection, joined: Bool) -> CommandHandler<User> {
        CommandHandler<User>(
            store: EventStore(
                connection: connection, inlineProjections: inlineProjections, joinsCallerTransaction: joined,
                groupCommit: groupCommit),
            streamType: User.streamType, eventTypes: User.eventTypes)
    }

    /// Registers an account; throws `UserError.invalid` naming the field, or `.emailTaken`.
    public func register(
        email rawEmail: String, password rawPassword: String, name rawName: String, role: Role = .customer,
        now: Date = Date(), metadata: EventMetadata = EventMetadata()
    ) throws -> UserSummary {
        let email = try EmailAddress(rawEmail)
        let name = try PersonName(rawName)
        let password = try NewPassword(rawPassword)
        let hash = try PasswordHasher.hash(password.value)
        let userId = UUID.timeOrdered(now: now).uuidString.lowercased()
        do {
            try connection.transaction { tx in
                try tx.execute("INSERT INTO user_emails (email, user_id) VALUES (\(email.value), \(userId))")
                try tx.execute("INSERT INTO user_credentials (user_id, password_hash) VALUES (\(userId), \(hash))")
                _ = try handler(on: tx, joined: true).handle(
                    .register(RegisterUser(userId: userId, email: email, name: name, role: role, now: now)),
                    on: User.streamId(userId), metadata: metadata)
            }
        } catch let error as PostgresError where error.isUniqueViolation {
            throw UserError.emailTaken
        }
        guard let summary = try UsersQueries.find(id: userId, on: connection) else { throw UserError.notRegistered }
        return summary
    }

    /// An admin changes a user's role; the event names the admin.
    public func changeRole(
        userId: String, to role: Role, by adminId: String, now: Date = Date(), metadata: EventMetadata = EventMetadata()
    ) throws -> UserSummary {
        _ = try handler(on: connection, joined: false).handle(
            .changeRole(ChangeUserRole(role: role, changedBy: adminId, now: now)), on: User.streamId(userId),
            metadata: metadata, retriesOnConflict: 3)
        guard let summary = try UsersQueries.find(id: userId, on: connection) else { throw UserError.notRegistered }
        return summary
    }

    public func changeName(
        userId: String, to rawName: String, now: Date = Date(), metadata: EventMetadata = EventMetadata()
    ) throws {
        let name = try PersonName(rawName)
        _ = try handler(on: connection, joined: false).handle(
            .changeName(ChangeUserName(name: name, now: now)), on: User.streamId(userId), metadata: metadata,
            retriesOnConflict: 3)
    }

    /// Changes the password after checking the current one. The old hash is overwritten, and
    /// every other session of the user is signed out.
    public func changePassword(
        userId: String, current: String, new rawNew: String, keepingSession sessionId: String?, now: Date = Date(),
        metadata: EventMetadata = EventMetadata()
    ) throws {
        guard let stored = try passwordHash(userId: userId), PasswordHasher.verify(current, against: stored) else {
            throw UserError.invalid(field: "currentPassword", message: "The current password is not right.")
        }
        let password = try NewPassword(rawNew)
        let hash = try PasswordHasher.hash(password.value)
        try connection.transaction { tx in
            try tx.execute(
                "UPDATE user_credentials SET password_hash = \(hash), updated_at = \(now) WHERE user_id = \(userId)")
            _ = try handler(on: tx, joined: true).handle(
                .changePassword(ChangeUserPassword(now: now)), on: User.streamId(userId), metadata: metadata,
                retriesOnConflict: 3)
            try Sessions(connection: tx).deleteAll(userId: userId, except: sessionId)
        }
    }

    /// The user whose e-mail and password these are, or nil. Takes about the same time
    /// whether the address is unknown or the password is wrong.
    public func authenticate(email rawEmail: String, password: String) throws -> UserSummary? {
        guard let email = try? EmailAddress(rawEmail),
            let user = try UsersQueries.find(email: email.value, on: connection),
            let hash = try passwordHash(userId: user.id)
        else {
            PasswordHasher.verifyAgainstDummy(password)
            return nil
        }
        return PasswordHasher.verify(password, against: hash) ? user : nil
    }

    private func passwordHash(userId: String) throws -> String? {
        try connection.query("SELECT password_hash FROM user_credentials WHERE user_id = \(userId)").first?
            .decode("password_hash")
    }
}
