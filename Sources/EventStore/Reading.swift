import Foundation
import Postgres

extension EventStore {
    /// A stream's events from `version` on, in stream order.
    public func readStream(_ streamId: String, from version: Int64 = 1, maxCount: Int = .max) throws -> [RecordedEvent]
    {
        let limit = Int64(clamping: maxCount)
        return try EventRows.decode(
            connection.query(
                """
                SELECT \(unsafeSQL: EventRows.columns) FROM es_events
                WHERE stream_id = \(streamId) AND stream_version >= \(version)
                ORDER BY stream_version LIMIT \(limit)
                """))
    }

    /// The events of the stream whose id `lookup` gives (a query of one text column and at
    /// most one row, such as a read model's pointer to a user's open cart), in stream order:
    /// the pointer and the stream in one round trip. Empty when it gives none.
    public func readStream(idFrom lookup: SQLQuery) throws -> [RecordedEvent] {
        try EventRows.decode(
            connection.query(
                """
                SELECT \(unsafeSQL: EventRows.columns) FROM es_events
                WHERE stream_id = (\(subquery: lookup)) ORDER BY stream_version
                """))
    }

    /// Events after `checkpoint` in the global order, at most `maxCount`.
    ///
    /// The global order is (transaction id, global position), and only transactions older than
    /// every transaction still running are read (`pg_snapshot_xmin`). A transaction that took
    /// its positions early but commits late therefore holds back everything after it until it
    /// ends, instead of being skipped: a subscriber that feeds each batch's last checkpoint
    /// back in sees every committed event exactly once. The price is that a long-running
    /// writing transaction anywhere in the cluster delays subscribers (never appends) until
    /// it ends.
    ///
    /// `through` stops the read at a checkpoint (inclusive), for a reader that must finish
    /// while writers go on, such as a rebuild.
    public func readAll(
        after checkpoint: Checkpoint = .start, through end: Checkpoint? = nil, maxCount: Int = 1000
    ) throws -> [RecordedEvent] {
        let end = end ?? Checkpoint(transactionId: UInt64(Int64.max), position: .max)
        return try EventRows.decode(
            connection.query(
                """
                SELECT \(unsafeSQL: EventRows.columns) FROM es_events
                WHERE (transaction_id, global_position) > (\(checkpoint.transactionId)::xid8, \(checkpoint.position))
                  AND (transaction_id, global_position) <= (\(end.transactionId)::xid8, \(end.position))
                  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
                ORDER BY transaction_id, global_position
                LIMIT \(Int64(clamping: maxCount))
                """))
    }

    /// The last `count` events a subscriber can see now, in global order (for `events tail`).
    public func readLast(_ count: Int) throws -> [RecordedEvent] {
        try EventRows.decode(
            connection.query(
                """
                SELECT \(unsafeSQL: EventRows.columns) FROM es_events
                WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
                ORDER BY transaction_id DESC, global_position DESC LIMIT \(Int64(clamping: count))
                """)
        )
        .reversed()
    }

    /// The checkpoint after the last event a subscriber can see now (`.start` when none).
    public func headCheckpoint() throws -> Checkpoint {
        try Self.headCheckpoint(on: connection)
    }

    static func headCheckpoint(on connection: Connection) throws -> Checkpoint {
        let row = try connection.query(
            """
            SELECT transaction_id, global_position FROM es_events
            WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY transaction_id DESC, global_position DESC LIMIT 1
            """
        ).first
        guard let row else { return .start }
        return Checkpoint(
            transactionId: try row.decode("transaction_id"), position: try row.decode("global_position"))
    }

    /// A stream's type and version, or nil when it does not exist.
    public func streamInfo(_ streamId: String) throws -> StreamInfo? {
        guard
            let row = try connection.query(
                "SELECT stream_id, stream_type, version, created_at, updated_at FROM es_streams WHERE stream_id = \(streamId)"
            ).first
        else { return nil }
        return StreamInfo(
            streamId: try row.decode("stream_id"), streamType: try row.decode("stream_type"),
            version: try row.decode("version"), createdAt: try row.decode("created_at"),
            updatedAt: try row.decode("updated_at"))
    }

    /// Events in stream order whose global position is at least `position` (for tooling;
    /// subscribers use `readAll(after:)`).
    public func readByPosition(from position: Int64, maxCount: Int = 100) throws -> [RecordedEvent] {
        try EventRows.decode(
            connection.query(
                """
                SELECT \(unsafeSQL: EventRows.columns) FROM es_events
                WHERE global_position >= \(position) ORDER BY global_position LIMIT \(Int64(clamping: maxCount))
                """))
    }
}

/// A stream's row in `es_streams`.
public struct StreamInfo: Sendable, Equatable {
    public let streamId: String
    public let streamType: String
    /// Its number of events.
    public let version: Int64
    public let createdAt: Date
    public let updatedAt: Date
}

/// Turns `es_events` rows into `RecordedEvent`s, by column position (the hot path of catch-up).
enum EventRows {
    static let columns = """
        global_position, transaction_id, event_id, stream_id, stream_type, stream_version, event_type, \
        schema_version, data, metadata->>'correlationId', metadata->>'causationId', metadata->>'userId', recorded_at
        """

    static func decode(_ rows: Rows) throws -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        events.reserveCapacity(rows.count)
        for row in rows {
            guard let position = row[position: 0].flatMap(Int64.init),
                let transactionId = row[position: 1].flatMap(UInt64.init),
                let eventId = row[position: 2].flatMap(UUID.init(postgresUUID:)),
                let streamId = row[position: 3], let streamType = row[position: 4],
                let streamVersion = row[position: 5].flatMap(Int64.init), let eventType = row[position: 6],
                let schemaVersion = row[position: 7].flatMap(Int.init), let data = row[position: 8],
                let recordedAt = row[position: 12].flatMap(Date.init(postgresText:))
            else {
                throw PostgresError(kind: .protocolViolation, message: "malformed es_events row")
            }
            events.append(
                RecordedEvent(
                    globalPosition: position, transactionId: transactionId, eventId: eventId, streamId: streamId,
                    streamType: streamType, streamVersion: streamVersion, eventType: eventType,
                    schemaVersion: schemaVersion, data: data,
                    metadata: EventMetadata(
                        correlationId: row[position: 9], causationId: row[position: 10], userId: row[position: 11]),
                    recordedAt: recordedAt))
        }
        return events
    }
}
