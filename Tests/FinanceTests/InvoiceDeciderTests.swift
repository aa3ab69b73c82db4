import EventStore
import Foundation
import Testing

@testable import Finance

/// The invoice decider, given events / when a command / then events or an error: issued once
/// per order, never edited; corrected only by credit notes, never beyond what it billed.
@Suite struct InvoiceDeciderTests {
    typealias Spec = DeciderSpec<Invoice>
    static let now = Date(timeIntervalSince1970: 1_900_000_000)
    static let seller = Party(
        userId: "org", legalName: "Live Nation Polska sp. z o.o.", address: nil, taxId: "PL1234563218", email: nil)
    static let buyer = Party(userId: "ann", legalName: "Ann", address: nil, taxId: nil, email: "ann@example.com")
    static let items = [
        InvoiceItem(description: "Beyoncé: Golden circle", quantity: 2, unitGross: 89_900, vatRate: 800),
        InvoiceItem(description: "Beyoncé: Regular", quantity: 1, unitGross: 45_000, vatRate: 800),
    ]
    static let number = DocumentNumber(series: "EN", year: 2030, sequence: 7)

    static func issue(items: [InvoiceItem] = items, currency: String = "PLN") -> Invoice.Command {
        .issue(
            IssueInvoice(
                invoiceId: "inv-o1", orderId: "o1", orderNumber: "EN-00001001", concertId: "beyonce", number: number,
                sellerId: "org", seller: seller, buyerUserId: "ann", buyer: buyer, items: items, currency: currency,
                now: now, issueDate: "2030-03-17"))
    }

    static var issued: Invoice.Event {
        let lines = items.map(VAT.line)
        return .issued(
            InvoiceIssued(
                invoiceId: "inv-o1", orderId: "o1", orderNumber: "EN-00001001", concertId: "beyonce", number: number,
                sellerId: "org", seller: seller, buyerUserId: "ann", buyer: buyer, lines: lines,
                totals: VAT.totals(lines), currency: "PLN", issuedAt: now, issueDate: "2030-03-17"))
    }

    static func credit(_ refund: String, amount: Int?, sequence: Int = 1) -> Invoice.Command {
        .issueCreditNote(
            IssueCreditNote(
                creditNoteId: "cn-o1-\(sequence)", number: DocumentNumber(series: "CN", year: 2030, sequence: sequence),
                refundId: refund, amount: amount, reason: "requested_by_organiser", now: now, issueDate: "2030-03-18"))
    }

    @Test func issuingBillsEachLevelWithItsVATWorkedOutFromTheGross() throws {
        let state = try Spec.given([]).when(Self.issue()).thenState()
        #expect(state.number?.text == "EN/2030/000007")
        #expect(
            state.lines[0]
                == InvoiceLine(
                    description: "Beyoncé: Golden circle", quantity: 2, unitGross: 89_900, unitNet: 83_241,
                    vatRate: 800, net: 166_481, tax: 13_319, gross: 179_800, invoiceLine: nil))
        #expect(state.totals == DocumentTotals(net: 208_148, tax: 16_652, gross: 224_800))
        try Spec.given([]).when(Self.issue()).then([Self.issued])
    }

    @Test func anInvoiceIsIssuedOnceAndNeverChanged() throws {
        try Spec.given([Self.issued]).when(Self.issue()).then([])  // the same order again
        let another = IssueInvoice(
            invoiceId: "inv-o1", orderId: "o2", orderNumber: "EN-2", concertId: "c", number: Self.number,
            sellerId: "org", seller: Self.seller, buyerUserId: "bob", buyer: Self.buyer, items: Self.items,
            currency: "PLN", now: Self.now, issueDate: "2030-03-17")
        try Spec.given([Self.issued]).when(.issue(another)).thenThrows(FinanceError.invoiceExists)
    }

    @Test func linesOutOfRangeAreRefused() throws {
        let bad: [[InvoiceItem]] = [
            [],
            [InvoiceItem(description: "x", quantity: 0, unitGross: 1, vatRate: 800)],
            [InvoiceItem(description: "x", quantity: 1, unitGross: -1, vatRate: 800)],
            [InvoiceItem(description: "x", quantity: 1, unitGross: 1, vatRate: 10_001)],
            [InvoiceItem(description: "x", quantity: Int.max, unitGross: Int.max, vatRate: 800)],
        ]
        for items in bad {
            try Spec.given([]).when(Self.issue(items: items)).thenThrows(where: { $0 is FinanceError })
        }
        try Spec.given([]).when(Self.issue(currency: "zł")).thenThrows(where: { $0 is FinanceError })
    }

    @Test func aFullRefundCreditsEveryLineExactly() throws {
        let state = try Spec.given([Self.issued]).when(Self.credit("re_1", amount: 224_800)).thenState()
        #expect(state.leftToCredit == 0)
        guard
            case .creditNoteIssued(let note)? = try Invoice.decide(
                Self.credit("re_1", amount: nil), Invoice.fold([Self.issued])
            ).first
        else {
            Issue.record("no credit note")
            return
        }
        #expect(note.totals == DocumentTotals(net: -208_148, tax: -16_652, gross: -224_800))
        #expect(note.lines.map(\.quantity) == [-2, -1])
        #expect(note.invoiceNumber.text == "EN/2030/000007" && note.number.text == "CN/2030/000001")
    }

    @Test func aRefundIsCreditedOnceAndNeverBeyondTheInvoice() throws {
        let first = try Invoice.decide(Self.credit("re_1", amount: 100_000), Invoice.fold([Self.issued]))
        let after = Invoice.fold([Self.issued] + first)
        #expect(after.leftToCredit == 124_800)
        try Spec.given([Self.issued] + first).when(Self.credit("re_1", amount: 100_000)).then([])
        try Spec.given([Self.issued] + first).when(Self.credit("re_2", amount: 124_801, sequence: 2))
            .thenThrows(FinanceError.nothingToCredit(left: 124_800))
        try Spec.given([]).when(Self.credit("re_1", amount: 1)).thenThrows(FinanceError.invoiceNotIssued)
        try Spec.given([Self.issued]).when(Self.credit("re_1", amount: 0)).thenThrows(
            FinanceError.nothingToCredit(left: 224_800))
    }

    @Test func partialCreditsThatAddUpToTheInvoiceNetItToZeroOnEveryLine() throws {
        var events = [Self.issued]
        for (index, amount) in [33_333, 77_777, 1, 113_689].enumerated() {
            events += try Invoice.decide(
                Self.credit("re_\(index)", amount: amount, sequence: index + 1), Invoice.fold(events))
        }
        let state = Invoice.fold(events)
        #expect(state.leftToCredit == 0)
        for (line, credited) in zip(state.lines, state.credited) {
            #expect(credited.gross == line.gross && credited.tax == line.tax && credited.net == line.net)
        }
    }
}
