import EventStore
import Foundation
import Identity
import Postgres
import Testing
import Users

/// The Users command side against a real PostgreSQL: the e-mail guard under concurrency,
/// credentials outside the event log, sessions stored hashed, and the sign-in throttle.
@Suite(.serialized) struct UserAccountsIntegrationTests {
    let url: String
    let connection: Connection

    init() throws {
        url = try UsersTestDatabase.fresh("accounts")
        connection = try Connection(url: url)
    }

    func count(_ sql: String) throws -> Int { try UsersTestDatabase.count(sql, on: connection) }

    @Test func twentyConcurrentRegistrationsOfOneAddressMakeExactlyOneUser() throws {
        let url = self.url
        enum Outcome: Equatable {
            case registered(String)
            case emailTaken
            case other(String)
        }
        let outcomes = Shared<[Outcome]>([])
        // The same address, spelled 20 ways (case and surrounding spaces): one account.
        onThreads(20) { index in
            let spelling = index.isMultiple(of: 2) ? " Race@Example.COM " : "race@example.com"
            let outcome: Outcome
            do {
                let accounts = try UsersTestDatabase.accounts(url)
                let user = try accounts.register(
                    email: spelling, password: "password-\(index)", name: "Racer \(index)")
                outcome = .registered(user.id)
            } catch UserError.emailTaken {
                outcome = .emailTaken
            } catch {
                outcome = .other("\(error)")
            }
            outcomes.withLock { $0.append(outcome) }
        }
        let all = outcomes.value
        let winners = all.compactMap { if case .registered(let id) = $0 { id } else { nil } }
        #expect(all.count == 20)
        #expect(winners.count == 1, "\(all)")
        #expect(all.filter { $0 == .emailTaken }.count == 19, "\(all)")
        let id = try #require(winners.first)

        #expect(try count("SELECT count(*) AS n FROM users WHERE email = 'race@example.com'") == 1)
        #expect(try count("SELECT count(*) AS n FROM user_emails WHERE email = 'race@example.com'") == 1)
        #expect(try count("SELECT count(*) AS n FROM user_emails WHERE lower(trim(email)) = 'race@example.com'") == 1)
        #expect(try count("SELECT count(*) AS n FROM es_streams WHERE stream_type = 'user'") == 1)
        #expect(try count("SELECT count(*) AS n FROM es_events WHERE event_type = 'UserRegistered'") == 1)
        // The losers' credential rows were rolled back with their registrations.
        #expect(try count("SELECT count(*) AS n FROM user_credentials") == 1)
        let guardRow = try #require(try connection.query("SELECT user_id FROM user_emails").first)
        #expect(try guardRow.decode("user_id", as: String.self) == id)
        let stream = try #require(try connection.query("SELECT stream_id FROM es_streams").first)
        #expect(try stream.decode("stream_id", as: String.self) == User.streamId(id))
    }

