import EventStore
import Foundation
import Postgres

/// Fresh databases for integration tests, one per test or suite, so tests run in parallel
/// without seeing each other.
///
/// The server comes from `DATABASE_URL` (bin/test sets it); without it, the cluster that
/// bin/test runs for this checkout (`.data/test/postgres`, port `ENCORE_TEST_PG_PORT` or 5434),
/// found from this file's place in the repository. Each database is `<prefix>_<name>`, dropped and created anew, and
/// left behind for inspection until the next run.
public enum TestDatabases {
    /// The repository this file belongs to.
    public static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    public static var serverURL: String {
        if let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty { return url }
        let socketFolder = repositoryRoot.appendingPathComponent(".data/test/postgres/run").path
        let port = ProcessInfo.processInfo.environment["ENCORE_TEST_PG_PORT"].flatMap(Int.init) ?? 5434
        return "host=\(socketFolder) port=\(port) user=encore dbname=encore_test"
    }

    /// Creates `<prefix>_<name>`, applies `migrations` and creates the tables of `projections`;
    /// returns its URL.
    public static func fresh(
        prefix: String, _ name: String, migrations: [Migration] = EventStoreSchema.migrations,
        projections: [any Projection] = []
    ) throws -> String {
        let database = prefix + "_" + name.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(40)
        let admin = try Connection(url: url(serverURL, database: "postgres"))
        try admin.execute("SET client_min_messages = warning")
        let quoted = Connection.quoteIdentifier(database)
        try admin.execute(SQLQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(quoted) WITH (FORCE)"))
        try admin.execute(SQLQuery(unsafeSQL: "CREATE DATABASE \(quoted)"))
        let url = url(serverURL, database: database)
        let connection = try Connection(url: url)
        try Migrator(migrations).migrate(connection)
        try ProjectionSetup.prepare(projections, on: connection)
        return url
    }

    /// `url` pointing at another database: a URI's path is replaced, a keyword string gets a
    /// later `dbname=` (libpq keeps the last).
    public static func url(_ url: String, database: String) -> String {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"), var components = URLComponents(string: url) {
            components.path = "/" + database
            return components.string ?? url
        }
        return url + " dbname=" + database
    }

    /// `url` with an `application_name`, to find the connection in `pg_stat_activity`.
    public static func url(_ url: String, applicationName: String) -> String {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"), var components = URLComponents(string: url) {
            components.queryItems =
                (components.queryItems ?? []) + [URLQueryItem(name: "application_name", value: applicationName)]
            return components.string ?? url
        }
        return url + " application_name=" + applicationName
    }

    /// The integer column `n` of a query's first row.
    public static func count(_ sql: String, on connection: Connection) throws -> Int {
        try connection.query(SQLQuery(unsafeSQL: sql)).first?.decode("n") ?? -1
    }
}

/// Waits until `condition` holds, checking every 10 ms, for at most `timeout` seconds; true
/// when it came to hold. For a test that waits for something another thread, process or
/// connection does: it waits as long as that takes, and no longer. The default is long because
/// the suites share one cluster, and an event shows in the global order only once every older
/// transaction has ended: a rebuild test's replay can hold one for a long time on a busy machine.
public func eventually(timeout: TimeInterval = 60, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        usleep(10_000)
    }
}

/// A value shared between threads, behind a lock.
public final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `stored` is only touched while holding `lock`.
    private let lock = NSLock()
    private var stored: Value
    public init(_ value: Value) { stored = value }
    public var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T { try lock.withLock { try body(&stored) } }
}

/// Connections that concurrent tests may hold through `onThreads` at once, so that the
/// suites running in parallel stay well under the server's `max_connections`.
private final class ConnectionBudget: @unchecked Sendable {
    // @unchecked: `available` is only touched while holding `condition`.
    private let condition = NSCondition()
    private var available = 60

    func take(_ count: Int) {
        condition.lock()
        while available < min(count, 60) { condition.wait() }
        available -= min(count, 60)
        condition.unlock()
    }

    func give(_ count: Int) {
        condition.lock()
        available += min(count, 60)
        condition.broadcast()
        condition.unlock()
    }
}

private let connectionBudget = ConnectionBudget()

/// Runs `body(index)` on `count` real threads released at the same moment (each may open a
/// connection); waits for all of them.
public func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    connectionBudget.take(count)
    defer { connectionBudget.give(count) }
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

/// A background thread running `body` until `stop()`.
public final class Background: @unchecked Sendable {
    // @unchecked: `stopped` is a Locked; `done` is a semaphore.
    public let stopped = Locked(false)
    private let done = DispatchSemaphore(value: 0)

    public init(_ body: @escaping @Sendable (_ shouldStop: @escaping @Sendable () -> Bool) -> Void) {
        let stopped = self.stopped
        let done = self.done
        Thread {
            body { stopped.value }
            done.signal()
        }.start()
    }

    public func stop() {
        stopped.value = true
        done.wait()
    }
}
