import ArgumentParser
import Encore
import EventStore
import Foundation
import Postgres

/// `encore events`: read the event store.
struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Print events from the event store.",
        subcommands: [Tail.self, Stream.self])

    /// `encore events tail [-n 20] [--follow]`: the latest events in the global order.
    struct Tail: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the latest events in the global order; --follow keeps printing new ones.")
        @OptionGroup var database: DatabaseOptions
        @Option(name: [.customShort("n"), .customLong("count")], help: "How many of the latest events to print first.")
        var count = 20
        @Flag(name: .shortAndLong, help: "Keep printing events as they are committed (Ctrl-C stops).")
        var follow = false
        @Flag(help: "Print one line per event, without its data.")
        var brief = false
        @Option(help: "Seconds between looks for new events, with --follow.")
        var pollInterval = 0.5

        func run() throws {
            let store = EventStore(connection: try Connection(url: database.url))
            let latest = try store.readLast(count)
            for event in latest { print(EventFormatter.describe(event, showData: !brief)) }
            guard follow else { return }
            fflush(nil)
            var checkpoint = try latest.last?.checkpoint ?? store.headCheckpoint()
            while true {
                let events = try store.readAll(after: checkpoint, maxCount: 500)
                for event in events { print(EventFormatter.describe(event, showData: !brief)) }
                if let last = events.last {
                    checkpoint = last.checkpoint
                    fflush(nil)
                } else {
                    Thread.sleep(forTimeInterval: pollInterval)
                }
            }
        }
    }

    /// `encore events stream ID`: one stream's history.
    struct Stream: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one stream's events, oldest first.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The stream id.") var id: String
        @Option(help: "First stream version to print.") var from: Int64 = 1
        @Option(help: "Most events to print.") var limit = 1000

        func run() throws {
            let history = try StreamHistory.load(id, on: Connection(url: database.url), from: from, limit: limit)
            guard let type = history.streamType else { throw CommandFailure("no stream \(id)") }
            print("\(type) \(history.streamId), version \(history.version)")
            for entry in history.entries {
                var line =
                    "@\(entry.version)  #\(entry.globalPosition)  \(EventFormatter.timestamp(entry.recordedAt))  "
                    + "\(entry.eventType) v\(entry.schemaVersion)"
                if let user = entry.metadata.userId { line += "  user=\(user)" }
                if let correlation = entry.metadata.correlationId { line += "  correlation=\(correlation)" }
                print(line)
                print(entry.data.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            }
        }
    }
}

/// `encore projections`: the read models' state, rebuilds, and the daemon in the foreground.
///
/// The projections are the application's (`Encore.projections`).
struct ProjectionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projections", abstract: "Inspect, rebuild and run projections.",
        subcommands: [Status.self, Rebuild.self, Run.self])

    /// `encore projections status`
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show each projection's checkpoint and lag.")
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            let statuses = try ProjectionStatus.load(try Encore.projections().all, on: Connection(url: database.url))
            let rows = statuses.map { status -> [String] in
                let state: String
                if status.builtVersion == nil {
                    state = "not prepared"
                } else if let error = status.lastError {
                    state = "failing: \(error)"
                } else if status.needsRebuild {
                    state = "rebuild needed (v\(status.builtVersion ?? 0) -> v\(status.codeVersion))"
                } else {
                    state = "ok"
                }
                return [
                    status.name, status.kind.rawValue, status.checkpoint.map(\.description) ?? "-",
                    status.eventsBehind.map(String.init) ?? "-",
                    status.updatedAt.map(EventFormatter.timestamp) ?? "-", state,
                ]
            }
            printTable(header: ["NAME", "KIND", "CHECKPOINT", "BEHIND", "UPDATED", "STATE"], rows: rows)
        }
    }

    /// `encore projections rebuild NAME`
    struct Rebuild: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild a projection from the first event into a shadow copy, then swap it in.",
            discussion: "The live read model keeps serving until the new one has caught up. Reactors cannot be rebuilt."
        )
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The projection's name (see `encore projections status`).") var name: String
        @Option(help: "Events per transaction.") var batchSize = 2000

        func run() throws {
            let projections = try Encore.projections()
            guard let projection = projections.named(name) else {
                let known = projections.all.map(\.name).joined(separator: ", ")
                throw CommandFailure("no projection named \(name); known: \(known)")
            }
            let bar = ProgressBar()
            let result = try ProjectionRebuilder(connection: Connection(url: database.url), batchSize: batchSize)
                .rebuild(projection) { bar.update($0) }
            bar.update(result)
            print("rebuilt \(name): \(result.processed) events, checkpoint \(result.checkpoint)")
        }
    }

    /// `encore projections run`: the daemon in the foreground (the pool runs it supervised).
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the async projections and reactors until SIGTERM or SIGINT.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "This daemon's name in es_subscribers (unique per running daemon).")
        var subscriber = "projections-cli"

        func run() throws {
            let stop = StopFlag()
            let sources = [SIGTERM, SIGINT].map { number in
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { stop.set() }
                source.resume()
                return source
            }
            ProjectionDaemon.run(
                connectionURL: database.url, projections: try Encore.projections().background,
                options: .init(subscriberName: subscriber), shouldStop: { stop.isSet })
            sources.forEach { $0.cancel() }
        }
    }
}

/// A failure to report without the usage text (`ValidationError` prints it).
private struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A flag set from a signal handler's queue and read by the daemon's loop.
private final class StopFlag: @unchecked Sendable {
    // @unchecked: `value` is only touched while holding `lock`.
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// Prints rows in aligned columns.
private func printTable(header: [String], rows: [[String]]) {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    for row in all {
        print(
            row.enumerated().map { column, text in
                column == row.count - 1 ? text : text.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  "))
    }
}

extension Encore {
    /// The application's projections, for the tools.
    static func projections() throws -> ProjectionRegistry {
        Encore(settings: try Settings.fromEnvironment()).projections
    }
}
