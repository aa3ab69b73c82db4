import Foundation
import Testing

@testable import Web

/// CSV files: RFC 4180 quoting, UTF-8 with a byte order mark, and formula injection
/// neutralised with a leading apostrophe (OWASP).
@Suite struct CSVTests {
    func text(_ csv: CSV) -> String {
        let bytes = csv.bytes
        #expect(Array(bytes.prefix(3)) == [0xEF, 0xBB, 0xBF])
        return String(decoding: bytes.dropFirst(3), as: UTF8.self)
    }

    @Test func quotesEveryFieldDoublesQuotesAndEndsRecordsWithCRLF() {
        var csv = CSV(header: ["Name", "Note"])
        csv.append(["Beyoncé", "say \"hi\", then\nleave"])
        csv.append(["", "plain"])
        #expect(text(csv) == "\"Name\",\"Note\"\r\n\"Beyoncé\",\"say \"\"hi\"\", then\nleave\"\r\n\"\",\"plain\"\r\n")
    }

    @Test func aFieldASpreadsheetWouldTakeForAFormulaGetsAnApostrophe() {
        for dangerous in [
            "=HYPERLINK(\"http://evil.test\",\"x\")", "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx", "\nx", "＝1+1",
        ] {
            #expect(CSV.neutralised(dangerous) == "'" + dangerous, "\(dangerous)")
        }
        for harmless in ["Ann", "750.00", "EN-00001001-01", "a=b", " =1", "'quoted", "", "ann+tag@example.com"] {
            #expect(CSV.neutralised(harmless) == harmless, "\(harmless)")
        }
        #expect(CSV.quoted("=1+\"2\"") == "\"'=1+\"\"2\"\"\"")
    }

    @Test func downloadsAsAnAttachmentThatIsNeverCached() {
        var csv = CSV(header: ["A"])
        csv.append(["1"])
        let response = csv.response(filename: "orders-ab\"c/../d é.csv")
        let headers = Dictionary(response.headers, uniquingKeysWith: { a, _ in a })
        #expect(headers["Content-Type"] == "text/csv; charset=utf-8; header=present")
        #expect(headers["Content-Disposition"] == "attachment; filename=\"orders-ab-c-..-d--.csv\"")
        #expect(headers["Cache-Control"] == "private, no-store")
        #expect(response.body == csv.bytes)
    }
}
