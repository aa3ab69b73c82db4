import Foundation

/// The data of one kind of event: a Codable value with a stable type name and schema version.
///
/// ```swift
/// struct TicketsReserved: EventPayload {
///     static let eventType = "TicketsReserved"
///     static let schemaVersion = 2
///     let reservationId: String, quantity: Int
/// }
/// ```
public protocol EventPayload: Codable, Sendable {
    /// The name stored with the event; never change it (register an alias instead).
    static var eventType: String { get }
    /// Bump it when the shape changes, and register an upcaster from the previous version.
    static var schemaVersion: Int { get }
}

extension EventPayload {
    public static var schemaVersion: Int { 1 }
}

/// The registry of a stream's event types: maps each to its name and back, and upcasts data
/// stored by older schema versions before decoding it.
///
/// ```swift
/// static let types = EventTypes<ReservationEvent> { event in
///     switch event { case .reserved(let e): e; case .cancelled(let e): e }
/// }
/// .register(TicketsReserved.self) { .reserved($0) }
/// .register(ReservationCancelled.self) { .cancelled($0) }
/// .upcast(TicketsReserved.self, from: 1) { old in var new = old; new["quantity"] = .int(1); return new }
/// ```
public struct EventTypes<Event>: Sendable {
    private let payload: @Sendable (Event) -> any EventPayload
    private var decoders: [String: Decoding] = [:]
    private var aliases: [String: String] = [:]
    private var upcasters: [UpcasterKey: @Sendable (JSONValue) throws -> JSONValue] = [:]

    private struct Decoding: Sendable {
        let schemaVersion: Int
        let decode: @Sendable (Data, JSONDecoder) throws -> Event
    }

    private struct UpcasterKey: Hashable, Sendable {
        let eventType: String
        let fromVersion: Int
    }

    /// `payload` returns the data of an event (usually a switch over the cases of an enum).
    public init(payload: @escaping @Sendable (Event) -> any EventPayload) {
        self.payload = payload
    }

    /// Registers a type and how to wrap its data as an `Event`.
    public func register<P: EventPayload>(_ type: P.Type, _ wrap: @escaping @Sendable (P) -> Event) -> Self {
        var copy = self
        precondition(copy.decoders[P.eventType] == nil, "event type \(P.eventType) registered twice")
        copy.decoders[P.eventType] = Decoding(schemaVersion: P.schemaVersion) { data, decoder in
            wrap(try decoder.decode(P.self, from: data))
        }
        return copy
    }

    /// Turns data stored by `fromVersion` of the type into data of `fromVersion + 1`.
    public func upcast<P: EventPayload>(
        _ type: P.Type, from fromVersion: Int, _ transform: @escaping @Sendable (JSONValue) throws -> JSONValue
    ) -> Self {
        var copy = self
        precondition(fromVersion < P.schemaVersion, "upcaster from \(fromVersion) is not older than \(P.self)")
        copy.upcasters[UpcasterKey(eventType: P.eventType, fromVersion: fromVersion)] = transform
        return copy
    }

    /// Reads events stored under `oldName` as `P` (a type that was renamed).
    public func alias<P: EventPayload>(_ oldName: String, for type: P.Type) -> Self {
        var copy = self
        copy.aliases[oldName] = P.eventType
        return copy
    }

    /// Whether events of this stored type name can be decoded.
    public func knows(_ eventType: String) -> Bool { decoders[aliases[eventType] ?? eventType] != nil }

    /// The event as a `NewEvent` to append.
    public func encode(_ event: Event, id: UUID = .timeOrdered(), encoder: JSONEncoder = EventJSON.encoder()) throws
        -> NewEvent
    {
        let data = payload(event)
        let kind = type(of: data)
        precondition(decoders[kind.eventType] != nil, "event type \(kind.eventType) is not registered")
        return NewEvent(
            id: id, type: kind.eventType, schemaVersion: kind.schemaVersion,
            data: String(decoding: try encoder.encode(data), as: UTF8.self))
    }

    /// Decodes a recorded event, upcasting its data from the version it was stored with.
    public func decode(_ event: RecordedEvent, decoder: JSONDecoder = EventJSON.decoder()) throws -> Event {
        let name = aliases[event.eventType] ?? event.eventType
        guard let decoding = decoders[name] else { throw EventTypeError.unknownType(event.eventType) }
        guard event.schemaVersion <= decoding.schemaVersion else {
            throw EventTypeError.newerThanCode(
                event.eventType, stored: event.schemaVersion, known: decoding.schemaVersion)
        }
        var data = Data(event.data.utf8)
        if event.schemaVersion < decoding.schemaVersion {
            var value = try JSONValue(json: event.data)
            for version in event.schemaVersion..<decoding.schemaVersion {
                guard let upcaster = upcasters[UpcasterKey(eventType: name, fromVersion: version)] else {
                    throw EventTypeError.missingUpcaster(name, from: version)
                }
                value = try upcaster(value)
            }
            data = Data(try value.jsonText().utf8)
        }
        return try decoding.decode(data, decoder)
    }
}

/// An event could not be decoded.
public enum EventTypeError: Error, Equatable, CustomStringConvertible {
    case unknownType(String)
    case missingUpcaster(String, from: Int)
    case newerThanCode(String, stored: Int, known: Int)

    public var description: String {
        switch self {
        case .unknownType(let name): "unknown event type \(name)"
        case .missingUpcaster(let name, let version): "no upcaster for \(name) from schema version \(version)"
        case .newerThanCode(let name, let stored, let known):
            "\(name) was stored with schema version \(stored), newer than this code's \(known)"
        }
    }
}
