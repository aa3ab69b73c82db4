import EventStore
import Foundation
import Postgres

/// Keeps a concert's availability shards in step with its ticket levels. Called by the
/// composition root's process manager for the Concerts context's events.
///
/// Each call is idempotent: opening a shard that exists, or setting a capacity a shard has,
/// appends nothing, so a repeated event changes nothing.
public struct AvailabilityCommands {
    public let connection: Connection
    public let inlineProjections: [any Projection]

    public init(connection: Connection, inlineProjections: [any Projection]) {
        self.connection = connection
        self.inlineProjections = inlineProjections
    }

    public struct Level: Sendable, Equatable {
        public let id: String
        public let capacity: Int
        public init(id: String, capacity: Int) {
            self.id = id
            self.capacity = capacity
        }
    }

    private var store: EventStore {
        EventStore(connection: connection, inlineProjections: inlineProjections, joinsCallerTransaction: true)
    }

    /// Sets every level's capacity: opens shards for new levels, resizes existing ones (never
    /// below what is held or sold), and closes the shards of levels that are gone.
    public func setLevels(concertId: String, levels: [Level]) throws {
        let existing = try shards(concertId: concertId)
        for level in levels {
            let mine = existing.filter { $0.levelId == level.id }
            if mine.isEmpty {
                let count = ShardPlan.shardCount(capacity: level.capacity)
                for (shard, capacity) in ShardPlan.split(level.capacity, into: count).enumerated() {
                    try apply(
                        .open(concertId: concertId, levelId: level.id, shard: shard, capacity: capacity),
                        streamId: AvailabilityShard.streamId(concertId: concertId, levelId: level.id, shard: shard),
                        version: 0, state: AvailabilityShard.initial)
                }
            } else {
                let targets = ShardPlan.split(level.capacity, into: mine.count)
                for (row, target) in zip(mine.sorted { $0.shard < $1.shard }, targets) {
                    try apply(.changeCapacity(target), streamId: row.streamId, version: row.version, state: row.state)
                }
            }
        }
        let kept = Set(levels.map(\.id))
        for row in existing where !kept.contains(row.levelId) {
            try apply(.close, streamId: row.streamId, version: row.version, state: row.state)
        }
    }

    /// Stops all sales of a concert.
    public func close(concertId: String) throws {
        for row in try shards(concertId: concertId) {
            try apply(.close, streamId: row.streamId, version: row.version, state: row.state)
        }
    }

    private struct ShardRow {
        let streamId: String
        let levelId: String
        let shard: Int
        let version: Int64
        let state: AvailabilityShard.State
    }

    private func shards(concertId: String) throws -> [ShardRow] {
        try connection.query(
            """
            SELECT stream_id, level_id, shard, version, capacity, held, sold, closed FROM availability_shards
            WHERE concert_id = \(concertId) ORDER BY level_id, shard FOR UPDATE
            """
        ).map {
            ShardRow(
                streamId: try $0.decode("stream_id"), levelId: try $0.decode("level_id"), shard: try $0.decode("shard"),
                version: try $0.decode("version"),
                state: AvailabilityShard.State(
                    capacity: try $0.decode("capacity"), held: try $0.decode("held"), sold: try $0.decode("sold"),
                    closed: try $0.decode("closed"), exists: true))
        }
    }

    private func apply(
        _ command: AvailabilityShard.Command, streamId: String, version: Int64, state: AvailabilityShard.State
    )
        throws
    {
        let events = try AvailabilityShard.decide(command, state)
        guard !events.isEmpty else { return }
        try store.append(
            to: streamId, type: AvailabilityShard.streamType,
            expectedVersion: version == 0 ? .noStream : .version(version),
            events: try events.map { try AvailabilityShard.eventTypes.encode($0) })
    }
}
