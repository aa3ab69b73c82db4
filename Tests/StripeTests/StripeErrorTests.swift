import HTTPClient
import Testing

@testable import Stripe

@Suite struct StripeErrorTests {
    func map(_ status: Int, _ body: String) -> StripeError {
        StripeError.from(status: status, body: Array(body.utf8))
    }

    @Test func mapsStripesCardErrorWithItsDeclineCode() {
        let body = #"""
            {"error": {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
             "message": "Your card has insufficient funds.", "param": "", "charge": "ch_1"}}
            """#
        #expect(
            map(402, body)
                == .cardDeclined(
                    code: "card_declined", declineCode: "insufficient_funds",
                    message: "Your card has insufficient funds."))
    }

    @Test func mapsTheEmulatorsDeclineByItsStatus() {
        // localstripe: 402, but type invalid_request_error and no decline_code.
        let body = #"""
            {"error": {"charge": "ch_1", "code": "card_declined", "message": "Your card was declined.",
             "type": "invalid_request_error"}}
            """#
        #expect(
            map(402, body) == .cardDeclined(code: "card_declined", declineCode: nil, message: "Your card was declined.")
        )
    }

    @Test func mapsOtherCardErrors() {
        let body = #"{"error": {"type": "card_error", "code": "expired_card", "message": "Your card has expired."}}"#
        #expect(
            map(402, body) == .cardDeclined(code: "expired_card", declineCode: nil, message: "Your card has expired."))
    }

    @Test func mapsInvalidRequestsWithTheirParameter() {
        let body = #"""
            {"error": {"type": "invalid_request_error", "code": "parameter_invalid_integer", "param": "amount",
             "message": "Invalid integer: abc"}}
            """#
        #expect(
            map(400, body)
                == .invalidRequest(message: "Invalid integer: abc", param: "amount", code: "parameter_invalid_integer"))
        let missing = #"""
            {"error": {"type": "invalid_request_error", "code": "resource_missing", "param": "intent",
             "message": "No such payment_intent: 'pi_x'"}}
            """#
        #expect(
            map(404, missing)
                == .invalidRequest(message: "No such payment_intent: 'pi_x'", param: "intent", code: "resource_missing")
        )
    }

    @Test func mapsAuthenticationAndPermissionErrors() {
        #expect(
            map(
                401,
                #"{"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****abcd"}}"#
            )
                == .authentication(message: "Invalid API Key provided: sk_test_****abcd"))
        #expect(
            map(401, #"{"error": {"message": "Unauthorized", "type": "invalid_request_error"}}"#)
                == .authentication(message: "Unauthorized"))
        #expect(
            map(403, #"{"error": {"type": "permission_error", "message": "No."}}"#) == .authentication(message: "No."))
    }

    @Test func mapsRateLimits() {
        #expect(map(429, #"{"error": {"type": "rate_limit_error", "message": "Too many requests"}}"#) == .rateLimited)
        #expect(
            map(429, #"{"error": {"type": "invalid_request_error", "code": "lock_timeout", "message": "busy"}}"#)
                == .rateLimited)
        #expect(StripeError.rateLimited.isRetryable)
    }

    @Test func mapsIdempotencyConflicts() {
        let reused = #"""
            {"error": {"type": "idempotency_error",
             "message": "Keys for idempotent requests can only be used with the same parameters they were first used with."}}
            """#
        guard case .idempotencyConflict = map(400, reused) else {
            Issue.record("got \(map(400, reused))")
            return
        }
        guard
            case .idempotencyConflict = map(
                409, #"{"error": {"type": "invalid_request_error", "message": "in flight"}}"#)
        else {
            Issue.record("409 is not an idempotency conflict")
            return
        }
        #expect(!map(400, reused).isRetryable)
    }

    @Test func mapsServerErrorsAsUnavailableAndRetryable() {
        let api = map(500, #"{"error": {"type": "api_error", "message": "Something went wrong on Stripe's end."}}"#)
        #expect(api == .apiUnavailable(reason: "Stripe answered 500: Something went wrong on Stripe's end."))
        #expect(api.isRetryable)
        guard case .apiUnavailable = map(503, "<html>Service Unavailable</html>") else {
            Issue.record("503")
            return
        }
        guard case .apiUnavailable = map(502, "") else {
            Issue.record("502")
            return
        }
    }

    @Test func mapsTheEmulatorsNotImplementedAsInvalidRequest() {
        let error = map(500, #"{"error": {"message": "Not implemented", "type": "invalid_request_error"}}"#)
        #expect(error == .invalidRequest(message: "Not implemented", param: nil, code: nil))
        #expect(!error.isRetryable)
    }

    @Test func mapsAnythingElseAsUnexpected() {
        #expect(map(418, "I'm a teapot") == .unexpectedResponse(status: 418, detail: "no Stripe error in the body"))
        guard case .invalidRequest = map(400, "not json") else {
            Issue.record("a bare 400 is still the request's fault")
            return
        }
    }

    @Test func mapsTransportFailures() {
        #expect(StripeError.from(HTTPClientError.couldNotConnect("refused")).isRetryable)
        #expect(StripeError.from(HTTPClientError.timedOut("slow")).isRetryable)
        #expect(StripeError.from(HTTPClientError.other("reset")).isRetryable)
        guard case .unexpectedResponse = StripeError.from(HTTPClientError.tooLarge(limit: 10)) else {
            Issue.record("tooLarge")
            return
        }
    }

    @Test func removesTheSecretKeyFromMessages() {
        let secret = StripeSecret("sk_test_supersecret")
        let error = StripeError.authentication(message: "Invalid API Key provided: sk_test_supersecret").redacting(
            secret)
        #expect(error == .authentication(message: "Invalid API Key provided: <redacted>"))
    }
}
