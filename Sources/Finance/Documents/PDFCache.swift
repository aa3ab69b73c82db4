import Foundation
import Postgres

/// Rendered PDFs, kept by document id in `finance_document_pdfs`: a document never changes,
/// so its PDF is made once (for all workers) and served from here after.
public enum PDFCache {
    public static func find(_ documentId: String, on connection: Connection) throws -> [UInt8]? {
        try connection.query("SELECT pdf FROM finance_document_pdfs WHERE document_id = \(documentId)").first
            .map { try $0.decode("pdf", as: PostgresBytes.self).bytes }
    }

    /// Keeps a PDF; a second render of the same document (two requests at once) keeps the first.
    public static func store(_ pdf: [UInt8], for documentId: String, on connection: Connection) throws {
        try connection.execute(
            """
            INSERT INTO finance_document_pdfs (document_id, pdf) VALUES (\(documentId), \(PostgresBytes(pdf)))
            ON CONFLICT (document_id) DO NOTHING
            """)
    }
}
