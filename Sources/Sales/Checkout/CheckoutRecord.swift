import Concerts
import EventStore
import Foundation
import Orders
import Payments
import Reservations
import ShoppingCarts

/// What a checkout writes besides the holds and the cart's close, in the same transaction:
/// one order per concert (its id the reservation's) and the payment that pays them all (its
/// id the checkout's). So a confirmed cart always has its orders and its payment; only the
/// gateway's intent comes after the commit (`Checkout.prepareIntent`), and it is made on
/// demand when that failed.
struct CheckoutRecord: Sendable {
    /// Who buys, and what the orders say of the concerts, read before the transaction.
    struct Plan: Sendable {
        let userId: String
        let buyerEmail: String
        let buyerName: String
        let delivery: OrderDelivery
        let concerts: [String: ConcertNames]
        /// Order numbers in the order of the concerts (`TicketReservations.byConcert`'s).
        let numbers: [String]
        let currency: String
    }

    /// The appends of a held checkout's orders and payment.
    static func appends(_ plan: Plan, held: [ReservationHeld], metadata: EventMetadata) throws -> [StreamAppend] {
        guard let checkoutId = held.first?.checkoutId else { return [] }
        var appends: [StreamAppend] = []
        var paid: [PaymentOrder] = []
        for (index, reservation) in held.enumerated() {
            let names = plan.concerts[reservation.concertId]
            let items = reservation.items.map {
                OrderItem(
                    ticketLevelId: $0.ticketLevelId, levelName: names?.levels[$0.ticketLevelId] ?? $0.ticketLevelId,
                    quantity: $0.quantity, unitPrice: $0.unitPrice)
            }
            let command = CreateOrder(
                orderId: reservation.reservationId,
                number: index < plan.numbers.count ? plan.numbers[index] : "EN-" + reservation.reservationId,
                checkoutId: checkoutId, paymentId: checkoutId, reservationId: reservation.reservationId,
                concertId: reservation.concertId, concertName: names?.label ?? reservation.concertId,
                userId: plan.userId,
                buyerEmail: plan.buyerEmail, buyerName: plan.buyerName, delivery: plan.delivery, items: items,
                currency: plan.currency, now: reservation.heldAt)
            let events = try TicketOrder.decide(.create(command), TicketOrder.initial)
            appends.append(
                StreamAppend(
                    streamId: TicketOrder.streamId(reservation.reservationId), streamType: TicketOrder.streamType,
                    expectedVersion: .noStream, events: try events.map { try TicketOrder.eventTypes.encode($0) },
                    metadata: metadata))
            if case .created(let created)? = events.first {
                paid.append(PaymentOrder(orderId: created.orderId, concertId: created.concertId, amount: created.total))
            }
        }
        let payment = try Payment.decide(
            .initiate(
                InitiatePayment(
                    paymentId: checkoutId, checkoutId: checkoutId, userId: plan.userId, orders: paid,
                    currency: plan.currency, now: held[0].heldAt)), Payment.initial)
        appends.append(
            StreamAppend(
                streamId: Payment.streamId(checkoutId), streamType: Payment.streamType, expectedVersion: .noStream,
                events: try payment.map { try Payment.eventTypes.encode($0) }, metadata: metadata))
        return appends
    }

    /// How the cart's delivery choice travels with the orders.
    static func delivery(_ delivery: Delivery?) -> OrderDelivery {
        switch delivery {
        case .online(let email): OrderDelivery(method: "online", email: email, address: nil)
        case .printed(let a):
            OrderDelivery(
                method: "printed", email: nil, address: [a.name, a.line1, a.line2, a.postalCode, a.city, a.country])
        case nil: OrderDelivery(method: "online", email: nil, address: nil)
        }
    }
}
