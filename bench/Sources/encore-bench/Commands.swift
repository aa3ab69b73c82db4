import ArgumentParser
import EventStore
import Foundation
import Postgres

struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply the event store's migrations.")
    @OptionGroup var database: DatabaseOptions

    func run() throws {
        let applied = try Migrator(EventStoreSchema.migrations).migrate(Connection(url: database.url()))
        print("applied \(applied.count) migrations")
    }
}

struct AppendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append", abstract: "Append with concurrent writers for a while; print appends per second.")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Concurrent writers, one connection and thread each.") var writers = 1
    @Option(help: "Events per append.") var eventsPerAppend = 1
    @Option(help: "Seconds to run, after a one-second warm-up.") var duration = 10.0
    @Option(help: "Streams per writer, appended to in turn with exact expected versions.") var streams = 100
    @Option(help: "Label printed with the result.") var label = ""
    @Flag(help: "Pretend a subscriber is waiting, so that every append sends NOTIFY (to measure its cost).")
    var notifyEveryAppend = false
    @Flag(help: "Share one GroupCommit between the writers, so that concurrent one-event appends share transactions.")
    var groupCommit = false
    @Option(help: "With --group-commit: how many GroupCommits the writers are split over, as over worker processes.")
    var groupCommits = 1

    func run() throws {
        let url = try database.url()
        if notifyEveryAppend {
            try Connection(url: url).execute(
                """
                INSERT INTO es_subscribers (name, waiting_since) VALUES ('encore-bench-notify', now() + interval '1 day')
                ON CONFLICT (name) DO UPDATE SET waiting_since = EXCLUDED.waiting_since
                """)
        }
        defer {
            if notifyEveryAppend {
                _ = try? Connection(url: url).execute("DELETE FROM es_subscribers WHERE name = 'encore-bench-notify'")
            }
        }
        let runId = UUID().uuidString.prefix(8).lowercased()
        let data = BenchEvent.data
        let counts = Locked([Int](repeating: 0, count: writers))
        let totals = Locked(0)  // warm-up included, to divide CPU time by
        let phase = Locked(0)  // 0 warm-up, 1 measuring, 2 stop
        let failures = Locked([String]())
        let shared = groupCommit ? (0..<max(1, groupCommits)).map { _ in GroupCommit() } : []
        let threads = (0..<writers).map { writer in
            Thread {
                do {
                    let store = EventStore(connection: try Connection(url: url), groupCommit: shared.isEmpty ? nil : shared[writer % shared.count])
                    let metadata = EventMetadata(
                        correlationId: UUID().uuidString.lowercased(), userId: "bench-\(writer)")
                    var versions = [Int64](repeating: 0, count: streams)
                    var turn = 0
                    while true {
                        let now = phase.value
                        if now == 2 { break }
                        let stream = turn % streams
                        turn += 1
                        let events = (0..<eventsPerAppend).map { _ in NewEvent(type: "BenchEventHappened", data: data) }
                        let result = try store.append(
                            to: "bench-\(runId)-\(writer)-\(stream)", type: "Bench",
                            expectedVersion: .version(versions[stream]), events: events, metadata: metadata)
                        versions[stream] = result.version
                        totals.withLock { $0 += 1 }
                        if now == 1 { counts.withLock { $0[writer] += 1 } }
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        threads.forEach { $0.start() }
        Thread.sleep(forTimeInterval: 1)
        phase.value = 1
        let start = Date()
        Thread.sleep(forTimeInterval: duration)
        phase.value = 2
        let elapsed = Date().timeIntervalSince(start)
        let appends = counts.value.reduce(0, +)
        Thread.sleep(forTimeInterval: 0.5)
        if let failure = failures.value.first { throw ValidationError("a writer failed: \(failure)") }
        let perSecond = Double(appends) / elapsed
        print(
            String(
                format: "%@writers=%d events_per_append=%d appends_per_s=%.0f events_per_s=%.0f total_appends=%d",
                label.isEmpty ? "" : label + " ",
                writers, eventsPerAppend, perSecond, perSecond * Double(eventsPerAppend), totals.value))
    }
}

/// The benchmark's event: about 150 bytes of JSON, the same row pgbench's script inserts.
enum BenchEvent {
    static let data =
        #"{"amount": 12345, "currency": "PLN", "note": "a benchmark event of about one hundred and fifty bytes of json data"}"#
}

/// A value shared between threads, behind a lock.
final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched while holding `lock`.
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
    func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&stored) } }
}
