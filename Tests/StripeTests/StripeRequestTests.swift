import HTTPClient
import Testing

@testable import Stripe

@Suite struct StripeRequestTests {
    static let secretKey = "sk_test_51SecretValue"
    let client = try! StripeClient(
        configuration: .init(baseURL: "http://127.0.0.1:1/", secretKey: StripeSecret(secretKey)))

    @Test func aPostCarriesTheKeyTheVersionAndTheIdempotencyKey() throws {
        var form = StripeForm()
        form.add("amount", 100)
        let request = try client.request(.post, "/v1/payment_intents", form, idempotencyKey: "checkout-1-create")
        #expect(request.method == .post)
        #expect(request.url == "http://127.0.0.1:1/v1/payment_intents")
        #expect(request.header("Authorization") == "Bearer \(Self.secretKey)")
        #expect(request.header("Stripe-Version") == StripeClient.pinnedAPIVersion)
        #expect(request.header("Idempotency-Key") == "checkout-1-create")
        #expect(request.header("Content-Type") == "application/x-www-form-urlencoded")
        #expect(request.body == Array("amount=100".utf8))
    }

    @Test func aGetCarriesNoIdempotencyKeyAndNoBody() throws {
        let request = try client.request(.get, "/v1/payment_intents/pi_1", StripeForm(), idempotencyKey: nil)
        #expect(request.header("Idempotency-Key") == nil)
        #expect(request.body.isEmpty)
        #expect(request.header("Authorization") == "Bearer \(Self.secretKey)")
    }

    @Test(arguments: ["", String(repeating: "k", count: 256), "two words", "line\nbreak"])
    func aPostWithoutAUsableIdempotencyKeyIsRefusedBeforeSending(key: String) {
        // The base URL has nothing listening: a request that went out would be apiUnavailable.
        #expect(
            throws: StripeError.invalidRequest(
                message: "every POST needs an idempotency key of 1 to 255 visible ASCII characters", param: nil,
                code: nil)
        ) {
            try client.cancelPaymentIntent("pi_1", idempotencyKey: key)
        }
    }

    @Test func metadataKeysWithBracketsAreRefusedBeforeSending() {
        #expect(throws: StripeError.self) {
            try client.createPaymentIntent(
                amount: 100, currency: "PLN", metadata: ["a]b": "x"], idempotencyKey: "k")
        }
        do {
            _ = try client.createPaymentIntent(
                amount: 100, currency: "PLN", metadata: ["a]b": "x"], idempotencyKey: "k")
        } catch {
            guard case .invalidRequest(_, "metadata", _) = error else {
                Issue.record("got \(error)")
                return
            }
        }
    }

    @Test func idsAreOnePathSegment() throws {
        #expect(try client.pathSegment("pi_123") == "pi_123")
        #expect(try client.pathSegment("pi_1/../../v1/refunds?x") == "pi_1%2F..%2F..%2Fv1%2Frefunds%3Fx")
        #expect(throws: StripeError.self) { try client.pathSegment("") }
    }

    @Test func anUnreachableServerIsApiUnavailable() {
        do {
            _ = try client.retrievePaymentIntent("pi_1")
            Issue.record("expected an error")
        } catch {
            #expect(error.isRetryable)
            guard case .apiUnavailable = error else {
                Issue.record("got \(error)")
                return
            }
        }
    }

    @Test func theConfigurationNeverShowsTheSecretKey() {
        var dumped = ""
        dump(client.configuration, to: &dumped)
        let texts = [
            String(describing: client.configuration), String(reflecting: client.configuration), dumped,
            String(describing: CardDetails(number: "4242 4242 4242 4242", expMonth: 1, expYear: 2030, cvc: "123")),
        ]
        for text in texts {
            #expect(!text.contains("SecretValue"), "\(text)")
            #expect(!text.contains("4242424242424242"), "\(text)")
        }
    }
}
