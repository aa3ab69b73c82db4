import EventStore
import Foundation
import Identity
import Postgres
import Web

/// The Finance JSON API: one's financial details, invoices and credit notes (JSON and PDF),
/// concerts' VAT rates, and the sellers' monthly register (JSON and CSV).
///
/// Who sees a document: its buyer, its seller (the concert's organiser) and admins; anyone
/// else is told there is no such document (404), never that it is forbidden.
struct FinanceAPI: Sendable {
    let finance: FinanceContext
    let store: StoreSetup

    func add(to router: inout Router<RequestContext>) {
        router.get("/api/me/financial-info", financialInfo)
        router.put("/api/me/financial-info", saveFinancialInfo)
        router.get("/api/invoices", list)
        router.get("/api/invoices/:id.pdf", pdf)  // before `:id`, which would take "x.pdf" too
        router.get("/api/invoices/:id", show)
        router.get("/api/concerts/:id/vat-rate", vatRate)
        router.put("/api/concerts/:id/vat-rate", setVATRate)
        router.get("/api/finance/register", register)
        router.get("/api/finance/register.csv", registerCSV)
    }

    // MARK: Financial details

    func financialInfo(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        let state = try context.database.with { try details($0).load(principal.userId) }
        guard let current = state.details else { throw FinanceError.noFinancialInfo }
        return try .json(["financialInfo": FinancialInfoJSON(current, updatedAt: state.updatedAt)])
    }

    func saveFinancialInfo(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        let input = try request.decodeJSON(FinancialInfoInput.self).details()
        let state = try save(input, for: principal, request: request, context: context)
        guard let saved = state.details else { throw FinanceError.noFinancialInfo }
        return try .json(["financialInfo": FinancialInfoJSON(saved, updatedAt: state.updatedAt)])
    }

    /// Saves a user's details: the API's and the account page's one way to do it.
    func save(_ input: FinancialDetails, for principal: Principal, request: HTTPRequest, context: RequestContext)
        throws -> UserFinancialInfo.State
    {
        try context.database.with {
            try details($0).save(
                userId: principal.userId, details: input,
                metadata: EventMetadata(correlationId: request.requestId, userId: principal.userId))
        }
    }

    func details(_ connection: Connection) -> FinancialInfoCommands {
        FinancialInfoCommands(connection: connection, store: store)
    }

    // MARK: Documents

    func list(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        let documents = try context.database.with { try visibleDocuments(principal, on: $0) }
        return try .json(["invoices": documents.map { DocumentJSON($0) }])
    }

    /// A customer's documents; an organiser's also those they issued as the seller; all for an admin.
    func visibleDocuments(_ principal: Principal, on connection: Connection) throws -> [FinanceDocument] {
        switch principal.role {
        case .admin: return try FinanceQueries.sold(by: nil, on: connection)
        case .organiser:
            let bought = try FinanceQueries.bought(by: principal.userId, on: connection)
            let sold = try FinanceQueries.sold(by: principal.userId, on: connection)
            return (bought + sold.filter { document in !bought.contains { $0.id == document.id } })
                .sorted { ($0.issuedAt, $0.id) > ($1.issuedAt, $1.id) }
        case .customer: return try FinanceQueries.bought(by: principal.userId, on: connection)
        }
    }

    func show(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        let (document, creditNotes) = try context.database.with { connection in
            let document = try visible(request.routeParameters["id"] ?? "", to: principal, on: connection)
            let notes = document.isCreditNote ? nil : try FinanceQueries.creditNotes(of: document.id, on: connection)
            return (document, notes)
        }
        return try .json(["invoice": DocumentJSON(document, creditNotes: creditNotes)])
    }

    /// The document, if `principal` may see it (its buyer, its seller, an admin).
    func visible(_ id: String, to principal: Principal, on connection: Connection) throws -> FinanceDocument {
        guard let document = try FinanceQueries.find(id: id, on: connection),
            principal.role == .admin || principal.userId == document.buyerUserId
                || principal.userId == document.sellerId
        else { throw FinanceError.unknownDocument }
        return document
    }

