import Foundation

/// One thing sold, as an invoice is asked to bill it: Encore's prices are gross (what the
/// customer pays, VAT included).
public struct InvoiceItem: Sendable, Equatable, Codable {
    public let description: String
    public let quantity: Int
    /// The price of one, VAT included, in minor units.
    public let unitGross: Int
    /// In basis points: 800 is 8%.
    public let vatRate: Int

    public init(description: String, quantity: Int, unitGross: Int, vatRate: Int) {
        self.description = description
        self.quantity = quantity
        self.unitGross = unitGross
        self.vatRate = vatRate
    }
}

/// A line of an invoice or a credit note, in minor units. On a credit note the quantity and
/// the amounts are negative (what is taken back) and the unit prices positive.
public struct InvoiceLine: Sendable, Equatable, Codable {
    public let description: String
    public let quantity: Int
    public let unitGross: Int
    /// The unit price without VAT, for show: `unitGross` less its own VAT, by the same rule.
    /// The line's `net` is worked out from the line's gross, not from this.
    public let unitNet: Int
    /// In basis points: 800 is 8%.
    public let vatRate: Int
    public let net: Int
    public let tax: Int
    public let gross: Int
    /// On a credit note: the invoice line it corrects (its index); nil on an invoice.
    public let invoiceLine: Int?
}

/// The sums of a document's lines.
public struct DocumentTotals: Sendable, Equatable, Codable {
    public var net: Int
    public var tax: Int
    public var gross: Int

    public init(net: Int, tax: Int, gross: Int) {
        self.net = net
        self.tax = tax
        self.gross = gross
    }

    public static let zero = DocumentTotals(net: 0, tax: 0, gross: 0)
}

/// VAT worked out from gross prices, in integer minor units. The rule, everywhere:
///
/// - a line's gross is quantity × unit gross (exact);
/// - its tax is gross × rate / (100% + rate), rounded half up to a minor unit
///   (`tax = (2·gross·r + (10000 + r)) div (2·(10000 + r))` with r in basis points);
/// - its net is gross − tax, so net + tax = gross on every line, exactly;
/// - a document's totals are the sums of its lines (net + tax = gross again), never worked
///   out again from the total, so what the lines say adds up to what the document says;
/// - the register's totals per VAT rate are sums of lines too.
///
/// Polish VAT allows tax worked out per line from gross amounts; the cost is that an invoice
/// of several lines may differ by a grosz from the tax of its total worked out at once.
public enum VAT {
    /// Poland's reduced rate for admission to concerts, 8%, for concerts whose organiser set none.
    public static let defaultRate = 800
    /// 100%: no rate is above it.
    public static let maxRate = 10_000

    /// The VAT contained in a gross amount (≥ 0) at `rate` basis points, rounded half up.
    public static func tax(ofGross gross: Int, rate: Int) -> Int {
        precondition(gross >= 0 && gross <= 1_000_000_000_000 && (0...maxRate).contains(rate), "bounded by the decider")
        let denominator = 10_000 + rate
        return (2 * gross * rate + denominator) / (2 * denominator)
    }

    /// An invoice's line for an item.
    public static func line(_ item: InvoiceItem) -> InvoiceLine {
        let gross = item.quantity * item.unitGross
        let tax = tax(ofGross: gross, rate: item.vatRate)
        return InvoiceLine(
            description: item.description, quantity: item.quantity, unitGross: item.unitGross,
            unitNet: item.unitGross - Self.tax(ofGross: item.unitGross, rate: item.vatRate), vatRate: item.vatRate,
            net: gross - tax, tax: tax, gross: gross, invoiceLine: nil)
    }

    /// The sums of the lines.
    public static func totals(_ lines: [InvoiceLine]) -> DocumentTotals {
        lines.reduce(into: .zero) {
            $0.net += $1.net
            $0.tax += $1.tax
            $0.gross += $1.gross
        }
    }

    /// `amount` split over parts in proportion to their sizes (all ≥ 0, `amount` at most their
    /// sum): each gets its share rounded down, and the units left over go one each to the
    /// parts with the largest remainders (the earlier part on a tie). The shares add up to
    /// `amount` and none exceeds its part.
    public static func allocate(_ amount: Int, over parts: [Int]) -> [Int] {
        let whole = parts.reduce(0, +)
        precondition(amount >= 0 && amount <= whole && parts.allSatisfy { $0 >= 0 })
        guard whole > 0 else { return parts.map { _ in 0 } }
        // amount × part can pass Int.max for large amounts: multiply into 128 bits.
        let divided = parts.map { part -> (share: Int, remainder: Int) in
            let product = amount.multipliedFullWidth(by: part)
            let (share, remainder) = whole.dividingFullWidth((product.high, product.low))
            return (share, remainder)
        }
        var shares = divided.map(\.share)
        let left = amount - shares.reduce(0, +)
        let order = divided.indices.sorted { (divided[$0].remainder, -$0) > (divided[$1].remainder, -$1) }
        for index in order.prefix(left) { shares[index] += 1 }
        return shares
    }

    /// A rate for people: 800 -> 8, 550 -> 5.5.
    public static func percent(_ rate: Int) -> Decimal { Decimal(rate) / 100 }

    /// "8%", "5.5%".
    public static func percentText(_ rate: Int) -> String {
        rate % 100 == 0 ? "\(rate / 100)%" : "\(percent(rate))%"
    }
}
