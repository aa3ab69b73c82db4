import Foundation

/// An event to append: its id, type name, schema version and JSON data.
public struct NewEvent: Sendable, Equatable {
    public var id: UUID
    public var type: String
    public var schemaVersion: Int
    /// The event's data as a JSON object, in text.
    public var data: String

    public init(id: UUID = .timeOrdered(), type: String, schemaVersion: Int = 1, data: String) {
        self.id = id
        self.type = type
        self.schemaVersion = schemaVersion
        self.data = data
    }
}

/// Who and what caused an append; stored with each of its events.
public struct EventMetadata: Sendable, Equatable, Hashable, Codable {
    /// The id shared by everything one request or process started.
    public var correlationId: String?
    /// The id of the message (command or event) that caused this one.
    public var causationId: String?
    /// The user on whose behalf the command ran.
    public var userId: String?

    public init(correlationId: String? = nil, causationId: String? = nil, userId: String? = nil) {
        self.correlationId = correlationId
        self.causationId = causationId
        self.userId = userId
    }

    /// The metadata as a JSON object, leaving out absent fields.
    var json: String {
        var fields: [String] = []
        if let correlationId { fields.append("\"correlationId\":\(JSONText.quote(correlationId))") }
        if let causationId { fields.append("\"causationId\":\(JSONText.quote(causationId))") }
        if let userId { fields.append("\"userId\":\(JSONText.quote(userId))") }
        return "{" + fields.joined(separator: ",") + "}"
    }
}

/// An event as stored: where it sits in its stream and in the global order.
public struct RecordedEvent: Sendable, Equatable {
    /// Taken when the event was inserted; unique, increasing, with gaps.
    public let globalPosition: Int64
    /// The id of the transaction that appended the event.
    public let transactionId: UInt64
    public let eventId: UUID
    public let streamId: String
    public let streamType: String
    /// 1 for a stream's first event.
    public let streamVersion: Int64
    public let eventType: String
    public let schemaVersion: Int
    /// The event's data as a JSON object, in text.
    public let data: String
    public let metadata: EventMetadata
    public let recordedAt: Date

    public init(
        globalPosition: Int64, transactionId: UInt64, eventId: UUID, streamId: String, streamType: String,
        streamVersion: Int64, eventType: String, schemaVersion: Int, data: String, metadata: EventMetadata,
        recordedAt: Date
    ) {
        self.globalPosition = globalPosition
        self.transactionId = transactionId
        self.eventId = eventId
        self.streamId = streamId
        self.streamType = streamType
        self.streamVersion = streamVersion
        self.eventType = eventType
        self.schemaVersion = schemaVersion
        self.data = data
        self.metadata = metadata
        self.recordedAt = recordedAt
    }

    /// The point in the global order just after this event.
    public var checkpoint: Checkpoint { Checkpoint(transactionId: transactionId, position: globalPosition) }
}

/// A place in the global order: events are ordered by (transaction id, global position).
public struct Checkpoint: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let transactionId: UInt64
    public let position: Int64

    public init(transactionId: UInt64, position: Int64) {
        self.transactionId = transactionId
        self.position = position
    }

    /// Before every event.
    public static let start = Checkpoint(transactionId: 0, position: 0)

    public static func < (lhs: Checkpoint, rhs: Checkpoint) -> Bool {
        (lhs.transactionId, lhs.position) < (rhs.transactionId, rhs.position)
    }

    public var description: String { "\(transactionId)/\(position)" }
}
