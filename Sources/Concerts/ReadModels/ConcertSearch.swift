import Foundation
import Postgres

/// What a visitor asks the concert list for: `GET /api/concerts` and the home page.
///
/// Words are looked for in the artist, title, venue and city together, without regard to case
/// or accents and anywhere in a word ("beyonce" and "Beyon" find "Beyoncé", "lodz" finds
/// "Łódź"): every word must appear. The list is in keyset order: scheduled concerts first,
/// then cancelled ones, each by start and id; a page ends with a cursor that the next page
/// starts after, so concerts added or removed between two requests never repeat a concert on
/// the next page nor skip one that was there.
public struct ConcertSearch: Sendable, Equatable {
    /// A bound of the date filters: a day of the venue's calendar (`2027-06-05`, the whole day
    /// included) or a moment (`2027-06-05T19:00:00Z`).
    public enum Bound: Sendable, Equatable {
        case day(LocalDate)
        case moment(Date)
    }

    /// The words, at most `maxWords` (more are ignored), each at least one letter or digit.
    public var words: [String] = []
    /// A city, matched whole (without regard to case or accents).
    public var city: String = ""
    /// Without `from`: concerts that started at most `pastGrace` ago and later ones.
    public var from: Bound?
    public var to: Bound?
    /// Only concerts with a ticket left in some level (and not cancelled).
    public var hasTickets = false
    public var limit = ConcertSearch.defaultLimit
    /// The page starts after this concert (the previous page's `next`).
    public var after: ConcertCursor?

    public static let defaultLimit = 24
    public static let maxLimit = 100
    public static let maxWords = 6
    /// How long after its start a concert stays in the default list: it is still on tonight.
    public static let pastGrace: TimeInterval = 6 * 3600

    public init() {}

    /// The words of a search box's text: split at white space, sentence punctuation (`,` `!`
    /// quotes, brackets) trimmed from their ends, the first `maxWords`. Other characters are
    /// searched for as they are ("100%", "AC/DC").
    public static func words(of text: String) -> [String] {
        let trimmable = CharacterSet(charactersIn: ",.;:!?\"'()[]{}«»„“”‘’¿¡")
        return text.split(whereSeparator: { $0.isWhitespace })
            .map { $0.trimmingCharacters(in: trimmable) }
            .filter { !$0.isEmpty }
            .prefix(maxWords).map { $0 }
    }

    /// Whether this asks for anything but the default list.
    public var isFiltered: Bool { !words.isEmpty || !city.isEmpty || from != nil || to != nil || hasTickets }

    /// The query: the scheduled concerts' part and the cancelled ones' part, each in the order
    /// of its `(status, starts_at, id)` index (or its city's, or the words' trigram index when
    /// that is cheaper), merged. Where the cursor stands decides each part's start: in the
    /// scheduled part, that part starts after it and the cancelled one at its beginning; in
    /// the cancelled part, the scheduled part is over (it starts after `infinity`).
    /// The SQL's shape depends only on which filters are present (the values are bound), so a
    /// session prepares a few statements, not one per search.
    func sql(now: Date, hasTicketsSQL: String?) -> SQLQuery {
        let fetch = limit + 1
        let start = after ?? ConcertCursor.start
        let scheduledAfter = start.cancelled ? ConcertCursor.end : start
        let cancelledAfter = start.cancelled ? start : ConcertCursor.start
        let filters = filterSQL(now: now, hasTicketsSQL: hasTicketsSQL)
        let columns = """
            c.id, c.organiser_id, c.artist, c.title, c.venue, c.city, c.starts_at, c.time_zone, c.currency,
            c.status, c.ticket_levels, c.min_price, c.updated_at, c.version,
            (extract(epoch FROM c.starts_at) * 1000000)::bigint AS starts_us
            """
        let cancelledPart: SQLQuery =
            hasTickets
            ? "SELECT \(unsafeSQL: columns) FROM concerts c WHERE false"
            : """
            SELECT \(unsafeSQL: columns) FROM concerts c
            WHERE c.status = 'cancelled' AND \(subquery: filters)
              AND (c.starts_at, c.id) > (\(cancelledAfter.startsAtText)::timestamptz, \(cancelledAfter.id))
            ORDER BY c.starts_at, c.id LIMIT \(fetch)
            """
        // Whether a concert is sold out is worked out for the page's concerts only, after the
        // limit (the inner parts may bring up to twice as many).
        let query: SQLQuery = """
            SELECT c.*, \(unsafeSQL: hasTicketsSQL.map { "NOT " + $0 } ?? "false") AS sold_out FROM (
            SELECT * FROM (
                (SELECT \(unsafeSQL: columns) FROM concerts c
                 WHERE c.status = 'scheduled' AND \(subquery: filters)
                   AND (c.starts_at, c.id) > (\(scheduledAfter.startsAtText)::timestamptz, \(scheduledAfter.id))
                 ORDER BY c.starts_at, c.id LIMIT \(fetch))
                UNION ALL
                (\(subquery: cancelledPart))
            ) AS found
            ORDER BY status = 'cancelled', starts_at, id LIMIT \(fetch)
            ) AS c
            ORDER BY c.status = 'cancelled', c.starts_at, c.id
            """
        // Words and a city are folded by `concerts_fold`, which the planner works out for the
        // values given: each search is planned for its own words (see `withCustomPlan`).
        return words.isEmpty && city.isEmpty ? query : query.withCustomPlan()
    }

