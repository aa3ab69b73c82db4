import EventStore
import Foundation
import Postgres

/// The `finance_documents` read model: one row per invoice and per credit note, with the
/// parties and lines as issued, for the customers' lists, the document pages and PDFs, and
/// the sellers' registers. Inline: a document is there the moment it is issued.
///
/// Numbers come from the events, so a rebuild gives every document the number it was issued
/// with; the unique index on (seller, series, year, sequence) is a last guard that no number
/// is ever given twice (an append that would store a duplicate fails with it).
public struct FinanceDocumentsProjection: Projection {
    public let name = "finance_documents"
    public var kind: ProjectionKind { .inline }
    public var tables: [String] { ["finance_documents"] }

    public init() {}

    public func createTables(in target: ProjectionTarget) throws {
        let table = target.table("finance_documents")
        try target.connection.executeScript(
            unsafeSQL: """
                CREATE TABLE \(table) (
                    id text PRIMARY KEY,
                    kind text NOT NULL,
                    number text NOT NULL,
                    series text NOT NULL,
                    year integer NOT NULL,
                    sequence bigint NOT NULL,
                    invoice_id text NOT NULL,
                    corrects_number text,
                    order_id text NOT NULL,
                    order_number text NOT NULL,
                    seller_id text NOT NULL,
                    seller jsonb NOT NULL,
                    buyer_user_id text NOT NULL,
                    buyer jsonb NOT NULL,
                    lines jsonb NOT NULL,
                    net bigint NOT NULL,
                    tax bigint NOT NULL,
                    gross bigint NOT NULL,
                    currency text NOT NULL,
                    reason text,
                    issued_at timestamptz NOT NULL,
                    issue_date date NOT NULL,
                    UNIQUE (seller_id, series, year, sequence)
                );
                CREATE INDEX ON \(table) (buyer_user_id, issued_at);
                CREATE INDEX ON \(table) (seller_id, issue_date);
                CREATE INDEX ON \(table) (issue_date);
                CREATE INDEX ON \(table) (invoice_id);
                """)
    }

    public func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        let table = target.table("finance_documents")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        func json<T: Encodable>(_ value: T) throws -> String {
            String(decoding: try encoder.encode(value), as: UTF8.self)
        }
        for recorded in events where recorded.streamType == Invoice.streamType {
            switch try Invoice.eventTypes.decode(recorded) {
            case .issued(let e):
                try target.connection.executeLater(
                    """
                    INSERT INTO \(unsafeSQL: table)
                        (id, kind, number, series, year, sequence, invoice_id, order_id, order_number, seller_id,
                         seller, buyer_user_id, buyer, lines, net, tax, gross, currency, issued_at, issue_date)
                    VALUES (\(e.invoiceId), 'invoice', \(e.number.text), \(e.number.series), \(e.number.year),
                            \(e.number.sequence), \(e.invoiceId), \(e.orderId), \(e.orderNumber), \(e.sellerId),
                            \(try json(e.seller))::jsonb, \(e.buyerUserId), \(try json(e.buyer))::jsonb,
                            \(try json(e.lines))::jsonb, \(e.totals.net), \(e.totals.tax), \(e.totals.gross),
                            \(e.currency), \(e.issuedAt), \(e.issueDate)::date)
                    """)
            case .creditNoteIssued(let e):
                try target.connection.executeLater(
                    """
                    INSERT INTO \(unsafeSQL: table)
                        (id, kind, number, series, year, sequence, invoice_id, corrects_number, order_id,
                         order_number, seller_id, seller, buyer_user_id, buyer, lines, net, tax, gross, currency,
                         reason, issued_at, issue_date)
                    VALUES (\(e.creditNoteId), 'creditNote', \(e.number.text), \(e.number.series), \(e.number.year),
                            \(e.number.sequence), \(e.invoiceId), \(e.invoiceNumber.text), \(e.orderId),
                            \(e.orderNumber), \(e.sellerId), \(try json(e.seller))::jsonb, \(e.buyerUserId),
                            \(try json(e.buyer))::jsonb, \(try json(e.lines))::jsonb, \(e.totals.net), \(e.totals.tax),
                            \(e.totals.gross), \(e.currency), \(e.reason), \(e.issuedAt), \(e.issueDate)::date)
                    """)
            }
        }
    }
}
