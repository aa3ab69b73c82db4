import EventStore
import Foundation
import Postgres

/// Counts events per stream by adding, so an event applied twice shows.
struct EventCounts: Projection {
    var name = "event_counts"
    var kind: ProjectionKind = .async
    /// A pause per batch during a rebuild, to make a replay slower than the writers.
    var rebuildDelayPerBatch: useconds_t = 0
    var tables: [String] { ["event_counts"] }

    func createTables(in target: ProjectionTarget) throws {
        try target.connection.execute(
            """
            CREATE TABLE \(unsafeSQL: target.table("event_counts")) (
                stream_id text PRIMARY KEY, events bigint NOT NULL, last_version bigint NOT NULL)
            """)
    }

    func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        if target.isRebuild && rebuildDelayPerBatch > 0 { usleep(rebuildDelayPerBatch) }
        for event in events {
            try target.connection.execute(
                """
                INSERT INTO \(unsafeSQL: target.table("event_counts")) AS c (stream_id, events, last_version)
                VALUES (\(event.streamId), 1, \(event.streamVersion))
                ON CONFLICT (stream_id) DO UPDATE SET events = c.events + 1, last_version = EXCLUDED.last_version
                """)
        }
    }

    static func read(on connection: Connection, table: String = "event_counts") throws -> [String: Int64] {
        var counts: [String: Int64] = [:]
        for row in try connection.query(SQLQuery(unsafeSQL: "SELECT stream_id, events FROM \(table)")) {
            counts[try row.decode("stream_id")] = try row.decode("events")
        }
        return counts
    }
}

/// An inline projection that always fails.
struct Failing: Projection {
    struct Failure: Error {}
    let name = "failing"
    let kind = ProjectionKind.inline
    func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws { throw Failure() }
}

/// Records the events it is given, in memory: a reactor.
struct Recorder: Projection {
    let name: String
    let kind = ProjectionKind.reactor
    let seen: Locked<[RecordedEvent]>

    func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        seen.withLock { $0.append(contentsOf: events) }
    }
}

/// Every row of a table, as text, sorted: to compare read models.
func tableContents(_ table: String, on connection: Connection, columns: String = "*") throws -> [String] {
    let rows = try connection.query(SQLQuery(unsafeSQL: "SELECT \(columns) FROM \(table)"))
    return rows.map { row in
        (0..<rows.columns.count).map { row[position: $0] ?? "NULL" }.joined(separator: "|")
    }.sorted()
}
