import Foundation
import Postgres
import Web

/// A calendar month, as registers are kept (`2026-03`).
public struct CalendarMonth: Sendable, Equatable {
    public let year: Int
    public let month: Int

    public init(year: Int, month: Int) {
        self.year = year
        self.month = month
    }

    /// `2026-03`; throws naming the field `month` for anything else.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2,
            parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let year = Int(parts[0]), let month = Int(parts[1]), (2000...9999).contains(year), (1...12).contains(month)
        else { throw FinanceError.invalid(field: "month", message: "A month is written like 2026-03.") }
        self.init(year: year, month: month)
    }

    /// The month a moment falls in, in a time zone.
    public static func of(_ moment: Date, in timeZone: TimeZone) -> CalendarMonth {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.year, .month], from: moment)
        return CalendarMonth(year: parts.year ?? 1970, month: parts.month ?? 1)
    }

    public var text: String { "\(year)-\(month < 10 ? "0" : "")\(month)" }
    public var firstDay: String { text + "-01" }
    public var next: CalendarMonth {
        month == 12 ? CalendarMonth(year: year + 1, month: 1) : CalendarMonth(year: year, month: month + 1)
    }
    public var previous: CalendarMonth {
        month == 1 ? CalendarMonth(year: year - 1, month: 12) : CalendarMonth(year: year, month: month - 1)
    }
}

/// A seller's (or every seller's) invoices and credit notes of a month, in the order of their
/// numbers, and their totals per currency and VAT rate: invoices less credit notes.
public struct Register: Sendable {
    public let month: CalendarMonth
    /// Nil: every seller's (an admin's view).
    public let sellerId: String?
    public let documents: [FinanceDocument]
    public let totals: [RateTotals]

    public static func load(month: CalendarMonth, sellerId: String?, on connection: Connection) throws -> Register {
        let documents = try FinanceQueries.register(
            sellerId: sellerId, from: month.firstDay, to: month.next.firstDay, on: connection)
        return Register(
            month: month, sellerId: sellerId, documents: documents, totals: FinanceQueries.totalsPerRate(documents))
    }

    /// The register as CSV (RFC 4180, comma-separated, CRLF): one row per document and VAT
    /// rate, amounts in major units with a dot (`-450.00` for a credit note's). Text that a
    /// spreadsheet would take for a formula (starting with `=`, `+`, `-`, `@`) gets a leading `'`.
    public var csv: String {
        var rows = [
            [
                "number", "kind", "issue_date", "corrects", "order", "seller_id", "buyer", "buyer_tax_id", "currency",
                "vat_rate", "net", "tax", "gross",
            ]
        ]
        for document in documents {
            for rate in FinanceQueries.totalsPerRate([document]) {
                rows.append(
                    [
                        document.number, document.kind, document.issueDate, document.correctsNumber ?? "",
                        document.orderNumber, document.sellerId, document.buyer.legalName, document.buyer.taxId ?? "",
                        rate.currency, "\(VAT.percent(rate.vatRate))",
                        MoneyText.majorUnits(rate.net, alwaysCents: true),
                        MoneyText.majorUnits(rate.tax, alwaysCents: true),
                        MoneyText.majorUnits(rate.gross, alwaysCents: true),
                    ])
            }
        }
        return rows.map { $0.map(Self.cell).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    static func cell(_ value: String) -> String {
        var text = value
        if let first = text.first, "=+-@".contains(first), Double(text) == nil { text = "'" + text }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
