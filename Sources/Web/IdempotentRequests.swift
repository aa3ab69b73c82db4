import FastCGI
import Foundation
import Glibc
import Logging
import Postgres
import Sodium
import Synchronization

/// `Idempotency-Key` for unsafe API requests (the public contract; OpenAPI `IdempotencyKey`): a repeat with the same key and body
/// returns the first response and changes nothing.
///
/// Keys are scoped to the caller's credential (bearer token or session cookie; for anonymous
/// callers, their address), so two clients cannot collide or read each other's responses. The
/// first request claims the key (a row with no response yet), runs, and stores its response; a
/// repeat while it runs gets 409 `idempotency_in_progress` (with `Retry-After`), a repeat with
/// another body 422 `idempotency_key_reused`. Server errors are not stored, so a retry after a
/// 5xx runs again. Keys live 24 hours.
///
/// A claim is a lease: it names the worker process that holds it and lasts as long as a request
/// may run. When that process has died (a crash, `kill -9`), or the lease has run out, a retry
/// takes the claim over and runs: whatever the dead request had begun was rolled back with its
/// connection, so the effect happens once.
/// Commands that must never run twice (creating a concert) also pass the key to the event
/// store, which records it in the append's own transaction.
public enum IdempotentRequests {
    public static let migrations: [Migration] = [
        Migration(
            version: 2, name: "idempotent HTTP requests",
            sql: """
                CREATE TABLE http_idempotency (
                    scope text NOT NULL,
                    key text NOT NULL,
                    request_hash text NOT NULL,
                    status integer,
                    headers jsonb,
                    body bytea,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (scope, key)
                );
                CREATE INDEX http_idempotency_created_at ON http_idempotency (created_at);
                """),
        Migration(
            version: 4, name: "idempotent HTTP requests: claims are leases",
            sql: """
                ALTER TABLE http_idempotency ADD COLUMN claimed_by text NOT NULL DEFAULT '',
                    ADD COLUMN lease_until timestamptz NOT NULL DEFAULT now();
                """),
    ]

    static let lifetime: TimeInterval = 24 * 3600
    static let unsafeMethods: Set<String> = ["POST", "PUT", "PATCH", "DELETE"]

    /// What to do with a request before it is routed.
    public enum Claim {
        /// Not an idempotent request: route it as usual.
        case none
        /// This request holds the key: route it, then `store` the response.
        case claimed(scope: String, key: String)
        /// Answer with this (a stored response, or an error) without routing.
        case answer(FastCGIResponse)
    }

    /// This worker process, as a claim names it: host and pid.
    static let claimant = "\(ProcessInfo.processInfo.hostName):\(getpid())"

