import FastCGI
import Postgres
import Web

/// `/healthz`, `/status`, `/metrics` and the OpenAPI document.
enum OperationsRoutes {
    private static let healthy = Array(#"{"status":"ok"}"#.utf8)

    static func register(_ router: inout Router<RequestContext>, openAPI: [UInt8]) {
        router.get("/healthz") { _, context in
            do {
                try context.database.with { try $0.ping() }
                return .rawJSON(healthy).with(header: "Cache-Control", "no-store")
            } catch {
                return HTTPResponse.error(
                    HTTPError(status: 503, code: "database_unavailable", message: "PostgreSQL does not answer.")
                )
                .with(header: "Cache-Control", "no-store")
            }
        }
        // nginx lets only loopback clients reach these two.
        router.get("/status") { _, context in
            try .json(context.thread.status()).with(header: "Cache-Control", "no-store")
        }
        router.get("/metrics") { _, context in
            .text(context.thread.status().prometheusText, contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("/api/openapi.json") { _, context in
            .rawJSON(openAPI)
        }
    }
}
