import EventStore
import Foundation
import Postgres
import Testing

/// A projection daemon killed with SIGKILL in the middle of a batch, then restarted, ends with
/// the read model a full rebuild gives: nothing lost, nothing applied twice.
///
/// The daemon runs as a separate process, `encore-bench project`, found beside the test
/// bundle (`swift build --build-tests` builds it) or at `$ENCORE_BENCH`.
@Suite struct CrashRecoveryTests {
    @Test func aDaemonKilledMidBatchResumesAndEqualsAFullRebuild() throws {
        guard let bench = Self.benchExecutable() else {
            Issue.record("encore-bench not found beside the tests: run `swift build --build-tests` first")
            return
        }
        let url = try TestDatabase.fresh()
        let connection = try Connection(url: url)
        let store = EventStore(connection: connection)
        for index in 0..<1000 {
            try store.append(
                to: "stream-\(index % 100)", type: "T", expectedVersion: .any,
                events: [testEvent("E", index), testEvent("F", index), testEvent("G", index)])
        }
        let childURL = TestDatabase.url(url, applicationName: "crash_test")
        let first = try Self.launch(
            bench, ["project", "--database-url", childURL, "--batch-size", "40", "--pause-ms", "50"])

        // Mid-batch: the daemon's transaction has written (it has an xid) and not committed.
        let midBatch = try eventually(timeout: 30) {
            let checkpoint =
                try connection.query("SELECT position FROM es_checkpoints WHERE name = 'stream_overview'")
                .first.flatMap { try $0.decodeIfPresent("position", as: Int64.self) } ?? 0
            let writing =
                try connection.query(
                    """
                    SELECT 1 FROM pg_stat_activity
                    WHERE application_name = 'crash_test' AND backend_xid IS NOT NULL
                    """
                ).count > 0
            return checkpoint > 200 && writing
        }
        #expect(midBatch)
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(first.terminationReason == .uncaughtSignal)

        // What survived is exactly the committed batches: every stream's count matches its
        // last applied version, with the half-done batch rolled back.
        let survived = try StreamOverviewProjection.recent(on: connection, limit: 1000)
        #expect(!survived.isEmpty && survived.allSatisfy { $0.eventCount * 1 <= $0.version })

        let second = try Self.launch(bench, ["project", "--database-url", childURL, "--batch-size", "500"])
        let caughtUp = try eventually(timeout: 60) {
            try ProjectionStatus.load([StreamOverviewProjection()], on: connection)[0].eventsBehind == 0
                && StreamOverviewProjection.recent(on: connection, limit: 1000).map(\.eventCount).reduce(0, +) == 3000
        }
        #expect(caughtUp)
        second.terminate()
        second.waitUntilExit()
        #expect(second.terminationStatus == 0)

        let resumed = try tableContents("stream_overview", on: connection)
        #expect(
            try StreamOverviewProjection.recent(on: connection, limit: 1000).allSatisfy { $0.eventCount == $0.version })
        try ProjectionRebuilder(connection: connection).rebuild(StreamOverviewProjection())
        #expect(try tableContents("stream_overview", on: connection) == resumed)
    }

    static func launch(_ executable: URL, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        try process.run()
        return process
    }

    /// `encore-bench` in the build products folder that holds the running test bundle.
    static func benchExecutable() -> URL? {
        let fileManager = FileManager.default
        if let path = ProcessInfo.processInfo.environment["ENCORE_BENCH"] { return URL(fileURLWithPath: path) }
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent("encore-bench")
            if fileManager.isExecutableFile(atPath: candidate.path) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        return nil
    }
}