    /// Claims the request's key, or answers it. `lease`: how long the claim holds while its
    /// request runs (the pool's request timeout, and a little more).
    public static func claim(_ request: FastCGIRequest, database: ThreadDatabase, lease: TimeInterval) -> Claim {
        guard unsafeMethods.contains(request.method), request.path.hasPrefix("/api/"),
            let key = request.params["HTTP_IDEMPOTENCY_KEY"], !key.isEmpty
        else { return .none }
        guard key.count <= 200, !key.utf8.contains(0) else {
            return .answer(
                .error(
                    422, code: "invalid_idempotency_key",
                    message: "An Idempotency-Key has 1 to 200 characters, and no NUL."))
        }
        let credential =
            request.params["HTTP_AUTHORIZATION"] ?? sessionCookie(request.params["HTTP_COOKIE"])
            ?? "anonymous \(request.params["REMOTE_ADDR"] ?? "")"
        let scope = Digest.hex(Digest.blake2b(Array(credential.utf8)))
        let hash = Digest.hex(Digest.sha256(Array("\(request.method) \(request.path)\n".utf8) + request.body))
        let now = Date()
        let until = now.addingTimeInterval(lease)
        do {
            return try database.with { connection in
                try releaseUnreleased(on: connection)
                try connection.execute(
                    "DELETE FROM http_idempotency WHERE created_at < \(now.addingTimeInterval(-lifetime))")
                let inserted = try connection.execute(
                    """
                    INSERT INTO http_idempotency (scope, key, request_hash, claimed_by, lease_until)
                    VALUES (\(scope), \(key), \(hash), \(claimant), \(until))
                    ON CONFLICT DO NOTHING
                    """)
                if inserted == 1 { return .claimed(scope: scope, key: key) }
                guard
                    let row = try connection.query(
                        """
                        SELECT request_hash, status, headers, body, claimed_by, lease_until FROM http_idempotency
                        WHERE scope = \(scope) AND key = \(key)
                        """
                    ).first
                else { return .claimed(scope: scope, key: key) }
                guard try row.decode("request_hash", as: String.self) == hash else {
                    return .answer(
                        .error(
                            422, code: "idempotency_key_reused",
                            message: "This Idempotency-Key was used with another request."))
                }
                guard let status = try row.decodeIfPresent("status", as: Int.self) else {
                    let holder: String = try row.decode("claimed_by")
                    let leaseUntil: Date = try row.decode("lease_until")
                    guard leaseUntil < now || isDead(holder) else { return .answer(inProgress) }
                    // The holder is gone: take its claim over, unless another retry just did.
                    let taken = try connection.execute(
                        """
                        UPDATE http_idempotency SET claimed_by = \(claimant), lease_until = \(until)
                        WHERE scope = \(scope) AND key = \(key) AND status IS NULL AND claimed_by = \(holder)
                        """)
                    return taken == 1 ? .claimed(scope: scope, key: key) : .answer(inProgress)
                }
                let headers = try JSONDecoder().decode(
                    [[String]].self, from: Data((try row.decodeIfPresent("headers", as: String.self) ?? "[]").utf8))
                var response = FastCGIResponse(
                    status: status, headers: headers.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil },
                    body: try row.decodeIfPresent("body", as: PostgresBytes.self)?.bytes ?? [])
                response.headers.append(("Idempotent-Replayed", "true"))
                return .answer(response)
            }
        } catch {
            var response = FastCGIResponse.error(
                503, code: "service_unavailable", message: "The service is unavailable right now; try again shortly.")
            response.headers.append(("Retry-After", "\(HTTPError.retryAfterUnavailable)"))
            return .answer(response)
        }
    }

    static var inProgress: FastCGIResponse {
        var response = FastCGIResponse.error(
            409, code: "idempotency_in_progress", message: "A request with this key is still running; retry shortly.")
        response.headers.append(("Retry-After", "1"))
        return response
    }

    /// Whether a claim's holder is a process of this host that no longer runs. A holder on
    /// another host, or a pid that runs (perhaps reused), counts as alive: its lease decides.
    static func isDead(_ holder: String) -> Bool {
        guard let colon = holder.lastIndex(of: ":"), holder[..<colon] == ProcessInfo.processInfo.hostName,
            let pid = Int32(holder[holder.index(after: colon)...]), pid > 0
        else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// Claims of this process whose request ended with a 5xx while PostgreSQL could not be
    /// told (it was away): released by the next `claim` of any thread that reaches it, so a
    /// retry runs again as soon as the database is back, not only when the lease runs out.
    static let unreleased = Mutex<[(scope: String, key: String)]>([])

    static func releaseUnreleased(on connection: Connection) throws {
        let claims = unreleased.withLock { pending in
            defer { pending.removeAll() }
            return pending
        }
        for (index, claim) in claims.enumerated() {
            do {
                try release(claim.scope, claim.key, on: connection)
            } catch {
                unreleased.withLock { $0.append(contentsOf: claims[index...]) }
                throw error
            }
        }
    }

    static func release(_ scope: String, _ key: String, on connection: Connection) throws {
        try connection.execute(
            """
            DELETE FROM http_idempotency
            WHERE scope = \(scope) AND key = \(key) AND status IS NULL AND claimed_by = \(claimant)
            """)
    }

    /// Stores the response of a request that held its key, or frees the key after a 5xx so
    /// that a retry runs again. When PostgreSQL cannot be told (it went away), a 5xx's claim is
    /// released by this process's next request that reaches it (`unreleased`); any other
    /// response's claim stays until its lease runs out, which is logged, since a retry
    /// meanwhile answers "in progress".
    public static func store(
        _ response: FastCGIResponse, scope: String, key: String, database: ThreadDatabase, logger: Logger
    ) {
        if response.status >= 500 {
            do {
                try database.with { try release(scope, key, on: $0) }
            } catch {
                unreleased.withLock { $0.append((scope, key)) }
                logger.warning(
                    "could not release an idempotency key after a server error; released once PostgreSQL answers",
                    metadata: ["error": "\(error)", "status": "\(response.status)"])
            }
            return
        }
        do {
            try database.with { connection in
                let kept = response.headers.filter { $0.0.lowercased() != "set-cookie" }.map { [$0.0, $0.1] }
                let headers = String(decoding: try JSONEncoder().encode(kept), as: UTF8.self)
                try connection.execute(
                    """
                    UPDATE http_idempotency SET status = \(response.status), headers = \(headers)::jsonb,
                        body = \(PostgresBytes(response.body))
                    WHERE scope = \(scope) AND key = \(key)
                    """)
            }
        } catch {
            logger.error(
                "could not store an idempotent request's response; its key is held until its lease ends",
                metadata: ["error": "\(error)", "status": "\(response.status)"])
        }
    }

    static func sessionCookie(_ header: String?) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == Cookies.sessionName {
                return String(pair[1])
            }
        }
        return nil
    }
}
