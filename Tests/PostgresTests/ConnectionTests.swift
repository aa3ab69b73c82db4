import Foundation
import TestSupport
import Testing

@testable import Postgres

/// Integration tests against the PostgreSQL named by DATABASE_URL (the test command starts one).
@Suite struct ConnectionTests {
    static var url: String {
        ProcessInfo.processInfo.environment["DATABASE_URL"]
            ?? "postgresql:///encore_test"
    }

    @Test func bindsParametersSoValuesNeverBecomeSQL() throws {
        let connection = try Connection(url: Self.url)
        let hostile = "'; DROP TABLE nothing; --"
        let rows = try connection.query("SELECT \(hostile)::text AS value, \(42)::int AS answer, \(true) AS flag")
        let row = try #require(rows.first)
        #expect(try row.decode("value", as: String.self) == hostile)
        #expect(try row.decode("answer", as: Int.self) == 42)
        #expect(try row.decode("flag", as: Bool.self) == true)
    }

    @Test func aSubqueryKeepsItsParametersBoundInOrder() throws {
        let connection = try Connection(url: Self.url)
        let lookup: SQLQuery = "SELECT \("b$1")::text || \(2)::text"
        let query: SQLQuery = "SELECT \("a")::text || (\(subquery: lookup)) || \("$c")::text || '$$' AS value"
        #expect(query.sql == "SELECT $1::text || (SELECT $2::text || $3::text) || $4::text || '$$' AS value")
        #expect(query.parameters == ["a", "b$1", "2", "$c"])
        let row = try #require(try connection.query(query).first)
        #expect(try row.decode("value", as: String.self) == "ab$12$c$$")
    }

    @Test func nullsAndOptionals() throws {
        let connection = try Connection(url: Self.url)
        let nothing: String? = nil
        let row = try #require(try connection.query("SELECT \(nothing)::text AS value").first)
        #expect(try row.decodeIfPresent("value", as: String.self) == nil)
        #expect(throws: PostgresError.self) { try row.decode("value", as: String.self) }
    }

    @Test func timestampsRoundTripInUTC() throws {
        let connection = try Connection(url: Self.url)
        let date = Date(timeIntervalSince1970: 1_795_771_406.123456)
        let row = try #require(try connection.query("SELECT \(date)::timestamptz AS at").first)
        let back = try row.decode("at", as: Date.self)
        #expect(abs(back.timeIntervalSince1970 - date.timeIntervalSince1970) < 0.000_001)
    }

    @Test func bytesRoundTrip() throws {
        let connection = try Connection(url: Self.url)
        let bytes = PostgresBytes([0, 1, 0xfe, 0xff])
        let row = try #require(try connection.query("SELECT \(bytes)::bytea AS b").first)
        #expect(try row.decode("b", as: PostgresBytes.self) == bytes)
    }

