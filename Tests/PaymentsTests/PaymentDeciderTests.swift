import EventStore
import Foundation
import Testing

@testable import Payments

/// The Payment decider, given events / when a command / then events or an error.
@Suite struct PaymentDeciderTests {
    typealias Spec = DeciderSpec<Payment>
    static let now = Date(timeIntervalSince1970: 1_900_000_000)
    static let orders = [
        PaymentOrder(orderId: "c-1", concertId: "beyonce", amount: 90_000),
        PaymentOrder(orderId: "c-2", concertId: "dua", amount: 30_000),
    ]

    static let initiated = Payment.Event.initiated(
        PaymentInitiated(
            paymentId: "c", checkoutId: "c", userId: "ann", orders: orders, amount: 120_000, currency: "PLN",
            initiatedAt: now))
    static func intent(_ id: String) -> Payment.Event {
        .intentCreated(
            PaymentIntentCreated(paymentId: "c", gatewayPaymentId: id, clientSecret: "\(id)_secret", createdAt: now))
    }
    static func observe(_ id: String, _ status: GatewayIntentStatus, decline: String? = nil) -> Payment.Command {
        .observe(
            GatewayObservation(
                gatewayPaymentId: id, status: status, amount: 120_000,
                declineCode: decline.map { _ in "card_declined" },
                declineMessage: decline, source: .webhook, now: now))
    }
    static func confirmed(_ id: String, afterFailure: Bool = false) -> Payment.Event {
        .confirmed(
            PaymentConfirmed(
                paymentId: "c", checkoutId: "c", gatewayPaymentId: id, amount: 120_000, currency: "PLN", orders: orders,
                afterFailure: afterFailure, source: .webhook, confirmedAt: now))
    }

    @Test func initiatingSumsTheOrders() throws {
        try Spec.given([]).when(
            .initiate(
                InitiatePayment(
                    paymentId: "c", checkoutId: "c", userId: "ann", orders: Self.orders, currency: "PLN", now: Self.now)
            )
        ).then([Self.initiated])
    }

    @Test func initiatingAgainForTheSameCheckoutChangesNothing() throws {
        try Spec.given([Self.initiated]).when(
            .initiate(
                InitiatePayment(
                    paymentId: "c", checkoutId: "c", userId: "ann", orders: Self.orders, currency: "PLN", now: Self.now)
            )
        ).then([])
    }

    @Test func aPaymentOfNoOrderOrOfTooMuchIsRefused() throws {
        try Spec.given([]).when(
            .initiate(
                InitiatePayment(
                    paymentId: "c", checkoutId: "c", userId: "ann", orders: [], currency: "PLN", now: Self.now))
        ).thenThrows(where: { ($0 as? PaymentError).map { if case .invalid = $0 { true } else { false } } ?? false })
        let huge = [PaymentOrder(orderId: "o", concertId: "x", amount: Int.max)]
        try Spec.given([]).when(
            .initiate(
                InitiatePayment(
                    paymentId: "c", checkoutId: "c", userId: "ann", orders: huge, currency: "PLN", now: Self.now))
        ).thenThrows(where: { $0 is PaymentError })
    }

    @Test func aPaymentForFreeTicketsOnlyIsConfirmedAsItIsMadeWithoutTheGateway() throws {
        let free = [
            PaymentOrder(orderId: "c-1", concertId: "rehearsal", amount: 0),
            PaymentOrder(orderId: "c-2", concertId: "open-day", amount: 0),
        ]
        let command = InitiatePayment(
            paymentId: "c", checkoutId: "c", userId: "ann", orders: free, currency: "PLN", now: Self.now)
        let initiated = Payment.Event.initiated(
            PaymentInitiated(
                paymentId: "c", checkoutId: "c", userId: "ann", orders: free, amount: 0, currency: "PLN",
                initiatedAt: Self.now))
        let confirmed = Payment.Event.confirmed(
            PaymentConfirmed(
                paymentId: "c", checkoutId: "c", gatewayPaymentId: "", amount: 0, currency: "PLN", orders: free,
                afterFailure: false, source: .free, confirmedAt: Self.now))
        try Spec.given([]).when(.initiate(command)).then([initiated, confirmed])
        try Spec.given([initiated, confirmed]).when(.initiate(command)).then([])
        // Nothing to give back, and nothing the gateway could be asked about.
        try Spec.given([initiated, confirmed]).when(
            .recordRefund(
                RecordRefund(gatewayRefundId: "re_1", amount: 1, orderIds: ["c-1"], reason: "x", now: Self.now))
        ).thenThrows(PaymentError.notRefundable(left: 0))
        try Spec.given([initiated, confirmed]).when(Self.observe("pi_1", .succeeded))
            .thenThrows(PaymentError.unknownIntent("pi_1"))
    }

    @Test func anIntentSucceedingConfirmsThePaymentOnce() throws {
        try Spec.given([Self.initiated, Self.intent("pi_1")]).when(Self.observe("pi_1", .succeeded)).then([
            Self.confirmed("pi_1")
        ])
        try Spec.given([Self.initiated, Self.intent("pi_1"), Self.confirmed("pi_1")]).when(
            Self.observe("pi_1", .succeeded)
        )
        .then([])
    }

