import EventStore
import Foundation
import Testing

@testable import Finance

/// A small, seeded generator (SplitMix64), so a failing cart can be found again from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The money arithmetic of invoices, as properties over many random carts: every line's net
/// and tax add up to its gross, the totals are the sums of the lines, the rounding is half up,
/// and credit notes, however a refund is split, never take back more than was billed and take
/// back exactly all of it in the end.
@Suite struct MoneyArithmeticTests {
    static let rates = [0, 500, 550, 800, 2_300, 10_000]

    func randomCart(_ random: inout SeededGenerator) -> [InvoiceItem] {
        (0..<Int.random(in: 1...6, using: &random)).map { index in
            let price =
                Bool.random(using: &random)
                ? Int.random(in: 0...100_000_000, using: &random) : Int.random(in: 0...20_000, using: &random)
            return InvoiceItem(
                description: "Level \(index)", quantity: Int.random(in: 1...1_000, using: &random), unitGross: price,
                vatRate: Self.rates.randomElement(using: &random)!)
        }
    }

    @Test func linesAndTotalsAddUpForManyRandomCarts() {
        var random = SeededGenerator(seed: 2026)
        for _ in 0..<20_000 {
            let items = randomCart(&random)
            let lines = items.map(VAT.line)
            let totals = VAT.totals(lines)
            for (item, line) in zip(items, lines) {
                #expect(line.net + line.tax == line.gross)
                #expect(line.gross == item.quantity * item.unitGross)
                #expect(line.tax >= 0 && line.tax <= line.gross)
                // Half up: the tax is within half a minor unit of the exact value.
                let exact = Decimal(line.gross) * Decimal(item.vatRate) / Decimal(10_000 + item.vatRate)
                #expect(abs(Decimal(line.tax) - exact) <= Decimal(string: "0.5")!)
            }
            #expect(totals.net + totals.tax == totals.gross)
            #expect(totals.gross == lines.reduce(0) { $0 + $1.gross })
            #expect(totals.tax == lines.reduce(0) { $0 + $1.tax })
        }
    }

    @Test func theRoundingRuleOnKnownValues() {
        #expect(VAT.tax(ofGross: 108, rate: 800) == 8)
        #expect(VAT.tax(ofGross: 54, rate: 800) == 4)  // 4.0
        #expect(VAT.tax(ofGross: 81, rate: 800) == 6)  // 6.0
        #expect(VAT.tax(ofGross: 27, rate: 800) == 2)  // exactly 2.0
        #expect(VAT.tax(ofGross: 123, rate: 2_300) == 23)  // 23.0
        #expect(VAT.tax(ofGross: 6, rate: 2_300) == 1)  // 1.12 -> 1
        #expect(VAT.tax(ofGross: 1, rate: 10_000) == 1)  // 0.5 -> half up
        #expect(VAT.tax(ofGross: 3, rate: 10_000) == 2)  // 1.5 -> 2
        #expect(VAT.tax(ofGross: 0, rate: 800) == 0)
        #expect(VAT.tax(ofGross: 1_000, rate: 0) == 0)
    }

    @Test func allocationsAddUpAndStayWithinTheirParts() {
        var random = SeededGenerator(seed: 7)
        for _ in 0..<10_000 {
            let parts = (0..<Int.random(in: 1...6, using: &random)).map { _ in
                Int.random(in: 0...100_000_000_000, using: &random)
            }
            let whole = parts.reduce(0, +)
            let amount = Int.random(in: 0...whole, using: &random)
            let shares = VAT.allocate(amount, over: parts)
            #expect(shares.reduce(0, +) == amount)
            #expect(zip(shares, parts).allSatisfy { $0 >= 0 && $0 <= $1 })
        }
    }

    @Test func creditNotesOfRandomRefundsNeverExceedTheInvoiceAndEndAtZero() throws {
        var random = SeededGenerator(seed: 42)
        for round in 0..<2_000 {
            let items = randomCart(&random).filter { $0.quantity * $0.unitGross <= 1_000_000_000 }
            guard !items.isEmpty else { continue }
            let lines = items.map(VAT.line)
            var events: [Invoice.Event] = [
                .issued(
                    InvoiceIssued(
                        invoiceId: "inv-\(round)", orderId: "\(round)", orderNumber: "EN-1", concertId: "c",
                        number: DocumentNumber(series: "EN", year: 2030, sequence: 1), sellerId: "s",
                        seller: Party(userId: "s", legalName: "S", address: nil, taxId: nil, email: nil),
                        buyerUserId: "b",
                        buyer: Party(userId: "b", legalName: "B", address: nil, taxId: nil, email: nil),
                        lines: lines, totals: VAT.totals(lines), currency: "PLN", issuedAt: Date(),
                        issueDate: "2030-01-01"))
            ]
            var refund = 0
            while Invoice.fold(events).leftToCredit > 0, refund < 5 {
                let left = Invoice.fold(events).leftToCredit
                let amount = refund == 4 ? left : Int.random(in: 1...left, using: &random)
                refund += 1
                let credit = IssueCreditNote(
                    creditNoteId: "cn-\(refund)", number: DocumentNumber(series: "CN", year: 2030, sequence: refund),
                    refundId: "re_\(refund)", amount: amount, reason: "r", now: Date(), issueDate: "2030-01-02")
                let decided = try Invoice.decide(.issueCreditNote(credit), Invoice.fold(events))
                guard case .creditNoteIssued(let note)? = decided.first else {
                    Issue.record("no credit note")
                    return
                }
                #expect(note.totals.gross == -amount)
                #expect(note.totals.net + note.totals.tax == note.totals.gross)
                #expect(note.lines.allSatisfy { $0.net + $0.tax == $0.gross && $0.gross < 0 && $0.tax <= 0 })
                events += decided
            }
            let state = Invoice.fold(events)
            if state.leftToCredit == 0 {
                for (line, credited) in zip(state.lines, state.credited) {
                    #expect(credited == DocumentTotals(net: line.net, tax: line.tax, gross: line.gross))
                }
            }
        }
    }

    @Test func numbersAreWrittenWithTheirSeriesAndYear() {
        #expect(DocumentNumber(series: "EN", year: 2026, sequence: 123).text == "EN/2026/000123")
        #expect(DocumentNumber(series: "CN", year: 2026, sequence: 1_234_567).text == "CN/2026/1234567")
    }
}
