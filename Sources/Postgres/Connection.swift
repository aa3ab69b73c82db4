import CLibPQ
import Foundation

/// One PostgreSQL connection, owned by one thread at a time.
///
/// Owns the libpq `PGconn`; nothing outside this module sees it. libpq connections are not
/// safe for concurrent use, so a `Connection` must be used by one thread at a time: the
/// worker pool gives each thread its own. It is `@unchecked Sendable` only so that it can be
/// handed to the thread that will own it.
///
/// A broken connection is re-opened on the next call (`PQreset`), so a restarted database
/// costs the callers that were in flight an error, and nothing more.
public final class Connection: @unchecked Sendable {
    private var handle: OpaquePointer?
    /// How many `transaction` calls are open on this connection (nested ones join the outer).
    private(set) var transactionDepth = 0
    /// Statements kept to be sent with the next one that needs an answer (`Pipeline.swift`).
    var pending: [SQLQuery] = []
    /// Whether the open transaction's BEGIN is still kept, so the server has seen nothing of it.
    var beginIsKept = false
    /// The statements this session has prepared (`PreparedStatements.swift`).
    var statements = StatementCache()
    public let url: String

    /// Session settings applied at connect and again after every re-connect.
    private let sessionSetup: String

    /// Opens a connection; `url` is a libpq connection string or URI. `settings` are
    /// `SET name = value` pairs (names chosen by code) that every session of it gets.
    public convenience init(url: String, settings: [(String, String)] = []) throws {
        var setup = "SET TIME ZONE 'UTC'; SET client_min_messages TO warning;"
        for (name, value) in settings {
            setup += " SET \(name) = '\(value.replacingOccurrences(of: "'", with: "''"))';"
        }
        try self.init(url: url, sessionSetup: setup)
    }

    private init(url: String, sessionSetup setup: String) throws {
        self.url = url
        self.sessionSetup = setup
        handle = PQconnectdb(url)
        guard let handle, PQstatus(handle) == CONNECTION_OK else {
            let error = PostgresError.connection(handle, "could not connect to PostgreSQL")
            if let handle { PQfinish(handle) }
            self.handle = nil
            throw error
        }
        try configureSession()
    }

    /// How to open another connection like this one (same server, same session settings),
    /// for another thread.
    public var sibling: Sibling { Sibling(url: url, sessionSetup: sessionSetup) }

    /// Opens connections like the one it came from; safe to pass to another thread.
    public struct Sibling: Sendable {
        fileprivate let url: String
        fileprivate let sessionSetup: String

        public func open() throws -> Connection { try Connection(url: url, sessionSetup: sessionSetup) }
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Every session speaks UTC and the same date style, so timestamps parse the same way.
    private func configureSession() throws {
        try executeScript(unsafeSQL: sessionSetup)
    }

