import EventStore
import Foundation
import Postgres

/// The `availability_shards` read model: one row per shard with its counters and the
/// version of its stream.
///
/// Inline: written in the same transaction as every shard event, so a row always equals the
/// fold of its stream. That makes it the shard's snapshot: the reservation path locks the
/// row (`FOR UPDATE`), decides on it, and appends with the version it holds, without reading
/// the stream's history.
public struct AvailabilityProjection: Projection {
    public let name = "availability_shards"
    public var kind: ProjectionKind { .inline }
    public var tables: [String] { ["availability_shards"] }

    public init() {}

    public func createTables(in target: ProjectionTarget) throws {
        let table = target.table("availability_shards")
        try target.connection.executeScript(
            unsafeSQL: """
                CREATE TABLE \(table) (
                    stream_id text PRIMARY KEY,
                    concert_id text NOT NULL,
                    level_id text NOT NULL,
                    shard integer NOT NULL,
                    version bigint NOT NULL,
                    capacity integer NOT NULL,
                    held integer NOT NULL DEFAULT 0,
                    sold integer NOT NULL DEFAULT 0,
                    closed boolean NOT NULL DEFAULT false,
                    UNIQUE (concert_id, level_id, shard),
                    CHECK (held >= 0 AND sold >= 0 AND held + sold <= capacity)
                );
                """)
    }

    public func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        let table = target.table("availability_shards")
        let connection = target.connection
        // A run of holds on one shard (a batch of checkouts: `reserveBatch`) is one UPDATE.
        var holds: (stream: String, quantity: Int, version: Int64)?
        func writeHolds() throws {
            guard let run = holds else { return }
            holds = nil
            try connection.executeLater(
                """
                UPDATE \(unsafeSQL: table) SET held = held + \(run.quantity), version = \(run.version)
                WHERE stream_id = \(run.stream)
                """)
        }
        for recorded in events where recorded.streamType == AvailabilityShard.streamType {
            let stream = recorded.streamId
            let version = recorded.streamVersion
            let event = try AvailabilityShard.eventTypes.decode(recorded)
            if case .held(let e) = event {
                if let run = holds, run.stream == stream {
                    holds = (stream, run.quantity + e.quantity, version)
                } else {
                    try writeHolds()
                    holds = (stream, e.quantity, version)
                }
                continue
            }
            try writeHolds()
            switch event {
            case .opened(let e):
                try connection.executeLater(
                    """
                    INSERT INTO \(unsafeSQL: table) (stream_id, concert_id, level_id, shard, version, capacity)
                    VALUES (\(stream), \(e.concertId), \(e.levelId), \(e.shard), \(version), \(e.capacity))
                    ON CONFLICT (stream_id) DO NOTHING
                    """)
            case .capacityChanged(let e):
                try connection.executeLater(
                    "UPDATE \(unsafeSQL: table) SET capacity = \(e.capacity), version = \(version) WHERE stream_id = \(stream)"
                )
            case .held:
                break
            case .released(let e):
                try connection.executeLater(
                    "UPDATE \(unsafeSQL: table) SET held = held - \(e.quantity), version = \(version) WHERE stream_id = \(stream)"
                )
            case .sold(let e):
                try connection.executeLater(
                    """
                    UPDATE \(unsafeSQL: table) SET held = held - \(e.quantity), sold = sold + \(e.quantity),
                        version = \(version)
                    WHERE stream_id = \(stream)
                    """)
            case .returned(let e):
                try connection.executeLater(
                    "UPDATE \(unsafeSQL: table) SET sold = sold - \(e.quantity), version = \(version) WHERE stream_id = \(stream)"
                )
            case .closed:
                try connection.executeLater(
                    "UPDATE \(unsafeSQL: table) SET closed = true, version = \(version) WHERE stream_id = \(stream)")
            }
        }
        try writeHolds()
    }
}

/// Per-level counts, summed over shards.
public struct LevelAvailability: Sendable, Equatable, Codable {
    public let levelId: String
    public let capacity: Int
    public let held: Int
    public let sold: Int
    public let available: Int
}

public enum AvailabilityQueries {
    /// Every level of a concert that has shards; levels without shards yet are absent.
    public static func levels(concertId: String, on connection: Connection) throws -> [String: LevelAvailability] {
        var result: [String: LevelAvailability] = [:]
        for row in try connection.query(
            """
            SELECT level_id, sum(capacity)::int AS capacity, sum(held)::int AS held, sum(sold)::int AS sold,
                   sum(CASE WHEN closed THEN 0 ELSE capacity - held - sold END)::int AS available
            FROM availability_shards WHERE concert_id = \(concertId) GROUP BY level_id
            """)
        {
            let level = LevelAvailability(
                levelId: try row.decode("level_id"), capacity: try row.decode("capacity"), held: try row.decode("held"),
                sold: try row.decode("sold"), available: try row.decode("available"))
            result[level.levelId] = level
        }
        return result
    }

    /// Tickets left per level for several concerts at once.
    /// What `available` counts, for one level, as a SQL expression: the tickets left of the
    /// level whose concert and level ids `concertIdSQL` and `levelIdSQL` give (SQL made by
    /// code, columns such as `c.id`; never values from a request), NULL when it has no shards.
    public static func availableSQL(concertIdSQL: String, levelIdSQL: String) -> String {
        """
        (SELECT sum(CASE WHEN closed THEN 0 ELSE capacity - held - sold END)::int FROM availability_shards
         WHERE concert_id = \(concertIdSQL) AND level_id = \(levelIdSQL))
        """
    }

    public static func available(concertIds: [String], on connection: Connection) throws -> [String: [String: Int]] {
        var result: [String: [String: Int]] = [:]
        for row in try connection.query(
            """
            SELECT concert_id, level_id,
                   sum(CASE WHEN closed THEN 0 ELSE capacity - held - sold END)::int AS available
            FROM availability_shards WHERE concert_id = ANY(\(SQLArray(concertIds))::text[]) GROUP BY concert_id, level_id
            """)
        {
            result[try row.decode("concert_id"), default: [:]][try row.decode("level_id")] = try row.decode("available")
        }
        return result
    }
}
