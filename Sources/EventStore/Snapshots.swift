import Foundation
import Postgres

/// Snapshots of an aggregate's state for long streams: loading starts from the latest snapshot
/// and reads only the events after it.
///
/// Optional per aggregate: pass one to `CommandHandler`. A snapshot stored with another
/// `schemaVersion` is ignored (and replaced), so bump it whenever `State` changes shape.
public struct Snapshotting<State>: Sendable {
    /// Take a snapshot once the stream has grown this many events past the last one.
    public let every: Int64
    public let schemaVersion: Int
    let encode: @Sendable (State) throws -> String
    let decode: @Sendable (String) throws -> State

    public init(
        every: Int64, schemaVersion: Int, encode: @escaping @Sendable (State) throws -> String,
        decode: @escaping @Sendable (String) throws -> State
    ) {
        precondition(every > 0, "snapshot interval must be positive")
        self.every = every
        self.schemaVersion = schemaVersion
        self.encode = encode
        self.decode = decode
    }

    /// Snapshots the state as JSON through `EventJSON`.
    public static func json(every: Int64, schemaVersion: Int = 1) -> Snapshotting where State: Codable & Sendable {
        Snapshotting(
            every: every, schemaVersion: schemaVersion,
            encode: { String(decoding: try EventJSON.encoder().encode($0), as: UTF8.self) },
            decode: { try EventJSON.decoder().decode(State.self, from: Data($0.utf8)) })
    }
}

/// The `es_snapshots` table.
enum Snapshots {
    static func load(_ streamId: String, schemaVersion: Int, on connection: Connection) throws
        -> (version: Int64, state: String)?
    {
        guard
            let row = try connection.query(
                """
                SELECT stream_version, state FROM es_snapshots
                WHERE stream_id = \(streamId) AND schema_version = \(schemaVersion)
                """
            ).first
        else { return nil }
        return (try row.decode("stream_version"), try row.decode("state"))
    }

    /// Stores a snapshot unless a newer one is already there.
    static func save(
        _ streamId: String, version: Int64, schemaVersion: Int, state: String, on connection: Connection
    ) throws {
        try connection.execute(
            """
            INSERT INTO es_snapshots AS s (stream_id, stream_version, schema_version, state)
            VALUES (\(streamId), \(version), \(schemaVersion), \(state)::jsonb)
            ON CONFLICT (stream_id) DO UPDATE SET stream_version = EXCLUDED.stream_version,
                schema_version = EXCLUDED.schema_version, state = EXCLUDED.state, taken_at = now()
            WHERE s.stream_version < EXCLUDED.stream_version OR s.schema_version <> EXCLUDED.schema_version
            """)
    }
}