    @Test func aFailureReportedAfterTheSuccessLeavesItPaid() throws {
        let state = try Spec.given([Self.initiated, Self.intent("pi_1"), Self.confirmed("pi_1")])
            .when(Self.observe("pi_1", .awaitingPaymentMethod, decline: "Your card was declined.")).thenState()
        #expect(state.status == .confirmed)
        try Spec.given([Self.initiated, Self.intent("pi_1"), Self.confirmed("pi_1")]).when(
            Self.observe("pi_1", .canceled)
        )
        .then([])
    }

    @Test func aDeclinedCardLeavesThePaymentPendingForAnotherCard() throws {
        let declined = Payment.Event.attemptDeclined(
            PaymentAttemptDeclined(
                paymentId: "c", gatewayPaymentId: "pi_1", code: "card_declined", message: "Your card was declined.",
                source: .webhook, declinedAt: Self.now))
        try Spec.given([Self.initiated, Self.intent("pi_1")])
            .when(Self.observe("pi_1", .awaitingPaymentMethod, decline: "Your card was declined.")).then([declined])
        // Reported twice (the API's answer, then the webhook): once.
        try Spec.given([Self.initiated, Self.intent("pi_1"), declined])
            .when(Self.observe("pi_1", .awaitingPaymentMethod, decline: "Your card was declined.")).then([])
        let state = Payment.fold([Self.initiated, Self.intent("pi_1"), declined])
        #expect(state.status == .pending && !state.hasUsableIntent)
        // The next card's intent, and it succeeds.
        try Spec.given([Self.initiated, Self.intent("pi_1"), declined, Self.intent("pi_2")])
            .when(Self.observe("pi_2", .succeeded)).then([Self.confirmed("pi_2")])
    }

    @Test func onlyTheCurrentIntentsCancellationFailsThePayment() throws {
        try Spec.given([Self.initiated, Self.intent("pi_1"), Self.intent("pi_2")]).when(Self.observe("pi_1", .canceled))
            .then([])
        try Spec.given([Self.initiated, Self.intent("pi_1"), Self.intent("pi_2")]).when(Self.observe("pi_2", .canceled))
            .then([.failed(PaymentFailed(paymentId: "c", checkoutId: "c", reason: "cancelled", failedAt: Self.now))])
    }

    @Test func anIntentThatIsNotThePaymentsIsRefused() throws {
        try Spec.given([Self.initiated, Self.intent("pi_1")]).when(Self.observe("pi_other", .succeeded))
            .thenThrows(PaymentError.unknownIntent("pi_other"))
    }

    @Test func moneyArrivingAfterThePaymentWasGivenUpIsConfirmedAsLate() throws {
        let failed = Payment.Event.failed(
            PaymentFailed(paymentId: "c", checkoutId: "c", reason: "hold_expired", failedAt: Self.now))
        try Spec.given([Self.initiated, Self.intent("pi_1"), failed]).when(Self.observe("pi_1", .succeeded))
            .then([Self.confirmed("pi_1", afterFailure: true)])
    }

    @Test func givingUpEndsOnlyAnUnpaidPayment() throws {
        try Spec.given([Self.initiated, Self.intent("pi_1")]).when(
            .fail(FailPayment(reason: "hold_expired", now: Self.now))
        )
        .then([.failed(PaymentFailed(paymentId: "c", checkoutId: "c", reason: "hold_expired", failedAt: Self.now))])
        try Spec.given([Self.initiated, Self.intent("pi_1"), Self.confirmed("pi_1")])
            .when(.fail(FailPayment(reason: "hold_expired", now: Self.now))).then([])
    }

    @Test func refundsNeverExceedWhatWasPaidAndRepeatOnce() throws {
        let refund = RecordRefund(
            gatewayRefundId: "re_1", amount: 90_000, orderIds: ["c-1"], reason: "requested_by_organiser", now: Self.now)
        let refunded = Payment.Event.refunded(
            PaymentRefunded(
                paymentId: "c", checkoutId: "c", gatewayRefundId: "re_1", amount: 90_000, currency: "PLN",
                orderIds: ["c-1"],
                reason: "requested_by_organiser", refundedAt: Self.now))
        let paid: [Payment.Event] = [Self.initiated, Self.intent("pi_1"), Self.confirmed("pi_1")]
        try Spec.given(paid).when(.recordRefund(refund)).then([refunded])
        try Spec.given(paid + [refunded]).when(.recordRefund(refund)).then([])
        try Spec.given(paid + [refunded]).when(
            .recordRefund(
                RecordRefund(gatewayRefundId: "re_2", amount: 30_001, orderIds: ["c-2"], reason: "x", now: Self.now))
        ).thenThrows(PaymentError.notRefundable(left: 30_000))
        try Spec.given([Self.initiated, Self.intent("pi_1")]).when(.recordRefund(refund))
            .thenThrows(PaymentError.notRefundable(left: 0))
        let all = Payment.fold(
            paid + [
                refunded,
                .refunded(
                    PaymentRefunded(
                        paymentId: "c", checkoutId: "c", gatewayRefundId: "re_2", amount: 30_000, currency: "PLN",
                        orderIds: ["c-2"], reason: "x", refundedAt: Self.now)),
            ])
        #expect(all.status == .refunded && all.refundedOrders == ["c-1", "c-2"])
    }
}
