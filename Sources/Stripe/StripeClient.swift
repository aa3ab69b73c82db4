import Foundation
import HTTPClient

/// A client of Stripe's HTTP API (or of an emulator that speaks it, such as localstripe):
/// PaymentIntents, PaymentMethods and Refunds. Knows nothing of Encore's orders.
///
/// Every request is form-encoded, carries `Authorization: Bearer <secret key>` and a pinned
/// `Stripe-Version`, and every POST carries the caller's `Idempotency-Key`: a POST sent
/// again with the same key (after a timeout, say) returns the first answer and does nothing
/// twice, on real Stripe. Calls block the calling thread; there is no retry inside: a
/// `StripeError.isRetryable` error may be retried by the caller with the same key.
///
/// Threads: holds one `HTTPClient` (one libcurl handle, one kept-alive connection), so a
/// client belongs to one thread at a time; give each worker thread its own, made from the
/// shared `Configuration`. `@unchecked Sendable` only so it can be handed to that thread.
public final class StripeClient: @unchecked Sendable {
    /// The Stripe API version every request asks for. Pinned, so that a change of the
    /// account's default version cannot change what this client decodes.
    public static let pinnedAPIVersion = "2024-06-20"

    public struct Configuration: Sendable, CustomStringConvertible {
        /// `https://api.stripe.com`, or an emulator's base such as `http://127.0.0.1:8420`.
        public var baseURL: String
        public var secretKey: StripeSecret
        public var apiVersion: String
        public var connectTimeout: Duration
        public var timeout: Duration
        public var maximumResponseSize: Int

        public init(
            baseURL: String, secretKey: StripeSecret, apiVersion: String = StripeClient.pinnedAPIVersion,
            connectTimeout: Duration = .seconds(5), timeout: Duration = .seconds(30),
            maximumResponseSize: Int = 1 << 20
        ) {
            var base = baseURL
            while base.hasSuffix("/") { base.removeLast() }
            self.baseURL = base
            self.secretKey = secretKey
            self.apiVersion = apiVersion
            self.connectTimeout = connectTimeout
            self.timeout = timeout
            self.maximumResponseSize = maximumResponseSize
        }

        public var description: String {
            "StripeClient.Configuration(baseURL: \(baseURL), secretKey: <redacted>, apiVersion: \(apiVersion), "
                + "connectTimeout: \(connectTimeout), timeout: \(timeout))"
        }
    }

    public let configuration: Configuration
    private let http: HTTPClient

    public init(configuration: Configuration) throws(StripeError) {
        self.configuration = configuration
        do {
            http = try HTTPClient(
                configuration: .init(
                    connectTimeout: configuration.connectTimeout, timeout: configuration.timeout,
                    maximumResponseSize: configuration.maximumResponseSize, userAgent: "encore-stripe/1"))
        } catch {
            throw StripeError.from(error)
        }
    }

    // MARK: PaymentIntents

    /// `POST /v1/payment_intents`: a card payment of `amount` minor units of `currency`.
    /// `metadata` ties it to the caller's records (keys without square brackets). The
    /// localstripe emulator refuses `description` (400 "Unexpected description").
    public func createPaymentIntent(
        amount: Int, currency: String, metadata: [String: String] = [:], description: String? = nil,
        idempotencyKey: String
    ) throws(StripeError) -> PaymentIntent {
        var form = StripeForm()
        form.add("amount", amount)
        form.add("currency", currency.lowercased())
        try form.add("metadata", dictionary: checked(metadata))
        form.add("payment_method_types", list: ["card"])
        if let description { form.add("description", description) }
        return try decode(send(.post, "/v1/payment_intents", form, idempotencyKey: idempotencyKey))
    }

    /// `GET /v1/payment_intents/{id}`.
    public func retrievePaymentIntent(_ id: String) throws(StripeError) -> PaymentIntent {
        try decode(send(.get, "/v1/payment_intents/\(pathSegment(id))", StripeForm(), idempotencyKey: nil))
    }

    /// `POST /v1/payment_intents/{id}`: attaches a payment method (`pm_...`, or a token's
    /// `card_...`) and/or adds metadata.
    public func updatePaymentIntent(
        _ id: String, paymentMethod: String? = nil, metadata: [String: String] = [:], idempotencyKey: String
    ) throws(StripeError) -> PaymentIntent {
        var form = StripeForm()
        if let paymentMethod { form.add("payment_method", paymentMethod) }
        try form.add("metadata", dictionary: checked(metadata))
        return try decode(
            send(.post, "/v1/payment_intents/\(pathSegment(id))", form, idempotencyKey: idempotencyKey))
    }

    /// `POST /v1/payment_intents/{id}/confirm` with the payment method already attached (the
    /// emulator answers 500 "Not implemented" to a confirm that names one). The answer's status
    /// is `succeeded`, `processing` or `requiresAction` (the browser must authenticate with
    /// `confirmCardPayment`); a declined card throws `.cardDeclined`.
    public func confirmPaymentIntent(_ id: String, idempotencyKey: String) throws(StripeError) -> PaymentIntent {
        try decode(
            send(.post, "/v1/payment_intents/\(pathSegment(id))/confirm", StripeForm(), idempotencyKey: idempotencyKey))
    }

