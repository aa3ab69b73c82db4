import Foundation
import Postgres

/// A stream's history as plain data: what the admin panel shows and `encore events stream`
/// prints.
public struct StreamHistory: Sendable, Equatable {
    public let streamId: String
    /// Nil when the stream does not exist.
    public let streamType: String?
    public let version: Int64
    public let entries: [Entry]

    public struct Entry: Sendable, Equatable {
        public let version: Int64
        public let globalPosition: Int64
        public let eventId: UUID
        public let eventType: String
        public let schemaVersion: Int
        public let recordedAt: Date
        /// The data as indented JSON with sorted keys.
        public let data: String
        public let metadata: EventMetadata
    }

    /// Loads up to `limit` events of the stream, from `version` on.
    public static func load(
        _ streamId: String, on connection: Connection, from version: Int64 = 1, limit: Int = 1000
    ) throws -> StreamHistory {
        let store = EventStore(connection: connection)
        let info = try store.streamInfo(streamId)
        let events = try store.readStream(streamId, from: version, maxCount: limit)
        return StreamHistory(
            streamId: streamId, streamType: info?.streamType, version: info?.version ?? 0,
            entries: events.map { event in
                Entry(
                    version: event.streamVersion, globalPosition: event.globalPosition, eventId: event.eventId,
                    eventType: event.eventType, schemaVersion: event.schemaVersion, recordedAt: event.recordedAt,
                    data: EventFormatter.prettyJSON(event.data), metadata: event.metadata)
            })
    }
}

/// Renders events as readable text for the command line.
public enum EventFormatter {
    /// `#1042  2026-11-27T09:12:05.123Z  Reservation r-17 @3  TicketsReserved v1  correlation=… user=…`
    /// followed by the data, indented.
    public static func describe(_ event: RecordedEvent, showData: Bool = true) -> String {
        var line =
            "#\(event.globalPosition)  \(timestamp(event.recordedAt))  \(event.streamType) \(event.streamId) "
            + "@\(event.streamVersion)  \(event.eventType) v\(event.schemaVersion)"
        if let correlation = event.metadata.correlationId { line += "  correlation=\(correlation)" }
        if let causation = event.metadata.causationId { line += "  causation=\(causation)" }
        if let user = event.metadata.userId { line += "  user=\(user)" }
        guard showData else { return line }
        let data = prettyJSON(event.data).split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
        return line + "\n" + data
    }

    /// RFC 3339 in UTC with milliseconds.
    public static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Indented JSON with sorted keys; the text unchanged when it is not JSON.
    public static func prettyJSON(_ text: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else {
            return text
        }
        if let members = object as? [String: Any], members.isEmpty { return "{}" }
        if let elements = object as? [Any], elements.isEmpty { return "[]" }
        guard
            let pretty = try? JSONSerialization.data(
                withJSONObject: object,
                options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])
        else { return text }
        return String(decoding: pretty, as: UTF8.self)
    }
}
