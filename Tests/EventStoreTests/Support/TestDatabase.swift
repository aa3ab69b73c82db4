import EventStore
import Foundation
import Postgres

/// A fresh, migrated database per test, so tests run in parallel without seeing each other.
///
/// The server comes from `DATABASE_URL` (the test command sets it); without it, the dev
/// server in `.data/dev` is used. Each test gets `encore_es_t_<name>`, dropped and created
/// anew; they are left behind for inspection and dropped by the next run.
enum TestDatabase {
    static var serverURL: String {
        ProcessInfo.processInfo.environment["DATABASE_URL"]
            ?? "host=/work/main/.data/dev/sock port=5490 user=postgres dbname=encore_es_test"
    }

    /// Creates and migrates the test's database; returns its URL.
    static func fresh(_ name: String = #function) throws -> String {
        let database = "encore_es_t_" + name.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(40)
        let admin = try Connection(url: url(serverURL, database: "postgres"))
        try admin.execute("SET client_min_messages = warning")
        let quoted = Connection.quoteIdentifier(database)
        try admin.execute(SQLQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(quoted) WITH (FORCE)"))
        try admin.execute(SQLQuery(unsafeSQL: "CREATE DATABASE \(quoted)"))
        let url = url(serverURL, database: database)
        try Migrator(EventStoreSchema.migrations).migrate(Connection(url: url))
        return url
    }

    /// `url` with an `application_name`, to find the connection in `pg_stat_activity`.
    static func url(_ url: String, applicationName: String) -> String {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"), var components = URLComponents(string: url) {
            components.queryItems =
                (components.queryItems ?? []) + [URLQueryItem(name: "application_name", value: applicationName)]
            return components.string ?? url
        }
        return url + " application_name=" + applicationName
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
}

/// A value shared between threads, behind a lock.
final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `stored` is only touched while holding `lock`.
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T { try lock.withLock { try body(&stored) } }
}

/// Connections that concurrent tests may hold through `onThreads` at once, so that the
/// suites running in parallel stay well under the server's `max_connections` (100 by default).
private final class ConnectionBudget: @unchecked Sendable {
    // @unchecked: `available` is only touched while holding `condition`.
    private let condition = NSCondition()
    private var available = 40

    func take(_ count: Int) {
        condition.lock()
        while available < count { condition.wait() }
        available -= count
        condition.unlock()
    }

    func give(_ count: Int) {
        condition.lock()
        available += count
        condition.broadcast()
        condition.unlock()
    }
}

private let connectionBudget = ConnectionBudget()

/// Runs `body(index)` on `count` real threads at once (each may open a connection) and waits
/// for all of them.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    connectionBudget.take(count)
    defer { connectionBudget.give(count) }
    let group = DispatchGroup()
    let start = DispatchSemaphore(value: 0)
    for index in 0..<count {
        group.enter()
        Thread {
            start.wait()
            body(index)
            group.leave()
        }.start()
    }
    for _ in 0..<count { start.signal() }
    group.wait()
}

/// A background thread running `body` until `stop()`.
final class Background: @unchecked Sendable {
    // @unchecked: `stopped` is a Locked; `done` is a semaphore.
    let stopped = Locked(false)
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable (_ shouldStop: @escaping @Sendable () -> Bool) -> Void) {
        let stopped = self.stopped
        let done = self.done
        Thread {
            body { stopped.value }
            done.signal()
        }.start()
    }

    func stop() {
        stopped.value = true
        done.wait()
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held. The
/// default is long because tests share one cluster and an event is visible in the global order
/// only once every transaction older than its commit has ended: the rebuild tests' replay holds
/// one for up to 40 s on a busy machine, so conditions on the global order wait that long.
func eventually(timeout: Double = 60, _ condition: () throws -> Bool) rethrows -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}

/// A small JSON event for tests that do not need a decider.
func testEvent(_ type: String = "SomethingHappened", _ value: Int = 0) -> NewEvent {
    NewEvent(type: type, data: #"{"value": \#(value)}"#)
}
