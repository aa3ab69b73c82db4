import Foundation
import Synchronization

/// A concert's start as people at the venue read it: "Sat 5 Jun 2027, 19:00 CEST, Warsaw time".
///
/// The offset comes from Foundation's `TimeZone`; the zone's abbreviation ("CEST", "EDT")
/// from the tz database's own file for the zone (`ZoneAbbreviations`), because Foundation on
/// Linux only offers "GMT+2", and slowly. Computed without formatters, like Web's `DateText`: a list
/// page shows two dozen of them.
enum VenueTimeText {
    /// "Sat 5 Jun 2027, 19:00 CEST, Warsaw time"; in UTC: "Sat 5 Jun 2027, 19:00 UTC".
    static func display(_ date: Date, zone identifier: String) -> String {
        let zone = VenueTimeZone.stored(identifier)
        let local = LocalDateTime(date, in: zone)
        let weekday = CivilDays.weekdays[
            ((CivilDays.days(year: local.year, month: local.month, day: local.day) % 7) + 11) % 7]
        let abbreviation = ZoneAbbreviations.abbreviation(at: date, in: zone, identifier: identifier)
        let place = placeName(identifier).map { ", \($0) time" } ?? ""
        return "\(weekday) \(local.day) \(CivilDays.months[local.month - 1]) \(local.year), \(local.clock) "
            + abbreviation + place
    }

    /// The start for `<time datetime>`: the venue's reading with its offset, `2027-06-05T19:00:00+02:00`.
    static func iso(_ date: Date, zone identifier: String) -> String {
        let zone = VenueTimeZone.stored(identifier)
        let offset = zone.secondsFromGMT(for: date)
        let local = LocalDateTime(date, in: zone)
        let sign = offset < 0 ? "-" : "+"
        let minutes = abs(offset) / 60
        return
            "\(local.description):00\(sign)\(LocalDateTime.pad(minutes / 60, 2)):\(LocalDateTime.pad(minutes % 60, 2))"
    }

    /// The place a zone is named after ("Warsaw" for Europe/Warsaw, "New York" for
    /// America/New_York); nil for zones named after no place (UTC, Etc/GMT-2, CET).
    static func placeName(_ identifier: String) -> String? {
        let parts = identifier.split(separator: "/")
        guard parts.count >= 2, parts[0] != "Etc", let last = parts.last else { return nil }
        return last.replacingOccurrences(of: "_", with: " ")
    }

    /// The zones an organiser picks from: the tz database's (as Foundation knows them), UTC first.
    static let zoneChoices: [String] = [VenueTimeZone.utc] + TimeZone.knownTimeZoneIdentifiers.sorted()
}

/// The tz database's abbreviations of a zone's local times ("CET", "CEST"), read from the
/// zone's TZif file (`$TZDIR` or /usr/share/zoneinfo, RFC 8536) once per zone and kept.
///
/// An abbreviation is used only when its offset is the one Foundation gives for that moment,
/// so the two sources cannot show a time with another zone's name; anything else (no file, a
/// numeric abbreviation such as "+03", a disagreement) is written as the offset: "UTC+3".
enum ZoneAbbreviations {
    /// What one zone's file says.
    struct Zone: Sendable {
        /// Transition times (seconds since 1970) and the local time type from each on.
        var transitions: [Int64] = []
        var types: [Int] = []
        var offsets: [Int] = []
        var names: [String] = []
        /// After the last transition: the POSIX TZ rule's standard and daylight names and offsets.
        var rule: [(name: String, offset: Int)] = []

        func name(at moment: Int64, offset: Int) -> String? {
            var index = transitions.count
            var low = 0
            var high = transitions.count
            while low < high {
                let middle = (low + high) / 2
                if transitions[middle] <= moment { low = middle + 1 } else { high = middle }
            }
            index = low - 1
            if index >= 0, index < transitions.count - 1 || rule.isEmpty {
                let type = types[index]
                if offsets[type] == offset { return names[type] }
            }
            if let match = rule.first(where: { $0.offset == offset }) { return match.name }
            if index >= 0, offsets[types[index]] == offset { return names[types[index]] }
            return nil
        }
    }

    private static let zones = Mutex<[String: Zone?]>([:])

    static func abbreviation(at date: Date, in zone: TimeZone, identifier: String) -> String {
        let offset = zone.secondsFromGMT(for: date)
        if identifier == VenueTimeZone.utc { return "UTC" }
        let parsed = zones.withLock { cache in
            if let known = cache[identifier] { return known }
            let loaded = load(identifier)
            cache[identifier] = .some(loaded)
            return loaded
        }
        let moment = Int64(date.timeIntervalSince1970.rounded(.down))
        if let name = parsed?.name(at: moment, offset: offset), let first = name.unicodeScalars.first,
            CharacterSet.letters.contains(first)
        {
            return name
        }
        return numeric(offset)
    }

    /// "UTC", "UTC+2", "UTC-3:30".
    static func numeric(_ offset: Int) -> String {
        guard offset != 0 else { return "UTC" }
        let minutes = abs(offset) / 60
        return "UTC" + (offset < 0 ? "-" : "+") + "\(minutes / 60)"
            + (minutes % 60 == 0 ? "" : ":" + LocalDateTime.pad(minutes % 60, 2))
    }