    /// The filters every part shares.
    func filterSQL(now: Date, hasTicketsSQL: String?) -> SQLQuery {
        var sql: SQLQuery = "true"
        for word in words {
            sql = "\(subquery: sql) AND c.search LIKE '%' || concerts_fold(\(Self.likeEscaped(word))) || '%'"
        }
        if !city.isEmpty { sql = "\(subquery: sql) AND c.city_key = concerts_fold(\(city))" }
        // Moments bound `starts_at` directly; days bound the venue's date, and `starts_at`
        // loosely around them (no zone is more than 14 hours from UTC), so the index still serves.
        var earliest = now.addingTimeInterval(-Self.pastGrace)
        var latest = Date.distantFuture
        var days: (from: String, to: String)?
        switch from {
        case .moment(let moment): earliest = moment
        case .day(let day):
            earliest = day.midnightUTC.addingTimeInterval(-14 * 3600)
            days = (day.description, "infinity")
        case nil: break
        }
        switch to {
        case .moment(let moment): latest = moment
        case .day(let day):
            latest = day.midnightUTC.addingTimeInterval(86_400 + 12 * 3600)
            days = (days?.from ?? "-infinity", day.description)
        case nil: break
        }
        sql = "\(subquery: sql) AND c.starts_at >= \(earliest) AND c.starts_at <= \(latest)"
        if let days {
            sql = "\(subquery: sql) AND c.local_date >= \(days.from)::date AND c.local_date <= \(days.to)::date"
        }
        if hasTickets, let hasTicketsSQL { sql = "\(subquery: sql) AND \(unsafeSQL: hasTicketsSQL)" }
        return sql
    }

    /// A word as a LIKE pattern's literal part: `%`, `_` and `\` stand for themselves.
    static func likeEscaped(_ word: String) -> String {
        var escaped = ""
        for character in word {
            if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}

/// A calendar day with no zone: `2027-06-05`.
public struct LocalDate: Sendable, Equatable, CustomStringConvertible {
    public let year, month, day: Int

    /// Parses `YYYY-MM-DD` (years 2000 to 2200); nil for anything else.
    public init?(parsing text: String) {
        guard let moment = LocalDateTime(parsing: text + "T00:00") else { return nil }
        (year, month, day) = (moment.year, moment.month, moment.day)
    }

    public var description: String {
        "\(LocalDateTime.pad(year, 4))-\(LocalDateTime.pad(month, 2))-\(LocalDateTime.pad(day, 2))"
    }

    /// The day's start in UTC.
    var midnightUTC: Date {
        Date(timeIntervalSince1970: TimeInterval(CivilDays.days(year: year, month: month, day: day) * 86_400))
    }
}

/// Where a page of the concert list ends: the last concert's group (scheduled or cancelled),
/// start (in microseconds, exactly as stored) and id. Opaque to clients: base64url text.
public struct ConcertCursor: Sendable, Equatable {
    public let cancelled: Bool
    /// Microseconds since 1970; nil for the ends of the order.
    let startsAtMicros: Int64?
    let startsAtEnd: String
    public let id: String

    init(cancelled: Bool, startsAtMicros: Int64, id: String) {
        self.cancelled = cancelled
        self.startsAtMicros = startsAtMicros
        startsAtEnd = ""
        self.id = id
    }

    private init(end: String) {
        cancelled = false
        startsAtMicros = nil
        startsAtEnd = end
        id = ""
    }

    /// Before every concert of a part, and after every one.
    static let start = ConcertCursor(end: "-infinity")
    static let end = ConcertCursor(end: "infinity")

    /// The start as `timestamptz` text, exact to the microsecond.
    var startsAtText: String {
        guard let micros = startsAtMicros else { return startsAtEnd }
        let seconds = Int(micros.quotientAndRemainder(dividingBy: 1_000_000).quotient)
        var whole = seconds
        var fraction = Int(micros % 1_000_000)
        if fraction < 0 {
            fraction += 1_000_000
            whole -= 1
        }
        let moment = LocalDateTime(wallSeconds: whole)
        let second = (whole % 60 + 60) % 60
        return "\(moment.description):\(LocalDateTime.pad(second, 2)).\(LocalDateTime.pad(fraction, 6))+00"
    }

    /// The cursor as clients see it.
    public var token: String {
        let text = "1:\(cancelled ? 1 : 0):\(startsAtMicros ?? 0):\(id)"
        return Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Reads a token; nil when it is not one of ours.
    public init?(token: String) {
        guard !token.isEmpty, token.count <= 400,
            token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else { return nil }
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8) else {
            return nil
        }
        let parts = text.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "1", parts[1] == "0" || parts[1] == "1",
            let micros = Int64(parts[2]), abs(micros) < 10_000_000_000_000_000, !parts[3].isEmpty,
            parts[3].count <= 200,
            !parts[3].unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { return nil }
        self.init(cancelled: parts[1] == "1", startsAtMicros: micros, id: String(parts[3]))
    }
}
