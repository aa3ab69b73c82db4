import Foundation
import Postgres

/// A venue's time zone: an IANA identifier ("Europe/Warsaw") that the tz database knows.
///
/// Checked with Foundation's `TimeZone(identifier:)`, which reads the tz database, and kept
/// only when Foundation knows it under that very name: `GMT+2` or `europe/warsaw` are refused
/// rather than stored as something else. `UTC` is the zone of concerts created before zones
/// existed (their times were entered in UTC; see `ConcertCreated`'s upcaster).
public enum VenueTimeZone {
    /// The zone of a concert that names none: what every time was entered and shown in before.
    public static let utc = "UTC"

    /// The identifier, trimmed; throws `invalid(timeZone)` when the tz database does not know it.
    public static func validate(_ raw: String) throws -> String {
        let identifier = raw.trimmingCharacters(in: .whitespaces)
        guard identifier.count <= 64, !identifier.isEmpty,
            identifier.unicodeScalars.allSatisfy({
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "/_+-".unicodeScalars.contains($0))
            }),
            timeZone(identifier) != nil
        else {
            throw ConcertError.invalid(
                field: "timeZone", message: "The time zone must be an IANA time zone of the venue, like Europe/Warsaw.")
        }
        return identifier
    }

    /// Foundation's zone for an identifier it knows by that name (`UTC` included), else nil.
    public static func timeZone(_ identifier: String) -> TimeZone? {
        if identifier == utc { return TimeZone(secondsFromGMT: 0) }
        guard let zone = TimeZone(identifier: identifier), zone.identifier == identifier else { return nil }
        return zone
    }

    /// The zone of a stored, valid identifier (UTC for one this machine's tz database lost).
    static func stored(_ identifier: String) -> TimeZone {
        timeZone(identifier) ?? TimeZone(secondsFromGMT: 0)!
    }
}

/// A wall-clock date and time with no zone, as an organiser types it: `2027-06-05T19:00`.
public struct LocalDateTime: Sendable, Equatable, CustomStringConvertible {
    public let year, month, day, hour, minute: Int

    /// Validates the fields (a real date, 00:00 to 23:59, years 2000 to 2200).
    public init(year: Int, month: Int, day: Int, hour: Int, minute: Int) throws {
        guard (2000...2200).contains(year), (1...12).contains(month),
            (1...LocalDateTime.days(inMonth: month, of: year)).contains(day), (0...23).contains(hour),
            (0...59).contains(minute)
        else {
            throw ConcertError.invalid(field: "startsAt", message: "Enter the start date and time.")
        }
        (self.year, self.month, self.day, self.hour, self.minute) = (year, month, day, hour, minute)
    }

    /// Parses a `datetime-local` value: `2027-06-05T19:00`, also with `:00` seconds or a space
    /// for the `T`; nil for anything else.
    public init?(parsing text: String) {
        let bytes = Array(text.trimmingCharacters(in: .whitespaces).utf8)
        guard bytes.count == 16 || (bytes.count == 19 && bytes[16] == UInt8(ascii: ":")),
            bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " "), bytes[13] == UInt8(ascii: ":")
        else { return nil }
        func number(_ start: Int, _ count: Int) -> Int? {
            var value = 0
            for byte in bytes[start..<(start + count)] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
            let minute = number(14, 2), bytes.count == 16 || number(17, 2) == 0,
            let parsed = try? LocalDateTime(year: year, month: month, day: day, hour: hour, minute: minute)
        else { return nil }
        self = parsed
    }

    /// The wall-clock reading of `date` in `zone`.
    public init(_ date: Date, in zone: TimeZone) {
        self.init(wallSeconds: Int(date.timeIntervalSince1970.rounded(.down)) + zone.secondsFromGMT(for: date))
    }

    /// The reading whose `secondsAsUTC` is `wallSeconds` (seconds dropped).
    init(wallSeconds: Int) {
        let days = Int((Double(wallSeconds) / 86_400).rounded(.down))
        let (year, month, day) = CivilDays.date(days)
        let rest = wallSeconds - days * 86_400
        (self.year, self.month, self.day, hour, minute) = (year, month, day, rest / 3600, rest / 60 % 60)
    }

