import EventStore
import Foundation
import Orders
import Payments
import Postgres
import Reservations

/// Payment refunded -> the orders it names refunded, and their sold tickets back on sale.
/// The organiser's refund runs `settle` at once in the request as well; whichever comes second
/// finds the orders refunded and does nothing.
struct RefundSettlement: Projection {
    let name = "refund_settlement"
    var kind: ProjectionKind { .reactor }
    let store: StoreSetup

    func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        for recorded in events where recorded.streamType == Payment.streamType {
            guard case .refunded(let refunded) = try Payment.eventTypes.decode(recorded) else { continue }
            try Self.settle(refunded, store: store, on: target.connection, metadata: .caused(by: recorded))
        }
    }

    static func settle(_ refunded: PaymentRefunded, store: StoreSetup, on tx: Connection, metadata: EventMetadata)
        throws
    {
        try refundOrders(
            refunded.orderIds, gatewayRefundId: refunded.gatewayRefundId, reason: refunded.reason,
            now: refunded.refundedAt, store: store, on: tx, metadata: metadata)
    }

    /// The completed ones of these orders refunded, and their sold tickets back on sale, in the
    /// caller's transaction. Also for orders with no money to give back (free tickets), which
    /// no payment refund names (`ConcertCancellationRefunds`).
    static func refundOrders(
        _ orderIds: [String], gatewayRefundId: String, reason: String, now: Date, store: StoreSetup,
        on tx: Connection, metadata: EventMetadata
    ) throws {
        let orders = OrderCommands(connection: tx, store: store)
        let reservations = TicketReservations(connection: tx, inlineProjections: store.inlineProjections)
        for orderId in orderIds {
            let order = try orders.load(orderId)
            guard order.status == .completed else { continue }
            try orders.handle(
                .refund(RefundOrder(gatewayRefundId: gatewayRefundId, reason: reason, now: now)),
                orderId: orderId, metadata: metadata)
            if try reservations.load(order.reservationId).status == .confirmed {
                try reservations.end(
                    order.reservationId, .returnTickets(reason: "refunded"), now: now, metadata: metadata,
                    inCallersTransaction: tx)
            }
        }
    }
}
