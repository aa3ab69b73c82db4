import Foundation
import HTTPClient
import Testing

@testable import Stripe

/// The wire client against a real localstripe (bin/test starts one; see docs/localstripe.md).
@Suite(.enabled(if: Localstripe.isAvailable, Localstripe.skipReason), .timeLimit(.minutes(1)))
struct LocalstripeTests {
    let stripe: StripeClient

    init() throws {
        stripe = try Localstripe.client()
    }

    /// Creates an intent for 450.00 PLN, attaches a new PaymentMethod for `card`, and confirms.
    func pay(with card: CardDetails, metadata: [String: String] = [:]) throws -> (
        PaymentIntent, Result<PaymentIntent, StripeError>
    ) {
        let created = try stripe.createPaymentIntent(
            amount: 45000, currency: "PLN", metadata: metadata, idempotencyKey: Localstripe.newKey("create"))
        let method = try stripe.createPaymentMethod(card: card, idempotencyKey: Localstripe.newKey("pm"))
        _ = try stripe.updatePaymentIntent(
            created.id, paymentMethod: method.id, idempotencyKey: Localstripe.newKey("update"))
        return (
            created,
            Result { () throws(StripeError) in
                try stripe.confirmPaymentIntent(created.id, idempotencyKey: Localstripe.newKey("confirm"))
            }
        )
    }

    @Test func aGoodCardSucceeds() throws {
        let (created, confirmed) = try pay(with: .succeeds, metadata: ["checkout_id": "chk_1", "note": "a b&c=d"])
        #expect(created.status == .requiresPaymentMethod)
        #expect(created.currency == "pln")
        #expect(created.clientSecret?.hasPrefix(created.id + "_secret_") == true)
        let intent = try confirmed.get()
        #expect(intent.status == .succeeded)
        #expect(intent.amount == 45000)
        #expect(intent.metadata == ["checkout_id": "chk_1", "note": "a b&c=d"])
        #expect(intent.latestCharge?.hasPrefix("ch_") == true)
        #expect(try stripe.retrievePaymentIntent(created.id).status == .succeeded)
    }

