import Foundation
import Postgres

/// An invoice or a credit note as the read model holds it.
public struct FinanceDocument: Sendable, Equatable {
    public let id: String
    /// `invoice` or `creditNote`.
    public let kind: String
    public let number: String
    public let series: String
    public let year: Int
    public let sequence: Int
    /// The invoice (itself, for an invoice; the one corrected, for a credit note).
    public let invoiceId: String
    /// For a credit note: the corrected invoice's number.
    public let correctsNumber: String?
    public let orderId: String
    public let orderNumber: String
    public let sellerId: String
    public let seller: Party
    public let buyerUserId: String
    public let buyer: Party
    public let lines: [InvoiceLine]
    public let totals: DocumentTotals
    public let currency: String
    public let reason: String?
    public let issuedAt: Date
    /// `2026-03-01`, in the seller's calendar.
    public let issueDate: String

    public var isCreditNote: Bool { kind == "creditNote" }

    init(row: Row) throws {
        let decoder = JSONDecoder()
        func json<T: Decodable>(_ column: String, as type: T.Type) throws -> T {
            try decoder.decode(T.self, from: Data(try row.decode(column, as: String.self).utf8))
        }
        id = try row.decode("id")
        kind = try row.decode("kind")
        number = try row.decode("number")
        series = try row.decode("series")
        year = try row.decode("year")
        sequence = try row.decode("sequence")
        invoiceId = try row.decode("invoice_id")
        correctsNumber = try row.decodeIfPresent("corrects_number")
        orderId = try row.decode("order_id")
        orderNumber = try row.decode("order_number")
        sellerId = try row.decode("seller_id")
        seller = try json("seller", as: Party.self)
        buyerUserId = try row.decode("buyer_user_id")
        buyer = try json("buyer", as: Party.self)
        lines = try json("lines", as: [InvoiceLine].self)
        totals = DocumentTotals(net: try row.decode("net"), tax: try row.decode("tax"), gross: try row.decode("gross"))
        currency = try row.decode("currency")
        reason = try row.decodeIfPresent("reason")
        issuedAt = try row.decode("issued_at")
        issueDate = try row.decode("issue_date")
    }
}

/// A month's totals of one currency and VAT rate: invoices less credit notes.
public struct RateTotals: Sendable, Equatable {
    public let currency: String
    public let vatRate: Int
    public var net: Int
    public var tax: Int
    public var gross: Int
}

/// Queries of the `finance_documents` read model.
public enum FinanceQueries {
    public static func find(id: String, on connection: Connection) throws -> FinanceDocument? {
        try connection.query("SELECT * FROM finance_documents WHERE id = \(id)").first.map(FinanceDocument.init)
    }

    /// A buyer's documents, newest first.
    public static func bought(by userId: String, limit: Int = 500, on connection: Connection) throws
        -> [FinanceDocument]
    {
        try connection.query(
            """
            SELECT * FROM finance_documents WHERE buyer_user_id = \(userId)
            ORDER BY issued_at DESC, id LIMIT \(limit)
            """
        ).map(FinanceDocument.init)
    }

    /// Documents of a seller (nil: of every seller) issued on the days `from` to `to`
    /// (`2026-03-01`, exclusive end), in the order of their numbers.
    public static func register(
        sellerId: String?, from: String, to: String, limit: Int = 100_000, on connection: Connection
    ) throws -> [FinanceDocument] {
        try connection.query(
            """
            SELECT * FROM finance_documents
            WHERE (\(sellerId)::text IS NULL OR seller_id = \(sellerId))
              AND issue_date >= \(from)::date AND issue_date < \(to)::date
            ORDER BY seller_id, series DESC, year, sequence LIMIT \(limit)
            """
        ).map(FinanceDocument.init)
    }

    /// A seller's (or, nil, everybody's) documents, newest first.
    public static func sold(by sellerId: String?, limit: Int = 500, on connection: Connection) throws
        -> [FinanceDocument]
    {
        try connection.query(
            """
            SELECT * FROM finance_documents WHERE (\(sellerId)::text IS NULL OR seller_id = \(sellerId))
            ORDER BY issued_at DESC, id LIMIT \(limit)
            """
        ).map(FinanceDocument.init)
    }

    /// The credit notes correcting an invoice, oldest first.
    public static func creditNotes(of invoiceId: String, on connection: Connection) throws -> [FinanceDocument] {
        try connection.query(
            """
            SELECT * FROM finance_documents WHERE invoice_id = \(invoiceId) AND kind = 'creditNote'
            ORDER BY issued_at, id
            """
        ).map(FinanceDocument.init)
    }

    /// Totals per currency and VAT rate, from the documents' lines (credit notes' negative).
    public static func totalsPerRate(_ documents: [FinanceDocument]) -> [RateTotals] {
        var totals: [String: RateTotals] = [:]
        for document in documents {
            for line in document.lines {
                let key = "\(document.currency) \(line.vatRate)"
                var sum =
                    totals[key]
                    ?? RateTotals(currency: document.currency, vatRate: line.vatRate, net: 0, tax: 0, gross: 0)
                sum.net += line.net
                sum.tax += line.tax
                sum.gross += line.gross
                totals[key] = sum
            }
        }
        return totals.values.sorted { ($0.currency, $0.vatRate) < ($1.currency, $1.vatRate) }
    }
}
