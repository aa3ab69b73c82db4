import Postgres

/// A calendar day (proleptic Gregorian), as the dashboard's rows and bars name it: no time,
/// no zone (the read model has already cut time into the days of a zone).
struct CivilDay: Sendable, Equatable, Comparable, Hashable {
    /// Days since 1970-01-01.
    let number: Int

    init(number: Int) {
        self.number = number
    }

    /// `2026-03-05`; nil for anything else.
    init?(iso text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        number = CivilCalendar.dayNumber(year: year, month: month, day: day)
        guard iso == text else { return nil }  // 31 February and the like
    }

    static func < (a: CivilDay, b: CivilDay) -> Bool { a.number < b.number }

    var next: CivilDay { CivilDay(number: number + 1) }

    /// Year, month and day.
    var parts: (year: Int, month: Int, day: Int) { CivilCalendar.date(dayNumber: number) }

    /// `2026-03-05`.
    var iso: String {
        let (year, month, day) = parts
        return "\(year)-\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)"
    }

    /// `5 Mar`: under a bar.
    var short: String {
        let (_, month, day) = parts
        return "\(day) \(CivilDay.months[month - 1])"
    }

    /// `Thu 5 Mar 2026`: in tables and tooltips.
    var long: String {
        let (year, month, day) = parts
        return "\(CivilDay.weekdays[((number % 7) + 11) % 7]) \(day) \(CivilDay.months[month - 1]) \(year)"
    }

    static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
}
