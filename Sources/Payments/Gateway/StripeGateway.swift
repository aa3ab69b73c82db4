import Foundation
import Stripe

/// The payment gateway on Stripe's HTTP API (`Stripe.StripeClient`).
///
/// A client holds one libcurl handle, so it serves one thread at a time: the gateway keeps a
/// few, lent to a call and taken back, so the threads of a worker share kept-alive connections
/// without sharing a handle.
public final class StripeGateway: PaymentGateway, @unchecked Sendable {
    // @unchecked: `idle` is only touched while holding `lock`; a client is used by one thread.
    public let configuration: StripeClient.Configuration
    public let browser: GatewayBrowserSettings
    private let lock = NSLock()
    private var idle: [StripeClient] = []

    public init(configuration: StripeClient.Configuration, browser: GatewayBrowserSettings) {
        self.configuration = configuration
        self.browser = browser
    }

    public func createIntent(amount: Int, currency: String, paymentId: String, attempt: Int) throws(GatewayFailure)
        -> GatewayIntent
    {
        try call { client throws(StripeError) in
            Self.intent(
                try client.createPaymentIntent(
                    amount: amount, currency: currency, metadata: ["encore_payment_id": paymentId],
                    idempotencyKey: "encore-\(paymentId)-intent-\(attempt)"))
        }
    }

    public func pay(intentId: String, paymentMethod: String) throws(GatewayFailure) -> GatewayIntent {
        // The emulator cannot confirm with a payment method in one call; real Stripe takes both
        // ways. Setting it first, then confirming, works on both.
        let method = Self.keyPart(paymentMethod)
        return try call { client throws(StripeError) in
            do throws(StripeError) {
                _ = try client.updatePaymentIntent(
                    intentId, paymentMethod: paymentMethod, idempotencyKey: "encore-\(intentId)-method-\(method)")
                return Self.intent(
                    try client.confirmPaymentIntent(intentId, idempotencyKey: "encore-\(intentId)-confirm-\(method)"))
            } catch .cardDeclined(let code, let declineCode, let message) {
                let intent = try client.retrievePaymentIntent(intentId)
                return GatewayIntent(
                    id: intent.id, status: .awaitingPaymentMethod, amount: intent.amount,
                    clientSecret: intent.clientSecret,
                    declineCode: declineCode ?? code, declineMessage: message)
            }
        }
    }

    public func retrieve(intentId: String) throws(GatewayFailure) -> GatewayIntent {
        try call { client throws(StripeError) in Self.intent(try client.retrievePaymentIntent(intentId)) }
    }

    public func cancel(intentId: String) throws(GatewayFailure) -> GatewayIntent {
        try call { client throws(StripeError) in
            do throws(StripeError) {
                return Self.intent(
                    try client.cancelPaymentIntent(intentId, idempotencyKey: "encore-\(intentId)-cancel"))
            } catch .invalidRequest {
                // Not cancellable any more (it succeeded, or was cancelled): as it is.
                return Self.intent(try client.retrievePaymentIntent(intentId))
            }
        }
    }

    public func refund(intentId: String, amount: Int, key: String) throws(GatewayFailure) -> GatewayRefund {
        try call { client throws(StripeError) in
            let refund = try client.createRefund(
                paymentIntent: intentId, amount: amount,
                idempotencyKey: "encore-\(intentId)-refund-\(Self.keyPart(key))")
            return GatewayRefund(id: refund.id, amount: refund.amount)
        }
    }

    /// Runs `body` with an idle client (or a new one), giving it back after.
    private func call<T>(_ body: (StripeClient) throws(StripeError) -> T) throws(GatewayFailure) -> T {
        let client: StripeClient
        if let kept = lock.withLock({ idle.popLast() }) {
            client = kept
        } else {
            do {
                client = try StripeClient(configuration: configuration)
            } catch {
                throw Self.failure(error)
            }
        }
        defer { lock.withLock { if idle.count < 16 { idle.append(client) } } }
        do {
            return try body(client)
        } catch {
            throw Self.failure(error)
        }
    }

    static func failure(_ error: StripeError) -> GatewayFailure {
        error.isRetryable ? .unavailable("\(error)") : .refused("\(error)")
    }

    static func intent(_ intent: PaymentIntent) -> GatewayIntent {
        let status: GatewayIntentStatus =
            switch intent.status {
            case .succeeded: .succeeded
            case .canceled: .canceled
            case .requiresPaymentMethod: .awaitingPaymentMethod
            case .requiresAction, .requiresConfirmation, .processing, .requiresCapture, .other: .inProgress
            }
        return GatewayIntent(
            id: intent.id, status: status, amount: intent.amount, clientSecret: intent.clientSecret,
            requiresAction: intent.status == .requiresAction,
            declineCode: intent.lastPaymentError?.declineCode
                ?? intent.lastPaymentError?.code,
            declineMessage: intent.lastPaymentError?.message)
    }

    /// A value fit for an idempotency key: ids pass as they are; anything else is hashed.
    static func keyPart(_ text: String) -> String {
        if text.count <= 100, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
        {
            return text
        }
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        return String(hash, radix: 16)
    }
}
