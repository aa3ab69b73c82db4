import CLibPQ

/// The rows a statement returned, copied out of libpq's result (which is freed at once).
public struct Rows: Sendable, Sequence {
    public let columns: [String]
    public let rows: [Row]
    /// How many rows an INSERT, UPDATE or DELETE touched.
    public let affectedRows: Int
    /// The command tag without its counts (`INSERT`, `COMMIT`, `ROLLBACK`...).
    public let commandTag: String

    init(result: OpaquePointer) {
        defer { PQclear(result) }
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        var names: [String] = []
        names.reserveCapacity(columnCount)
        for column in 0..<columnCount {
            names.append(String(cString: PQfname(result, Int32(column))))
        }
        let index = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        var copied: [Row] = []
        copied.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(columnCount)
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                }
            }
            copied.append(Row(values: values, index: index))
        }
        columns = names
        rows = copied
        affectedRows = Int(String(cString: PQcmdTuples(result))) ?? 0
        commandTag = String(cString: PQcmdStatus(result)).split(separator: " ").first.map(String.init) ?? ""
    }

    public var count: Int { rows.count }
    public var first: Row? { rows.first }
    public func makeIterator() -> IndexingIterator<[Row]> { rows.makeIterator() }
}

/// One row, with its values in PostgreSQL's text format.
public struct Row: Sendable {
    let values: [String?]
    let index: [String: Int]

    /// The raw text of a column, or nil when it is NULL or missing.
    public subscript(_ column: String) -> String? {
        guard let position = index[column] else { return nil }
        return values[position]
    }

    /// The raw text of a column by position.
    public subscript(position position: Int) -> String? { values[position] }

    /// Decodes a column, throwing when it is NULL, missing or malformed.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard let text = self[column] else {
            throw PostgresError(kind: .protocolViolation, message: "column \(column) is NULL or missing")
        }
        guard let value = T(postgresText: text) else {
            throw PostgresError(kind: .protocolViolation, message: "column \(column) is not a \(T.self)")
        }
        return value
    }

    /// Decodes a nullable column.
    public func decodeIfPresent<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T? {
        guard self[column] != nil else { return nil }
        return try decode(column, as: type)
    }
}
