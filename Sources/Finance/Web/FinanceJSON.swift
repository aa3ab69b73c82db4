import Foundation

/// Financial details in and out of the API.
struct FinancialInfoJSON: Encodable {
    struct Address: Codable {
        let line1: String?
        let line2: String?
        let postalCode: String?
        let city: String?
        let country: String?
    }
    let legalName: String
    let address: Address
    let taxId: String?
    let updatedAt: Date?

    init(_ details: FinancialDetails, updatedAt: Date?) {
        legalName = details.legalName
        address = Address(
            line1: details.address.line1, line2: details.address.line2, postalCode: details.address.postalCode,
            city: details.address.city, country: details.address.country)
        taxId = details.taxId
        self.updatedAt = updatedAt
    }
}

/// What `PUT /api/me/financial-info` takes. Every field is optional here so that a missing one
/// is answered like an empty one, 422 `invalid_field` naming it (`address.country`).
struct FinancialInfoInput: Decodable {
    let legalName: String?
    let address: FinancialInfoJSON.Address?
    let taxId: String?

    func details() throws -> FinancialDetails {
        let address =
            address ?? FinancialInfoJSON.Address(line1: nil, line2: nil, postalCode: nil, city: nil, country: nil)
        return try FinancialDetails(
            legalName: legalName ?? "", line1: address.line1 ?? "", line2: address.line2,
            postalCode: address.postalCode ?? "", city: address.city ?? "", country: address.country ?? "",
            taxId: taxId)
    }
}

/// An invoice or a credit note as the API shows it (API.md, "Finance").
struct DocumentJSON: Encodable {
    struct PartyJSON: Encodable {
        let legalName: String
        let address: FinancialInfoJSON.Address?
        let taxId: String?
        let email: String?

        init(_ party: Party) {
            legalName = party.legalName
            address = party.address.map {
                .init(line1: $0.line1, line2: $0.line2, postalCode: $0.postalCode, city: $0.city, country: $0.country)
            }
            taxId = party.taxId
            email = party.email
        }
    }
    struct Line: Encodable {
        let description: String
        let quantity: Int
        let unitNet: Int
        let unitGross: Int
        /// Percent: 8, 23, 5.5.
        let vatRate: Decimal
        let net: Int
        let tax: Int
        let gross: Int
    }
    struct Reference: Encodable {
        let id: String
        let number: String
    }

    let id: String
    let number: String
    let kind: String
    let issueDate: String
    let issuedAt: Date
    let orderId: String
    let orderNumber: String
    let seller: PartyJSON
    let buyer: PartyJSON
    let lines: [Line]
    let totals: DocumentTotalsJSON
    let currency: String
    let corrects: Reference?
    let creditNotes: [Reference]?
    let reason: String?
    let pdf: String

    init(_ document: FinanceDocument, creditNotes: [FinanceDocument]? = nil) {
        id = document.id
        number = document.number
        kind = document.kind
        issueDate = document.issueDate
        issuedAt = document.issuedAt
        orderId = document.orderId
        orderNumber = document.orderNumber
        seller = PartyJSON(document.seller)
        buyer = PartyJSON(document.buyer)
        lines = document.lines.map {
            Line(
                description: $0.description, quantity: $0.quantity, unitNet: $0.unitNet, unitGross: $0.unitGross,
                vatRate: VAT.percent($0.vatRate), net: $0.net, tax: $0.tax, gross: $0.gross)
        }
        totals = DocumentTotalsJSON(document.totals)
        currency = document.currency
        corrects = document.correctsNumber.map { Reference(id: document.invoiceId, number: $0) }
        self.creditNotes = creditNotes.map { $0.map { Reference(id: $0.id, number: $0.number) } }
        reason = document.reason
        pdf = "/api/invoices/\(document.id).pdf"
    }
}

struct DocumentTotalsJSON: Encodable {
    let net: Int
    let tax: Int
    let gross: Int

    init(_ totals: DocumentTotals) {
        net = totals.net
        tax = totals.tax
        gross = totals.gross
    }
}

/// A month's register as the API shows it.
struct RegisterJSON: Encodable {
    struct Entry: Encodable {
        let id: String
        let number: String
        let kind: String
        let issueDate: String
        let corrects: String?
        let orderNumber: String
        let sellerId: String
        let buyer: String
        let buyerTaxId: String?
        let currency: String
        let net: Int
        let tax: Int
        let gross: Int
    }
    struct RateJSON: Encodable {
        let currency: String
        let vatRate: Decimal
        let net: Int
        let tax: Int
        let gross: Int
    }
    let month: String
    let sellerId: String?
    let invoices: Int
    let creditNotes: Int
    let documents: [Entry]
    let totals: [RateJSON]

    init(_ register: Register) {
        month = register.month.text
        sellerId = register.sellerId
        invoices = register.documents.filter { !$0.isCreditNote }.count
        creditNotes = register.documents.filter(\.isCreditNote).count
        documents = register.documents.map {
            Entry(
                id: $0.id, number: $0.number, kind: $0.kind, issueDate: $0.issueDate, corrects: $0.correctsNumber,
                orderNumber: $0.orderNumber, sellerId: $0.sellerId, buyer: $0.buyer.legalName,
                buyerTaxId: $0.buyer.taxId, currency: $0.currency, net: $0.totals.net, tax: $0.totals.tax,
                gross: $0.totals.gross)
        }
        totals = register.totals.map {
            RateJSON(currency: $0.currency, vatRate: VAT.percent($0.vatRate), net: $0.net, tax: $0.tax, gross: $0.gross)
        }
    }
}
