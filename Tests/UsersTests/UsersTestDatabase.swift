import EventStore
import Foundation
import Postgres
@_exported import TestSupport
import Users

/// A fresh database per suite (`encore_users_t_<name>`), migrated like the application's
/// (event store and Users), with the `users` read model prepared.
enum UsersTestDatabase {
    static func fresh(_ name: String) throws -> String {
        try TestDatabases.fresh(
            prefix: "encore_users_t", name, migrations: EventStoreSchema.migrations + UsersSchema.migrations,
            projections: [UsersProjection()])
    }

    static func accounts(_ url: String) throws -> UserAccounts {
        UserAccounts(connection: try Connection(url: url), inlineProjections: [UsersProjection()])
    }

    static func count(_ sql: String, on connection: Connection) throws -> Int {
        try TestDatabases.count(sql, on: connection)
    }
}

typealias Shared = Locked