    func pdf(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.requireSignedIn()
        let (document, cached) = try context.database.with { connection in
            let document = try visible(request.routeParameters["id"] ?? "", to: principal, on: connection)
            return (document, try PDFCache.find(document.id, on: connection))
        }
        let bytes: [UInt8]
        if let cached {
            bytes = cached
        } else {
            // Rendered outside the database's `with`: the thread's connection is not held for it.
            let html = try DocumentPage(document, creditNotes: [], forPDF: true).render(context.templates)
            bytes = try finance.pdf.render(html: html, logger: context.logger)
            try context.database.with { try PDFCache.store(bytes, for: document.id, on: $0) }
        }
        let filename = document.number.replacingOccurrences(of: "/", with: "-") + ".pdf"
        return HTTPResponse(
            status: 200,
            headers: [
                ("Content-Type", "application/pdf"),
                ("Content-Disposition", "attachment; filename=\"\(filename)\""),
                ("Cache-Control", "private, max-age=86400"),
            ], body: bytes)
    }

    // MARK: VAT rates

    struct VATRateJSON: Encodable {
        let concertId: String
        let vatRate: Decimal
        let isDefault: Bool
    }

    func vatRate(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let principal = try context.require(.organiser)
        let concertId = request.routeParameters["id"] ?? ""
        let rate = try context.database.with { connection in
            try requireManages(concertId, principal, on: connection)
            return try VATRateCommands(connection: connection, store: store).rate(of: concertId)
        }
        return try .json(
            ["vatRate": VATRateJSON(concertId: concertId, vatRate: VAT.percent(rate.rate), isDefault: rate.isDefault)])
    }

    func setVATRate(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        struct Body: Decodable { let vatRate: Decimal }
        let principal = try context.require(.organiser)
        let concertId = request.routeParameters["id"] ?? ""
        let rate = try SetVATRate.basisPoints(fromPercent: try request.decodeJSON(Body.self).vatRate)
        let set = try setRate(rate, of: concertId, by: principal, request: request, context: context)
        return try .json(["vatRate": VATRateJSON(concertId: concertId, vatRate: VAT.percent(set), isDefault: false)])
    }

    /// Sets a concert's rate (basis points): the API's and the organiser page's one way to do it.
    func setRate(
        _ rate: Int, of concertId: String, by principal: Principal, request: HTTPRequest, context: RequestContext
    )
        throws -> Int
    {
        try context.database.with { connection in
            try requireManages(concertId, principal, on: connection)
            return try VATRateCommands(connection: connection, store: store).set(
                concertId: concertId, rate: rate, by: principal.userId,
                metadata: EventMetadata(correlationId: request.requestId, userId: principal.userId))
        }
    }

    /// The concert's organiser or an admin may; anyone else hears there is no such concert.
    func requireManages(_ concertId: String, _ principal: Principal, on connection: Connection) throws {
        guard let organiser = try finance.concerts.organiser(concertId, connection),
            principal.role == .admin || organiser == principal.userId
        else { throw FinanceError.unknownConcert }
    }

    // MARK: Register

    func register(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        try .json(["register": RegisterJSON(try loadRegister(request, context))])
    }

    func registerCSV(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let register = try loadRegister(request, context)
        let name = "register-\(register.month.text)" + (register.sellerId.map { "-\($0)" } ?? "") + ".csv"
        return HTTPResponse(
            status: 200,
            headers: [
                ("Content-Type", "text/csv; charset=utf-8"),
                ("Content-Disposition", "attachment; filename=\"\(name.filter { $0.isASCII && $0 != "\"" })\""),
                ("Cache-Control", "private, no-store"),
            ], body: Array(register.csv.utf8))
    }

    /// `month` (default: this month) of the caller's own documents as a seller; an admin sees
    /// every seller's, or one's with `sellerId`.
    func loadRegister(_ request: HTTPRequest, _ context: RequestContext) throws -> Register {
        let principal = try context.require(.organiser)
        let month =
            try request.query["month"].map(CalendarMonth.init(parsing:))
            ?? CalendarMonth.of(Date(), in: finance.timeZone)
        let requested = request.query["sellerId"].flatMap { $0.isEmpty ? nil : $0 }
        let sellerId = principal.role == .admin ? requested : principal.userId
        return try context.database.with { try Register.load(month: month, sellerId: sellerId, on: $0) }
    }
}
