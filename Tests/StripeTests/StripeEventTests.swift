import Foundation
import Testing

@testable import Stripe

@Suite struct StripeEventTests {
    func parse(_ json: String) throws -> StripeEvent {
        try StripeEvent.parse(Array(json.utf8))
    }

    /// As localstripe sends it: `latest_charge` expanded into the charge object.
    static let emulatorSucceeded = #"""
        {
          "api_version": "2017-08-15", "created": 1796542233, "id": "evt_30u3EueXmxm9mq", "livemode": false,
          "object": "event", "type": "payment_intent.succeeded",
          "data": {"object": {
            "amount": 2000, "capture_method": "automatic_async", "client_secret": "pi_A_secret_B",
            "charges": {"data": [{"id": "ch_1", "object": "charge", "amount": 2000, "currency": "pln"}],
                        "has_more": false, "object": "list", "total_count": 1, "url": "/v1/charges"},
            "created": 1796542233, "currency": "pln", "customer": null, "id": "pi_A", "invoice": null,
            "last_payment_error": null,
            "latest_charge": {"id": "ch_1", "object": "charge", "amount": 2000, "currency": "pln",
                              "refunds": {"data": [], "object": "list"}},
            "livemode": false, "metadata": {"checkout_id": "chk_1"}, "next_action": null,
            "object": "payment_intent", "payment_method": "pm_1", "status": "succeeded"
          }}
        }
        """#

    @Test func parsesTheEmulatorsPaymentIntentSucceeded() throws {
        let event = try parse(Self.emulatorSucceeded)
        #expect(event.id == "evt_30u3EueXmxm9mq")
        #expect(event.type == "payment_intent.succeeded")
        #expect(event.created == 1_796_542_233)
        #expect(event.apiVersion == "2017-08-15")
        guard case .paymentIntent(let intent) = event.object else {
            Issue.record("\(event.object)")
            return
        }
        #expect(intent.id == "pi_A")
        #expect(intent.status == .succeeded)
        #expect(intent.amount == 2000)
        #expect(intent.metadata == ["checkout_id": "chk_1"])
        #expect(intent.latestCharge == "ch_1")
        #expect(intent.paymentMethod == "pm_1")
    }

    @Test func parsesStripesPaymentFailedWithTheError() throws {
        let event = try parse(
            #"""
            {"id": "evt_2", "object": "event", "api_version": "2024-06-20", "created": 1700000000, "livemode": false,
             "type": "payment_intent.payment_failed", "pending_webhooks": 1, "request": {"id": "req_1", "idempotency_key": "k"},
             "data": {"object": {"id": "pi_B", "object": "payment_intent", "amount": 45000, "currency": "pln",
               "status": "requires_payment_method", "client_secret": "pi_B_secret_x", "metadata": {},
               "latest_charge": "ch_2", "payment_method": null,
               "last_payment_error": {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
                 "message": "Your card has insufficient funds.", "charge": "ch_2"}}}}
            """#)
        guard case .paymentIntent(let intent) = event.object else {
            Issue.record("\(event.object)")
            return
        }
        #expect(intent.status == .requiresPaymentMethod)
        #expect(intent.latestCharge == "ch_2")
        #expect(intent.lastPaymentError?.code == "card_declined")
        #expect(intent.lastPaymentError?.declineCode == "insufficient_funds")
        #expect(intent.lastPaymentError?.message == "Your card has insufficient funds.")
    }

    @Test func parsesChargeRefunded() throws {
        let event = try parse(
            #"""
            {"id": "evt_3", "object": "event", "created": 1700000100, "livemode": true, "type": "charge.refunded",
             "data": {"object": {"id": "ch_3", "object": "charge", "amount": 45000, "amount_refunded": 15000,
               "currency": "pln", "status": "succeeded", "refunded": false, "payment_intent": "pi_C",
               "refunds": {"object": "list", "data": [
                 {"id": "re_1", "object": "refund", "amount": 15000, "currency": "pln", "status": "succeeded",
                  "charge": "ch_3", "payment_intent": "pi_C", "metadata": {"order_id": "o1"}}]}},
              "previous_attributes": {"amount_refunded": 0}}}
            """#)
        #expect(event.livemode)
        guard case .charge(let charge) = event.object else {
            Issue.record("\(event.object)")
            return
        }
        #expect(charge.paymentIntent == "pi_C")
        #expect(charge.amountRefunded == 15000)
        #expect(!charge.refunded)
        #expect(charge.refunds?.map(\.id) == ["re_1"])
        #expect(charge.refunds?.first?.metadata == ["order_id": "o1"])
    }

    @Test func parsesAChargeWithoutItsRefundList() throws {
        // API versions from 2022-11-15 on leave `refunds` out unless expanded.
        let event = try parse(
            #"""
            {"id": "evt_4", "object": "event", "created": 1700000100, "type": "charge.refunded",
             "data": {"object": {"id": "ch_4", "object": "charge", "amount": 100, "amount_refunded": 100,
               "currency": "eur", "refunded": true, "payment_intent": {"id": "pi_D", "object": "payment_intent"}}}}
            """#)
        guard case .charge(let charge) = event.object else {
            Issue.record("\(event.object)")
            return
        }
        #expect(charge.refunds == nil)
        #expect(charge.refunded)
        #expect(charge.paymentIntent == "pi_D")
    }

    @Test func parsesARefundEvent() throws {
        let event = try parse(
            #"""
            {"id": "evt_5", "object": "event", "created": 1, "type": "charge.refund.updated",
             "data": {"object": {"id": "re_2", "object": "refund", "amount": 5, "currency": "pln", "status": "failed",
               "payment_intent": "pi_E", "charge": "ch_5"}}}
            """#)
        guard case .refund(let refund) = event.object else {
            Issue.record("\(event.object)")
            return
        }
        #expect(refund.status == "failed")
        #expect(refund.paymentIntent == "pi_E")
    }

    @Test func leavesObjectsOfOtherKindsUndecoded() throws {
        let event = try parse(
            #"""
            {"id": "evt_6", "object": "event", "created": 1, "type": "customer.created",
             "data": {"object": {"id": "cus_1", "object": "customer", "email": null, "whatever": [1, {"x": 2}]}}}
            """#)
        #expect(event.type == "customer.created")
        #expect(event.object == .other(kind: "customer"))
        let unknown = try parse(
            #"{"id": "evt_7", "created": 1, "type": "brand_new.thing", "data": {"object": {"id": "x_1"}}}"#)
        #expect(unknown.object == .other(kind: nil))
    }

    @Test func decodesAPaymentIntentWhateverTheEventType() throws {
        let event = try parse(
            #"""
            {"id": "evt_8", "created": 1, "type": "payment_intent.canceled",
             "data": {"object": {"id": "pi_F", "object": "payment_intent", "amount": 1, "currency": "pln",
               "status": "canceled", "cancellation_reason": "abandoned"}}}
            """#)
        guard case .paymentIntent(let intent) = event.object else {
            Issue.record("\(event.object)")
            return
        }
        #expect(intent.status == .canceled)
        #expect(intent.cancellationReason == "abandoned")
        #expect(intent.metadata == [:])
    }

    @Test(arguments: [
        "not json",
        #"{"type": "payment_intent.succeeded", "created": 1, "data": {"object": {}}}"#,
        #"{"id": "evt_9", "type": "x", "created": "yesterday", "data": {"object": {}}}"#,
        #"{"id": "evt_9", "type": "x", "created": 1}"#,
        #"{"id": "evt_9", "type": "payment_intent.succeeded", "created": 1, "data": {"object": {"object": "payment_intent", "id": "pi_1"}}}"#,
    ])
    func refusesWhatIsNoEvent(json: String) {
        #expect(throws: StripeWebhookError.self) { try parse(json) }
    }

    @Test func verifiesThenParses() throws {
        let payload = Array(Self.emulatorSucceeded.utf8)
        let secret = StripeSecret("whsec_abc")
        let header = StripeWebhook.signatureHeader(payload: payload, secret: secret, timestamp: 1_796_542_233)
        let event = try StripeWebhook(secrets: [secret]).verifiedEvent(
            payload: payload, signatureHeader: header, now: Date(timeIntervalSince1970: 1_796_542_234))
        #expect(event.id == "evt_30u3EueXmxm9mq")
        #expect(throws: StripeWebhookError.noMatchingSignature) {
            try StripeWebhook(secrets: [StripeSecret("whsec_other")]).verifiedEvent(
                payload: payload, signatureHeader: header, now: Date(timeIntervalSince1970: 1_796_542_234))
        }
    }

    @Test func thePaymentIntentsDescriptionLeavesOutTheClientSecret() throws {
        guard case .paymentIntent(let intent) = try parse(Self.emulatorSucceeded).object else { return }
        #expect(!String(describing: intent).contains("secret"))
    }
}