    @Test func registrationValidatesAndNormalises() throws {
        let accounts = try UsersTestDatabase.accounts(url)
        let user = try accounts.register(email: "  Norm@Example.ORG ", password: "long enough", name: "  Norm  ")
        #expect(user.email == "norm@example.org")
        #expect(user.name == "Norm")
        #expect(user.role == "customer")
        #expect(throws: UserError.emailTaken) {
            try accounts.register(email: "NORM@example.org", password: "long enough", name: "Other")
        }
        #expect(throws: UserError.invalid(field: "email", message: "Enter an e-mail address like name@example.com.")) {
            try accounts.register(email: "norm", password: "long enough", name: "Norm")
        }
        #expect(throws: UserError.self) { try accounts.register(email: "n2@example.org", password: "short", name: "N") }
        #expect(try count("SELECT count(*) AS n FROM users WHERE email LIKE 'n%'") == 1)
    }

    @Test func aPasswordChangeReplacesTheHashAndNothingLeaksIntoTheLog() throws {
        let accounts = try UsersTestDatabase.accounts(url)
        let oldPassword = "first secret pass-\(UUID().uuidString.prefix(8))"
        let newPassword = "second secret pass-\(UUID().uuidString.prefix(8))"
        let user = try accounts.register(email: "change@example.com", password: oldPassword, name: "Changer")
        func hash() throws -> String {
            try #require(
                try connection.query("SELECT password_hash FROM user_credentials WHERE user_id = \(user.id)").first
            ).decode("password_hash")
        }
        let oldHash = try hash()
        #expect(oldHash.hasPrefix("$argon2id$"))
        #expect(!oldHash.contains(oldPassword))

        // Sessions: the one kept survives, the others end.
        let sessions = Sessions(connection: connection)
        let kept = try sessions.start(userId: user.id, userAgent: "kept", ip: "127.0.0.1")
        let other = try sessions.start(userId: user.id, userAgent: "other", ip: "127.0.0.1")

        // A wrong current password changes nothing.
        #expect(throws: UserError.self) {
            try accounts.changePassword(
                userId: user.id, current: "wrong password", new: newPassword, keepingSession: nil)
        }
        #expect(try hash() == oldHash)

        try accounts.changePassword(userId: user.id, current: oldPassword, new: newPassword, keepingSession: kept.id)
        let newHash = try hash()
        #expect(newHash != oldHash)
        #expect(newHash.hasPrefix("$argon2id$"))
        #expect(try count("SELECT count(*) AS n FROM user_credentials WHERE user_id = '\(user.id)'") == 1)
        #expect(
            try connection.query("SELECT 1 FROM user_credentials WHERE password_hash = \(oldHash)").count == 0,
            "the old hash is still stored")
        #expect(try accounts.authenticate(email: "change@example.com", password: oldPassword) == nil)
        #expect(try accounts.authenticate(email: "CHANGE@example.com ", password: newPassword)?.id == user.id)
        #expect(try sessions.resolve(token: kept.token, credential: .bearer)?.userId == user.id)
        #expect(try sessions.resolve(token: other.token, credential: .bearer) == nil)

        // The log records that the password changed, never a password or a hash.
        let events = try connection.query(
            "SELECT event_type, data::text AS data, metadata::text AS metadata FROM es_events WHERE stream_id = \(User.streamId(user.id)) ORDER BY stream_version"
        )
        #expect(
            try events.map { try $0.decode("event_type", as: String.self) } == [
                "UserRegistered", "UserPasswordChanged",
            ])
        for row in events {
            let text = (try row.decode("data", as: String.self)) + (try row.decode("metadata", as: String.self))
            for secret in [oldPassword, newPassword, oldHash, newHash, "$argon2", "argon2id", "password_hash"] {
                #expect(!text.contains(secret), "event data contains \(secret)")
            }
        }

        // No table but user_credentials holds anything that looks like a hash or a password.
        let tables = try connection.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        ).map { try $0.decode("table_name", as: String.self) }
        #expect(tables.contains("user_credentials") && tables.contains("es_events"))
        for table in tables where table != "user_credentials" {
            let quoted = Connection.quoteIdentifier(table)
            for needle in ["$argon2", oldPassword, newPassword] {
                let hits = try connection.query(
                    SQLQuery(
                        unsafeSQL: "SELECT count(*) AS n FROM \(quoted) t WHERE strpos(t::text, $1) > 0",
                        parameters: [needle])
                ).first?.decode("n", as: Int.self)
                #expect(hits == 0, "\(table) contains \(needle)")
            }
        }
    }

    @Test func sessionTokensAreStoredOnlyAsHashesAndEndAtOnce() throws {
        let accounts = try UsersTestDatabase.accounts(url)
        let user = try accounts.register(email: "sess@example.com", password: "session pass", name: "Sess")
        let sessions = Sessions(connection: connection)
        let first = try sessions.start(userId: user.id, userAgent: "ua", ip: "127.0.0.1")
        let second = try sessions.start(userId: user.id, userAgent: "ua", ip: "127.0.0.1")
        #expect(first.token != second.token && first.id != second.id && first.csrfToken != second.csrfToken)
        #expect(
            try connection.query(
                "SELECT 1 FROM sessions WHERE strpos(sessions::text, \(first.token)) > 0 OR strpos(sessions::text, \(second.token)) > 0"
            ).count == 0, "a plain token is stored")
        let principal = try #require(try sessions.resolve(token: first.token, credential: .cookie))
        #expect(principal.userId == user.id && principal.csrfToken == first.csrfToken)

        // Another user cannot end this session by its id.
        let mallory = try accounts.register(email: "mallory@example.com", password: "mallory pass", name: "M")
        #expect(try sessions.end(id: first.id, userId: mallory.id) == false)
        #expect(try sessions.resolve(token: first.token, credential: .cookie) != nil)

        #expect(try sessions.end(id: first.id, userId: user.id))
        #expect(try sessions.resolve(token: first.token, credential: .cookie) == nil)
        #expect(try sessions.resolve(token: second.token, credential: .cookie) != nil)
        try sessions.deleteAll(userId: user.id)
        #expect(try sessions.resolve(token: second.token, credential: .cookie) == nil)

        // Idle and absolute expiry.
        let third = try sessions.start(userId: user.id, userAgent: "ua", ip: "127.0.0.1")
        #expect(
            try sessions.resolve(
                token: third.token, credential: .bearer, now: Date().addingTimeInterval(Sessions.idleTimeout + 5))
                == nil)
        let old = try sessions.start(
            userId: user.id, userAgent: "ua", ip: "127.0.0.1",
            now: Date().addingTimeInterval(-Sessions.absoluteLifetime - 5))
        try connection.execute("UPDATE sessions SET last_seen_at = now() WHERE id = \(old.id)")
        #expect(try sessions.resolve(token: old.token, credential: .bearer) == nil)
    }

    @Test func aSessionInUseIsTouchedAtMostOnceAMinuteAndSoOutlivesTheIdleTimeout() throws {
        let accounts = try UsersTestDatabase.accounts(url)
        let user = try accounts.register(email: "touch@example.com", password: "touch password", name: "Touch")
        let sessions = Sessions(connection: connection)
        // The test cluster runs with synchronous_commit off; this connection waits for its
        // flushes, so that a touch's setting leaking past its transaction would show.
        try connection.execute("SET synchronous_commit = on")
        let start = Date()
        let session = try sessions.start(userId: user.id, userAgent: "ua", ip: "127.0.0.1", now: start)
        func lastSeen() throws -> Date {
            try #require(try connection.query("SELECT last_seen_at FROM sessions WHERE id = \(session.id)").first)
                .decode("last_seen_at")
        }

        // Within the touch interval: signed in, nothing written.
        #expect(try sessions.resolve(token: session.token, credential: .cookie, now: start + 30) != nil)
        #expect(abs(try lastSeen().timeIntervalSince(start)) < 0.001)

        // After it: the lookup moves last_seen_at on.
        let later = start + 25 * 60
        #expect(try sessions.resolve(token: session.token, credential: .cookie, now: later)?.userId == user.id)
        #expect(abs(try lastSeen().timeIntervalSince(later)) < 0.001)

        // So the session lives on past an idle timeout counted from its start, and ends an idle
        // timeout after its last use.
        #expect(try sessions.resolve(token: session.token, credential: .cookie, now: start + 40 * 60) != nil)
        #expect(try sessions.resolve(token: session.token, credential: .cookie, now: start + 80 * 60) == nil)

        // The touch's asynchronous commit was its own transaction's only: the connection's
        // next commits wait for their WAL flush again.
        let setting: String = try #require(try connection.query("SHOW synchronous_commit").first)
            .decode("synchronous_commit")
        #expect(setting == "on")
    }

    @Test func roleChangesNameTheAdminAndUpdateTheReadModel() throws {
        let accounts = try UsersTestDatabase.accounts(url)
        let admin = try accounts.register(
            email: "boss@example.com", password: "boss password", name: "Boss", role: .admin)
        let user = try accounts.register(email: "pat@example.com", password: "pat password", name: "Pat")
        let changed = try accounts.changeRole(userId: user.id, to: .organiser, by: admin.id)
        #expect(changed.role == "organiser")
        _ = try accounts.changeRole(userId: user.id, to: .organiser, by: admin.id)  // no change, no event
        let events = try connection.query(
            "SELECT data->>'changedBy' AS by, data->>'previousRole' AS prev FROM es_events WHERE stream_id = \(User.streamId(user.id)) AND event_type = 'UserRoleChanged'"
        )
        #expect(events.count == 1)
        #expect(try events.first?.decode("by", as: String.self) == admin.id)
        #expect(try events.first?.decode("prev", as: String.self) == "customer")
        #expect(throws: UserError.notRegistered) {
            try accounts.changeRole(userId: "no-such-user", to: .admin, by: admin.id)
        }
    }

    @Test func aClientThatKeepsGuessingOneAccountBacksOffExponentially() throws {
        let throttle = SignInThrottle(connection: connection)
        let start = Date().addingTimeInterval(-600)
        #expect(try throttle.retryAfter(email: "t@example.com", ip: "10.0.0.1", now: start) == nil)
        for i in 0..<4 {
            try throttle.recordFailure(
                email: " T@Example.com", ip: "10.0.0.1", now: start.addingTimeInterval(Double(i)))
        }
        #expect(
            try throttle.retryAfter(email: "t@example.com", ip: "10.0.0.1", now: start.addingTimeInterval(4)) == nil)
        // The fifth failure, then 15 s to wait; each failure after doubles it.
        var last = start.addingTimeInterval(4)
        for (extra, wait) in [(0, 15), (1, 30), (2, 60), (3, 120), (4, 240)] {
            try throttle.recordFailure(email: "t@example.com", ip: "10.0.0.1", now: last)
            // (A moment after: stored times keep microseconds, so one read back may be a hair later.)
            let moment = last.addingTimeInterval(0.001)
            #expect(
                try throttle.retryAfter(email: "T@EXAMPLE.COM", ip: "10.0.0.1", now: moment) == wait,
                "after \(5 + extra)")
            #expect(
                try throttle.retryAfter(
                    email: "t@example.com", ip: "10.0.0.1", now: last.addingTimeInterval(Double(wait) + 0.01)) == nil)
            last = last.addingTimeInterval(Double(wait) + 0.01)
        }
        // The back-off never exceeds the window.
        for _ in 0..<20 { try throttle.recordFailure(email: "t@example.com", ip: "10.0.0.1", now: last) }
        #expect(
            try throttle.retryAfter(email: "t@example.com", ip: "10.0.0.1", now: last.addingTimeInterval(0.001))
                == Int(SignInThrottle.window))
        // The owner on another client is not slowed at all, nor is this client for another account.
        #expect(try throttle.retryAfter(email: "t@example.com", ip: "10.0.0.2", now: last) == nil)
        #expect(try throttle.retryAfter(email: "u@example.com", ip: "10.0.0.1", now: last) == nil)
        // A success from the client clears its failures for the account.
        try throttle.recordSuccess(email: "t@example.com", ip: "10.0.0.1")
        #expect(try throttle.retryAfter(email: "t@example.com", ip: "10.0.0.1", now: last) == nil)
    }

    @Test func anAccountGuessedFromManyClientsSlowsEveryClientThatFailedButNotTheOwner() throws {
        let throttle = SignInThrottle(connection: connection)
        let now = Date()
        for i in 0..<SignInThrottle.accountUnderAttack {
            try throttle.recordFailure(
                email: "target@example.com", ip: "198.51.100.\(i)", now: now.addingTimeInterval(-0.5))
        }
        // Each attacking client failed only once: under attack, once is enough to wait.
        #expect(try throttle.retryAfter(email: "target@example.com", ip: "198.51.100.3", now: now) != nil)
        // A client that never failed for the account, the owner's, is let in.
        #expect(try throttle.retryAfter(email: "target@example.com", ip: "203.0.113.7", now: now) == nil)
    }

    @Test func fiftyFailuresFromOneClientThrottleEveryAccount() throws {
        let throttle = SignInThrottle(connection: connection)
        let now = Date()
        for i in 0..<50 {
            try throttle.recordFailure(
                email: "stuff\(i)@example.com", ip: "192.0.2.50", now: now.addingTimeInterval(-0.5))
        }
        #expect(try throttle.retryAfter(email: "fresh@example.com", ip: "192.0.2.50", now: now) != nil)
        #expect(try throttle.retryAfter(email: "fresh@example.com", ip: "192.0.2.51", now: now) == nil)
    }
}
