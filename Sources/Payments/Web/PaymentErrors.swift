import Web

/// The Payments context's errors, as the API answers them.
extension PaymentError: HTTPErrorConvertible {
    public var http: HTTPError {
        switch self {
        case .notFound: HTTPError(status: 404, code: "unknown_payment", message: "There is no such payment.")
        case .alreadyExists: HTTPError(status: 409, code: "payment_exists", message: "This payment exists already.")
        case .invalid(let field, let message): .invalid(field, message)
        case .unknownIntent:
            HTTPError(
                status: 409, code: "unknown_intent", message: "The gateway spoke of a payment that is not this one.")
        case .notPayable(let status):
            HTTPError(
                status: 409, code: status == .failed ? "payment_failed" : "payment_closed",
                message: status == .failed
                    ? "This payment was given up: the tickets' hold ended. Nothing was charged."
                    : "This payment is \(status.rawValue) and takes no card now.")
        case .notRefundable(let left):
            HTTPError(
                status: 409, code: "not_refundable",
                message: left == 0 ? "Nothing of this payment is left to refund." : "At most \(left) is left to refund."
            )
        }
    }
}

extension GatewayFailure: HTTPErrorConvertible {
    public var http: HTTPError {
        switch self {
        case .unavailable:
            var error = HTTPError(
                status: 503, code: "payment_gateway_unavailable",
                message: "The payment service does not answer right now. Nothing was charged twice; try again shortly.")
            error.headers["Retry-After"] = "5"
            return error
        case .refused:
            return HTTPError(
                status: 502, code: "payment_gateway_refused",
                message: "The payment service refused the request. It has been logged; try again or contact us.")
        }
    }
}
