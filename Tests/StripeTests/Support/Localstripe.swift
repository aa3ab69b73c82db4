import Foundation
import HTTPClient
import Testing

@testable import Stripe

/// Where the integration tests find localstripe: `ENCORE_STRIPE_API_BASE` (bin/test sets it),
/// else the dev stack's `http://127.0.0.1:8420`.
enum Localstripe {
    static let configuredBase = ProcessInfo.processInfo.environment["ENCORE_STRIPE_API_BASE"]
    static let base = configuredBase ?? "http://127.0.0.1:8420"
    static let secretKey = StripeSecret("sk_test_encore_stripe_tests")
    static let publishableKey = "pk_test_encore_stripe_tests"

    /// The tests run when the variable is set (then a server that does not answer fails them)
    /// or when something answers at the default address; they are skipped only otherwise.
    static let isAvailable: Bool = configuredBase != nil || answers()

    static let skipReason = Comment(
        rawValue: "localstripe is not running: ENCORE_STRIPE_API_BASE is unset and nothing answers at \(base). "
            + "bin/test starts it; by hand: python3 -m localstripe --port 8420")

    private static func answers() -> Bool {
        guard let http = try? HTTPClient(configuration: .init(connectTimeout: .seconds(1), timeout: .seconds(2)))
        else { return false }
        let request = HTTPClientRequest(
            method: .get, url: base + "/v1/customers?limit=1",
            headers: [HTTPHeader("Authorization", "Bearer \(secretKey.value)")])
        return (try? http.send(request))?.status == 200
    }

    static func client() throws -> StripeClient {
        try StripeClient(configuration: .init(baseURL: base, secretKey: secretKey, timeout: .seconds(10)))
    }

    /// A POST to the emulator that is not part of Stripe's API (`/_config/...`, what its
    /// Stripe.js mock sends): a JSON body, no secret key. Returns the status and the JSON.
    static func post(_ path: String, json: [String: any Sendable]) throws -> (Int, [String: Any]) {
        let http = try HTTPClient()
        let body = try JSONSerialization.data(withJSONObject: json)
        let response = try http.send(
            HTTPClientRequest(
                method: .post, url: base + path, headers: [HTTPHeader("Content-Type", "application/json")],
                body: Array(body)))
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
        return (response.status, object ?? [:])
    }

    static func newKey(_ purpose: String) -> String { "stripe-tests-\(purpose)-\(UUID().uuidString)" }
}

extension CardDetails {
    /// Stripe's test cards (the emulator knows the same numbers).
    static let succeeds = CardDetails(number: "4242 4242 4242 4242", expMonth: 12, expYear: 2034, cvc: "123")
    /// Attaches, then every charge is declined (`card_declined`).
    static let declines = CardDetails(number: "4000 0000 0000 0341", expMonth: 12, expYear: 2034, cvc: "123")
    /// Needs 3-D Secure: confirming leaves the intent in `requires_action`.
    static let needsAuthentication = CardDetails(
        number: "4000 0025 0000 3155", expMonth: 12, expYear: 2034, cvc: "123")
}
