import EventStore
import Foundation
import Postgres

/// What an invoice is made from: a paid order, as the Finance context needs it. The process
/// manager that issues invoices (in Sales) fills it in from the Orders context's events.
public struct InvoiceRequest: Sendable, Equatable {
    public struct Item: Sendable, Equatable {
        public let description: String
        public let quantity: Int
        /// VAT included, in minor units.
        public let unitGross: Int

        public init(description: String, quantity: Int, unitGross: Int) {
            self.description = description
            self.quantity = quantity
            self.unitGross = unitGross
        }
    }

    public let orderId: String
    public let orderNumber: String
    public let concertId: String
    public let buyerUserId: String
    /// Who the order says bought it: the invoice's buyer when they keep no financial details.
    public let buyerName: String
    public let buyerEmail: String
    public let items: [Item]
    public let currency: String
    /// When the order was paid and completed: the invoice's date of issue.
    public let soldAt: Date

    public init(
        orderId: String, orderNumber: String, concertId: String, buyerUserId: String, buyerName: String,
        buyerEmail: String, items: [Item], currency: String, soldAt: Date
    ) {
        self.orderId = orderId
        self.orderNumber = orderNumber
        self.concertId = concertId
        self.buyerUserId = buyerUserId
        self.buyerName = buyerName
        self.buyerEmail = buyerEmail
        self.items = items
        self.currency = currency
        self.soldAt = soldAt
    }
}

/// Issues invoices and credit notes, each in the caller's transaction (a process manager's):
/// the number is taken there (`DocumentNumbers`) and the document appended with the version
/// its stream was read at, so a document that is not appended gives its number back.
///
/// Safe to repeat: an order's invoice is issued once, a refund credited once, and nothing is
/// numbered before it is known to be issued.
public struct InvoiceCommands {
    public let connection: Connection
    public let store: StoreSetup
    public let concerts: FinanceConcerts
    public let userNames: UserNames
    /// Whose calendar a document's date and year follow.
    public let timeZone: TimeZone

    public init(
        connection: Connection, store: StoreSetup, concerts: FinanceConcerts, userNames: @escaping UserNames,
        timeZone: TimeZone
    ) {
        self.connection = connection
        self.store = store
        self.concerts = concerts
        self.userNames = userNames
        self.timeZone = timeZone
    }

    private var handler: CommandHandler<Invoice> {
        CommandHandler<Invoice>(
            store: EventStore(
                connection: connection, inlineProjections: store.inlineProjections, joinsCallerTransaction: true),
            streamType: Invoice.streamType, eventTypes: Invoice.eventTypes)
    }

    public func load(_ invoiceId: String) throws -> Invoice.State {
        try handler.load(Invoice.streamId(invoiceId)).state
    }

    /// Issues the order's invoice; nil when it was issued already.
    @discardableResult
    public func issue(_ request: InvoiceRequest, metadata: EventMetadata = EventMetadata()) throws -> InvoiceIssued? {
        let invoiceId = Invoice.id(forOrder: request.orderId)
        let loaded = try handler.load(Invoice.streamId(invoiceId))
        guard !loaded.state.isIssued else { return nil }
        guard let sellerId = try concerts.organiser(request.concertId, connection) else {
            throw FinanceError.unknownConcert
        }
        let details = FinancialInfoCommands(connection: connection, store: store)
        let seller =
            try details.load(sellerId).details.map { Party(userId: sellerId, details: $0) }
            ?? Party(
                userId: sellerId, legalName: try userNames([sellerId], connection)[sellerId] ?? "Organiser \(sellerId)",
                address: nil, taxId: nil, email: nil)
        let buyer =
            try details.load(request.buyerUserId).details.map {
                Party(userId: request.buyerUserId, details: $0, email: request.buyerEmail)
            }
            ?? Party(
                userId: request.buyerUserId, legalName: request.buyerName, address: nil, taxId: nil,
                email: request.buyerEmail)
        let rate = try VATRateCommands(connection: connection, store: store).rate(of: request.concertId).rate
        let day = calendarDay(request.soldAt)
        let number = try DocumentNumbers(connection: connection).next(
            sellerId: sellerId, series: DocumentSeries.invoice, year: day.year)
        let command = IssueInvoice(
            invoiceId: invoiceId, orderId: request.orderId, orderNumber: request.orderNumber,
            concertId: request.concertId, number: number, sellerId: sellerId, seller: seller,
            buyerUserId: request.buyerUserId, buyer: buyer,
            items: request.items.map {
                InvoiceItem(description: $0.description, quantity: $0.quantity, unitGross: $0.unitGross, vatRate: rate)
            }, currency: request.currency, now: request.soldAt, issueDate: day.text)
        let events = try append(.issue(command), loaded, metadata)
        guard case .issued(let issued)? = events.first else { return nil }
        return issued
    }

    /// Issues a credit note for a refund of the order (`amount` of its gross, at most what is
    /// left of it; nil: all that is left); nil when the order has no invoice (it was completed
    /// before invoicing began), the refund was credited already, or nothing is left to credit.
    @discardableResult
    public func credit(
        orderId: String, refundId: String, amount: Int?, reason: String, now: Date,
        metadata: EventMetadata = EventMetadata()
    ) throws -> CreditNoteIssued? {
        let invoiceId = Invoice.id(forOrder: orderId)
        let loaded = try handler.load(Invoice.streamId(invoiceId))
        guard Crediting.wouldIssue(refundId: refundId, loaded.state) else { return nil }
        let day = calendarDay(now)
        let number = try DocumentNumbers(connection: connection).next(
            sellerId: loaded.state.sellerId, series: DocumentSeries.creditNote, year: day.year)
        let command = IssueCreditNote(
            creditNoteId: Invoice.creditNoteId(invoiceId: invoiceId, index: loaded.state.creditNotes.count + 1),
            number: number, refundId: refundId, amount: amount.map { min($0, loaded.state.leftToCredit) },
            reason: reason, now: now, issueDate: day.text)
        let events = try append(.issueCreditNote(command), loaded, metadata)
        guard case .creditNoteIssued(let issued)? = events.first else { return nil }
        return issued
    }

    /// Decides on the state as loaded and appends at the version it was loaded at: a stream
    /// that moved meanwhile is `WrongExpectedVersion`, and the caller's transaction (with the
    /// number it took) rolls back.
    private func append(_ command: Invoice.Command, _ loaded: Loaded<Invoice.State>, _ metadata: EventMetadata)
        throws -> [Invoice.Event]
    {
        let events = try Invoice.decide(command, loaded.state)
        guard !events.isEmpty, let id = loaded.state.id ?? events.first.map(Self.invoiceId) else { return events }
        let encoder = EventJSON.encoder()
        try handler.store.append(
            to: Invoice.streamId(id), type: Invoice.streamType, expectedVersion: .version(loaded.version),
            events: try events.map { try Invoice.eventTypes.encode($0, encoder: encoder) }, metadata: metadata)
        return events
    }

    static func invoiceId(_ event: Invoice.Event) -> String {
        switch event {
        case .issued(let e): e.invoiceId
        case .creditNoteIssued(let e): e.invoiceId
        }
    }

    /// The calendar day of a moment in the seller's time zone: its year and `2026-03-01`.
    func calendarDay(_ moment: Date) -> (year: Int, text: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.year, .month, .day], from: moment)
        let (year, month, day) = (parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return (year, "\(year)-\(two(month))-\(two(day))")
    }
}