    /// Whether the connection is usable now (no round trip).
    public var isOpen: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Whether the session is inside a transaction block (open, or aborted by an error and
    /// waiting for its ROLLBACK), as the server last reported (no round trip).
    public var isInTransaction: Bool {
        guard let handle else { return false }
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// Runs `body` with the raw handle, re-opening the connection first if it broke.
    /// (Internal, not private: `PreparedStatements.swift` uses it.)
    func withHandle<T>(sendsKept: Bool = false, _ body: (OpaquePointer) throws -> T) throws -> T {
        if handle == nil {
            handle = PQconnectdb(url)
        }
        guard let current = handle else {
            throw PostgresError(kind: .connection, message: "out of memory opening a connection")
        }
        // A connection that sat idle while the server restarted has a termination notice (or
        // EOF) waiting: reading what is there notices it, so the request re-opens the
        // connection instead of failing on it.
        if PQstatus(current) == CONNECTION_OK && PQtransactionStatus(current) == PQTRANS_IDLE {
            _ = PQconsumeInput(current)
        }
        if PQstatus(current) != CONNECTION_OK {
            // Inside a transaction a new session would run the rest of it outside the
            // transaction (and COMMIT would only warn): the transaction is lost, say so.
            guard transactionDepth == 0 || beginIsKept else {
                throw PostgresError(
                    kind: .connection, message: "connection lost inside a transaction; it was rolled back")
            }
            PQreset(current)
            guard PQstatus(current) == CONNECTION_OK else {
                throw PostgresError.connection(current, "connection lost and could not be re-opened")
            }
            try configureSessionAfterReset(current)
        }
        if !sendsKept && !pending.isEmpty { _ = try sendPipeline(current, then: nil) }
        let value = try body(current)
        succeededStatements &+= 1
        return value
    }

    /// How many calls to the server succeeded on this connection: a caller that sees it
    /// unchanged after a connection error knows that nothing it sent took effect.
    public private(set) var succeededStatements = 0

    private func configureSessionAfterReset(_ handle: OpaquePointer) throws {
        guard let result = PQexec(handle, sessionSetup) else {
            throw PostgresError.connection(handle, "could not configure the session")
        }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COMMAND_OK else {
            throw PostgresError.from(result: result, connection: handle)
        }
    }

    /// Runs a statement and returns its rows. A statement with parameters is prepared on its
    /// first run in this session and only executed after that (`StatementCache`).
    @discardableResult
    public func query(_ query: SQLQuery) throws -> Rows {
        try withHandle(sendsKept: true) { handle in
            if !pending.isEmpty || query.usesGenericPlan || query.usesCustomPlan {
                guard let result = try sendPipeline(handle, then: query) else {
                    throw PostgresError(kind: .protocolViolation, message: "no result for a pipelined statement")
                }
                return Rows(result: result)
            }
            if query.parameters.isEmpty { return Rows(result: try Connection.exec(handle, query)) }
            return Rows(result: try executeCached(handle, query))
        }
    }

    /// Runs a statement in a transaction of its own and returns its rows, calling `executed`
    /// as soon as they are back, before the transaction has committed (so the caller can let
    /// others start while the commit's WAL flush runs). Not inside a transaction.
    public func query(_ query: SQLQuery, whenExecuted executed: () -> Void) throws -> Rows {
        precondition(transactionDepth == 0, "whenExecuted is for a statement's own transaction")
        return try withHandle(sendsKept: true) { handle in
            try withoutActuallyEscaping(executed) { executed in
                guard let result = try sendPipeline(handle, then: query, whenExecuted: executed) else {
                    throw PostgresError(kind: .protocolViolation, message: "no result for a pipelined statement")
                }
                return Rows(result: result)
            }
        }
    }

    /// Runs a statement and returns how many rows it changed.
    @discardableResult
    public func execute(_ statement: SQLQuery) throws -> Int {
        try query(statement).affectedRows
    }

    /// Asks the server for an answer with the least work it can do: an empty query, which
    /// it answers without parsing, planning or a snapshot. Throws when it does not answer.
    public func ping() throws {
        try withHandle { handle in
            guard let result = PQexec(handle, "") else {
                throw PostgresError.connection(handle, "out of memory")
            }
            defer { PQclear(result) }
            guard PQresultStatus(result) == PGRES_EMPTY_QUERY else {
                throw PostgresError.from(result: result, connection: handle)
            }
        }
    }

    /// Runs several statements separated by semicolons, with no parameters (migrations).
    public func executeScript(unsafeSQL script: String) throws {
        try withHandle { handle in
            guard let result = PQexec(handle, script) else {
                throw PostgresError.connection(handle, "out of memory")
            }
            defer { PQclear(result) }
            let status = PQresultStatus(result)
            guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
                throw PostgresError.from(result: result, connection: handle)
            }
        }
    }

    static func exec(_ handle: OpaquePointer, _ query: SQLQuery) throws -> OpaquePointer {
        try query.checkParameters()
        let count = Int32(query.parameters.count)
        let result: OpaquePointer? = withCStrings(query.parameters) { values in
            PQexecParams(handle, query.sql, count, nil, values, nil, nil, 0)
        }
        return try checked(result, handle)
    }

    /// A statement's result when it succeeded; otherwise frees it and throws its error.
    static func checked(_ result: OpaquePointer?, _ handle: OpaquePointer) throws -> OpaquePointer {
        guard let result else { throw PostgresError.connection(handle, "no result from PostgreSQL") }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            return result
        default:
            let error = PostgresError.from(result: result, connection: handle)
            PQclear(result)
            throw error
        }
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    ///
    /// The isolation level defaults to READ COMMITTED; pass `.serializable` where a decision
    /// reads what it then writes and no row lock protects it.
    ///
    /// Called inside another transaction, it joins that one (the outer one commits).
    @discardableResult
    public func transaction<T>(
        _ isolation: IsolationLevel = .readCommitted, _ body: (Connection) throws -> T
    ) throws -> T {
        if transactionDepth > 0 { return try body(self) }
        // BEGIN goes with the body's first statement (`executeLater`).
        transactionDepth += 1
        pending.append(SQLQuery(unsafeSQL: "BEGIN ISOLATION LEVEL \(isolation.rawValue)"))
        beginIsKept = true
        let value: T
        do {
            value = try body(self)
        } catch {
            transactionDepth -= 1
            rollBack(begun: !beginIsKept)
            throw error
        }
        transactionDepth -= 1
        let result: Rows
        do {
            result = try query("COMMIT")
        } catch {
            rollBack(begun: true)
            throw error
        }
        // A transaction that failed inside (an error the body caught) ends in ROLLBACK.
        guard result.commandTag == "COMMIT" else {
            throw PostgresError(kind: .server, sqlState: "40000", message: "the transaction was rolled back")
        }
        return value
    }

    /// Ends a failed transaction: drops what was kept, and rolls back what the server began.
    private func rollBack(begun: Bool) {
        pending.removeAll()
        beginIsKept = false
        if begun && isOpen && PQtransactionStatus(handle) != PQTRANS_IDLE { _ = try? execute("ROLLBACK") }
    }

    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    // MARK: LISTEN / NOTIFY

    /// Starts listening on a channel (an identifier chosen by code).
    public func listen(_ channel: String) throws {
        try execute(SQLQuery(unsafeSQL: "LISTEN \(Connection.quoteIdentifier(channel))"))
    }

    /// Waits up to `timeout` seconds for notifications and returns those that arrived.
    public func waitForNotifications(timeout: Double) throws -> [Notification] {
        try withHandle { handle in
            var received = Connection.drainNotifications(handle)
            if !received.isEmpty { return received }
            let socket = PQsocket(handle)
            guard socket >= 0 else { throw PostgresError.connection(handle, "no socket") }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(timeout * 1000))
            if ready < 0, errno != EINTR {
                throw PostgresError(kind: .connection, message: "poll failed: errno \(errno)")
            }
            if ready > 0 {
                guard PQconsumeInput(handle) == 1 else {
                    throw PostgresError.connection(handle, "connection lost while listening")
                }
                received = Connection.drainNotifications(handle)
            }
            return received
        }
    }

    private static func drainNotifications(_ handle: OpaquePointer) -> [Notification] {
        var received: [Notification] = []
        PQconsumeInput(handle)
        while let raw = PQnotifies(handle) {
            received.append(
                Notification(
                    channel: String(cString: raw.pointee.relname),
                    payload: String(cString: raw.pointee.extra)))
            PQfreemem(raw)
        }
        return received
    }

    /// A message sent with `NOTIFY channel, 'payload'`.
    public struct Notification: Sendable, Equatable {
        public let channel: String
        public let payload: String
    }

    /// Quotes an identifier the way PostgreSQL's `quote_ident` does.
    public static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// Calls `body` with an array of C strings (NULL for nil) that live for the call.
func withCStrings<R>(
    _ values: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R
) -> R {
    if values.isEmpty { return body(nil) }
    var owned: [UnsafeMutablePointer<CChar>?] = values.map { value in
        value.map { strdup($0) }
    }
    defer { owned.forEach { free($0) } }
    return owned.withUnsafeMutableBufferPointer { buffer in
        buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
            body($0)
        }
    }
}
