import EventStore
import Foundation
import Orders
import Payments
import Postgres
import Reservations

/// Payment failed (its intent cancelled, its hold ended unpaid) -> its orders cancelled and
/// the tickets their reservations still hold released: the compensation of a checkout that
/// was not paid. Each ticket returns to sale once: a reservation that has expired already
/// released its own, and releasing is a reservation's state change that happens once.
struct PaymentCompensation: Projection {
    let name = "payment_compensation"
    var kind: ProjectionKind { .reactor }
    let store: StoreSetup
    let gateway: any PaymentGateway

    func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        for recorded in events where recorded.streamType == Payment.streamType {
            guard case .failed(let failed) = try Payment.eventTypes.decode(recorded) else { continue }
            let metadata = EventMetadata.caused(by: recorded)
            let payment = try PaymentCommands(connection: target.connection, store: store, gateway: gateway).load(
                failed.paymentId)
            let orders = OrderCommands(connection: target.connection, store: store)
            let reservations = TicketReservations(
                connection: target.connection, inlineProjections: store.inlineProjections)
            let now = failed.failedAt
            for paid in payment.orders {
                let order = try orders.load(paid.orderId)
                guard order.status == .pending else { continue }
                try orders.handle(
                    .compensate(
                        CompensateOrder(
                            reason: failed.reason == "cancelled" ? "payment_failed" : failed.reason, now: now)),
                    orderId: paid.orderId, metadata: metadata)
                if try reservations.load(order.reservationId).status == .held {
                    try reservations.end(
                        order.reservationId, .cancel, now: now, metadata: metadata,
                        inCallersTransaction: target.connection)
                }
            }
        }
    }
}
