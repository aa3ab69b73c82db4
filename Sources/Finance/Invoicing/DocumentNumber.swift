import Foundation
import Postgres

/// A finance document's number: its series, the calendar year it was issued in, and its place
/// in that year's series of its seller, as `EN/2026/000123`.
public struct DocumentNumber: Sendable, Equatable, Hashable, Codable {
    public let series: String
    public let year: Int
    public let sequence: Int
    public let text: String

    public init(series: String, year: Int, sequence: Int) {
        self.series = series
        self.year = year
        self.sequence = sequence
        let digits = String(sequence)
        text = "\(series)/\(year)/" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }
}

/// The series of numbers each seller has, one per kind of document.
public enum DocumentSeries {
    public static let invoice = "EN"
    public static let creditNote = "CN"
}

/// Gapless, never-duplicated numbers: one counter row per (seller, series, year) in
/// `finance_document_counters`.
///
/// Taking a number is one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, which adds one to
/// the row and keeps it locked until the transaction ends. It must run in the transaction
/// that appends the document with that number: a second document of the same series waits
/// for the first's commit and then gets the next number; a transaction that rolls back (its
/// append lost a race, anything failed) undoes its increment, so its number goes to the next
/// document. A sequence (`nextval`) would never give a number back, which is why order
/// numbers may have gaps and invoice numbers may not. The cost: a seller's documents are
/// numbered one transaction at a time, which the row lock of one short transaction allows
/// thousands of times a second.
public struct DocumentNumbers {
    public let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    /// The next number of a seller's series in `year`, in the caller's transaction.
    public func next(sellerId: String, series: String, year: Int) throws -> DocumentNumber {
        guard connection.isInTransaction else { throw NumberOutsideTransaction() }
        let taken: Int? = try connection.query(
            """
            INSERT INTO finance_document_counters AS c (seller_id, series, year, last_number)
            VALUES (\(sellerId), \(series), \(year), 1)
            ON CONFLICT (seller_id, series, year) DO UPDATE SET last_number = c.last_number + 1
            RETURNING last_number
            """
        ).first?.decode("last_number")
        guard let taken else {
            throw PostgresError(kind: .protocolViolation, message: "the document counter returned no row")
        }
        return DocumentNumber(series: series, year: year, sequence: taken)
    }
}
