import EventStore
import Foundation
import Postgres
import Reservations
@_exported import TestSupport

/// A fresh database per suite (`encore_res_t_<name>`), with the event store's schema and the
/// Reservations context's inline read models (`availability_shards`, `reservations`).
enum ReservationsTestDatabase {
    static var serverURL: String { TestDatabases.serverURL }

    static var inline: [any Projection] { [AvailabilityProjection(), ReservationsProjection()] }

    static func fresh(_ name: String) throws -> String {
        try TestDatabases.fresh(prefix: "encore_res_t", name, projections: inline)
    }

    static func url(_ url: String, database: String) -> String { TestDatabases.url(url, database: database) }

    /// Sets a concert's levels the way the process manager does: in one transaction.
    static func setLevels(_ concertId: String, _ levels: [(String, Int)], on connection: Connection) throws {
        try connection.transaction { tx in
            try AvailabilityCommands(connection: tx, inlineProjections: inline).setLevels(
                concertId: concertId, levels: levels.map { .init(id: $0.0, capacity: $0.1) })
        }
    }

    /// Whether the backend `pid` comes to wait for a lock within `timeout` seconds, as seen
    /// from `connection`.
    static func waitsForLock(pid: Int, on connection: Connection, timeout: TimeInterval = 20) throws -> Bool {
        try eventually(timeout: timeout) {
            try connection.query("SELECT wait_event_type FROM pg_stat_activity WHERE pid = \(pid)")
                .first?.decodeIfPresent("wait_event_type", as: String.self) == "Lock"
        }
    }

    static func count(_ sql: String, on connection: Connection) throws -> Int {
        try TestDatabases.count(sql, on: connection)
    }
}

/// One shard row of the `availability_shards` read model.
struct ShardFigures: Equatable, CustomStringConvertible {
    var concertId = ""
    var levelId = ""
    var shard = 0
    var version: Int64 = 0
    var capacity = 0
    var held = 0
    var sold = 0
    var closed = false

    var description: String {
        "\(concertId)/\(levelId)#\(shard) v\(version) capacity \(capacity) held \(held) sold \(sold)\(closed ? " closed" : "")"
    }
}

/// The fields of a shard event's stored JSON that the fold needs.
private struct ShardEventFields: Decodable {
    let concertId: String?
    let levelId: String?
    let shard: Int?
    let capacity: Int?
    let quantity: Int?
}

enum Figures {
    /// The read model, by stream id.
    static func readModel(on connection: Connection) throws -> [String: ShardFigures] {
        var result: [String: ShardFigures] = [:]
        for row in try connection.query("SELECT * FROM availability_shards") {
            result[try row.decode("stream_id")] = ShardFigures(
                concertId: try row.decode("concert_id"), levelId: try row.decode("level_id"),
                shard: try row.decode("shard"), version: try row.decode("version"),
                capacity: try row.decode("capacity"), held: try row.decode("held"), sold: try row.decode("sold"),
                closed: try row.decode("closed"))
        }
        return result
    }

    /// The same figures recomputed from `es_events` alone, by folding every shard stream's
    /// events in stream order with plain SQL over their stored JSON, not the projection's code.
    static func fromEvents(on connection: Connection) throws -> [String: ShardFigures] {
        try fold(on: connection).figures
    }

    /// The shard streams that, at some event of their history, held more than their capacity
    /// or less than nothing: the fold checked after every event, in stream order.
    static func everOverfull(on connection: Connection) throws -> [String] {
        try fold(on: connection).violations
    }

    private static func fold(on connection: Connection) throws -> (
        figures: [String: ShardFigures], violations: [String]
    ) {
        var result: [String: ShardFigures] = [:]
        var violations: [String] = []
        for row in try connection.query(
            """
            SELECT stream_id, stream_version, event_type, data::text AS data FROM es_events
            WHERE stream_type = 'availability' ORDER BY stream_id, stream_version
            """)
        {
            let stream: String = try row.decode("stream_id")
            let fields = try JSONDecoder().decode(
                ShardEventFields.self, from: Data(try row.decode("data", as: String.self).utf8))
            var figures = result[stream] ?? ShardFigures()
            figures.version = try row.decode("stream_version")
            switch try row.decode("event_type", as: String.self) {
            case "AvailabilityShardOpened":
                figures.concertId = fields.concertId ?? "?"
                figures.levelId = fields.levelId ?? "?"
                figures.shard = fields.shard ?? -1
                figures.capacity = fields.capacity ?? -1
            case "AvailabilityShardCapacityChanged": figures.capacity = fields.capacity ?? -1
            case "TicketsHeld": figures.held += fields.quantity ?? -1_000_000
            case "TicketsReleased": figures.held -= fields.quantity ?? 1_000_000
            case "AvailabilitySalesClosed": figures.closed = true
            case let other: figures.concertId = "unknown event \(other)"
            }
            if figures.held < 0 || figures.held + figures.sold > figures.capacity {
                violations.append("\(stream) at version \(figures.version): \(figures)")
            }
            result[stream] = figures
        }
        return (result, violations)
    }

    /// Tickets per "concert/level" that the `reservations` read model lists as held.
    static func heldInReservations(on connection: Connection) throws -> [String: Int] {
        var result: [String: Int] = [:]
        for row in try connection.query(
            """
            SELECT r.concert_id || '/' || (i->>'ticketLevelId') AS level, sum((i->>'quantity')::int)::int AS n
            FROM reservations r, jsonb_array_elements(r.items) i WHERE r.status = 'held' GROUP BY 1
            """)
        {
            result[try row.decode("level")] = try row.decode("n")
        }
        return result
    }

    /// Sums shard figures per "concert/level".
    static func perLevel(_ shards: [String: ShardFigures]) -> [String: (capacity: Int, held: Int)] {
        var result: [String: (capacity: Int, held: Int)] = [:]
        for figures in shards.values {
            let key = "\(figures.concertId)/\(figures.levelId)"
            let sum = result[key] ?? (0, 0)
            result[key] = (sum.capacity + figures.capacity, sum.held + figures.held)
        }
        return result
    }
}

typealias Shared = Locked

/// A small seeded generator, so a failing race can be replayed with the same demand.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
