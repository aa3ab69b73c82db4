import Atomics
import Glibc

/// Pool-wide figures for `/metrics` that outlive the workers that counted them: request
/// durations per route and status class, and worker restarts by cause. They live in the
/// scoreboard after the workers' slots, as counters every worker adds to atomically.
extension Scoreboard {
    /// Route slots: a route's index in the application's router, the last slot for requests no
    /// route matched (or a route past the last slot).
    public static let maxRoutes = 256
    public static let unmatchedRoute = maxRoutes - 1
    /// Upper bounds of the duration buckets, in seconds (Prometheus' `le`), then +Inf.
    public static let durationBounds: [Double] = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]
    static let statusClasses = 5
    /// Per route and status class: a count per bucket (not cumulative), the +Inf bucket, the
    /// sum of durations in microseconds, one spare.
    static let histogramWords = 16
    static let restartCauseWords = 4
    static var metricsBase: Int { headerWords + maxWorkers * workerWords }
    static var metricsWords: Int { restartCauseWords + maxRoutes * statusClasses * histogramWords }

    /// Why a worker or job had to be replaced.
    public enum RestartCause: Int, CaseIterable, Sendable {
        /// Killed by a signal of a fault (SIGSEGV, SIGILL, SIGABRT, SIGBUS, SIGFPE, SIGTRAP).
        case crash
        /// Killed by another signal (SIGKILL, SIGTERM from outside the pool).
        case killed
        /// Exited with a status other than 0.
        case exited

        public var name: String {
            switch self {
            case .crash: "crash"
            case .killed: "killed"
            case .exited: "exit"
            }
        }

        static func of(signal: Int32?) -> RestartCause {
            guard let signal else { return .exited }
            return [SIGSEGV, SIGILL, SIGABRT, SIGBUS, SIGFPE, SIGTRAP].contains(signal) ? .crash : .killed
        }
    }

    func restartCause(_ cause: RestartCause) -> UnsafeAtomic<Int> {
        word(Scoreboard.metricsBase + cause.rawValue)
    }

    func histogram(route: Int, statusClass: Int, word offset: Int) -> UnsafeAtomic<Int> {
        let route = (0..<Scoreboard.maxRoutes).contains(route) ? route : Scoreboard.unmatchedRoute
        let cell = (route * Scoreboard.statusClasses + statusClass) * Scoreboard.histogramWords
        return word(Scoreboard.metricsBase + Scoreboard.restartCauseWords + cell + offset)
    }

    /// Counts a served request under its route (`FastCGIResponse.route`) and status class.
    func recordRequest(route: Int, status: Int, microseconds: Int) {
        let statusClass = min(max(status / 100, 1), 5) - 1
        let seconds = Double(microseconds) / 1_000_000
        let bucket = Scoreboard.durationBounds.firstIndex { seconds <= $0 } ?? Scoreboard.durationBounds.count
        histogram(route: route, statusClass: statusClass, word: bucket).wrappingIncrement(ordering: .relaxed)
        histogram(route: route, statusClass: statusClass, word: 14).wrappingIncrement(
            by: microseconds, ordering: .relaxed)
    }

    /// Every route and status class that has served a request.
    public func requestHistograms() -> [RouteHistogram] {
        var result: [RouteHistogram] = []
        for route in 0..<Scoreboard.maxRoutes {
            for statusClass in 0..<Scoreboard.statusClasses {
                let buckets = (0...Scoreboard.durationBounds.count).map {
                    histogram(route: route, statusClass: statusClass, word: $0).load(ordering: .relaxed)
                }
                let count = buckets.reduce(0, +)
                guard count > 0 else { continue }
                result.append(
                    RouteHistogram(
                        route: route, statusClass: "\(statusClass + 1)xx", buckets: buckets, count: count,
                        sumMicroseconds: histogram(route: route, statusClass: statusClass, word: 14).load(
                            ordering: .relaxed)))
            }
        }
        return result
    }

    /// Restarts so far, by cause.
    public func restartsByCause() -> [(cause: RestartCause, count: Int)] {
        RestartCause.allCases.map { ($0, restartCause($0).load(ordering: .relaxed)) }
    }
}

/// The durations of one route's requests of one status class.
public struct RouteHistogram: Sendable, Equatable {
    /// The route's index in the router (`Scoreboard.unmatchedRoute`: none matched).
    public let route: Int
    /// "2xx" to "5xx".
    public let statusClass: String
    /// Requests per bucket of `Scoreboard.durationBounds`, then over the last bound (not cumulative).
    public let buckets: [Int]
    public let count: Int
    public let sumMicroseconds: Int

    /// Prometheus' cumulative bucket counts, with their `le` labels.
    public var cumulative: [(le: String, count: Int)] {
        var running = 0
        return buckets.enumerated().map { index, count in
            running += count
            let bound = index < Scoreboard.durationBounds.count ? "\(Scoreboard.durationBounds[index])" : "+Inf"
            return (bound, running)
        }
    }
}
