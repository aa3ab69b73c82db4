import FastCGI
import Foundation
import Postgres
import Sodium
import Web

/// `Idempotency-Key` for unsafe API requests (API.md): a repeat with the same key and body
/// returns the first response and changes nothing.
///
/// Keys are scoped to the caller's credential (bearer token or session cookie; for anonymous
/// callers, their address), so two clients cannot collide or read each other's responses. The first request claims the key
/// (a row with no response yet), runs, and stores its response; a repeat while it runs gets
/// 409 `idempotency_in_progress`, a repeat with another body 422 `idempotency_key_reused`.
/// Server errors are not stored, so a retry after a 5xx runs again. Keys live 24 hours.
/// Commands that must never run twice (creating a concert) also pass the key to the event
/// store, which records it in the append's own transaction.
enum IdempotentRequests {
    static let migrations: [Migration] = [
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
                """)
    ]

    static let lifetime: TimeInterval = 24 * 3600
    static let unsafeMethods: Set<String> = ["POST", "PUT", "PATCH", "DELETE"]

    /// What to do with a request before it is routed.
    enum Claim {
        /// Not an idempotent request: route it as usual.
        case none
        /// This request holds the key: route it, then `store` the response.
        case claimed(scope: String, key: String)
        /// Answer with this (a stored response, or an error) without routing.
        case answer(FastCGIResponse)
    }

    static func claim(_ request: FastCGIRequest, database: ThreadDatabase) -> Claim {
        guard unsafeMethods.contains(request.method), request.path.hasPrefix("/api/"),
            let key = request.params["HTTP_IDEMPOTENCY_KEY"], !key.isEmpty
        else { return .none }
        guard key.count <= 200 else {
            return .answer(
                .error(422, code: "invalid_idempotency_key", message: "An Idempotency-Key has at most 200 characters."))
        }
        let credential =
            request.params["HTTP_AUTHORIZATION"] ?? sessionCookie(request.params["HTTP_COOKIE"])
            ?? "anonymous \(request.params["REMOTE_ADDR"] ?? "")"
        let scope = Digest.hex(Digest.blake2b(Array(credential.utf8)))
        let hash = Digest.hex(Digest.sha256(Array("\(request.method) \(request.path)\n".utf8) + request.body))
        do {
            return try database.with { connection in
                try connection.execute(
                    "DELETE FROM http_idempotency WHERE created_at < \(Date().addingTimeInterval(-lifetime))")
                let inserted = try connection.execute(
                    """
                    INSERT INTO http_idempotency (scope, key, request_hash) VALUES (\(scope), \(key), \(hash))
                    ON CONFLICT DO NOTHING
                    """)
                if inserted == 1 { return .claimed(scope: scope, key: key) }
                guard
                    let row = try connection.query(
                        "SELECT request_hash, status, headers, body FROM http_idempotency WHERE scope = \(scope) AND key = \(key)"
                    ).first
                else { return .claimed(scope: scope, key: key) }
                guard try row.decode("request_hash", as: String.self) == hash else {
                    return .answer(
                        .error(
                            422, code: "idempotency_key_reused",
                            message: "This Idempotency-Key was used with another request."))
                }
                guard let status = try row.decodeIfPresent("status", as: Int.self) else {
                    return .answer(
                        .error(
                            409, code: "idempotency_in_progress", message: "A request with this key is still running."))
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
            return .answer(.error(503, code: "service_unavailable", message: "The service is unavailable right now."))
        }
    }

    /// Stores the response of a request that held its key (or frees the key after a 5xx).
    static func store(_ response: FastCGIResponse, scope: String, key: String, database: ThreadDatabase) {
        _ = try? database.with { connection in
            if response.status >= 500 {
                try connection.execute("DELETE FROM http_idempotency WHERE scope = \(scope) AND key = \(key)")
                return
            }
            let kept = response.headers.filter { $0.0.lowercased() != "set-cookie" }.map { [$0.0, $0.1] }
            let headers = String(decoding: try JSONEncoder().encode(kept), as: UTF8.self)
            try connection.execute(
                """
                UPDATE http_idempotency SET status = \(response.status), headers = \(headers)::jsonb,
                    body = \(PostgresBytes(response.body))
                WHERE scope = \(scope) AND key = \(key)
                """)
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
