/// A SQL statement with bound parameters, built by string interpolation.
///
/// Every interpolated value becomes a `$n` placeholder and a bound parameter, so values never
/// reach the SQL text: `"SELECT * FROM users WHERE email = \(email)"`. Raw SQL text (table
/// names chosen by code, never by users) goes through the deliberately loud `unsafeSQL:`.
public struct SQLQuery: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public var sql: String
    public var parameters: [String?]

    public init(unsafeSQL sql: String, parameters: [String?] = []) {
        self.sql = sql
        self.parameters = parameters
    }

    public init(stringLiteral value: String) {
        self.init(unsafeSQL: value)
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(unsafeSQL: stringInterpolation.sql, parameters: stringInterpolation.parameters)
    }

    /// The SQL with parameters redacted: safe to log.
    public var description: String { "\(sql) [\(parameters.count) bound values]" }

    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var parameters: [String?] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
            parameters.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// Binds a value as the next parameter.
        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            parameters.append(value.postgresText)
            sql += "$\(parameters.count)"
        }

        /// Binds an optional value; `nil` becomes SQL `NULL`.
        public mutating func appendInterpolation(_ value: (some PostgresEncodable)?) {
            parameters.append(value?.postgresText)
            sql += "$\(parameters.count)"
        }

        /// Inserts another query, its parameters bound after those so far (its `$n`
        /// placeholders are renumbered): `"... WHERE id = (\(subquery: lookup))"`.
        public mutating func appendInterpolation(subquery: SQLQuery) {
            let offset = parameters.count
            parameters += subquery.parameters
            guard offset > 0 else {
                sql += subquery.sql
                return
            }
            // Placeholders are the only `$` followed by a digit that our SQL holds: PostgreSQL's
            // dollar-quote tags and identifiers cannot start with one.
            var rest = Substring(subquery.sql)
            while let dollar = rest.firstIndex(of: "$") {
                sql += rest[..<dollar]
                let digits = rest[rest.index(after: dollar)...].prefix(while: { $0.isASCII && $0.isNumber })
                if let number = Int(digits) {
                    sql += "$\(number + offset)"
                } else {
                    sql += "$"
                }
                rest = rest[rest.index(dollar, offsetBy: 1 + digits.count)...]
            }
            sql += rest
        }

        /// Inserts SQL text verbatim. Only for identifiers chosen by code.
        public mutating func appendInterpolation(unsafeSQL text: String) {
            sql += text
        }
    }
}
