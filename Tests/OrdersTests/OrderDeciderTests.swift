import EventStore
import Foundation
import Testing

@testable import Orders

/// The order decider, given events / when a command / then events or an error; above all its
/// invariant: never completed without its own payment confirmed.
@Suite struct OrderDeciderTests {
    typealias Spec = DeciderSpec<TicketOrder>
    static let now = Date(timeIntervalSince1970: 1_900_000_000)
    static let items = [
        OrderItem(ticketLevelId: "golden", levelName: "Golden circle", quantity: 2, unitPrice: 89_900),
        OrderItem(ticketLevelId: "regular", levelName: "Regular", quantity: 1, unitPrice: 45_000),
    ]
    static let delivery = OrderDelivery(method: "online", email: "ann@example.com", address: nil)
    static let create = CreateOrder(
        orderId: "c-1", number: "EN-00001001", checkoutId: "c", paymentId: "c", reservationId: "c-1",
        concertId: "beyonce", concertName: "Beyoncé, Warsaw", userId: "ann", buyerEmail: "ann@example.com",
        buyerName: "Ann", delivery: delivery, items: items, currency: "PLN", now: now)
    static let created = TicketOrder.Event.created(
        OrderCreated(
            orderId: "c-1", number: "EN-00001001", checkoutId: "c", paymentId: "c", reservationId: "c-1",
            concertId: "beyonce", concertName: "Beyoncé, Warsaw", userId: "ann", buyerEmail: "ann@example.com",
            buyerName: "Ann", delivery: delivery, items: items, total: 224_800, currency: "PLN", createdAt: now))
    static func complete(paymentId: String = "c", confirmed: Bool = true, reservation: String = "c-1")
        -> TicketOrder.Command
    {
        .complete(
            CompleteOrder(
                payment: .init(paymentId: paymentId, confirmed: confirmed), reservationId: reservation, now: now))
    }
    static func completed(reservation: String = "c-1") -> TicketOrder.Event {
        .completed(
            OrderCompleted(
                orderId: "c-1", paymentId: "c", reservationId: reservation, concertId: "beyonce", items: items,
                total: 224_800,
                currency: "PLN", completedAt: now))
    }

    @Test func creatingTotalsTheItems() throws {
        try Spec.given([]).when(.create(Self.create)).then([Self.created])
        try Spec.given([Self.created]).when(.create(Self.create)).then([])  // the same checkout again
    }

    @Test func anOrderOfNothingOrOfAbsurdQuantitiesIsRefused() throws {
        for items in [[], [OrderItem(ticketLevelId: "x", levelName: "X", quantity: Int.max, unitPrice: 1)]] {
            let command = CreateOrder(
                orderId: "o", number: "EN-1", checkoutId: "c", paymentId: "c", reservationId: "o", concertId: "x",
                concertName: "X", userId: "u", buyerEmail: "u@example.com", buyerName: "U", delivery: Self.delivery,
                items: items, currency: "PLN", now: Self.now)
            try Spec.given([]).when(.create(command)).thenThrows(where: { $0 is OrderError })
        }
    }

    @Test func anOrderIsNeverCompletedWithoutItsOwnConfirmedPayment() throws {
        try Spec.given([Self.created]).when(Self.complete(confirmed: false)).thenThrows(OrderError.paymentNotConfirmed)
        try Spec.given([Self.created]).when(Self.complete(paymentId: "another")).thenThrows(
            OrderError.paymentNotConfirmed)
        try Spec.given([]).when(Self.complete()).thenThrows(OrderError.notFound)
        try Spec.given([Self.created]).when(Self.complete()).then([Self.completed()])
        try Spec.given([Self.created, Self.completed()]).when(Self.complete()).then([])
    }

    @Test func aCancelledOrderIsCompletedWhenItsLatePaymentIsHonoured() throws {
        let cancelled = TicketOrder.Event.cancelled(
            OrderCancelled(
                orderId: "c-1", checkoutId: "c", reservationId: "c-1", reason: "hold_expired", cancelledAt: Self.now))
        try Spec.given([Self.created, cancelled]).when(Self.complete(reservation: "c-1-again-1"))
            .then([Self.completed(reservation: "c-1-again-1")])
    }

    @Test func cancellingAndCompensatingEndOnlyAPendingOrder() throws {
        let cancelled = TicketOrder.Event.cancelled(
            OrderCancelled(
                orderId: "c-1", checkoutId: "c", reservationId: "c-1", reason: "payment_failed", cancelledAt: Self.now))
        try Spec.given([Self.created]).when(.compensate(CompensateOrder(reason: "payment_failed", now: Self.now))).then(
            [cancelled])
        try Spec.given([Self.created, cancelled]).when(.cancel(CancelOrder(reason: "customer", now: Self.now))).then([])
        try Spec.given([Self.created, Self.completed()]).when(
            .compensate(CompensateOrder(reason: "payment_failed", now: Self.now))
        )
        .thenThrows(OrderError.alreadyCompleted)
    }

    @Test func onlyACompletedOrderIsRefundedAndOnce() throws {
        let refund = TicketOrder.Command.refund(
            RefundOrder(gatewayRefundId: "re_1", reason: "requested_by_organiser", now: Self.now))
        let refunded = TicketOrder.Event.refunded(
            OrderRefunded(
                orderId: "c-1", reservationId: "c-1", concertId: "beyonce", items: Self.items, amount: 224_800,
                currency: "PLN",
                gatewayRefundId: "re_1", reason: "requested_by_organiser", refundedAt: Self.now))
        try Spec.given([Self.created]).when(refund).thenThrows(OrderError.notCompleted(.pending))
        try Spec.given([Self.created, Self.completed()]).when(refund).then([refunded])
        try Spec.given([Self.created, Self.completed(), refunded]).when(refund).then([])
    }
}
