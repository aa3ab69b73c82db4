import Foundation
import HTTPClient

/// What went wrong with a Stripe API call, as an outcome a caller can act on.
///
/// Messages are Stripe's (safe to show a customer for `cardDeclined`) or libcurl's; the
/// client removes its secret key from them, and Stripe itself never echoes one in full.
public enum StripeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The card was refused (HTTP 402, type `card_error`): `code` such as `card_declined`,
    /// `expired_card`, `incorrect_cvc`; `declineCode` the issuer's reason when Stripe gives
    /// one (`insufficient_funds`, `generic_decline`); `message` can be shown to the customer.
    case cardDeclined(code: String, declineCode: String?, message: String)
    /// Stripe refused the request itself (400, 404: a missing or invalid parameter, an unknown
    /// id, a state that does not allow the call); `param` names the parameter when it is one.
    case invalidRequest(message: String, param: String?, code: String?)
    /// The secret key is missing, wrong, or not allowed to do this (401, 403).
    case authentication(message: String)
    /// Too many requests (429): retry later, with the same idempotency key.
    case rateLimited
    /// The idempotency key was used before with other parameters, or a request with the same
    /// key is still being processed (400 `idempotency_error`, 409).
    case idempotencyConflict(message: String)
    /// Stripe could not be reached, failed (5xx) or did not answer in time. The request may or
    /// may not have taken effect: retrying it with the same idempotency key is safe.
    case apiUnavailable(reason: String)
    /// A status or a body this client does not understand.
    case unexpectedResponse(status: Int, detail: String)

    /// Whether the same request (same idempotency key) may succeed if sent again later.
    public var isRetryable: Bool {
        switch self {
        case .apiUnavailable, .rateLimited: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .cardDeclined(let code, let declineCode, let message):
            "card declined (\(code)\(declineCode.map { ", \($0)" } ?? "")): \(message)"
        case .invalidRequest(let message, let param, let code):
            "invalid request\(code.map { " (\($0))" } ?? "")\(param.map { " [\($0)]" } ?? ""): \(message)"
        case .authentication(let message): "authentication failed: \(message)"
        case .rateLimited: "rate limited by Stripe"
        case .idempotencyConflict(let message): "idempotency conflict: \(message)"
        case .apiUnavailable(let reason): "Stripe unavailable: \(reason)"
        case .unexpectedResponse(let status, let detail): "unexpected response from Stripe (\(status)): \(detail)"
        }
    }

    /// Stripe's error body: `{"error": {"type", "code", "decline_code", "message", "param"}}`.
    struct Body: Decodable {
        struct Detail: Decodable {
            var type: String?
            var code: String?
            var declineCode: String?
            var message: String?
            var param: String?

            enum CodingKeys: String, CodingKey {
                case type, code, message, param
                case declineCode = "decline_code"
            }
        }
        var error: Detail
    }

    /// The one place that turns an HTTP error answer from Stripe into an outcome.
    static func from(status: Int, body: [UInt8]) -> StripeError {
        let detail = try? JSONDecoder().decode(Body.self, from: Data(body)).error
        let type = detail?.type
        let message = detail?.message ?? "HTTP \(status)"
        if status == 402 || type == "card_error" {
            // Stripe says `card_error`; the localstripe emulator sends its declines as 402 with
            // type `invalid_request_error` and code `card_declined`: the status decides.
            return .cardDeclined(
                code: detail?.code ?? "card_declined", declineCode: detail?.declineCode, message: message)
        }
        if type == "idempotency_error" || status == 409 { return .idempotencyConflict(message: message) }
        if status == 401 || status == 403 || type == "authentication_error" || type == "permission_error" {
            return .authentication(message: message)
        }
        if status == 429 || type == "rate_limit_error" { return .rateLimited }
        if status >= 500 {
            // A 5xx that blames the request (the emulator's "Not implemented") is no outage:
            // sending it again would fail the same way.
            if type == "invalid_request_error" {
                return .invalidRequest(message: message, param: detail?.param, code: detail?.code)
            }
            return .apiUnavailable(reason: "Stripe answered \(status): \(message)")
        }
        if type == "api_error" { return .apiUnavailable(reason: message) }
        if status == 400 || status == 404 || type == "invalid_request_error" {
            return .invalidRequest(message: message, param: detail?.param, code: detail?.code)
        }
        return .unexpectedResponse(status: status, detail: detail == nil ? "no Stripe error in the body" : message)
    }

    /// A transfer that got no answer: nothing to blame the request for, so a retry is safe.
    static func from(_ error: HTTPClientError) -> StripeError {
        switch error {
        case .tooLarge: .unexpectedResponse(status: 0, detail: error.description)
        default: .apiUnavailable(reason: error.description)
        }
    }

    /// The same error with every occurrence of `secret` in its messages replaced.
    func redacting(_ secret: StripeSecret) -> StripeError {
        guard !secret.isEmpty else { return self }
        func clean(_ text: String) -> String { text.replacingOccurrences(of: secret.value, with: "<redacted>") }
        switch self {
        case .cardDeclined(let code, let declineCode, let message):
            return .cardDeclined(code: code, declineCode: declineCode, message: clean(message))
        case .invalidRequest(let message, let param, let code):
            return .invalidRequest(message: clean(message), param: param, code: code)
        case .authentication(let message): return .authentication(message: clean(message))
        case .rateLimited: return self
        case .idempotencyConflict(let message): return .idempotencyConflict(message: clean(message))
        case .apiUnavailable(let reason): return .apiUnavailable(reason: clean(reason))
        case .unexpectedResponse(let status, let detail):
            return .unexpectedResponse(status: status, detail: clean(detail))
        }
    }
}
