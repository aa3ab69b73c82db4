import Testing

@testable import FastCGI

@Suite struct CrashPolicyTests {
    @Test func replacesAnOccasionalCrashAtOnce() {
        var policy = CrashPolicy()
        #expect(policy.recordCrash(lifetimeMs: 500, now: 1_000) == 0)
        #expect(policy.recordCrash(lifetimeMs: 60_000, now: 70_000) == 0)
    }

    @Test func backsOffWhenProcessesKeepDyingYoungAndDoublesUpToTheCap() {
        var policy = CrashPolicy()
        var delays: [Int] = []
        for i in 0..<12 { delays.append(policy.recordCrash(lifetimeMs: 100, now: 1_000 + i * 100)) }
        #expect(delays.prefix(4) == [0, 0, 0, 0])
        #expect(delays[4] == CrashPolicy.firstBackoffMs)
        #expect(delays[5] == CrashPolicy.firstBackoffMs * 2)
        #expect(delays.last == CrashPolicy.maxBackoffMs)
    }

    @Test func aLongLivedProcessClearsTheRecord() {
        var policy = CrashPolicy()
        for i in 0..<6 { _ = policy.recordCrash(lifetimeMs: 100, now: 1_000 + i) }
        #expect(policy.backoffMs > 0)
        #expect(policy.recordCrash(lifetimeMs: 20_000, now: 30_000) == 0)
        #expect(policy.recordCrash(lifetimeMs: 100, now: 30_100) == 0)
    }

    @Test func oldCrashesLeaveTheWindow() {
        var policy = CrashPolicy()
        for i in 0..<4 { _ = policy.recordCrash(lifetimeMs: 100, now: i * 100) }
        #expect(policy.recordCrash(lifetimeMs: 100, now: 20_000) == 0)
    }
}
