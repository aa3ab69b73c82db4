import EventStore
import Foundation
import Testing

/// Version 3 of an event whose data changed twice: `seats` was `count` in version 1, and
/// `level` was added in version 3 with a default.
struct SeatsHeld: EventPayload, Equatable {
    static let eventType = "SeatsHeld"
    static let schemaVersion = 3
    let seats: Int
    let level: String
    let at: Date
}

struct HoldReleased: EventPayload, Equatable {
    static let eventType = "HoldReleased"
    let seats: Int
}

enum HoldEvent: Equatable {
    case held(SeatsHeld)
    case released(HoldReleased)

    static let types = EventTypes<HoldEvent> { event in
        switch event {
        case .held(let data): data
        case .released(let data): data
        }
    }
    .register(SeatsHeld.self) { .held($0) }
    .register(HoldReleased.self) { .released($0) }
    .upcast(SeatsHeld.self, from: 1) { old in
        var new = old
        new["seats"] = old["count"]
        new["count"] = nil
        return new
    }
    .upcast(SeatsHeld.self, from: 2) { old in
        var new = old
        new["level"] = .string("standard")
        return new
    }
    .alias("SeatsReleased", for: HoldReleased.self)
}

@Suite struct EventTypesTests {
    let at = Date(timeIntervalSince1970: 1_790_000_000.25)

    func recorded(_ type: String, version: Int, _ data: String) -> RecordedEvent {
        RecordedEvent(
            globalPosition: 1, transactionId: 1, eventId: UUID(), streamId: "s", streamType: "Hold", streamVersion: 1,
            eventType: type, schemaVersion: version, data: data, metadata: EventMetadata(), recordedAt: at)
    }

    @Test func encodesWithTheTypeNameAndCurrentSchemaVersion() throws {
        let event = try HoldEvent.types.encode(.held(SeatsHeld(seats: 2, level: "vip", at: at)))
        #expect(event.type == "SeatsHeld" && event.schemaVersion == 3)
        #expect(event.data.contains(#""at":"2026-09-21T14:13:20.250Z""#))
        let back = try HoldEvent.types.decode(recorded(event.type, version: 3, event.data))
        #expect(back == .held(SeatsHeld(seats: 2, level: "vip", at: at)))
    }

    @Test func upcastsDataStoredByOlderSchemaVersions() throws {
        let v1 = recorded("SeatsHeld", version: 1, #"{"count": 4, "at": "2026-09-21T14:13:20.250Z"}"#)
        #expect(try HoldEvent.types.decode(v1) == .held(SeatsHeld(seats: 4, level: "standard", at: at)))
        let v2 = recorded("SeatsHeld", version: 2, #"{"seats": 5, "at": "2026-09-21T14:13:20.250Z"}"#)
        #expect(try HoldEvent.types.decode(v2) == .held(SeatsHeld(seats: 5, level: "standard", at: at)))
    }

    @Test func readsRenamedTypesThroughAliases() throws {
        #expect(
            try HoldEvent.types.decode(recorded("SeatsReleased", version: 1, #"{"seats": 1}"#))
                == .released(HoldReleased(seats: 1)))
        #expect(HoldEvent.types.knows("SeatsReleased"))
    }

    @Test func refusesUnknownTypesAndVersionsNewerThanTheCode() {
        #expect(throws: EventTypeError.unknownType("Nope")) {
            try HoldEvent.types.decode(recorded("Nope", version: 1, "{}"))
        }
        #expect(throws: EventTypeError.newerThanCode("SeatsHeld", stored: 4, known: 3)) {
            try HoldEvent.types.decode(recorded("SeatsHeld", version: 4, "{}"))
        }
    }
}
