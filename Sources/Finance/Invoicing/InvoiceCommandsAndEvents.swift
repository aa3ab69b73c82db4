import EventStore
import Foundation

// MARK: Issuing

/// An order is paid and completed: its invoice is issued, with its number taken already (see
/// `DocumentNumbers`) and both parties' details as they are now.
public struct IssueInvoice: Sendable, Equatable {
    public let invoiceId: String
    public let orderId: String
    public let orderNumber: String
    public let concertId: String
    public let number: DocumentNumber
    public let sellerId: String
    public let seller: Party
    public let buyerUserId: String
    public let buyer: Party
    public let items: [InvoiceItem]
    public let currency: String
    public let now: Date
    /// The date of issue as the seller's calendar has it (`2026-03-01`).
    public let issueDate: String

    public init(
        invoiceId: String, orderId: String, orderNumber: String, concertId: String, number: DocumentNumber,
        sellerId: String, seller: Party, buyerUserId: String, buyer: Party, items: [InvoiceItem], currency: String,
        now: Date, issueDate: String
    ) {
        self.invoiceId = invoiceId
        self.orderId = orderId
        self.orderNumber = orderNumber
        self.concertId = concertId
        self.number = number
        self.sellerId = sellerId
        self.seller = seller
        self.buyerUserId = buyerUserId
        self.buyer = buyer
        self.items = items
        self.currency = currency
        self.now = now
        self.issueDate = issueDate
    }
}

public struct InvoiceIssued: EventPayload, Equatable {
    public static let eventType = "InvoiceIssued"
    public let invoiceId: String
    public let orderId: String
    public let orderNumber: String
    public let concertId: String
    public let number: DocumentNumber
    public let sellerId: String
    public let seller: Party
    public let buyerUserId: String
    public let buyer: Party
    public let lines: [InvoiceLine]
    public let totals: DocumentTotals
    public let currency: String
    public let issuedAt: Date
    public let issueDate: String
}

enum Issuing {
    /// The most lines (ticket levels) an invoice has, tickets a line has, and a ticket's price.
    static let maxLines = 100
    static let maxQuantity = 1_000
    static let maxUnitGross = 100_000_000

    static func decide(_ command: IssueInvoice, _ state: Invoice.State) throws -> [Invoice.Event] {
        guard !state.isIssued else {
            guard state.orderId == command.orderId else { throw FinanceError.invoiceExists }
            return []  // the same order again: its invoice is there
        }
        guard (1...maxLines).contains(command.items.count) else {
            throw FinanceError.invalid(field: "items", message: "An invoice has 1 to \(maxLines) lines.")
        }
        for (index, item) in command.items.enumerated() {
            guard (1...maxQuantity).contains(item.quantity), (0...maxUnitGross).contains(item.unitGross),
                (0...VAT.maxRate).contains(item.vatRate), !item.description.isEmpty, item.description.count <= 300
            else {
                throw FinanceError.invalid(
                    field: "items[\(index)]", message: "A line's quantity, price or rate is out of range.")
            }
        }
        guard command.currency.count == 3, command.currency.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            throw FinanceError.invalid(field: "currency", message: "The currency is an ISO 4217 code, like PLN.")
        }
        let lines = command.items.map(VAT.line)  // each at most 1e11: the sum fits
        return [
            .issued(
                InvoiceIssued(
                    invoiceId: command.invoiceId, orderId: command.orderId, orderNumber: command.orderNumber,
                    concertId: command.concertId, number: command.number, sellerId: command.sellerId,
                    seller: command.seller, buyerUserId: command.buyerUserId, buyer: command.buyer, lines: lines,
                    totals: VAT.totals(lines), currency: command.currency, issuedAt: command.now,
                    issueDate: command.issueDate))
        ]
    }
}

// MARK: Crediting

/// Money went back to the buyer (`refundId`, the gateway's refund): a credit note takes back
/// `amount` of the invoice's gross (nil: all that is left), with its number taken already.
public struct IssueCreditNote: Sendable, Equatable {
    public let creditNoteId: String
    public let number: DocumentNumber
    public let refundId: String
    public let amount: Int?
    public let reason: String
    public let now: Date
    public let issueDate: String

