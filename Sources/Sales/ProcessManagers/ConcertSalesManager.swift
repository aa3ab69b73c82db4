import Concerts
import EventStore
import Foundation
import Postgres
import Reservations
import ShoppingCarts

/// The process manager between Concerts and the contexts that sell its tickets.
///
/// A reactor: it follows the global order in the projection daemon and, for each concert
/// event, runs commands on other aggregates in the same transaction as its checkpoint, so
/// each event takes effect exactly once, across crashes and restarts, and a rebuild never
/// runs it again.
/// - `ConcertCreated`, `TicketLevelsUpdated`: set the availability shards of every level.
/// - `ConcertCancelled`: close sales, and drop the concert's tickets from open carts.
struct ConcertSalesManager: Projection {
    let name = "concert_sales_manager"
    var kind: ProjectionKind { .reactor }
    let store: StoreSetup

    func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        let inline = store.inlineProjections
        let availability = AvailabilityCommands(connection: target.connection, inlineProjections: inline)
        for recorded in events where recorded.streamType == Concert.streamType {
            let metadata = EventMetadata(
                correlationId: recorded.metadata.correlationId, causationId: recorded.eventId.uuidString.lowercased(),
                userId: recorded.metadata.userId)
            switch try Concert.eventTypes.decode(recorded) {
            case .created(let e):
                try availability.setLevels(
                    concertId: e.concertId, levels: e.ticketLevels.map { .init(id: $0.id, capacity: $0.capacity) })
            case .ticketLevelsUpdated(let e):
                try availability.setLevels(
                    concertId: e.concertId, levels: e.ticketLevels.map { .init(id: $0.id, capacity: $0.capacity) })
            case .cancelled(let e):
                try availability.close(concertId: e.concertId)
                try ShoppingCarts(connection: target.connection, inlineProjections: inline)
                    .dropConcert(e.concertId, reason: "concert_cancelled", metadata: metadata)
            case .updated:
                break
            }
        }
    }
}
