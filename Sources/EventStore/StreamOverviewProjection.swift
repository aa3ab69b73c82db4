import Foundation
import Postgres

/// A read model of every stream: type, version, event count, last event; for the admin panel
/// and `encore events`. An async projection, rebuilt like any other.
public struct StreamOverviewProjection: Projection {
    public static let projectionName = "stream_overview"
    public var name: String { Self.projectionName }
    public var tables: [String] { ["stream_overview"] }

    public init() {}

    public func createTables(in target: ProjectionTarget) throws {
        let table = target.table("stream_overview")
        try target.connection.executeScript(
            unsafeSQL: """
                CREATE TABLE \(table) (
                    stream_id       text PRIMARY KEY,
                    stream_type     text NOT NULL,
                    version         bigint NOT NULL,
                    event_count     bigint NOT NULL,
                    last_event_type text NOT NULL,
                    last_position   bigint NOT NULL,
                    created_at      timestamptz NOT NULL,
                    updated_at      timestamptz NOT NULL
                );
                CREATE INDEX ON \(table) (updated_at DESC);
                """)
    }

    /// One upsert per batch: the batch is folded per stream first. (One index besides the key:
    /// each index costs every update of a busy stream, and catch-up speed is the budget.)
    public func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        var order: [String] = []
        var latest: [String: (first: RecordedEvent, last: RecordedEvent, count: Int64)] = [:]
        for event in events {
            if let seen = latest[event.streamId] {
                latest[event.streamId] = (seen.first, event, seen.count + 1)
            } else {
                order.append(event.streamId)
                latest[event.streamId] = (event, event, 1)
            }
        }
        let rows = order.map { latest[$0]! }
        try target.connection.execute(
            """
            INSERT INTO \(unsafeSQL: target.table("stream_overview")) AS o
                (stream_id, stream_type, version, event_count, last_event_type, last_position, created_at, updated_at)
            SELECT * FROM unnest(\(SQLArray(order))::text[], \(SQLArray(rows.map(\.last.streamType)))::text[],
                \(SQLArray(unquoted: rows.map(\.last.streamVersion)))::bigint[], \(SQLArray(unquoted: rows.map(\.count)))::bigint[],
                \(SQLArray(rows.map(\.last.eventType)))::text[], \(SQLArray(unquoted: rows.map(\.last.globalPosition)))::bigint[],
                \(SQLArray(rows.map(\.first.recordedAt.postgresText)))::timestamptz[],
                \(SQLArray(rows.map(\.last.recordedAt.postgresText)))::timestamptz[])
            ON CONFLICT (stream_id) DO UPDATE SET
                version = EXCLUDED.version, event_count = o.event_count + EXCLUDED.event_count,
                last_event_type = EXCLUDED.last_event_type, last_position = EXCLUDED.last_position,
                updated_at = EXCLUDED.updated_at
            """)
    }

    /// The most recently changed streams, optionally of one type (for the admin panel).
    public static func recent(
        on connection: Connection, streamType: String? = nil, limit: Int = 50, schema: String = "public"
    ) throws -> [StreamSummary] {
        let table = Connection.quoteIdentifier(schema) + ".stream_overview"
        let rows = try connection.query(
            """
            SELECT stream_id, stream_type, version, event_count, last_event_type, last_position, created_at, updated_at
            FROM \(unsafeSQL: table)
            WHERE \(streamType)::text IS NULL OR stream_type = \(streamType)
            ORDER BY updated_at DESC LIMIT \(limit)
            """)
        return try rows.map { row in
            StreamSummary(
                streamId: try row.decode("stream_id"), streamType: try row.decode("stream_type"),
                version: try row.decode("version"), eventCount: try row.decode("event_count"),
                lastEventType: try row.decode("last_event_type"), lastPosition: try row.decode("last_position"),
                createdAt: try row.decode("created_at"), updatedAt: try row.decode("updated_at"))
        }
    }
}

/// One row of `stream_overview`.
public struct StreamSummary: Sendable, Equatable {
    public let streamId: String
    public let streamType: String
    public let version: Int64
    /// Events applied; equal to `version` unless an event was applied twice (never).
    public let eventCount: Int64
    public let lastEventType: String
    public let lastPosition: Int64
    public let createdAt: Date
    public let updatedAt: Date
}
