import CLibPQ
import Foundation

extension Connection {
    /// Runs a statement that is parsed and planned once per connection, under `name`, and
    /// then only executed: for hot statements whose planning costs more than their execution
    /// (an event store append is a CTE that plans in about as long as it runs).
    ///
    /// `query`'s SQL must be the same every time for a given `name` (only its bound values
    /// change), which holds for a query built at one call site by interpolation. The
    /// connection remembers what it prepared per server session, so a re-opened connection
    /// prepares again; a statement the server lost anyway (`DEALLOCATE`) is prepared again
    /// when no transaction is in progress.
    @discardableResult
    public func query(_ query: SQLQuery, preparedAs name: String) throws -> Rows {
        try withHandle { handle in
            let key = PreparedStatements.Key(
                connection: ObjectIdentifier(self), backend: PQbackendPID(handle), name: name)
            if !PreparedStatements.isPrepared(key) {
                try prepare(handle, name: name, sql: query.sql, parameterCount: query.parameters.count)
                PreparedStatements.remember(key)
            }
            do {
                return Rows(result: try executePrepared(handle, name: name, parameters: query.parameters))
            } catch let error as PostgresError
                where error.sqlState == "26000" && PQtransactionStatus(handle) == PQTRANS_IDLE
            {
                try prepare(handle, name: name, sql: query.sql, parameterCount: query.parameters.count)
                return Rows(result: try executePrepared(handle, name: name, parameters: query.parameters))
            }
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
        var owned: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.map { strdup($0) } }
        defer { owned.forEach { free($0) } }
        let result: OpaquePointer? = owned.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.map { base in
                base.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { values in
                    PQexecPrepared(handle, name, Int32(parameters.count), values, nil, nil, 0)
                }
            } ?? PQexecPrepared(handle, name, 0, nil, nil, nil, 0)
        }
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
}

/// Which statements each connection's current server session has prepared.
///
/// Kept beside `Connection` (which this file may not change) and keyed by the connection's
/// identity and its server process id, so that a re-opened session, which has a new process
/// id, starts empty. Entries of closed connections are dropped wholesale when the table grows
/// large; the cost is one extra prepare per live connection.
enum PreparedStatements {
    struct Key: Hashable {
        let connection: ObjectIdentifier
        let backend: Int32
        let name: String
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var prepared = Set<Key>()  // guarded by `lock`
    private static let limit = 50_000

    static func isPrepared(_ key: Key) -> Bool {
        lock.withLock { prepared.contains(key) }
    }

    static func remember(_ key: Key) {
        lock.withLock {
            if prepared.count >= limit { prepared.removeAll(keepingCapacity: true) }
            prepared.insert(key)
        }
    }
}