    /// `POST /v1/payment_intents/{id}/cancel`.
    public func cancelPaymentIntent(_ id: String, idempotencyKey: String) throws(StripeError) -> PaymentIntent {
        try decode(
            send(.post, "/v1/payment_intents/\(pathSegment(id))/cancel", StripeForm(), idempotencyKey: idempotencyKey))
    }

    // MARK: Refunds

    /// `POST /v1/refunds`: refunds `amount` minor units (all of it when nil) of a succeeded
    /// PaymentIntent.
    public func createRefund(
        paymentIntent: String, amount: Int? = nil, metadata: [String: String] = [:], idempotencyKey: String
    ) throws(StripeError) -> Refund {
        var form = StripeForm()
        form.add("payment_intent", paymentIntent)
        if let amount { form.add("amount", amount) }
        try form.add("metadata", dictionary: checked(metadata))
        return try decode(send(.post, "/v1/refunds", form, idempotencyKey: idempotencyKey))
    }

    // MARK: PaymentMethods

    /// `POST /v1/payment_methods` with raw card details: for tests against Stripe's test mode
    /// or the emulator only. In production the browser makes the PaymentMethod with Stripe.js.
    public func createPaymentMethod(card: CardDetails, idempotencyKey: String) throws(StripeError) -> PaymentMethod {
        var form = StripeForm()
        form.add("type", "card")
        form.add("card[number]", card.number)
        form.add("card[exp_month]", card.expMonth)
        form.add("card[exp_year]", card.expYear)
        form.add("card[cvc]", card.cvc)
        return try decode(send(.post, "/v1/payment_methods", form, idempotencyKey: idempotencyKey))
    }

    // MARK: Transport

    /// Builds the HTTP request for a call (internal: the tests read it).
    func request(
        _ method: HTTPClientRequest.Method, _ path: String, _ form: StripeForm, idempotencyKey: String?
    ) throws(StripeError) -> HTTPClientRequest {
        var headers = [
            HTTPHeader("Authorization", "Bearer \(configuration.secretKey.value)"),
            HTTPHeader("Stripe-Version", configuration.apiVersion),
            HTTPHeader("Accept", "application/json"),
        ]
        var url = configuration.baseURL + path
        var body: [UInt8] = []
        if method == .get {
            if !form.fields.isEmpty { url += "?" + form.encoded }
        } else {
            guard let key = idempotencyKey, !key.isEmpty, key.utf8.count <= 255,
                key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f })
            else {
                throw .invalidRequest(
                    message: "every POST needs an idempotency key of 1 to 255 visible ASCII characters",
                    param: nil, code: nil)
            }
            headers.append(HTTPHeader("Idempotency-Key", key))
            headers.append(HTTPHeader("Content-Type", "application/x-www-form-urlencoded"))
            body = form.bytes
        }
        return HTTPClientRequest(method: method, url: url, headers: headers, body: body)
    }

    private func send(
        _ method: HTTPClientRequest.Method, _ path: String, _ form: StripeForm, idempotencyKey: String?
    ) throws(StripeError) -> (status: Int, body: [UInt8]) {
        let request = try request(method, path, form, idempotencyKey: idempotencyKey)
        let response: HTTPClientResponse
        do {
            response = try http.send(request)
        } catch {
            throw StripeError.from(error).redacting(configuration.secretKey)
        }
        guard (200..<300).contains(response.status) else {
            throw StripeError.from(status: response.status, body: response.body).redacting(configuration.secretKey)
        }
        return (response.status, response.body)
    }

    private func decode<T: Decodable>(_ answer: (status: Int, body: [UInt8])) throws(StripeError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(answer.body))
        } catch {
            throw .unexpectedResponse(status: answer.status, detail: "could not decode a \(T.self): \(error)")
        }
    }

    /// Metadata keys become part of a form key (`metadata[key]`): they must not hold brackets
    /// (Stripe refuses them too), and Stripe allows at most 40 characters.
    private func checked(_ metadata: [String: String]) throws(StripeError) -> [String: String] {
        for key in metadata.keys where key.isEmpty || key.count > 40 || key.contains("[") || key.contains("]") {
            throw .invalidRequest(
                message: "metadata key \(key.debugDescription) must be 1 to 40 characters without brackets",
                param: "metadata", code: nil)
        }
        return metadata
    }

    /// An id as one path segment: percent-encoded, so it can never add a path of its own.
    /// (Internal: the tests read it.)
    func pathSegment(_ id: String) throws(StripeError) -> String {
        guard !id.isEmpty else { throw .invalidRequest(message: "empty id", param: "id", code: nil) }
        return StripeForm.percentEncode(id)
    }
}