    static func load(_ identifier: String) -> Zone? {
        guard !identifier.contains(".."), !identifier.hasPrefix("/") else { return nil }
        let folder = ProcessInfo.processInfo.environment["TZDIR"] ?? "/usr/share/zoneinfo"
        guard let data = FileManager.default.contents(atPath: folder + "/" + identifier) else { return nil }
        return parse(Array(data))
    }

    /// A TZif file: its version 2+ (64-bit) block when there is one, else version 1's.
    static func parse(_ bytes: [UInt8]) -> Zone? {
        func count(_ at: Int) -> Int? {
            guard at + 4 <= bytes.count else { return nil }
            return Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
        }
        func header(_ at: Int) -> (isut: Int, isstd: Int, leap: Int, time: Int, type: Int, chars: Int)? {
            guard at + 44 <= bytes.count, bytes[at..<(at + 4)].elementsEqual("TZif".utf8),
                let isut = count(at + 20), let isstd = count(at + 24), let leap = count(at + 28),
                let time = count(at + 32), let type = count(at + 36), let chars = count(at + 40)
            else { return nil }
            return (isut, isstd, leap, time, type, chars)
        }
        guard let first = header(0) else { return nil }
        var start = 44
        var timeSize = 4
        var counts = first
        if bytes[4] >= UInt8(ascii: "2") {
            let skip = first.time * 5 + first.type * 6 + first.chars + first.leap * 8 + first.isstd + first.isut
            guard let second = header(44 + skip) else { return nil }
            start = 44 + skip + 44
            timeSize = 8
            counts = second
        }
        let typesAt = start + counts.time * timeSize
        let infosAt = typesAt + counts.time
        let charsAt = infosAt + counts.type * 6
        let end = charsAt + counts.chars
        guard counts.type > 0, end <= bytes.count else { return nil }
        var zone = Zone()
        for index in 0..<counts.time {
            var value: Int64 = 0
            for byte in bytes[(start + index * timeSize)..<(start + (index + 1) * timeSize)] {
                value = value << 8 | Int64(byte)
            }
            if timeSize == 4 { value = Int64(Int32(truncatingIfNeeded: value)) }
            zone.transitions.append(value)
            let type = Int(bytes[typesAt + index])
            guard type < counts.type else { return nil }
            zone.types.append(type)
        }
        let characters = Array(bytes[charsAt..<end])
        for type in 0..<counts.type {
            let at = infosAt + type * 6
            guard let raw = count(at) else { return nil }
            zone.offsets.append(Int(Int32(truncatingIfNeeded: raw)))
            let nameAt = Int(bytes[at + 5])
            guard nameAt < characters.count else { return nil }
            let name = characters[nameAt...].prefix(while: { $0 != 0 })
            zone.names.append(String(decoding: name, as: UTF8.self))
        }
        if timeSize == 8 {
            let footerAt = end + counts.leap * 12 + counts.isstd + counts.isut
            if footerAt < bytes.count, bytes[footerAt] == UInt8(ascii: "\n") {
                let footer = bytes[(footerAt + 1)...].prefix(while: { $0 != UInt8(ascii: "\n") })
                zone.rule = rule(String(decoding: footer, as: UTF8.self))
            }
        }
        return zone
    }

    /// The names and offsets of a POSIX TZ string such as `CET-1CEST,M3.5.0,M10.5.0/3`
    /// (offsets there are west of UTC: `CET-1` is UTC+1; daylight time is an hour ahead
    /// unless it says otherwise).
    static func rule(_ text: String) -> [(name: String, offset: Int)] {
        var rest = Substring(text)
        func name() -> String? {
            if rest.first == "<" {
                guard let close = rest.firstIndex(of: ">") else { return nil }
                let quoted = rest[rest.index(after: rest.startIndex)..<close]
                rest = rest[rest.index(after: close)...]
                return String(quoted)
            }
            let letters = rest.prefix(while: { $0.isLetter })
            guard letters.count >= 3 else { return nil }
            rest = rest.dropFirst(letters.count)
            return String(letters)
        }
        func offset() -> Int? {
            var sign = 1
            if rest.first == "+" || rest.first == "-" {
                sign = rest.first == "-" ? -1 : 1
                rest = rest.dropFirst()
            }
            let text = rest.prefix(while: { $0.isNumber || $0 == ":" })
            guard !text.isEmpty else { return nil }
            rest = rest.dropFirst(text.count)
            let parts = text.split(separator: ":").compactMap { Int($0) }
            let seconds = zip(parts, [3600, 60, 1]).reduce(0) { $0 + $1.0 * $1.1 }
            return -sign * seconds
        }
        guard let standard = name(), let standardOffset = offset() else { return [] }
        var result = [(name: standard, offset: standardOffset)]
        if let daylight = name() {
            let daylightOffset = rest.first == "," || rest.isEmpty ? standardOffset + 3600 : offset()
            if let daylightOffset { result.append((daylight, daylightOffset)) }
        }
        return result
    }
}
