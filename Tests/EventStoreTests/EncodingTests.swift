import Foundation
import Postgres
import Testing

@testable import EventStore

@Suite struct EncodingTests {
    @Test func arrayLiteralsQuoteAndEscapeEveryElement() {
        #expect(
            SQLArray([#"{"a": "q\"x"}"#, nil, "back\\slash", "żółw"]).postgresText
                == #"{"{\"a\": \"q\\\"x\"}",NULL,"back\\slash","żółw"}"#)
        #expect(SQLArray([String]()).postgresText == "{}")
        #expect(SQLArray.int64s("{1,-2,30}") == [1, -2, 30])
        #expect(SQLArray.int64s("{}") == [])
        #expect(SQLArray.int64s("1,2") == nil)
    }

    @Test func uuidsParseAsFoundationParsesThem() {
        for _ in 0..<100 {
            let id = UUID()
            #expect(UUID(postgresUUID: id.uuidString.lowercased()) == id)
            #expect(id.lowercaseText == id.uuidString.lowercased())
        }
        #expect(UUID(postgresUUID: "not-a-uuid") == nil)
        #expect(UUID(postgresUUID: "0193") == nil)
    }

    @Test func timeOrderedUUIDsAreVersion7AndSortByTime() {
        let early = UUID.timeOrdered(now: Date(timeIntervalSince1970: 1_000))
        let late = UUID.timeOrdered(now: Date(timeIntervalSince1970: 2_000))
        #expect(early.uuidString < late.uuidString)
        #expect(Array(early.uuidString)[14] == "7")
        #expect("89AB".contains(Array(early.uuidString)[19]))
    }

    @Test func metadataIsCompactJSON() throws {
        let metadata = EventMetadata(correlationId: "c\"1", causationId: nil, userId: "u\n2")
        #expect(metadata.json == #"{"correlationId":"c\"1","userId":"u\n2"}"#)
        #expect(try JSONDecoder().decode(EventMetadata.self, from: Data(metadata.json.utf8)) == metadata)
        #expect(EventMetadata().json == "{}")
    }
}
