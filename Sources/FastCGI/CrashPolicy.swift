/// Decides how long to wait before replacing a process that died.
///
/// A process that dies is replaced at once. When processes keep dying young (five deaths,
/// each within two seconds of its start, inside ten seconds), something is wrong beyond one
/// bad request (a broken binary, an unreachable dependency at start): restarting in a tight
/// loop would only burn the machine, so the delay doubles from half a second up to thirty.
/// A process that lives ten seconds clears the record.
struct CrashPolicy: Equatable {
    var recentYoungDeaths: [Int] = []
    var backoffMs = 0

    static let youngLifetimeMs = 2_000
    static let windowMs = 10_000
    static let threshold = 5
    static let firstBackoffMs = 500
    static let maxBackoffMs = 30_000

    /// Records a crash; returns the delay before the replacement starts (0: at once).
    mutating func recordCrash(lifetimeMs: Int, now: Int) -> Int {
        if lifetimeMs >= CrashPolicy.windowMs {
            recentYoungDeaths.removeAll()
            backoffMs = 0
            return 0
        }
        if lifetimeMs < CrashPolicy.youngLifetimeMs { recentYoungDeaths.append(now) }
        recentYoungDeaths.removeAll { now - $0 > CrashPolicy.windowMs }
        guard recentYoungDeaths.count >= CrashPolicy.threshold else {
            backoffMs = 0
            return 0
        }
        backoffMs = backoffMs == 0 ? CrashPolicy.firstBackoffMs : min(backoffMs * 2, CrashPolicy.maxBackoffMs)
        return backoffMs
    }
}
