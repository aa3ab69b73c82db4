import ArgumentParser
import EventStore
import Foundation
import Postgres

struct SeedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed", abstract: "Insert N events quickly (set-based SQL) for catch-up measurements.")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Events to add.") var events = 100_000
    @Option(help: "Events per stream.") var perStream = 10

    func run() throws {
        let connection = try Connection(url: database.url())
        try Migrator(EventStoreSchema.migrations).migrate(connection)
        let prefix = "seed-" + UUID().uuidString.prefix(8).lowercased()
        let streams = max(1, events / perStream)
        try connection.execute(
            """
            INSERT INTO es_events (event_id, stream_id, stream_type, stream_version, event_type, data, metadata)
            SELECT gen_random_uuid(), \(prefix) || '-' || s, 'Bench', v, 'BenchEventHappened',
                   \(BenchEvent.data)::jsonb, '{"userId": "bench"}'
            FROM generate_series(1, \(streams)) AS s, generate_series(1, \(perStream)) AS v
            """)
        print("seeded \(streams * perStream) events in \(streams) streams")
    }
}

struct CatchUpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catchup", abstract: "Rebuild stream_overview from zero and print events per second.")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Events per batch.") var batchSize = 2000

    func run() throws {
        let connection = try Connection(url: database.url())
        let bar = ProgressBar()
        let result = try ProjectionRebuilder(connection: connection, batchSize: batchSize)
            .rebuild(StreamOverviewProjection()) { bar.update($0) }
        print(
            String(
                format: "catchup events=%d seconds=%.2f events_per_s=%.0f", result.processed, result.elapsed,
                result.eventsPerSecond))
    }
}

struct ProjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project",
        abstract: "Run the projection daemon (stream_overview) until SIGTERM or SIGINT.",
        discussion: "Tests kill it with SIGKILL in the middle of a batch; --pause-ms widens that window.")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Events per batch.") var batchSize = 1000
    @Option(help: "Milliseconds to sleep inside each batch's transaction, after applying it.") var pauseMs = 0
    @Option(help: "This daemon's name in es_subscribers.") var subscriber = "encore-bench"
    @Option(help: "Polling fallback in seconds.") var pollInterval = 1.0

    func run() throws {
        let stop = Locked(false)
        var sources: [DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.value = true }
            source.resume()
            sources.append(source)
        }
        let projection = Paused(wrapped: StreamOverviewProjection(), pauseMs: pauseMs)
        ProjectionDaemon.run(
            connectionURL: try database.url(), projections: [projection],
            options: .init(batchSize: batchSize, pollInterval: pollInterval, subscriberName: subscriber),
            shouldStop: { stop.value })
        _ = sources
    }
}

/// A projection that sleeps after applying each batch, still inside the batch's transaction.
struct Paused<Wrapped: Projection>: Projection {
    let wrapped: Wrapped
    let pauseMs: Int
    var name: String { wrapped.name }
    var kind: ProjectionKind { wrapped.kind }
    var version: Int { wrapped.version }
    var tables: [String] { wrapped.tables }
    func createTables(in target: ProjectionTarget) throws { try wrapped.createTables(in: target) }
    func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        try wrapped.apply(events, to: target)
        if pauseMs > 0 { usleep(UInt32(pauseMs) * 1000) }
    }
}
