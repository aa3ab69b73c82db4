import Concerts
import EventStore
import Foundation
import Orders
import Postgres
import TicketDelivery

/// Order completed -> one ticket per seat issued, and the order's delivery prepared (for
/// online delivery, its e-mail queued in the outbox in the same transaction). Order refunded
/// -> its tickets void. Concert cancelled -> every ticket of it void.
///
/// One reactor for the three, so that it meets them in the global order: a refund is never
/// handled before the completion it undoes. It runs in the projection daemon, its effects in
/// the same transaction as its checkpoint; and every step is idempotent (ticket ids come from
/// the order id and the seat, and issuing, preparing and voiding again change nothing), so a
/// replay issues nothing twice.
struct TicketFulfilment: Projection {
    let name = "ticket_fulfilment"
    var kind: ProjectionKind { .reactor }
    let store: StoreSetup
    let tickets: TicketDeliveryContext
    let catalog: ConcertCatalog

    func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        let commands = tickets.commands(on: target.connection, store: store)
        for recorded in events {
            switch recorded.streamType {
            case TicketOrder.streamType:
                switch try TicketOrder.eventTypes.decode(recorded) {
                case .completed(let completed):
                    try issue(
                        completed, commands: commands, on: target.connection, metadata: .caused(by: recorded))
                case .refunded(let refunded):
                    for ticket in try TicketQueries.ofOrder(refunded.orderId, on: target.connection) {
                        try commands.void(
                            ticket.id, reason: "refunded", now: refunded.refundedAt, metadata: .caused(by: recorded))
                    }
                case .created, .cancelled:
                    continue
                }
            case Concert.streamType:
                guard case .cancelled(let cancelled) = try Concert.eventTypes.decode(recorded) else { continue }
                for ticketId in try TicketQueries.ofConcert(cancelled.concertId, on: target.connection) {
                    try commands.void(
                        ticketId, reason: "concert_cancelled", now: cancelled.cancelledAt,
                        metadata: .caused(by: recorded))
                }
            default:
                continue
            }
        }
    }

    /// The completed order's tickets, and its delivery.
    func issue(
        _ completed: OrderCompleted, commands: TicketDeliveryCommands, on connection: Connection,
        metadata: EventMetadata
    ) throws {
        let order = try OrderCommands(connection: connection, store: store).load(completed.orderId)
        guard let found = try catalog.find(id: order.concertId, withAvailability: false, on: connection) else {
            throw OrderError.invalid(field: "concertId", message: "The order's concert \(order.concertId) is unknown.")
        }
        let concert = TicketConcert(
            id: found.id, name: order.concertName.isEmpty ? found.label : order.concertName, venue: found.venue,
            city: found.city, startsAt: found.startsAt,
            organiserId: found.organiserId)
        let method = DeliveryMethod(rawValue: order.delivery.method) ?? .online
        var delivered: [DeliveredTicket] = []
        var seat = 0
        for item in completed.items {
            for _ in 0..<item.quantity {
                seat += 1
                let ticketId = TicketDeliveryCommands.ticketId(orderId: completed.orderId, seat: seat)
                let number = order.number + "-" + (seat < 10 ? "0" : "") + String(seat)
                try commands.issue(
                    IssueTicket(
                        ticketId: ticketId, number: number, orderId: completed.orderId, userId: order.userId,
                        concert: concert, ticketLevelId: item.ticketLevelId, levelName: item.levelName,
                        holder: order.buyerName, delivery: method.rawValue, now: completed.completedAt),
                    metadata: metadata)
                delivered.append(DeliveredTicket(ticketId: ticketId, number: number, levelName: item.levelName))
            }
        }
        try commands.prepare(
            PrepareTicketDelivery(
                orderId: completed.orderId, orderNumber: order.number, concert: concert, userId: order.userId,
                recipient: order.buyerName, method: method, email: order.delivery.email ?? order.buyerEmail,
                address: order.delivery.address, tickets: delivered,
                messageId: commands.messageId(orderId: completed.orderId), now: completed.completedAt),
            metadata: metadata)
    }
}
