import EventStore
import Foundation

/// An invoice for one order (stream `invoice-<id>`, its id `inv-<orderId>`), and the credit
/// notes that correct it.
///
/// Invoices are legal documents: once issued, nothing in them changes. The seed's
/// `UpdateInvoice` is therefore a correction by credit note (`IssueCreditNote`): a document of
/// its own, with its own number in its own series, that refers to the invoice and takes back
/// some or all of it. It lives on the invoice's stream because the invoice decides it: never
/// more credited than the invoice billed.
///
/// One invoice per order: an order is one concert's tickets, and a concert has one organiser,
/// the seller; a checkout may buy from several sellers, who each invoice their own part.
public enum Invoice: Decider {
    public struct State: Sendable, Equatable {
        public var id: String?
        public var orderId = ""
        public var orderNumber = ""
        public var number: DocumentNumber?
        public var sellerId = ""
        public var seller: Party?
        public var buyerUserId: String?
        public var buyer: Party?
        public var currency = ""
        public var lines: [InvoiceLine] = []
        public var totals = DocumentTotals.zero
        /// What credit notes took back from each line so far (gross and tax, positive).
        public var credited: [DocumentTotals] = []
        /// The refunds credited so far (each gives one credit note).
        public var refunds: [String] = []
        public var creditNotes: [String] = []

        public var isIssued: Bool { number != nil }
        /// The gross not taken back yet.
        public var leftToCredit: Int { totals.gross - credited.reduce(0) { $0 + $1.gross } }
    }

    public enum Command: Sendable, Equatable {
        case issue(IssueInvoice)
        case issueCreditNote(IssueCreditNote)
    }

    public enum Event: Sendable, Equatable {
        case issued(InvoiceIssued)
        case creditNoteIssued(CreditNoteIssued)
    }

    public static let streamType = "invoice"
    public static func streamId(_ invoiceId: String) -> String { "invoice-\(invoiceId)" }
    /// The invoice of an order.
    public static func id(forOrder orderId: String) -> String { "inv-\(orderId)" }
    /// The `index`th credit note (from 1) of an invoice.
    public static func creditNoteId(invoiceId: String, index: Int) -> String {
        "cn-\(invoiceId.dropFirst("inv-".count))-\(index)"
    }

    public static let initial = State()

    public static func evolve(_ state: State, _ event: Event) -> State {
        var next = state
        switch event {
        case .issued(let e):
            next.id = e.invoiceId
            next.orderId = e.orderId
            next.orderNumber = e.orderNumber
            next.number = e.number
            next.sellerId = e.sellerId
            next.seller = e.seller
            next.buyerUserId = e.buyerUserId
            next.buyer = e.buyer
            next.currency = e.currency
            next.lines = e.lines
            next.totals = e.totals
            next.credited = e.lines.map { _ in .zero }
        case .creditNoteIssued(let e):
            for line in e.lines {
                guard let index = line.invoiceLine, next.credited.indices.contains(index) else { continue }
                next.credited[index].gross -= line.gross
                next.credited[index].tax -= line.tax
                next.credited[index].net -= line.net
            }
            next.refunds.append(e.refundId)
            next.creditNotes.append(e.creditNoteId)
        }
        return next
    }

    public static func decide(_ command: Command, _ state: State) throws -> [Event] {
        switch command {
        case .issue(let c): try Issuing.decide(c, state)
        case .issueCreditNote(let c): try Crediting.decide(c, state)
        }
    }

    public static let eventTypes = EventTypes<Event> { event in
        switch event {
        case .issued(let e): e
        case .creditNoteIssued(let e): e
        }
    }
    .register(InvoiceIssued.self) { .issued($0) }
    .register(CreditNoteIssued.self) { .creditNoteIssued($0) }
}

/// A party to an invoice as it stood when the invoice was issued: a copy, never a reference,
/// so that changing one's details later changes no invoice.
public struct Party: Sendable, Equatable, Codable {
    /// The Encore user, when the party is one.
    public let userId: String?
    public let legalName: String
    public let address: BillingAddress?
    public let taxId: String?
    public let email: String?

    public init(userId: String?, legalName: String, address: BillingAddress?, taxId: String?, email: String?) {
        self.userId = userId
        self.legalName = legalName
        self.address = address
        self.taxId = taxId
        self.email = email
    }

    /// A party from their financial details.
    public init(userId: String, details: FinancialDetails, email: String? = nil) {
        self.init(
            userId: userId, legalName: details.legalName, address: details.address, taxId: details.taxId, email: email)
    }
}
