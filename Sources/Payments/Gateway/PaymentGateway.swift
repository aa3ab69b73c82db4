import Foundation

/// What the Payments context needs of a payment gateway: PaymentIntents that take a card, and
/// refunds. Stripe's HTTP API (`StripeGateway`) in production and tests; the emulator
/// localstripe speaks it in development. Every call that changes something carries an
/// idempotency key made from Encore's own ids, so a call repeated after a timeout or a crash
/// does nothing twice at the gateway.
public protocol PaymentGateway: Sendable {
    /// A new intent of `amount` minor units of `currency` for the payment.
    func createIntent(amount: Int, currency: String, paymentId: String, attempt: Int) throws(GatewayFailure)
        -> GatewayIntent
    /// Gives the intent the customer's card (a PaymentMethod or card id from the browser's
    /// Stripe.js) and confirms it. A declined card answers the intent with its decline.
    func pay(intentId: String, paymentMethod: String) throws(GatewayFailure) -> GatewayIntent
    func retrieve(intentId: String) throws(GatewayFailure) -> GatewayIntent
    /// Cancels the intent; when it has already taken the money, answers it as it is.
    func cancel(intentId: String) throws(GatewayFailure) -> GatewayIntent
    /// Refunds `amount` of the intent's money; `key` says which refund this is, so asking
    /// twice refunds once.
    func refund(intentId: String, amount: Int, key: String) throws(GatewayFailure) -> GatewayRefund
    /// The publishable key and Stripe.js's URL, for the checkout page.
    var browser: GatewayBrowserSettings { get }
}

/// What the gateway says of an intent.
public struct GatewayIntent: Sendable, Equatable {
    public let id: String
    public let status: GatewayIntentStatus
    public let amount: Int
    /// For the paying customer's Stripe.js; never logged.
    public let clientSecret: String?
    /// The customer must act in the browser (3-D Secure) before the intent can succeed.
    public let requiresAction: Bool
    public let declineCode: String?
    public let declineMessage: String?

    public init(
        id: String, status: GatewayIntentStatus, amount: Int, clientSecret: String?, requiresAction: Bool = false,
        declineCode: String? = nil, declineMessage: String? = nil
    ) {
        self.id = id
        self.status = status
        self.amount = amount
        self.clientSecret = clientSecret
        self.requiresAction = requiresAction
        self.declineCode = declineCode
        self.declineMessage = declineMessage
    }

    /// What a payment records of it.
    public func observation(source: GatewayObservation.Source, now: Date) -> GatewayObservation {
        GatewayObservation(
            gatewayPaymentId: id, status: status, amount: amount, declineCode: declineCode,
            declineMessage: declineMessage, source: source, now: now)
    }
}

public struct GatewayRefund: Sendable, Equatable {
    public let id: String
    public let amount: Int

    public init(id: String, amount: Int) {
        self.id = id
        self.amount = amount
    }
}

public struct GatewayBrowserSettings: Sendable, Equatable {
    public let publishableKey: String
    /// Where the checkout page loads Stripe.js from.
    public let stripeJSURL: String

    public init(publishableKey: String, stripeJSURL: String) {
        self.publishableKey = publishableKey
        self.stripeJSURL = stripeJSURL
    }

    /// The scheme, host and port of Stripe.js's URL: what the checkout page's
    /// Content-Security-Policy allows.
    public var origin: String {
        guard let url = URL(string: stripeJSURL), let scheme = url.scheme, let host = url.host else { return "" }
        return "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "")
    }
}

/// Why a gateway call did not give an answer to act on.
public enum GatewayFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// The gateway could not be reached, timed out, or failed on its side: the same call (with
    /// the same key) may be tried again later.
    case unavailable(String)
    /// The gateway refused the call (a bad request, an intent in the wrong state, the keys):
    /// trying again will not help.
    case refused(String)

    public var description: String {
        switch self {
        case .unavailable(let reason): "payment gateway unavailable: \(reason)"
        case .refused(let reason): "payment gateway refused: \(reason)"
        }
    }
}
