import Web

/// The Finance context's errors, as the API and the pages answer them.
extension FinanceError: HTTPErrorConvertible {
    public var http: HTTPError {
        switch self {
        case .invalid(let field, let message): .invalid(field, message)
        case .noFinancialInfo:
            HTTPError(status: 404, code: "no_financial_info", message: "You have not given your financial details yet.")
        case .financialInfoExists:
            HTTPError(
                status: 409, code: "financial_info_exists",
                message: "Your financial details were saved meanwhile; reload and change them.")
        case .unknownDocument:
            HTTPError(status: 404, code: "unknown_invoice", message: "You have no such invoice or credit note.")
        case .unknownConcert:
            HTTPError(status: 404, code: "unknown_concert", message: "You manage no such concert.")
        case .invoiceExists:
            HTTPError(status: 409, code: "invoice_exists", message: "This order has an invoice already.")
        case .invoiceNotIssued:
            HTTPError(status: 409, code: "invoice_not_issued", message: "The order has no invoice to correct.")
        case .nothingToCredit(let left):
            HTTPError(
                status: 409, code: "nothing_to_credit",
                message: "A credit note may take back at most what is left of the invoice (\(left) minor units).")
        case .pdfUnavailable(let reason):
            HTTPError(status: 503, code: "pdf_unavailable", message: "The PDF cannot be made right now. \(reason)")
                .with(header: "Retry-After", "5")
        }
    }
}

extension HTTPError {
    fileprivate func with(header name: String, _ value: String) -> HTTPError {
        var copy = self
        copy.headers[name] = value
        return copy
    }
}
