import Foundation

/// What the public sees of a concert, besides its ticket levels.
public struct ConcertDetails: Sendable, Equatable, Codable {
    public let artist: String
    public let title: String
    public let venue: String
    public let city: String
    /// The moment it starts (stored and sent in UTC).
    public let startsAt: Date
    /// The venue's IANA time zone, whose clock the pages show `startsAt` on (`VenueTimeZone`).
    public let timeZone: String

    /// Validates and trims every field; throws naming the first invalid one.
    public init(
        artist: String, title: String, venue: String, city: String, startsAt: Date,
        timeZone: String = VenueTimeZone.utc
    ) throws {
        self.artist = try Text.required(artist, field: "artist", max: 200)
        self.title = try Text.optional(title, field: "title", max: 200)
        self.venue = try Text.required(venue, field: "venue", max: 200)
        self.city = try Text.required(city, field: "city", max: 100)
        self.timeZone = try VenueTimeZone.validate(timeZone)
        self.startsAt = startsAt
    }

    /// The same, with the start given as the venue's wall-clock time, resolved in `timeZone`
    /// by `VenueClock`'s rule: the first of a time that happens twice; a time that never
    /// happens (the clocks jump over it) is refused naming `startsAt`.
    public init(
        artist: String, title: String, venue: String, city: String, localStart: LocalDateTime, timeZone: String
    ) throws {
        // The text fields and the zone first, so that the first invalid field is named.
        let checked = try ConcertDetails(
            artist: artist, title: title, venue: venue, city: city, startsAt: .distantFuture, timeZone: timeZone)
        try self.init(
            artist: checked.artist, title: checked.title, venue: checked.venue, city: checked.city,
            startsAt: try VenueClock.instant(of: localStart, in: VenueTimeZone.stored(checked.timeZone)),
            timeZone: checked.timeZone)
    }

    /// The wall-clock time at the venue when it starts.
    public var localStart: LocalDateTime { LocalDateTime(startsAt, in: VenueTimeZone.stored(timeZone)) }
}

/// One kind of ticket: an id unique within the concert, a name, how many exist, and a price
/// in minor units of the concert's currency.
public struct TicketLevel: Sendable, Equatable, Codable {
    public let id: String
    public let name: String
    public let capacity: Int
    public let price: Int

    public static let maxCapacity = 100_000
    /// The most levels a concert has (a stadium's plan has about a dozen).
    public static let maxLevels = 20
    /// The highest price, in minor units (1,000,000.00).
    public static let maxPrice = 100_000_000

    public init(id: String, name: String, capacity: Int, price: Int, position: Int = 0) throws {
        let field = "ticketLevels[\(position)]"
        let trimmedId = id.trimmingCharacters(in: .whitespaces)
        guard !trimmedId.isEmpty, trimmedId.count <= 40,
            trimmedId.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else {
            throw ConcertError.invalid(
                field: "\(field).id", message: "A level id is 1 to 40 letters, digits, '-' or '_'.")
        }
        self.id = trimmedId
        self.name = try Text.required(name, field: "\(field).name", max: 100)
        guard (1...TicketLevel.maxCapacity).contains(capacity) else {
            throw ConcertError.invalid(
                field: "\(field).capacity", message: "A level's capacity is 1 to 100,000 tickets.")
        }
        guard price >= 0, price <= TicketLevel.maxPrice else {
            throw ConcertError.invalid(
                field: "\(field).price", message: "A price is 0 or more, in minor units (e.g. 45000 for 450.00).")
        }
        self.capacity = capacity
        self.price = price
    }

    /// Checks a list of levels: one to `maxLevels`, and unique ids.
    static func validate(_ levels: [TicketLevel]) throws {
        guard !levels.isEmpty else {
            throw ConcertError.invalid(field: "ticketLevels", message: "A concert needs at least one ticket level.")
        }
        guard levels.count <= maxLevels else {
            throw ConcertError.invalid(
                field: "ticketLevels", message: "A concert has at most \(maxLevels) ticket levels.")
        }
        var seen: Set<String> = []
        for (index, level) in levels.enumerated() where !seen.insert(level.id).inserted {
            throw ConcertError.invalid(
                field: "ticketLevels[\(index)].id", message: "The level id '\(level.id)' is used twice.")
        }
    }
}

/// An ISO 4217 currency code: three upper-case letters.
public enum Currency {
    public static func validate(_ code: String) throws -> String {
        let upper = code.trimmingCharacters(in: .whitespaces).uppercased()
        guard upper.count == 3, upper.allSatisfy({ $0.isASCII && $0.isLetter }) else {
            throw ConcertError.invalid(
                field: "currency", message: "The currency is a 3-letter ISO 4217 code, like PLN.")
        }
        return upper
    }
}

enum Text {
    static func required(_ raw: String, field: String, max: Int) throws -> String {
        let text = try optional(raw, field: field, max: max)
        guard !text.isEmpty else { throw ConcertError.invalid(field: field, message: "The \(field) is required.") }
        return text
    }

    static func optional(_ raw: String, field: String, max: Int) throws -> String {
        let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count <= max else {
            throw ConcertError.invalid(field: field, message: "The \(field) may have at most \(max) characters.")
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ConcertError.invalid(field: field, message: "The \(field) contains characters that are not allowed.")
        }
        return text
    }
}
