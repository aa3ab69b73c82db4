/// A SQL statement with bound parameters, built by string interpolation.
///
/// Every interpolated value becomes a `$n` placeholder and a bound parameter, so values never
/// reach the SQL text: `"SELECT * FROM users WHERE email = \(email)"`. Raw SQL text (table
/// names chosen by code, never by users) goes through the deliberately loud `unsafeSQL:`.
public struct SQLQuery: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public var sql: String
    public var parameters: [String?]
    /// Run with the prepared statement's generic plan (`plan_cache_mode = force_generic_plan`
    /// for this statement only); see `withGenericPlan()`.
    public private(set) var usesGenericPlan = false

    public init(unsafeSQL sql: String, parameters: [String?] = []) {
        self.sql = sql
        self.parameters = parameters
    }

    /// Throws `nulInText` when a parameter holds a NUL character. Parameters travel in text
    /// format, where libpq reads each as a C string and ignores any length given, so a NUL
    /// would silently cut the value short (a sign-in as "ann@example.com\0anything" would be
    /// one as ann). PostgreSQL's text cannot hold NUL either, so such a value is refused here,
    /// before anything is sent.
    func checkParameters() throws { try Self.check(parameters) }

    static func check(_ parameters: [String?]) throws {
        for (index, parameter) in parameters.enumerated() where parameter?.utf8.contains(0) == true {
            throw PostgresError(
                kind: .nulInText, message: "parameter $\(index + 1) contains a NUL character; nothing was sent")
        }
    }

    public init(stringLiteral value: String) {
        self.init(unsafeSQL: value)
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(unsafeSQL: stringInterpolation.sql, parameters: stringInterpolation.parameters)
    }

    /// This statement, run with its generic plan, never planned again for its values.
    ///
    /// For statements whose parameters are arrays (`unnest($1::text[])`, `= ANY($1)`):
    /// PostgreSQL plans a prepared statement for its values while that plan looks cheaper
    /// than the generic one, and it always does for these, because only the values tell the
    /// planner how long the arrays are (the generic plan guesses, 100 rows for `unnest`). So
    /// they were planned on every run: the flash sale's batch INSERT spent more time planning
    /// than running (measured with `pg_stat_statements.track_planning`:
    /// bench/flash-sale/FINDINGS.md, session 6). Use it only where one plan suits every value:
    /// the setting is for all of the statement.
    ///
    /// The statement goes in a pipeline between `SET plan_cache_mode = force_generic_plan`
    /// and `RESET plan_cache_mode` (no extra round trip). If it fails, the RESET does not
    /// run, but the SET is undone with the rest: inside a transaction the transaction can
    /// only roll back, and outside one the pipeline's three statements are one implicit
    /// transaction.
    public func withGenericPlan() -> SQLQuery {
        var query = self
        query.usesGenericPlan = true
        query.usesCustomPlan = false
        return query
    }

    /// Planned for its values at every run (`plan_cache_mode = force_custom_plan`): prepared
    /// once, but never run with the generic plan.
    public private(set) var usesCustomPlan = false

    /// This statement, planned for its values every time it runs: the opposite of
    /// `withGenericPlan()`, for a statement whose best plan depends on its values so much that
    /// one plan for all would be slow for some. A search with `LIKE '%' || $1 || '%'`: a rare
    /// word is best found through a trigram index, a common one by walking the list's order;
    /// after five runs PostgreSQL may settle on a generic plan whose estimate knows no word at
    /// all (measured: 33 ms instead of 0.3 for a word of one concert in 2,000). Planning costs
    /// a fraction of a millisecond each time. Sent like `withGenericPlan()`, between a `SET`
    /// and a `RESET` in one pipeline.
    public func withCustomPlan() -> SQLQuery {
        var query = self
        query.usesCustomPlan = true
        query.usesGenericPlan = false
        return query
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
