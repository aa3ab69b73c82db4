import Foundation
import Sodium
import Web

/// An invoice or a credit note as a printable page (`/invoices/{id}`) and as the PDF's source:
/// one template (`invoice_document`), standalone, with its stylesheet inline so that the
/// same HTML prints from a browser and renders to PDF from a file. The page's own
/// Content-Security-Policy allows exactly that stylesheet (by its hash) and nothing else.
struct DocumentPage: Encodable {
    struct PartyView: Encodable {
        let legalName: String
        let lines: [String]
        let taxId: String?
        let email: String?

        init(_ party: Party) {
            legalName = party.legalName
            lines = party.address?.lines ?? []
            taxId = party.taxId
            email = party.email
        }
    }
    struct Line: Encodable {
        let position: Int
        let description: String
        let quantity: Int
        let unitNet: String
        let unitGross: String
        let vatRate: String
        let net: String
        let tax: String
        let gross: String
    }
    struct Rate: Encodable {
        let vatRate: String
        let net: String
        let tax: String
        let gross: String
    }
    struct Reference: Encodable {
        let id: String
        let number: String
    }

    let title: String
    let style: String
    let kindLabel: String
    let isCreditNote: Bool
    let id: String
    let number: String
    let issueDate: String
    let orderNumber: String
    let currency: String
    let seller: PartyView
    let buyer: PartyView
    let lines: [Line]
    let rates: [Rate]
    let net: String
    let tax: String
    let gross: String
    let corrects: Reference?
    let reason: String?
    let creditNotes: [Reference]
    /// On the page only (see `init`).
    let hasCreditNotes: Bool
    /// Links back to the site and to the PDF: on the page, not in the PDF.
    let onScreen: Bool

    init(_ document: FinanceDocument, creditNotes: [FinanceDocument], forPDF: Bool) throws {
        let currency = document.currency
        func money(_ amount: Int) -> String { MoneyText.majorUnits(amount, alwaysCents: true) }
        kindLabel = document.isCreditNote ? "Credit note" : "Invoice"
        title = "\(kindLabel) \(document.number)"
        style = try DocumentStyle.shared.get().css
        isCreditNote = document.isCreditNote
        id = document.id
        number = document.number
        issueDate = document.issueDate
        orderNumber = document.orderNumber
        self.currency = currency
        seller = PartyView(document.seller)
        buyer = PartyView(document.buyer)
        lines = document.lines.enumerated().map { index, line in
            Line(
                position: index + 1, description: line.description, quantity: line.quantity,
                unitNet: money(line.unitNet), unitGross: money(line.unitGross), vatRate: VAT.percentText(line.vatRate),
                net: money(line.net), tax: money(line.tax), gross: money(line.gross))
        }
        rates = FinanceQueries.totalsPerRate([document]).map {
            Rate(vatRate: VAT.percentText($0.vatRate), net: money($0.net), tax: money($0.tax), gross: money($0.gross))
        }
        net = MoneyText.display(document.totals.net, currency)
        tax = MoneyText.display(document.totals.tax, currency)
        gross = MoneyText.display(document.totals.gross, currency)
        corrects = document.correctsNumber.map { Reference(id: document.invoiceId, number: $0) }
        reason = document.reason.map(Self.reasonText)
        self.creditNotes = creditNotes.map { Reference(id: $0.id, number: $0.number) }
        // The PDF is the invoice as issued and is kept for good: its corrections are listed on
        // the page only.
        hasCreditNotes = !creditNotes.isEmpty && !forPDF
        onScreen = !forPDF
    }

    /// Why money went back, as the document says it.
    static func reasonText(_ code: String) -> String {
        switch code {
        case "requested_by_organiser": "Refund by the organiser"
        case "concert_cancelled": "The concert was cancelled"
        case "tickets_gone": "The tickets could not be had"
        case "gateway": "Refund at the payment gateway"
        default: code
        }
    }

    struct Shell: Encodable {
        let page: DocumentPage
    }

    func render(_ templates: Templates) throws -> String {
        try templates.render("invoice_document", Shell(page: self))
    }

    /// The page's response: the HTML with a policy that allows its own stylesheet only.
    func response(_ templates: Templates) throws -> HTTPResponse {
        let style = try DocumentStyle.shared.get()
        return HTTPResponse.html(try render(templates)).with(
            header: "Content-Security-Policy",
            "default-src 'none'; style-src '\(style.hash)'; img-src 'self' data:; base-uri 'none'; "
                + "form-action 'none'; frame-ancestors 'none'")
    }
}

/// The documents' stylesheet (`Resources/Templates/invoice_document.css`, screen and print),
/// read once, with its CSP hash.
struct DocumentStyle: Sendable {
    let css: String
    /// `sha256-<base64>` of the exact text inside the page's `<style>` element.
    let hash: String

    /// Read at first use; a missing file is an error for every document page, never hidden.
    static let shared: Result<DocumentStyle, any Error> = Result {
        guard
            let url = Bundle.module.url(
                forResource: "invoice_document", withExtension: "css", subdirectory: "Templates")
        else { throw MissingStylesheet() }
        let css = try String(contentsOf: url, encoding: .utf8)
        return DocumentStyle(
            css: css, hash: "sha256-" + Data(Digest.sha256(Array(css.utf8))).base64EncodedString())
    }
}

/// The module was built without its stylesheet: a packaging mistake, answered with a logged 500.
struct MissingStylesheet: Error {}
