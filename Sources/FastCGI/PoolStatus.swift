/// The pool's figures, as `GET /status` shows them.
public struct PoolStatus: Sendable, Codable, Equatable {
    public struct Worker: Sendable, Codable, Equatable {
        public let slot: Int
        public let pid: Int
        /// `http` for request workers, `background` for supervised jobs (projections, expiry).
        public let kind: String
        public let state: String
        public let generation: Int
        /// Milliseconds since the epoch.
        public let startedAt: Int
        public let requestsServed: Int
        public let activeThreads: Int
        public let threads: Int
    }

    public let supervisorPID: Int
    public let startedAt: Int
    public let generation: Int
    public let acceptedRequests: Int
    public let activeThreads: Int
    public let idleThreads: Int
    public let restarts: Int
    /// Restarts by cause: `crash` (a fault's signal), `killed` (another signal), `exit` (a
    /// status other than 0).
    public let restartsByCause: [String: Int]
    public let slowRequests: Int
    public let timedOutRequests: Int
    public let rejectedBodies: Int
    public let crashLoopBackoffMs: Int
    public let workers: [Worker]

    /// The figures in Prometheus' text exposition format.
    public var prometheusText: String {
        var lines: [String] = []
        func metric(_ name: String, _ type: String, _ help: String, _ value: Int) {
            lines.append("# HELP encore_\(name) \(help)")
            lines.append("# TYPE encore_\(name) \(type)")
            lines.append("encore_\(name) \(value)")
        }
        metric("pool_accepted_requests_total", "counter", "Requests accepted by the worker pool.", acceptedRequests)
        metric("pool_active_threads", "gauge", "Worker threads serving a request now.", activeThreads)
        metric("pool_idle_threads", "gauge", "Worker threads waiting for a request.", idleThreads)
        metric("pool_restarts_total", "counter", "Workers started to replace one that died.", restarts)
        lines.append("# HELP encore_pool_restarts_by_cause_total Workers replaced, by why the one before ended.")
        lines.append("# TYPE encore_pool_restarts_by_cause_total counter")
        for (cause, count) in restartsByCause.sorted(by: { $0.key < $1.key }) {
            lines.append("encore_pool_restarts_by_cause_total{cause=\"\(cause)\"} \(count)")
        }
        metric(
            "pool_slow_requests_total", "counter", "Requests that ran past the slow-request threshold.", slowRequests)
        metric("pool_timed_out_requests_total", "counter", "Requests ended by the request timeout.", timedOutRequests)
        metric(
            "pool_rejected_bodies_total", "counter", "Requests refused with 413 for their body size.", rejectedBodies)
        lines.append("# HELP encore_worker_requests_served Requests served by one worker process.")
        lines.append("# TYPE encore_worker_requests_served gauge")
        for worker in workers where worker.kind == "http" {
            lines.append(
                "encore_worker_requests_served{pid=\"\(worker.pid)\",slot=\"\(worker.slot)\"} \(worker.requestsServed)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
