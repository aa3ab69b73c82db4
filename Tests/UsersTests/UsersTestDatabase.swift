import EventStore
import Foundation
import Postgres
import Users

/// A fresh database per suite, migrated like the application's (event store and Users),
/// with the `users` read model prepared. The server comes from `DATABASE_URL` (bin/test
/// sets it). Each database is `encore_users_t_<name>`, dropped and created anew, and left
/// behind for inspection until the next run.
enum UsersTestDatabase {
    static var serverURL: String {
        ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "postgresql:///encore_test"
    }

    static func fresh(_ name: String) throws -> String {
        let database = "encore_users_t_" + name.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(40)
        let admin = try Connection(url: url(serverURL, database: "postgres"))
        try admin.execute("SET client_min_messages = warning")
        let quoted = Connection.quoteIdentifier(database)
        try admin.execute(SQLQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(quoted) WITH (FORCE)"))
        try admin.execute(SQLQuery(unsafeSQL: "CREATE DATABASE \(quoted)"))
        let url = url(serverURL, database: database)
        let connection = try Connection(url: url)
        try Migrator(EventStoreSchema.migrations + UsersSchema.migrations).migrate(connection)
        try ProjectionSetup.prepare([UsersProjection()], on: connection)
        return url
    }

    /// `url` pointing at another database: a URI's path is replaced, a keyword string gets a
    /// later `dbname=` (libpq keeps the last).
    static func url(_ url: String, database: String) -> String {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"), var components = URLComponents(string: url) {
            components.path = "/" + database
            return components.string ?? url
        }
        return url + " dbname=" + database
    }

    static func accounts(_ url: String) throws -> UserAccounts {
        UserAccounts(connection: try Connection(url: url), inlineProjections: [UsersProjection()])
    }

    static func count(_ sql: String, on connection: Connection) throws -> Int {
        try connection.query(SQLQuery(unsafeSQL: sql)).first?.decode("n") ?? -1
    }
}

/// A value shared between threads, behind a lock.
final class Shared<Value>: @unchecked Sendable {
    // @unchecked: `stored` is only touched while holding `lock`.
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T { try lock.withLock { try body(&stored) } }
    var value: Value { lock.withLock { stored } }
}

/// Runs `body(index)` on `count` real threads released at the same moment; waits for all.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    let ready = DispatchSemaphore(value: 0)
    let start = DispatchSemaphore(value: 0)
    for index in 0..<count {
        group.enter()
        Thread {
            ready.signal()
            start.wait()
            body(index)
            group.leave()
        }.start()
    }
    for _ in 0..<count { ready.wait() }
    for _ in 0..<count { start.signal() }
    group.wait()
}