    @Test func transactionRollsBackWhenTheBodyThrows() throws {
        let connection = try Connection(url: Self.url)
        let table = "tx_test_\(UInt32.random(in: 0...UInt32.max))"
        try connection.execute(SQLQuery(unsafeSQL: "CREATE TABLE \(table) (id int)"))
        defer { _ = try? connection.execute(SQLQuery(unsafeSQL: "DROP TABLE \(table)")) }
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try connection.transaction { tx in
                try tx.execute("INSERT INTO \(unsafeSQL: table) VALUES (\(1))")
                throw Abort()
            }
        }
        #expect(try connection.query(SQLQuery(unsafeSQL: "SELECT * FROM \(table)")).count == 0)
    }

    @Test func serverErrorsAreTypedWithTheirSQLState() throws {
        let connection = try Connection(url: Self.url)
        do {
            try connection.execute("SELECT 1/0")
            Issue.record("expected an error")
        } catch let error as PostgresError {
            #expect(error.kind == .server)
            #expect(error.sqlState == "22012")
        }
        // The connection is still usable after an error.
        #expect(try connection.query("SELECT 1 AS one").count == 1)
    }

    @Test func notificationsArrive() throws {
        let listener = try Connection(url: Self.url)
        let sender = try Connection(url: Self.url)
        let channel = "test_channel_\(UInt32.random(in: 0...UInt32.max))"
        try listener.listen(channel)
        try sender.execute("SELECT pg_notify(\(channel), \("hello"))")
        let received = try listener.waitForNotifications(timeout: 5)
        #expect(received == [Connection.Notification(channel: channel, payload: "hello")])
    }

    @Test func aKilledBackendIsReopenedOnTheNextCall() throws {
        let connection = try Connection(url: Self.url)
        let killer = try Connection(url: Self.url)
        let pid = try #require(try connection.query("SELECT pg_backend_pid() AS pid").first).decode("pid", as: Int.self)
        try killer.execute("SELECT pg_terminate_backend(\(pid), 10000)")  // returns once it is gone
        #expect(throws: PostgresError.self) { try connection.query("SELECT 1") }
        #expect(try connection.query("SELECT 1 AS one").count == 1)
    }

    /// The server ends the session while a transaction's statement runs (a shutdown or restart
    /// sends 57P01, "terminating connection due to administrator command", as the statement's
    /// result while libpq, reading the BEGIN sent with it, still sees the connection as good):
    /// the error is a lost connection, which callers answer 503, not a failed statement (500).
    @Test func aStatementWhoseSessionTheServerEndsFailsAsALostConnection() throws {
        let url = Self.url
        let pid = Locked<Int?>(nil)
        let outcome = Locked<String?>(nil)
        onThreads(2) { index in
            if index == 0 {
                do {
                    let connection = try Connection(url: url)
                    pid.value = try connection.query("SELECT pg_backend_pid() AS pid").first?.decode(
                        "pid", as: Int.self)
                    try connection.transaction { _ = try $0.query("SELECT pg_sleep(10)") }
                    outcome.value = "the statement ran to its end"
                } catch let error as PostgresError {
                    outcome.value = error.kind == .connection ? "connection" : "\(error)"
                } catch {
                    outcome.value = "\(error)"
                }
            } else {
                do {
                    let killer = try Connection(url: url)
                    _ = eventually(timeout: 10) { pid.value != nil }
                    let target = pid.value ?? 0
                    _ = try eventually(timeout: 10) {
                        try killer.query("SELECT 1 FROM pg_stat_activity WHERE pid = \(target) AND state = 'active'")
                            .count
                            == 1
                    }
                    try killer.execute("SELECT pg_terminate_backend(\(target), 10000)")
                } catch {
                    outcome.value = "the killer failed: \(error)"
                }
            }
        }
        #expect(outcome.value == "connection")
    }

    @Test func aPingAnswersWhileTheServerDoesAndReopensAKilledBackend() throws {
        let connection = try Connection(url: Self.url)
        try connection.ping()
        let killer = try Connection(url: Self.url)
        let pid = try #require(try connection.query("SELECT pg_backend_pid() AS pid").first).decode("pid", as: Int.self)
        try killer.execute("SELECT pg_terminate_backend(\(pid), 10000)")  // returns once it is gone
        _ = try? connection.ping()
        try connection.ping()
        #expect(try connection.query("SELECT pg_backend_pid() AS pid").first?.decode("pid", as: Int.self) != pid)
    }

    @Test func statementsWithParametersArePreparedOncePerSession() throws {
        let connection = try Connection(url: Self.url)
        let table = "prepared_\(UInt32.random(in: 0...UInt32.max))"
        try connection.executeScript(unsafeSQL: "CREATE TABLE \(table) (id int PRIMARY KEY, name text)")
        defer { _ = try? connection.executeScript(unsafeSQL: "DROP TABLE \(table)") }
        try connection.execute("INSERT INTO \(unsafeSQL: table) VALUES (\(1), \("one"))")
        let prepared = { () throws -> Int in
            try #require(try connection.query("SELECT count(*)::int AS n FROM pg_prepared_statements").first)
                .decode("n")
        }
        let select = { (id: Int) throws -> Rows in
            try connection.query("SELECT * FROM \(unsafeSQL: table) WHERE id = \(id)")
        }
        let before = try prepared()
        for _ in 0..<3 { #expect(try select(1).count == 1) }
        #expect(try prepared() == before + 1)

        // A session that lost its statements prepares them again.
        try connection.executeScript(unsafeSQL: "DEALLOCATE ALL")
        #expect(try select(1).count == 1)
        // A statement whose result columns changed under it is prepared again.
        try connection.executeScript(unsafeSQL: "ALTER TABLE \(table) ADD COLUMN extra int")
        #expect(try select(1).first?["extra"] == nil)
        #expect(try select(2).count == 0)
        // A re-opened session starts afresh.
        let killer = try Connection(url: Self.url)
        let pid = try #require(try connection.query("SELECT pg_backend_pid() AS pid").first).decode("pid", as: Int.self)
        try killer.execute("SELECT pg_terminate_backend(\(pid), 10000)")  // returns once it is gone
        _ = try? connection.ping()
        #expect(try select(1).count == 1)
    }

    @Test func keptStatementsGoWithTheNextQueryInOrder() throws {
        let connection = try Connection(url: Self.url)
        let table = "kept_\(UInt32.random(in: 0...UInt32.max))"
        try connection.executeScript(
            unsafeSQL: "CREATE TABLE \(table) (id int PRIMARY KEY, n int NOT NULL CHECK (n >= 0))")
        defer { _ = try? connection.executeScript(unsafeSQL: "DROP TABLE \(table)") }
        let count = { (c: Connection) throws -> Int in
            try #require(try c.query("SELECT count(*)::int AS n FROM \(unsafeSQL: table)").first).decode("n")
        }
        let other = try Connection(url: Self.url)

        // Outside a transaction a kept statement runs at once.
        try connection.executeLater("INSERT INTO \(unsafeSQL: table) VALUES (\(1), \(1))")
        #expect(try count(other) == 1)

        // Inside one, kept statements reach the server with the next query, in order, and commit.
        for round in 0..<3 {
            try connection.transaction { tx in
                try tx.executeLater("INSERT INTO \(unsafeSQL: table) VALUES (\(10 + round), \(0))")
                try tx.executeLater("UPDATE \(unsafeSQL: table) SET n = n + \(5) WHERE id = \(10 + round)")
                #expect(try count(other) == 1 + round)  // nothing sent yet
                let n: Int = try #require(
                    try tx.query("SELECT n FROM \(unsafeSQL: table) WHERE id = \(10 + round)").first
                ).decode("n")
                #expect(n == 5)
                try tx.executeLater("UPDATE \(unsafeSQL: table) SET n = n + \(1) WHERE id = \(10 + round)")
            }
            #expect(try count(other) == 2 + round)
        }
        #expect(try other.query("SELECT sum(n)::int AS s FROM \(unsafeSQL: table)").first?.decode("s") == 1 + 3 * 6)

        // A kept statement that fails is thrown by the call that sends it, and nothing commits.
        #expect(throws: PostgresError.self) {
            try connection.transaction { tx in
                try tx.executeLater("INSERT INTO \(unsafeSQL: table) VALUES (\(20), \(0))")
                try tx.executeLater("UPDATE \(unsafeSQL: table) SET n = n - \(1) WHERE id = \(20)")  // CHECK fails
                try tx.executeLater("INSERT INTO \(unsafeSQL: table) VALUES (\(21), \(0))")
                _ = try tx.query("SELECT 1 AS one")
                Issue.record("the failed statement was not reported")
            }
        }
        #expect(throws: PostgresError.self) {  // ... or by COMMIT when nothing follows it
            try connection.transaction { tx in
                try tx.executeLater("INSERT INTO \(unsafeSQL: table) VALUES (\(22), \(-1))")
            }
        }
        #expect(try count(other) == 4)
        // A transaction that throws before sending anything sends nothing; the connection goes on.
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try connection.transaction { tx in
                try tx.executeLater("INSERT INTO \(unsafeSQL: table) VALUES (\(23), \(0))")
                throw Abort()
            }
        }
        #expect(try count(connection) == 4)
        #expect(!connection.isInTransaction)
    }

    @Test func migrationsApplyOnceEvenWhenRunTwice() throws {
        let connection = try Connection(url: Self.url)
        let table = "migration_test_\(UInt32.random(in: 0...UInt32.max))"
        let version = 90_000 + Int.random(in: 0..<9_999)
        let migrator = Migrator([Migration(version: version, name: "test", sql: "CREATE TABLE \(table) (id int)")])
        defer {
            _ = try? connection.execute(SQLQuery(unsafeSQL: "DROP TABLE IF EXISTS \(table)"))
            _ = try? connection.execute("DELETE FROM schema_migrations WHERE version = \(version)")
        }
        #expect(try migrator.migrate(connection) == [version])
        #expect(try migrator.migrate(connection) == [])
    }

    @Test func aConnectionLostInsideATransactionFailsItInsteadOfCommittingTheRest() throws {
        let connection = try Connection(url: Self.url)
        let killer = try Connection(url: Self.url)
        let table = "tx_lost_\(UInt32.random(in: 0...UInt32.max))"
        try connection.execute(SQLQuery(unsafeSQL: "CREATE TABLE \(table) (id int)"))
        defer { _ = try? killer.execute(SQLQuery(unsafeSQL: "DROP TABLE IF EXISTS \(table)")) }
        #expect(throws: PostgresError.self) {
            try connection.transaction { tx in
                try tx.execute("INSERT INTO \(unsafeSQL: table) VALUES (1)")
                let pid = try #require(try tx.query("SELECT pg_backend_pid() AS pid").first).decode("pid", as: Int.self)
                try killer.execute("SELECT pg_terminate_backend(\(pid), 10000)")  // returns once it is gone
                try tx.execute("INSERT INTO \(unsafeSQL: table) VALUES (2)")
            }
        }
        #expect(try killer.query(SQLQuery(unsafeSQL: "SELECT * FROM \(table)")).count == 0)
        // The connection recovers for the next transaction.
        try connection.transaction { tx in try tx.execute("INSERT INTO \(unsafeSQL: table) VALUES (3)") }
        #expect(try killer.query(SQLQuery(unsafeSQL: "SELECT * FROM \(table)")).count == 1)
    }

    @Test func aNestedTransactionJoinsTheOuterOne() throws {
        let connection = try Connection(url: Self.url)
        let table = "tx_nested_\(UInt32.random(in: 0...UInt32.max))"
        try connection.execute(SQLQuery(unsafeSQL: "CREATE TABLE \(table) (id int)"))
        defer { _ = try? connection.execute(SQLQuery(unsafeSQL: "DROP TABLE IF EXISTS \(table)")) }
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try connection.transaction { outer in
                try outer.transaction { inner in try inner.execute("INSERT INTO \(unsafeSQL: table) VALUES (1)") }
                throw Abort()
            }
        }
        #expect(try connection.query(SQLQuery(unsafeSQL: "SELECT * FROM \(table)")).count == 0)
    }

    /// `withGenericPlan()`: the statement runs with its generic plan, the one after it with
    /// the session's own setting again, also when the statement fails (outside a transaction,
    /// and inside one that rolls back).
    @Test func aStatementMarkedForItsGenericPlanRunsWithItAndOnlyIt() throws {
        let connection = try Connection(url: Self.url)
        let mode: SQLQuery = "SELECT current_setting('plan_cache_mode') || \("") AS mode"
        func modeNow(_ query: SQLQuery) throws -> String {
            try #require(try connection.query(query).first).decode("mode")
        }

        #expect(try modeNow(mode.withGenericPlan()) == "force_generic_plan")
        #expect(try modeNow(mode) == "auto")
        let plans = try #require(
            try connection.query(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = \(mode.sql)"
            ).first)
        #expect(try plans.decode("generic_plans", as: Int.self) == 1)
        #expect(try plans.decode("custom_plans", as: Int.self) == 1)

        try connection.transaction { tx in
            try tx.executeLater("SELECT 1")
            #expect(try modeNow(mode.withGenericPlan()) == "force_generic_plan")
            #expect(try modeNow(mode) == "auto")
        }

        let failing: SQLQuery = "SELECT 1 / \(0)::int AS mode"
        #expect(throws: PostgresError.self) { try connection.query(failing.withGenericPlan()) }
        #expect(try modeNow(mode) == "auto")
        #expect(throws: PostgresError.self) {
            try connection.transaction { tx in try tx.query(failing.withGenericPlan()) }
        }
        #expect(try modeNow(mode) == "auto")
    }
    /// `withCustomPlan()`: the statement is planned for its values at every run, past the five
    /// runs after which PostgreSQL may keep a generic plan; the next statement runs with the
    /// session's own setting again.
    @Test func aStatementMarkedForCustomPlansIsPlannedForItsValuesEveryTime() throws {
        let connection = try Connection(url: Self.url)
        let mode: SQLQuery = "SELECT current_setting('plan_cache_mode') || \("") AS mode"
        for _ in 0..<8 {
            #expect(
                try #require(try connection.query(mode.withCustomPlan()).first).decode("mode") == "force_custom_plan")
        }
        #expect(try #require(try connection.query(mode).first).decode("mode", as: String.self) == "auto")
        let plans = try #require(
            try connection.query(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = \(mode.sql)"
            ).first)
        #expect(try plans.decode("custom_plans", as: Int.self) >= 8)
        #expect(mode.withCustomPlan().withGenericPlan().usesCustomPlan == false)
    }

    /// `query(_:whenExecuted:)`: the rows come back and `executed` is called once, before the
    /// call returns with the statement committed; a failing statement never calls it and
    /// commits nothing. A sibling connection has the same session settings.
    @Test func aStatementsRowsComeBackBeforeItsCommitAndASiblingIsAlike() throws {
        let connection = try Connection(url: Self.url, settings: [("statement_timeout", "2345ms")])
        let table = "when_executed_\(UInt32.random(in: 0...UInt32.max))"
        try connection.execute(SQLQuery(unsafeSQL: "CREATE TABLE \(table) (n int PRIMARY KEY)"))
        defer { _ = try? connection.execute(SQLQuery(unsafeSQL: "DROP TABLE \(table)")) }

        var calls = 0
        let rows = try connection.query(
            SQLQuery(
                unsafeSQL: "INSERT INTO \(table) SELECT g FROM generate_series(1, $1::int) g RETURNING n",
                parameters: ["3"]
            )
            .withGenericPlan(),
            whenExecuted: { calls += 1 })
        #expect(rows.count == 3 && calls == 1)
        #expect(!connection.isInTransaction)

        calls = 0
        #expect(throws: PostgresError.self) {
            try connection.query(
                SQLQuery(unsafeSQL: "INSERT INTO \(table) SELECT g FROM generate_series(3, 4) g RETURNING n"),
                whenExecuted: { calls += 1 })
        }
        #expect(calls == 0)

        let sibling = try connection.sibling.open()
        let count = try #require(
            try sibling.query(SQLQuery(unsafeSQL: "SELECT count(*)::int AS n FROM \(table)")).first)
        #expect(try count.decode("n", as: Int.self) == 3)
        let timeout = try #require(try sibling.query("SELECT current_setting('statement_timeout') AS t").first)
        #expect(try timeout.decode("t", as: String.self) == "2345ms")
    }
}
