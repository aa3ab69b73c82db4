import Foundation
import Testing

@testable import Web

@Suite struct DateTextTests {
    @Test func matchesFoundationForManyDates() {
        let formatter = ISO8601DateFormatter()
        for seconds in stride(from: -2_000_000_000.0, to: 4_000_000_000.0, by: 7_654_321.5) {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(DateText.rfc3339(date) == formatter.string(from: date))
        }
    }

    @Test func displaysWeekdayAndMonth() {
        let date = Date(timeIntervalSince1970: 1_806_174_000)  // 2027-03-27 19:00 UTC, a Saturday
        #expect(DateText.display(date) == "Sat 27 Mar 2027, 19:00 UTC")
        #expect(DateText.dateTimeLocal(date) == "2027-03-27T19:00")
    }
}
