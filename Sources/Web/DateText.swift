import Foundation
import Postgres

/// Dates as pages show them, in UTC, computed directly rather than through Foundation's
/// formatters: pages render many dates per request, and building an ICU formatter for each
/// cost a quarter of a concert page's time.
public enum DateText {
    /// RFC 3339 to the second: `2027-03-27T19:00:00Z`.
    public static func rfc3339(_ date: Date) -> String {
        let parts = Parts(date)
        return "\(pad(parts.year, 4))-\(pad(parts.month, 2))-\(pad(parts.day, 2))T\(pad(parts.hour, 2)):"
            + "\(pad(parts.minute, 2)):\(pad(parts.second, 2))Z"
    }

    /// What a `datetime-local` input takes: `2027-03-27T19:00`.
    public static func dateTimeLocal(_ date: Date) -> String {
        String(rfc3339(date).prefix(16))
    }

    /// For people: `Sat 27 Mar 2027, 19:00 UTC`.
    public static func display(_ date: Date) -> String {
        let parts = Parts(date)
        return "\(weekdays[parts.weekday]) \(parts.day) \(months[parts.month - 1]) \(parts.year), "
            + "\(pad(parts.hour, 2)):\(pad(parts.minute, 2)) UTC"
    }

    static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    /// The civil date and time of a moment in UTC (the day from `CivilCalendar`).
    struct Parts {
        let year, month, day, hour, minute, second, weekday: Int

        init(_ date: Date) {
            let seconds = Int(date.timeIntervalSince1970.rounded(.down))
            var days = seconds / 86_400
            var rest = seconds % 86_400
            if rest < 0 {
                rest += 86_400
                days -= 1
            }
            hour = rest / 3600
            minute = rest / 60 % 60
            second = rest % 60
            weekday = ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday
            (year, month, day) = CivilCalendar.date(dayNumber: days)
        }
    }
}
