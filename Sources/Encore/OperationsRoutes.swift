import EventStore
import FastCGI
import Foundation
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
                        .retrying(after: HTTPError.retryAfterUnavailable)
                )
                .with(header: "Cache-Control", "no-store")
            }
        }
        // nginx lets only loopback clients reach /status and /metrics.
        router.get("/status") { _, context in
            try .json(context.thread.status()).with(header: "Cache-Control", "no-store")
        }
        router.get("/api/openapi.json") { _, context in
            .rawJSON(openAPI)
        }
    }

    /// `/metrics`, added after every other route, so that it knows all their labels: the pool's
    /// figures, request durations by route and status class, each projection's lag and error
    /// state, and each context's own metrics. When PostgreSQL does not answer, the pool's
    /// figures still come, with `encore_database_up 0`.
    static func registerMetrics(_ router: inout Router<RequestContext>, encore: Encore) {
        let labels = router.labels + ["GET /metrics"]
        router.get("/metrics") { _, context in
            var text = context.thread.status().prometheusText
            text += durations(context.thread.requestHistograms(), labels: labels)
            do {
                let metrics = try context.database.with { connection in
                    try projectionMetrics(encore.projections.all, on: connection)
                        + encore.contexts.flatMap { try $0.metrics(on: connection) }
                }
                text += Metric("encore_database_up", .gauge, help: "Whether PostgreSQL answers.", value: 1).text
                text += metrics.map(\.text).joined()
            } catch {
                context.logger.warning("metrics without the database", metadata: ["error": "\(error)"])
                text += Metric("encore_database_up", .gauge, help: "Whether PostgreSQL answers.", value: 0).text
            }
            return .text(text, contentType: "text/plain; version=0.0.4; charset=utf-8")
                .with(header: "Cache-Control", "no-store")
        }
    }

    /// `encore_http_request_duration_seconds`, a histogram per route and status class.
    static func durations(_ histograms: [RouteHistogram], labels: [String]) -> String {
        let name = "encore_http_request_duration_seconds"
        var out = "# HELP \(name) Time from a request's start in the pool to its answer, by route and status class.\n"
        out += "# TYPE \(name) histogram\n"
        for histogram in histograms {
            let route = histogram.route < labels.count ? labels[histogram.route] : "unmatched"
            let common = "route=\"\(route)\",status=\"\(histogram.statusClass)\""
            for (le, count) in histogram.cumulative {
                out += "\(name)_bucket{\(common),le=\"\(le)\"} \(count)\n"
            }
            out += "\(name)_sum{\(common)} \(Double(histogram.sumMicroseconds) / 1_000_000)\n"
            out += "\(name)_count{\(common)} \(histogram.count)\n"
        }
        return out
    }

    /// Per projection: the events it has yet to process, and whether its last run failed.
    static func projectionMetrics(_ projections: [any Projection], on connection: Connection) throws -> [Metric] {
        let statuses = try ProjectionStatus.load(projections.filter { $0.kind != .inline }, on: connection)
        return [
            Metric(
                "encore_projection_lag_events", .gauge,
                help: "Committed events an async projection or process manager has not processed yet.",
                statuses.map { .init(Double($0.eventsBehind ?? 0), labels: [("projection", $0.name)]) }),
            Metric(
                "encore_projection_failing", .gauge, help: "1 when the projection's last run failed.",
                statuses.map { .init($0.lastError == nil ? 0 : 1, labels: [("projection", $0.name)]) }),
        ]
    }
}
