import Concerts
import EventStore
import Foundation
import Orders
import Payments
import Postgres

/// Concert cancelled -> every paid order of it refunded at the gateway (`RefundSettlement`
/// then marks them refunded), every completed order of free tickets refunded here (there is
/// no money to give back, and the gateway refuses a refund of nothing), and every payment
/// still pending for it given up (its intent cancelled; a checkout with tickets of other
/// concerts too is given up whole, and its customer buys those again).
struct ConcertCancellationRefunds: Projection {
    let name = "concert_cancellation_refunds"
    var kind: ProjectionKind { .reactor }
    let store: StoreSetup
    let gateway: any PaymentGateway

    func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        for recorded in events where recorded.streamType == Concert.streamType {
            guard case .cancelled(let cancelled) = try Concert.eventTypes.decode(recorded) else { continue }
            let metadata = EventMetadata.caused(by: recorded)
            let payments = PaymentCommands(connection: target.connection, store: store, gateway: gateway)
            let orders = try OrderQueries.list(
                concertIds: [cancelled.concertId], search: nil, status: nil, limit: 100_000, on: target.connection)
            let paid = Dictionary(grouping: orders.filter { $0.status == "completed" }, by: \.paymentId)
            for (paymentId, orders) in paid.sorted(by: { $0.key < $1.key }) {
                let charged = orders.filter { $0.total.amount > 0 }.map(\.id)
                if !charged.isEmpty {
                    try payments.refund(
                        paymentId, orderIds: charged, reason: "concert_cancelled", now: cancelled.cancelledAt,
                        metadata: metadata)
                }
                try RefundSettlement.refundOrders(
                    orders.filter { $0.total.amount == 0 }.map(\.id), gatewayRefundId: "", reason: "concert_cancelled",
                    now: cancelled.cancelledAt, store: store, on: target.connection, metadata: metadata)
            }
            for paymentId in Set(orders.filter { $0.status == "pending" }.map(\.paymentId)).sorted() {
                try payments.giveUp(
                    paymentId, reason: "concert_cancelled", now: cancelled.cancelledAt, metadata: metadata)
            }
        }
    }
}
