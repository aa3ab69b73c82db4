import Foundation
import Testing

@testable import Finance

/// The register's month and its CSV cells.
@Suite struct RegisterTests {
    @Test func monthsAreWrittenLike2026Dash03() throws {
        let month = try CalendarMonth(parsing: "2026-12")
        #expect(month.firstDay == "2026-12-01" && month.next.firstDay == "2027-01-01")
        #expect(month.previous.text == "2026-11" && CalendarMonth(year: 2026, month: 1).previous.text == "2025-12")
        for bad in ["2026-13", "2026-00", "26-03", "2026-3", "2026-03-01", "", "abcd-ef", "１２３４-０３"] {
            #expect(throws: FinanceError.self) { try CalendarMonth(parsing: bad) }
        }
        let warsaw = try #require(TimeZone(identifier: "Europe/Warsaw"))
        let newYear = try #require(ISO8601DateFormatter().date(from: "2030-12-31T23:30:00Z"))
        #expect(CalendarMonth.of(newYear, in: warsaw).text == "2031-01")
    }

    @Test func csvCellsAreQuotedAndNeverFormulas() {
        #expect(Register.cell("Anna Kowalska") == "Anna Kowalska")
        #expect(Register.cell("Kowalska, Events") == "\"Kowalska, Events\"")
        #expect(Register.cell("Say \"hi\"") == "\"Say \"\"hi\"\"\"")
        #expect(Register.cell("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
        #expect(Register.cell("+48 600") == "'+48 600")
        #expect(Register.cell("-1664.81") == "-1664.81", "a negative amount stays a number")
    }
}
