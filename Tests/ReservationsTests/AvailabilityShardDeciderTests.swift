import EventStore
import Foundation
import Testing

@testable import Reservations

/// Every rule of the `AvailabilityShard` decider and of `ShardPlan`, as Given/When/Then.
@Suite struct AvailabilityShardDeciderTests {
    typealias Spec = DeciderSpec<AvailabilityShard>

    static let concert = "beyonce-warsaw-2027"
    static let level = "golden-circle"

    static func opened(_ capacity: Int = 100, shard: Int = 0) -> AvailabilityShard.Event {
        .opened(ShardOpened(concertId: concert, levelId: level, shard: shard, capacity: capacity))
    }

    static func held(_ quantity: Int, _ reservation: String = "r1") -> AvailabilityShard.Event {
        .held(TicketsHeld(reservationId: reservation, quantity: quantity))
    }

    static func released(_ quantity: Int, _ reservation: String = "r1", reason: String = "cancelled")
        -> AvailabilityShard.Event
    {
        .released(TicketsReleased(reservationId: reservation, quantity: quantity, reason: reason))
    }

    static var closed: AvailabilityShard.Event { .closed(SalesClosed()) }

    static func hold(_ quantity: Int, _ reservation: String = "r2") -> AvailabilityShard.Command {
        .hold(reservationId: reservation, quantity: quantity)
    }

    // MARK: opening

    @Test func opensAShard() throws {
        try Spec.given([]).when(.open(concertId: Self.concert, levelId: Self.level, shard: 3, capacity: 250))
            .then([Self.opened(250, shard: 3)])
        let state = try Spec.given([]).when(.open(concertId: Self.concert, levelId: Self.level, shard: 0, capacity: 80))
            .thenState()
        #expect(state == AvailabilityShard.State(capacity: 80, held: 0, sold: 0, closed: false, exists: true))
        #expect(state.available == 80)
    }

    @Test func openingAnOpenedShardChangesNothing() throws {
        try Spec.given([Self.opened(100)])
            .when(.open(concertId: Self.concert, levelId: Self.level, shard: 0, capacity: 500)).then([])
    }

    // MARK: holding

    @Test func holdsTickets() throws {
        try Spec.given([Self.opened(100)]).when(Self.hold(4)).then([Self.held(4, "r2")])
        let state = try Spec.given([Self.opened(100), Self.held(10)]).when(Self.hold(4)).thenState()
        #expect(state.held == 14)
        #expect(state.available == 86)
    }

    @Test func holdsTheLastTickets() throws {
        try Spec.given([Self.opened(10), Self.held(7)]).when(Self.hold(3)).then([Self.held(3, "r2")])
        let state = try Spec.given([Self.opened(10), Self.held(7)]).when(Self.hold(3)).thenState()
        #expect(state.available == 0)
    }

    @Test func holdingMoreThanAvailableSaysHowManyAreLeft() throws {
        try Spec.given([Self.opened(10), Self.held(7)]).when(Self.hold(4))
            .thenThrows(AvailabilityError.notEnough(available: 3))
        try Spec.given([Self.opened(10), Self.held(10)]).when(Self.hold(1))
            .thenThrows(AvailabilityError.notEnough(available: 0))
        try Spec.given([Self.opened(10)]).when(Self.hold(11)).thenThrows(AvailabilityError.notEnough(available: 10))
        // released tickets are available again
        try Spec.given([Self.opened(10), Self.held(10), Self.released(6)]).when(Self.hold(7))
            .thenThrows(AvailabilityError.notEnough(available: 6))
        try Spec.given([Self.opened(10), Self.held(10), Self.released(6)]).when(Self.hold(6)).then([Self.held(6, "r2")])
    }

    @Test func holdsAPositiveQuantity() throws {
        for quantity in [0, -1] {
            try Spec.given([Self.opened(10)]).when(Self.hold(quantity)).thenThrows(AvailabilityError.invalidQuantity)
        }
    }

    @Test func noSalesOnAClosedOrUnknownShard() throws {
        try Spec.given([Self.opened(10), Self.closed]).when(Self.hold(1)).thenThrows(AvailabilityError.salesClosed)
        try Spec.given([]).when(Self.hold(1)).thenThrows(AvailabilityError.salesClosed)
        #expect(AvailabilityShard.fold([Self.opened(10), Self.closed]).available == 0)
    }

    // MARK: releasing

    @Test func releasesHeldTickets() throws {
        try Spec.given([Self.opened(10), Self.held(4)]).when(
            .release(reservationId: "r1", quantity: 4, reason: "expired")
        ).then([Self.released(4, reason: "expired")])
        let state = try Spec.given([Self.opened(10), Self.held(4), Self.held(3, "r2")])
            .when(.release(reservationId: "r1", quantity: 4, reason: "cancelled")).thenState()
        #expect(state.held == 3)
        #expect(state.available == 7)
    }

    @Test func releasesEvenWhenSalesAreClosed() throws {
        // a cancelled concert's reservations still give their tickets back
        try Spec.given([Self.opened(10), Self.held(4), Self.closed])
            .when(.release(reservationId: "r1", quantity: 4, reason: "concert_cancelled"))
            .then([Self.released(4, reason: "concert_cancelled")])
    }

