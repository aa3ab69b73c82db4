import CLibPQ

/// An error from PostgreSQL or from talking to it.
///
/// One type for every libpq failure, so callers can match on what happened
/// (a unique violation, a lost connection) without reading message strings.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The server could not be reached, or the connection broke.
        case connection
        /// The server rejected a statement; `sqlState` says why.
        case server
        /// The server answered with something this wrapper did not expect.
        case protocolViolation
        /// A parameter held a NUL character, and nothing was sent (see `SQLQuery.checkParameters`).
        case nulInText
    }

    public let kind: Kind
    /// The five-character SQLSTATE code, when the server sent one.
    public let sqlState: String?
    public let message: String
    public let detail: String?
    /// The constraint that was violated, for integrity errors.
    public let constraint: String?

    public init(
        kind: Kind, sqlState: String? = nil, message: String, detail: String? = nil,
        constraint: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.constraint = constraint
    }

    /// `23505`: a unique index refused the row.
    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// `40001` or `40P01`: the transaction may succeed if tried again.
    public var isRetryable: Bool { sqlState == "40001" || sqlState == "40P01" }
    /// Class `08` (connection exception) or `57P01`-`57P03` (the server is shutting down, crashed
    /// or not yet accepting connections): the server is going away or not there yet, so the
    /// request may succeed once it is back.
    public var isServerUnavailable: Bool {
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(sqlState)
    }
    /// `57014`: `statement_timeout` or a cancel request ended the statement.
    public var isQueryCanceled: Bool { sqlState == "57014" }

    public var description: String {
        var text = "PostgreSQL \(kind)"
        if let sqlState { text += " [\(sqlState)]" }
        text += ": \(message)"
        if let detail { text += " (\(detail))" }
        return text
    }

    /// Builds the error a failed result carries.
    static func from(result: OpaquePointer, connection: OpaquePointer?) -> PostgresError {
        func field(_ code: Int32) -> String? {
            guard let pointer = PQresultErrorField(result, code) else { return nil }
            return String(cString: pointer)
        }
        let state = field(Int32(UInt8(ascii: "C")))
        let primary = field(Int32(UInt8(ascii: "M"))) ?? String(cString: PQresultErrorMessage(result))
        let connectionBad = connection.map { PQstatus($0) == CONNECTION_BAD } ?? true
        // 08: connection exceptions; 57P: the server ends the session (57P01 a shutdown or
        // restart, 57P02 a crash of another backend, 57P03 still starting). The FATAL comes as
        // a result while the connection still looks good: it is lost all the same.
        let lost = state.map { $0.hasPrefix("08") || $0.hasPrefix("57P") } ?? false
        return PostgresError(
            kind: connectionBad || lost ? .connection : .server,
            sqlState: state,
            message: primary.trimmingTrailingNewlines(),
            detail: field(Int32(UInt8(ascii: "D"))),
            constraint: field(Int32(UInt8(ascii: "n")))
        )
    }

    /// Builds the error a connection reports for itself.
    static func connection(_ handle: OpaquePointer?, _ fallback: String) -> PostgresError {
        let text = handle.flatMap { PQerrorMessage($0) }.map { String(cString: $0) } ?? ""
        return PostgresError(
            kind: .connection, message: text.isEmpty ? fallback : text.trimmingTrailingNewlines())
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var text = self
        while text.last == "\n" || text.last == " " { text.removeLast() }
        return text
    }
}
