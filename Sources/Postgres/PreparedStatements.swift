import CLibPQ
import Foundation

/// Every statement with parameters is prepared once per server session and then only
/// executed, like JDBC's and pgx's statement caches.
///
/// Parsing and planning cost PostgreSQL more than executing the short statements a request
/// runs (an index lookup takes longer to plan than to run; measured: bench/RESULTS.md,
/// "Concerts pages" notes; bench/FINDINGS.md, session 13), so a statement that runs again
/// skips both. The cache is keyed by the statement's text, which for a query built by
/// interpolation is the same at every call (the values are bound parameters); text that
/// embeds a name (`unsafeSQL`, a projection's table) makes one entry per name.
///
/// PostgreSQL re-plans a prepared statement by itself when a table it uses is altered,
/// dropped or renamed. Two cases need help, and get it outside a transaction: a session that
/// lost its statements (`DISCARD ALL`, SQLSTATE 26000) and a statement whose result columns
/// changed under it (a migration, 0A000) are prepared again and run once more. A re-opened
/// connection (a new server process) starts with an empty cache. Statements beyond
/// `limit` run unprepared, so odd text cannot grow a session without bound.
struct StatementCache {
    static let limit = 500

    private var names: [String: String] = [:]
    private var backend: Int32 = 0
    /// Names are never reused within a session, even after a failed preparation.
    private var serial = 0

    /// The name `sql` is prepared under in the session of server process `backend`, if it is.
    mutating func name(for sql: String, backend: Int32) -> String? {
        if backend != self.backend {
            names.removeAll(keepingCapacity: true)
            serial = 0
            self.backend = backend
        }
        return names[sql]
    }

    /// A name for a new statement, or nil when the cache is full.
    func newName() -> String? {
        names.count < Self.limit ? "encore_\(serial + 1)" : nil
    }

    mutating func remember(_ sql: String, as name: String) {
        names[sql] = name
        serial += 1
    }

    /// Forgets a statement whose preparation failed.
    mutating func forget(_ sql: String) {
        names[sql] = nil
    }
}

extension Connection {
    /// Runs `query` as a prepared statement of this session (see `StatementCache`).
    func executeCached(_ handle: OpaquePointer, _ query: SQLQuery) throws -> OpaquePointer {
        let name: String
        if let known = statements.name(for: query.sql, backend: PQbackendPID(handle)) {
            name = known
        } else {
            guard let new = statements.newName() else { return try Connection.exec(handle, query) }
            try prepare(handle, name: new, sql: query.sql, parameterCount: query.parameters.count)
            statements.remember(query.sql, as: new)
            name = new
        }
        do {
            return try executePrepared(handle, name: name, parameters: query.parameters)
        } catch let error as PostgresError
            where (error.sqlState == "26000" || error.sqlState == "0A000")
            && PQtransactionStatus(handle) == PQTRANS_IDLE
        {
            if error.sqlState == "0A000", let result = PQexec(handle, "DEALLOCATE \(name)") {
                PQclear(result)
            }
            try prepare(handle, name: name, sql: query.sql, parameterCount: query.parameters.count)
            return try executePrepared(handle, name: name, parameters: query.parameters)
        }
    }

    private func prepare(_ handle: OpaquePointer, name: String, sql: String, parameterCount: Int) throws {
        guard let result = PQprepare(handle, name, sql, Int32(parameterCount), nil) else {
            throw PostgresError.connection(handle, "no result from PostgreSQL")
        }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COMMAND_OK else {
            throw PostgresError.from(result: result, connection: handle)
        }
    }

    private func executePrepared(_ handle: OpaquePointer, name: String, parameters: [String?]) throws -> OpaquePointer {
        try SQLQuery.check(parameters)
        let result: OpaquePointer? = withCStrings(parameters) { values in
            PQexecPrepared(handle, name, Int32(parameters.count), values, nil, nil, 0)
        }
        return try Connection.checked(result, handle)
    }
}
