import EventStore
import Foundation
import Postgres
import Web

/// The Finance context as the composition root wires it: users' financial details, concerts'
/// VAT rates, invoices and credit notes (issued by a process manager in Sales, from the
/// Orders context's events), their documents (page and PDF) and the sellers' monthly register.
public struct FinanceContext: BoundedContext {
    /// Who organises a concert (the seller of its tickets), from the Concerts context.
    public let concerts: FinanceConcerts
    /// Users' display names, from the Users context: a seller without financial details is
    /// named by it on their invoices.
    public let userNames: UserNames
    /// Whose calendar documents' dates, years (and so numbering years) and registers' months follow.
    public let timeZone: TimeZone
    /// How PDFs are made.
    public let pdf: PDFRenderer

    public init(
        concerts: FinanceConcerts, userNames: @escaping UserNames,
        timeZone: TimeZone = TimeZone(identifier: "Europe/Warsaw") ?? .gmt, pdf: PDFRenderer = PDFRenderer()
    ) {
        self.concerts = concerts
        self.userNames = userNames
        self.timeZone = timeZone
        self.pdf = pdf
    }

    public var name: String { "finance" }
    public var migrations: [Migration] { FinanceSchema.migrations }
    public var inlineProjections: [any Projection] { [FinanceDocumentsProjection()] }
    public var resources: URL? { Bundle.module.resourceURL }

    public func routes(_ router: inout Router<RequestContext>, store: StoreSetup) {
        let api = FinanceAPI(finance: self, store: store)
        api.add(to: &router)
        FinancePages(api: api).add(to: &router)
    }

    /// Invoices and credit notes, issued in the caller's transaction.
    public func invoices(on connection: Connection, store: StoreSetup) -> InvoiceCommands {
        InvoiceCommands(
            connection: connection, store: store, concerts: concerts, userNames: userNames, timeZone: timeZone)
    }
}

/// Users' display names by id (ids of no user left out).
public typealias UserNames = @Sendable (_ userIds: [String], _ connection: Connection) throws -> [String: String]

/// What the Finance context needs to know of concerts. The Concerts context provides it.
public struct FinanceConcerts: Sendable {
    /// The organiser of a concert (the seller of its tickets); nil when there is no such concert.
    public let organiser: @Sendable (_ concertId: String, _ connection: Connection) throws -> String?
    /// How a concert is called on pages ("Beyoncé — Cowboy Carter Tour, Warsaw"); nil when there is none.
    public let name: @Sendable (_ concertId: String, _ connection: Connection) throws -> String?

    public init(
        organiser: @escaping @Sendable (String, Connection) throws -> String?,
        name: @escaping @Sendable (String, Connection) throws -> String?
    ) {
        self.organiser = organiser
        self.name = name
    }
}

/// The Finance context's tables outside its read models (versions 900-999).
public enum FinanceSchema {
    public static let migrations: [Migration] = [
        Migration(
            version: 900, name: "finance: document number counters",
            sql: """
                CREATE TABLE finance_document_counters (
                    seller_id text NOT NULL,
                    series text NOT NULL,
                    year integer NOT NULL,
                    last_number bigint NOT NULL CHECK (last_number > 0),
                    PRIMARY KEY (seller_id, series, year)
                );
                """),
        Migration(
            version: 901, name: "finance: rendered PDFs of documents",
            sql: """
                CREATE TABLE finance_document_pdfs (
                    document_id text PRIMARY KEY,
                    pdf bytea NOT NULL,
                    rendered_at timestamptz NOT NULL DEFAULT now()
                );
                """),
    ]
}
