import Foundation
import Logging
import Postgres

/// One worker thread's PostgreSQL connection, opened on first use and re-opened after a loss.
///
/// A worker starts even when PostgreSQL is down: `/healthz` then answers 503, pages that need
/// the database answer 503, and the next request after the database returns reconnects.
public final class ThreadDatabase {
    private let url: String
    private let statementTimeoutMs: Int
    private var connection: Connection?
    private let logger: Logger
    private var lastUsed = Date.distantPast
    /// A connection idle longer than this is checked before use: PostgreSQL may have
    /// restarted meanwhile, and the request should not be the one to find out.
    static let idleCheckAfter: TimeInterval = 0.5

    public init(url: String, statementTimeout: Double, logger: Logger) {
        self.url = url
        self.statementTimeoutMs = Int(statementTimeout * 1000)
        self.logger = logger
    }

    /// The open connection, or a 503-worthy error.
    public func connect() throws -> Connection {
        if let connection, connection.isOpen {
            if Date().timeIntervalSince(lastUsed) < ThreadDatabase.idleCheckAfter { return connection }
            if (try? connection.query("SELECT 1")) != nil {
                lastUsed = Date()
                return connection
            }
        }
        connection = nil
        do {
            // A request never waits on PostgreSQL longer than the pool lets it run.
            let opened = try Connection(url: url, settings: [("statement_timeout", "\(statementTimeoutMs)")])
            connection = opened
            lastUsed = Date()
            return opened
        } catch {
            logger.warning("database unavailable", metadata: ["error": "\(error)"])
            throw error
        }
    }

    /// Runs `body` on the connection; a lost connection is dropped so the next call re-opens it.
    @discardableResult
    public func with<T>(_ body: (Connection) throws -> T) throws -> T {
        let connection = try connect()
        defer { lastUsed = Date() }
        let before = connection.succeededStatements
        do {
            return try body(connection)
        } catch let error as PostgresError where error.kind == .connection {
            self.connection = nil
            // The connection was dead before anything of `body` reached the server (PostgreSQL
            // restarted while this thread was idle): run it once more on a new connection.
            guard connection.succeededStatements == before else { throw error }
            logger.info("database connection was stale; retrying on a new one")
            return try body(try connect())
        }
    }
}