    @Test func aDeclinedCardIsCardDeclined() throws {
        let (created, confirmed) = try pay(with: .declines)
        #expect(
            throws: StripeError.cardDeclined(
                code: "card_declined", declineCode: nil, message: "Your card was declined.")
        ) {
            try confirmed.get()
        }
        let intent = try stripe.retrievePaymentIntent(created.id)
        #expect(intent.status == .requiresPaymentMethod)
        #expect(intent.lastPaymentError?.code == "card_declined")
    }

    @Test func aCardThatNeedsThreeDSecureWaitsForTheBrowser() throws {
        let (created, confirmed) = try pay(with: .needsAuthentication)
        let intent = try confirmed.get()
        #expect(intent.status == .requiresAction)
        #expect(intent.nextActionType == "use_stripe_sdk")
        // What the emulator's Stripe.js does in confirmCardPayment when the customer completes
        // the (mock) 3-D Secure dialog.
        let (status, _) = try Localstripe.post(
            "/v1/payment_intents/\(created.id)/_authenticate?success=true",
            json: ["key": Localstripe.publishableKey, "client_secret": created.clientSecret ?? ""])
        #expect(status == 200)
        #expect(try stripe.retrievePaymentIntent(created.id).status == .succeeded)
    }

    @Test func aFailedThreeDSecureNeedsAnotherPaymentMethod() throws {
        let (created, confirmed) = try pay(with: .needsAuthentication)
        #expect(try confirmed.get().status == .requiresAction)
        _ = try Localstripe.post(
            "/v1/payment_intents/\(created.id)/_authenticate?success=false",
            json: ["key": Localstripe.publishableKey, "client_secret": created.clientSecret ?? ""])
        let intent = try stripe.retrievePaymentIntent(created.id)
        #expect(intent.status == .requiresPaymentMethod)
        #expect(intent.lastPaymentError?.code == "payment_intent_authentication_failure")
    }

    @Test func theMocksTokenFlowPaysWithTheTokensCard() throws {
        // The emulator's Stripe.js has no working createPaymentMethod; its createToken posts the
        // card with the publishable key. The token's card id then serves as payment_method.
        let http = try HTTPClient()
        var form = StripeForm()
        for (key, value) in [("number", "4242424242424242"), ("exp_month", "12"), ("exp_year", "2034"), ("cvc", "123")]
        {
            form.add("card[\(key)]", value)
        }
        form.add("key", Localstripe.publishableKey)
        let response = try http.send(
            HTTPClientRequest(
                method: .post, url: Localstripe.base + "/v1/tokens",
                headers: [HTTPHeader("Content-Type", "application/x-www-form-urlencoded")], body: form.bytes))
        #expect(response.status == 200)
        let token = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        let cardId = try #require((token?["card"] as? [String: Any])?["id"] as? String)
        #expect(cardId.hasPrefix("card_"))

        let created = try stripe.createPaymentIntent(
            amount: 1999, currency: "pln", idempotencyKey: Localstripe.newKey("c"))
        _ = try stripe.updatePaymentIntent(created.id, paymentMethod: cardId, idempotencyKey: Localstripe.newKey("u"))
        let paid = try stripe.confirmPaymentIntent(created.id, idempotencyKey: Localstripe.newKey("f"))
        #expect(paid.status == .succeeded)
        #expect(paid.paymentMethod == cardId)
    }

    @Test func anIntentCanBeCanceledOnce() throws {
        let created = try stripe.createPaymentIntent(
            amount: 500, currency: "pln", idempotencyKey: Localstripe.newKey("c"))
        let canceled = try stripe.cancelPaymentIntent(created.id, idempotencyKey: Localstripe.newKey("x"))
        #expect(canceled.status == .canceled)
        #expect(throws: StripeError.self) {
            try stripe.cancelPaymentIntent(created.id, idempotencyKey: Localstripe.newKey("x"))
        }
    }

    @Test func aSucceededPaymentCanBeRefundedInPart() throws {
        let (created, confirmed) = try pay(with: .succeeds)
        #expect(try confirmed.get().status == .succeeded)
        let refund = try stripe.createRefund(
            paymentIntent: created.id, amount: 15000, metadata: ["order_id": "ord_1"],
            idempotencyKey: Localstripe.newKey("refund"))
        #expect(refund.id.hasPrefix("re_"))
        #expect(refund.amount == 15000)
        #expect(refund.currency == "pln")
        #expect(refund.status == "succeeded")
        #expect(refund.paymentIntent == created.id)
        #expect(refund.metadata == ["order_id": "ord_1"])
    }

    @Test func anUnknownIntentIsAnInvalidRequest() {
        do {
            _ = try stripe.retrievePaymentIntent("pi_doesnotexist")
            Issue.record("expected an error")
        } catch {
            guard case .invalidRequest = error else {
                Issue.record("got \(error)")
                return
            }
        }
    }

    @Test func aWrongKeyIsAnAuthenticationError() throws {
        let stranger = try StripeClient(
            configuration: .init(baseURL: Localstripe.base, secretKey: StripeSecret("nope")))
        do {
            _ = try stranger.retrievePaymentIntent("pi_x")
            Issue.record("expected an error")
        } catch {
            guard case .authentication = error else {
                Issue.record("got \(error)")
                return
            }
            #expect(!error.description.contains("nope"))
        }
    }

    @Test func theSamePostTwiceWithOneIdempotencyKeyCreatesOneIntent() throws {
        let key = Localstripe.newKey("twice")
        let first = try stripe.createPaymentIntent(amount: 700, currency: "pln", idempotencyKey: key)
        let second = try stripe.createPaymentIntent(amount: 700, currency: "pln", idempotencyKey: key)
        // Real Stripe answers the second POST with the first one's response. localstripe 1.15
        // ignores Idempotency-Key (docs/localstripe.md) and creates a second intent; when it
        // learns the header, this known issue stops being recorded and the test says so.
        withKnownIssue("localstripe ignores the Idempotency-Key header") {
            #expect(second.id == first.id)
        }
    }

    @Test func webhooksAreSignedTheWayStripeSignsThem() async throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let endpoint = "stripe-tests-\(UUID().uuidString.prefix(8))"
        let secret = "whsec_\(UUID().uuidString)"
        let (status, _) = try Localstripe.post(
            "/_config/webhooks/\(endpoint)",
            json: [
                "url": receiver.url, "secret": secret,
                "events": ["payment_intent.succeeded", "payment_intent.payment_failed"],
            ])
        #expect(status == 200)
        defer {
            // The emulator cannot forget an endpoint: an empty event list silences it.
            _ = try? Localstripe.post(
                "/_config/webhooks/\(endpoint)",
                json: ["url": "http://127.0.0.1:9/", "secret": "x", "events": [String]()])
        }

        let (paid, paidResult) = try pay(with: .succeeds)
        _ = try paidResult.get()
        let (declined, _) = try pay(with: .declines)

        let webhook = StripeWebhook(secrets: [StripeSecret("whsec_previous"), StripeSecret(secret)])
        for (intentId, type, expectedStatus) in [
            (paid.id, "payment_intent.succeeded", PaymentIntent.Status.succeeded),
            (declined.id, "payment_intent.payment_failed", .requiresPaymentMethod),
        ] {
            let delivery = await receiver.waitFor { delivery in
                guard let event = try? StripeEvent.parse(delivery.body), case .paymentIntent(let intent) = event.object
                else { return false }
                return intent.id == intentId
            }
            let found = try #require(delivery, "no \(type) delivery for \(intentId)")
            let header = try #require(found.signature)
            #expect(header.wholeMatch(of: /t=\d+,v1=[0-9a-f]{64}/) != nil, "\(header)")
            let event = try webhook.verifiedEvent(payload: found.body, signatureHeader: header, now: Date())
            #expect(event.type == type)
            #expect(event.id.hasPrefix("evt_"))
            guard case .paymentIntent(let intent) = event.object else { continue }
            #expect(intent.status == expectedStatus)
            #expect(throws: StripeWebhookError.noMatchingSignature) {
                try StripeWebhook(secrets: [StripeSecret("whsec_previous")]).verify(
                    payload: found.body, signatureHeader: header, now: Date())
            }
        }
        #expect(receiver.deliveries.allSatisfy { $0.path == "/webhooks/stripe" })
    }
}
