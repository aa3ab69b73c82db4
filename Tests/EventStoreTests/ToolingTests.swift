import EventStore
import Foundation
import Postgres
import Testing

@Suite struct ToolingTests {
    @Test func aStreamHistoryIsPlainDataForTheAdminPanel() throws {
        let connection = try Connection(url: TestDatabase.fresh())
        let store = EventStore(connection: connection)
        try store.append(
            to: "order-1", type: "Order", expectedVersion: .noStream,
            events: [NewEvent(type: "OrderPlaced", data: #"{"total": {"amount": 45000, "currency": "PLN"}}"#)],
            metadata: EventMetadata(correlationId: "req-9", userId: "u-3"))
        try store.append(
            to: "order-1", type: "Order", expectedVersion: .exact(1), events: [NewEvent(type: "OrderPaid", data: "{}")])

        let history = try StreamHistory.load("order-1", on: connection)
        #expect(history.streamType == "Order" && history.version == 2)
        #expect(history.entries.map(\.eventType) == ["OrderPlaced", "OrderPaid"])
        #expect(history.entries[0].metadata.userId == "u-3")
        #expect(history.entries[0].data.contains("\"amount\" : 45000"))
        #expect(try StreamHistory.load("order-1", on: connection, from: 2).entries.map(\.version) == [2])
        #expect(try StreamHistory.load("nope", on: connection).streamType == nil)

        let last = try #require(try eventually { try store.readLast(1).count == 1 } ? store.readLast(1).first : nil)
        let text = EventFormatter.describe(last)
        #expect(text.hasPrefix("#\(last.globalPosition)  "))
        #expect(text.contains("Order order-1 @2  OrderPaid v1"))
    }

    @Test func theRegistryListsProjectionsByKind() {
        let registry = ProjectionRegistry([
            StreamOverviewProjection(), EventCounts(name: "inline_counts", kind: .inline),
        ])
        #expect(registry.all.map(\.name) == ["stream_overview", "inline_counts"])
        #expect(registry.inline.map(\.name) == ["inline_counts"])
        #expect(registry.background.map(\.name) == ["stream_overview"])
        #expect(registry.named("stream_overview") != nil && registry.named("x") == nil)
        #expect(
            ProjectionRegistry([EventCounts(name: "async_counts", kind: .async)]).all.first?.name == "stream_overview")
    }
}