    public init(
        creditNoteId: String, number: DocumentNumber, refundId: String, amount: Int?, reason: String, now: Date,
        issueDate: String
    ) {
        self.creditNoteId = creditNoteId
        self.number = number
        self.refundId = refundId
        self.amount = amount
        self.reason = reason
        self.now = now
        self.issueDate = issueDate
    }
}

public struct CreditNoteIssued: EventPayload, Equatable {
    public static let eventType = "CreditNoteIssued"
    public let creditNoteId: String
    public let invoiceId: String
    public let invoiceNumber: DocumentNumber
    public let orderId: String
    public let orderNumber: String
    public let number: DocumentNumber
    public let sellerId: String
    public let seller: Party
    public let buyerUserId: String
    public let buyer: Party
    /// Negative: what is taken back, line by line (`invoiceLine` names the invoice's line).
    public let lines: [InvoiceLine]
    public let totals: DocumentTotals
    public let currency: String
    public let refundId: String
    public let reason: String
    public let issuedAt: Date
    public let issueDate: String
}

enum Crediting {
    /// Whether the command would issue a credit note (before a number is taken for it).
    static func wouldIssue(refundId: String, _ state: Invoice.State) -> Bool {
        state.isIssued && !state.refunds.contains(refundId) && state.leftToCredit > 0
    }

    /// The amount goes over the lines in proportion to what is left of each (all of what is
    /// left when it is the whole rest). A credit line's tax is the invoice's rule applied to
    /// all that the line has had credited, this credit included, less the tax credited before:
    /// the credited taxes add up to the tax of the credited gross, so a line credited in full,
    /// in one credit note or in many, nets to exactly zero; and each step's tax is between 0
    /// and its gross, since the rule never rises faster than the gross.
    static func decide(_ command: IssueCreditNote, _ state: Invoice.State) throws -> [Invoice.Event] {
        guard state.isIssued, let id = state.id, let number = state.number, let seller = state.seller,
            let buyer = state.buyer, let buyerUserId = state.buyerUserId
        else { throw FinanceError.invoiceNotIssued }
        if state.refunds.contains(command.refundId) { return [] }  // this refund is credited already
        let left = state.leftToCredit
        let amount = command.amount ?? left
        guard left > 0, amount > 0, amount <= left else { throw FinanceError.nothingToCredit(left: left) }
        let remaining = zip(state.lines, state.credited).map { $0.gross - $1.gross }
        let shares = amount == left ? remaining : VAT.allocate(amount, over: remaining)
        var lines: [InvoiceLine] = []
        for (index, share) in shares.enumerated() where share > 0 {
            let line = state.lines[index]
            let before = state.credited[index].gross
            let tax =
                VAT.tax(ofGross: before + share, rate: line.vatRate) - VAT.tax(ofGross: before, rate: line.vatRate)
            // Whole tickets back show as tickets; any other amount as one adjustment.
            let whole = line.unitGross > 0 && share % line.unitGross == 0
            lines.append(
                InvoiceLine(
                    description: line.description, quantity: whole ? -(share / line.unitGross) : -1,
                    unitGross: whole ? line.unitGross : share, unitNet: whole ? line.unitNet : share - tax,
                    vatRate: line.vatRate, net: -(share - tax), tax: -tax, gross: -share, invoiceLine: index))
        }
        return [
            .creditNoteIssued(
                CreditNoteIssued(
                    creditNoteId: command.creditNoteId, invoiceId: id, invoiceNumber: number, orderId: state.orderId,
                    orderNumber: state.orderNumber, number: command.number, sellerId: state.sellerId, seller: seller,
                    buyerUserId: buyerUserId,
                    buyer: buyer, lines: lines, totals: VAT.totals(lines), currency: state.currency,
                    refundId: command.refundId, reason: command.reason, issuedAt: command.now,
                    issueDate: command.issueDate))
        ]
    }
}
