import EventStore
import Foundation
import Orders
import Payments
import Postgres
import Reservations

/// Payment confirmed -> its orders completed and their reservations confirmed (their tickets
/// sold, no longer expiring).
///
/// When the money came after an order's hold had ended (the payment had been given up), the
/// tickets are held again if they can still be had, and the order completed with the new hold;
/// otherwise the order is called off (`tickets_gone`) and its amount refunded at the gateway.
///
/// A reactor: it runs in the projection daemon in the global order, its effects in the same
/// transaction as its checkpoint, so each confirmation settles once. The checkout also runs
/// `settle` at once when a card is paid in a request; whichever comes second finds the orders
/// completed and does nothing.
struct PaymentSettlement: Projection {
    let name = "payment_settlement"
    var kind: ProjectionKind { .reactor }
    let store: StoreSetup
    let gateway: any PaymentGateway

    func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        for recorded in events where recorded.streamType == Payment.streamType {
            guard case .confirmed(let confirmed) = try Payment.eventTypes.decode(recorded) else { continue }
            try Self.settle(
                paymentId: confirmed.paymentId, orders: confirmed.orders, store: store, gateway: gateway,
                on: target.connection, metadata: .caused(by: recorded))
        }
    }

    /// Settles a confirmed payment's orders, in the caller's transaction.
    static func settle(
        paymentId: String, orders paidOrders: [PaymentOrder], store: StoreSetup, gateway: any PaymentGateway,
        on tx: Connection, metadata: EventMetadata, now: Date = Date()
    ) throws {
        let orders = OrderCommands(connection: tx, store: store)
        let reservations = TicketReservations(connection: tx, inlineProjections: store.inlineProjections)
        for paid in paidOrders {
            let order = try orders.load(paid.orderId)
            guard order.status == .pending || order.status == .cancelled else { continue }
            var reservationId = order.reservationId
            switch try reservations.load(reservationId).status {
            case .held:
                try reservations.end(reservationId, .confirm, now: now, metadata: metadata, inCallersTransaction: tx)
            case .confirmed:
                break
            case .expired, .cancelled, .returned, .none:
                guard let again = try holdAgain(order, reservations: reservations, on: tx, metadata: metadata, now: now)
                else {
                    try orders.handle(
                        .compensate(CompensateOrder(reason: "tickets_gone", now: now)), orderId: order.id!,
                        metadata: metadata)
                    // An order of free tickets took no money: nothing to give back.
                    if paid.amount > 0 {
                        try PaymentCommands(connection: tx, store: store, gateway: gateway).refund(
                            paymentId, orderIds: [paid.orderId], reason: "tickets_gone", now: now, metadata: metadata)
                    }
                    continue
                }
                reservationId = again
            }
            try orders.handle(
                .complete(
                    CompleteOrder(
                        payment: .init(paymentId: paymentId, confirmed: true), reservationId: reservationId,
                        now: now)), orderId: order.id!, metadata: metadata)
        }
    }

    /// Holds the order's tickets again and confirms the hold at once; nil when they cannot be
    /// had any more (sold out, or the concert cancelled).
    static func holdAgain(
        _ order: TicketOrder.State, reservations: TicketReservations, on tx: Connection, metadata: EventMetadata,
        now: Date
    ) throws -> String? {
        let lines = order.items.map {
            TicketReservations.Line(
                concertId: order.concertId, ticketLevelId: $0.ticketLevelId, quantity: $0.quantity,
                unitPrice: $0.unitPrice, currency: order.currency)
        }
        do {
            let held = try reservations.reserve(
                checkoutId: "\(order.id!)-again", userId: order.userId, lines: lines, holdFor: 600, now: now,
                metadata: metadata, inOrder: true)
            guard let reservation = held.first else { return nil }
            try reservations.end(
                reservation.reservationId, .confirm, now: now, metadata: metadata, inCallersTransaction: tx)
            return reservation.reservationId
        } catch is ReservationError {
            return nil
        }
    }
}

extension EventMetadata {
    /// The metadata of what a process manager does because of `event`: the same correlation
    /// and user, caused by the event.
    static func caused(by event: RecordedEvent) -> EventMetadata {
        EventMetadata(
            correlationId: event.metadata.correlationId, causationId: event.eventId.uuidString.lowercased(),
            userId: event.metadata.userId)
    }
}