    @Test func releasingMoreThanHeld() throws {
        try Spec.given([Self.opened(10), Self.held(4)])
            .when(.release(reservationId: "r1", quantity: 5, reason: "cancelled"))
            .thenThrows(AvailabilityError.nothingToRelease)
        try Spec.given([Self.opened(10)]).when(.release(reservationId: "r1", quantity: 1, reason: "cancelled"))
            .thenThrows(AvailabilityError.nothingToRelease)
        try Spec.given([Self.opened(10), Self.held(4), Self.released(4)])
            .when(.release(reservationId: "r1", quantity: 4, reason: "expired"))
            .thenThrows(AvailabilityError.nothingToRelease)
        for quantity in [0, -2] {
            try Spec.given([Self.opened(10), Self.held(4)])
                .when(.release(reservationId: "r1", quantity: quantity, reason: "cancelled"))
                .thenThrows(AvailabilityError.nothingToRelease)
        }
    }

    // MARK: capacity

    @Test func changesCapacity() throws {
        try Spec.given([Self.opened(100)]).when(.changeCapacity(150)).then([
            .capacityChanged(ShardCapacityChanged(capacity: 150, requested: 150))
        ])
        try Spec.given([Self.opened(100), Self.held(30)]).when(.changeCapacity(40)).then([
            .capacityChanged(ShardCapacityChanged(capacity: 40, requested: 40))
        ])
        let state = try Spec.given([Self.opened(100), Self.held(30)]).when(.changeCapacity(40)).thenState()
        #expect(state.available == 10)
    }

    @Test func capacityNeverBelowHeldPlusSold() throws {
        // held only
        try Spec.given([Self.opened(100), Self.held(30)]).when(.changeCapacity(10)).then([
            .capacityChanged(ShardCapacityChanged(capacity: 30, requested: 10))
        ])
        // held and sold (no event sells yet: the decider is asked on such a state)
        let state = AvailabilityShard.State(capacity: 100, held: 5, sold: 20, closed: false, exists: true)
        #expect(
            try AvailabilityShard.decide(.changeCapacity(10), state) == [
                .capacityChanged(ShardCapacityChanged(capacity: 25, requested: 10))
            ])
        #expect(try AvailabilityShard.decide(.changeCapacity(0), state).count == 1)
        let after = AvailabilityShard.fold(try AvailabilityShard.decide(.changeCapacity(0), state), from: state)
        #expect(after.capacity == 25)
        #expect(after.available == 0)
        // already at the floor: nothing to change
        try Spec.given([Self.opened(100), Self.held(100)]).when(.changeCapacity(50)).then([])
    }

    @Test func theSameCapacityOrAnUnknownShardChangesNothing() throws {
        try Spec.given([Self.opened(100)]).when(.changeCapacity(100)).then([])
        try Spec.given([]).when(.changeCapacity(100)).then([])
    }

    // MARK: closing

    @Test func closesSales() throws {
        try Spec.given([Self.opened(100), Self.held(3)]).when(.close).then([Self.closed])
        let state = try Spec.given([Self.opened(100), Self.held(3)]).when(.close).thenState()
        #expect(state.closed)
        #expect(state.held == 3)
        #expect(state.available == 0)
    }

    @Test func closingTwiceOrAnUnknownShardChangesNothing() throws {
        try Spec.given([Self.opened(100), Self.closed]).when(.close).then([])
        try Spec.given([]).when(.close).then([])
    }

    // MARK: the plan

    @Test func shardCounts() {
        #expect(ShardPlan.shardCount(capacity: 0) == 1)
        #expect(ShardPlan.shardCount(capacity: 100) == 1)
        #expect(ShardPlan.shardCount(capacity: 199) == 1)
        #expect(ShardPlan.shardCount(capacity: 500) == 5)
        #expect(ShardPlan.shardCount(capacity: 2_000) == 20)
        #expect(ShardPlan.shardCount(capacity: 8_000) == 32)
        #expect(ShardPlan.shardCount(capacity: 100_000) == ShardPlan.maxShards)
    }

    @Test func splitSumsToTheCapacityAndDiffersByAtMostOne() {
        for capacity in [0, 1, 7, 100, 499, 500, 1_001, 2_000, 8_000, 9_999, 100_000] {
            for count in [1, 2, 3, 7, 16] {
                let parts = ShardPlan.split(capacity, into: count)
                #expect(parts.count == count)
                #expect(parts.reduce(0, +) == capacity, "\(capacity) into \(count)")
                #expect((parts.max() ?? 0) - (parts.min() ?? 0) <= 1)
                #expect(parts == parts.sorted(by: >), "the first shards take the remainder")
            }
        }
        #expect(ShardPlan.split(10, into: 3) == [4, 3, 3])
    }

    // MARK: the stream

    @Test func streamNaming() {
        #expect(AvailabilityShard.streamType == "availability")
        #expect(AvailabilityShard.streamId(concertId: "c", levelId: "l", shard: 2) == "availability-c-l-2")
    }

    @Test func everyEventSurvivesTheStoredJSON() throws {
        let events: [AvailabilityShard.Event] = [
            Self.opened(250, shard: 2), .capacityChanged(ShardCapacityChanged(capacity: 30, requested: 10)),
            Self.held(4), Self.released(4, reason: "expired"), Self.closed,
        ]
        let names = [
            "AvailabilityShardOpened", "AvailabilityShardCapacityChanged", "TicketsHeld", "TicketsReleased",
            "AvailabilitySalesClosed",
        ]
        for (version, (event, name)) in zip(events, names).enumerated() {
            let new = try AvailabilityShard.eventTypes.encode(event)
            #expect(new.type == name)
            let recorded = RecordedEvent(
                globalPosition: Int64(version + 1), transactionId: 1, eventId: new.id, streamId: "availability-x",
                streamType: AvailabilityShard.streamType, streamVersion: Int64(version + 1), eventType: new.type,
                schemaVersion: new.schemaVersion, data: new.data, metadata: EventMetadata(), recordedAt: Date())
            #expect(try AvailabilityShard.eventTypes.decode(recorded) == event)
        }
    }
}