    /// `2027-06-05T19:00`, what a `datetime-local` input takes.
    public var description: String {
        "\(Self.pad(year, 4))-\(Self.pad(month, 2))-\(Self.pad(day, 2))T\(Self.pad(hour, 2)):\(Self.pad(minute, 2))"
    }

    /// "19:00".
    var clock: String { "\(Self.pad(hour, 2)):\(Self.pad(minute, 2))" }

    /// Seconds since 1970 of this reading taken as if it were UTC.
    var secondsAsUTC: Int {
        CivilDays.days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60
    }

    static func days(inMonth month: Int, of year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}

/// Turns a venue's wall-clock time into the moment it happens, across daylight-saving changes.
///
/// The rule, the one calendar programs follow for a meeting typed on such a night, except for
/// the gap:
/// - a time that happens once is that moment;
/// - a time that happens twice (clocks go back: 02:30 on the last Sunday of October in
///   Warsaw) is the first of the two, still in summer time (02:30 CEST, 00:30 UTC); the pages
///   show the zone's abbreviation next to the time, so which one it is stays visible;
/// - a time that never happens (clocks go forward: 02:30 on the last Sunday of March in
///   Warsaw) is refused, naming the jump, rather than moved by guesswork: a concert at a
///   time that does not exist is a typing mistake the organiser should see.
public enum VenueClock {
    /// The moment `local` happens in `zone` (the first of two in an overlap); throws
    /// `invalid(startsAt)` for a time in a gap.
    public static func instant(of local: LocalDateTime, in zone: TimeZone) throws -> Date {
        let candidates = moments(of: local, in: zone)
        guard let first = candidates.first else {
            throw ConcertError.invalid(field: "startsAt", message: gapMessage(local, in: zone))
        }
        return first
    }

    /// Every moment at which the zone's clock reads `local`, in order: one, two (an overlap) or
    /// none (a gap).
    public static func moments(of local: LocalDateTime, in zone: TimeZone) -> [Date] {
        let wall = local.secondsAsUTC
        // Offsets in force within a day either side cover every transition a reading can meet.
        var offsets: [Int] = []
        for probe in [wall - 86_400, wall, wall + 86_400] {
            let offset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(probe)))
            if !offsets.contains(offset) { offsets.append(offset) }
        }
        let moments = offsets.map { wall - $0 }.filter { moment in
            zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(moment))) == wall - moment
        }
        return Set(moments).sorted().map { Date(timeIntervalSince1970: TimeInterval($0)) }
    }

    /// "There is no 02:30 on 28 Mar 2027 in Europe/Warsaw: the clocks go forward from 02:00 to 03:00."
    static func gapMessage(_ local: LocalDateTime, in zone: TimeZone) -> String {
        let wall = local.secondsAsUTC
        let before = zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(wall - 86_400)))
        let after = zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(wall + 86_400)))
        // The change happens between wall - after and wall - before: find its second.
        var low = wall - max(before, after)
        var high = wall - min(before, after)
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(middle))) == before {
                low = middle
            } else {
                high = middle
            }
        }
        // At that second the clock jumps from `high + before` to `high + after`.
        let from = LocalDateTime(wallSeconds: high + before)
        let to = LocalDateTime(wallSeconds: high + after)
        let day = "\(local.day) \(CivilDays.months[local.month - 1]) \(local.year)"
        return "There is no \(local.clock) on \(day) in \(zone.identifier): the clocks go forward from "
            + "\(from.clock) to \(to.clock) that night. Enter a time that exists, such as \(to.clock)."
    }
}

/// Days since 1970-01-01 and back (`CivilCalendar`), with the names of days and months.
enum CivilDays {
    static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func days(year: Int, month: Int, day: Int) -> Int {
        CivilCalendar.dayNumber(year: year, month: month, day: day)
    }

    static func date(_ days: Int) -> (year: Int, month: Int, day: Int) { CivilCalendar.date(dayNumber: days) }
}
