import EventStore
import Foundation
import Orders
import Payments
import Postgres
import Reservations

/// A reservation's hold ended unpaid (expired, or cancelled by its customer) -> its checkout's
/// payment is given up: recorded as failed, and its intent cancelled at the gateway, so a card
/// cannot pay for tickets that are back on sale. When the intent had taken the money
/// meanwhile, the gateway says so and `PaymentSettlement` honours or refunds it. The failed
/// payment then cancels the checkout's other orders (`PaymentCompensation`).
struct HoldEnding: Projection {
    let name = "hold_ending"
    var kind: ProjectionKind { .reactor }
    let store: StoreSetup
    let gateway: any PaymentGateway

    func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        for recorded in events where recorded.streamType == Reservation.streamType {
            let reason: String
            let reservationId: String
            switch try Reservation.eventTypes.decode(recorded) {
            case .expired(let e): (reason, reservationId) = ("hold_expired", e.reservationId)
            case .cancelled(let e): (reason, reservationId) = ("cancelled_by_customer", e.reservationId)
            default: continue
            }
            // The order of a reservation has the reservation's id; a re-hold has no order.
            let order = try OrderCommands(connection: target.connection, store: store).load(reservationId)
            guard order.status == .pending else { continue }
            try PaymentCommands(connection: target.connection, store: store, gateway: gateway).giveUp(
                order.paymentId, reason: reason, now: recorded.recordedAt, metadata: .caused(by: recorded))
        }
    }
}
