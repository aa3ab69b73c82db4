import Encore
import Foundation
import Glibc
import Postgres
import Web

/// Routes that exist only when `ENCORE_TEST_ROUTES=1`, for the pool's end-to-end tests:
/// a request that waits on PostgreSQL, one that keeps a CPU busy, an echo of the body, the
/// worker's pid, a crash, and an unsafe API request whose effect commits late. With them on,
/// every response names the worker that served it (`X-Encore-Worker`).
enum TestRoutes {
    @Sendable static func register(_ router: inout Router<RequestContext>) {
        router.get("/_test/sleep") { request, context in
            let seconds = Double(request.query["seconds"] ?? "1") ?? 1
            do {
                try context.database.with { _ = try $0.query("SELECT pg_sleep(\(seconds))") }
            } catch let error as PostgresError where error.isQueryCanceled {
                throw HTTPError(status: 503, code: "request_timeout", message: "The request ran past its time limit.")
            }
            return .text("slept \(seconds)\n")
        }
        router.get("/_test/spin") { request, _ in
            let seconds = Double(request.query["seconds"] ?? "1") ?? 1
            let end = Date().addingTimeInterval(seconds)
            var counter = 0
            while Date() < end { counter &+= 1 }
            return .text("spun \(counter)\n")
        }
        router.post("/_test/echo") { request, _ in
            try .json(["bytes": request.body.count])
        }
        router.get("/_test/pid") { _, _ in
            try .json(["pid": Int(getpid())])
        }
        router.post("/_test/crash") { _, _ in
            abort()
        }
        router.post("/api/_test/effects", effect)
    }

    /// An unsafe API request with an effect that commits only at its end, for the idempotency
    /// tests (`Idempotency-Key` applies to `/api/` paths): in one transaction it inserts a row
    /// naming `id` into `encore_test_effects`, then waits `seconds` in PostgreSQL. While it
    /// waits, its backend's `application_name` is `encore-test-worker-<pid>`, so a test can
    /// tell which worker to kill. A worker killed meanwhile leaves nothing: the transaction
    /// dies with its connection.
    @Sendable static func effect(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let id = request.query["id"] ?? ""
        let seconds = min(max(Double(request.query["seconds"] ?? "0") ?? 0, 0), 30)
        guard !id.isEmpty, id.count <= 100 else { throw HTTPError.invalid("id", "Give an id of 1 to 100 characters.") }
        let pid = Int(getpid())
        try context.database.with { connection in
            try connection.execute(
                "CREATE TABLE IF NOT EXISTS encore_test_effects (id text NOT NULL, at timestamptz NOT NULL DEFAULT now())"
            )
            try connection.transaction { tx in
                _ = try tx.query("SELECT set_config('application_name', \("encore-test-worker-\(pid)"), true)")
                try tx.execute("INSERT INTO encore_test_effects (id) VALUES (\(id))")
                _ = try tx.query("SELECT pg_sleep(\(seconds))")
            }
        }
        struct Done: Encodable {
            let id: String
            let pid: Int
        }
        return try .json(Done(id: id, pid: pid), status: 201)
    }
}
