import Encore
import Foundation
import Glibc
import Postgres
import Web

/// Routes that exist only when `ENCORE_TEST_ROUTES=1`, for the pool's end-to-end tests:
/// a request that waits on PostgreSQL, one that keeps a CPU busy, an echo of the body, the
/// worker's pid, and a crash. With them on, every response names the worker that served it
/// (`X-Encore-Worker`).
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
    }
}
