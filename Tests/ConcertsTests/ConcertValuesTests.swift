import Foundation
import Testing

@testable import Concerts

/// The value constructors the commands are built from: `ConcertDetails`, `TicketLevel` and
/// `Currency` refuse invalid input naming the field, before any decider runs.
@Suite struct ConcertValuesTests {
    static let startsAt = Date(timeIntervalSince1970: 1_790_000_000)

    static func field(of body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch ConcertError.invalid(let field, let message) {
            #expect(!message.isEmpty)
            return field
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    static func details(
        artist: String = "Dua Lipa", title: String = "", venue: String = "Tauron Arena", city: String = "Kraków"
    ) throws -> ConcertDetails {
        try ConcertDetails(artist: artist, title: title, venue: venue, city: city, startsAt: startsAt)
    }

    // MARK: ConcertDetails

    @Test func detailsAreTrimmed() throws {
        let details = try Self.details(artist: "  Dua Lipa\n", title: " Radical Optimism ", venue: "\tTauron Arena")
        #expect(details.artist == "Dua Lipa")
        #expect(details.title == "Radical Optimism")
        #expect(details.venue == "Tauron Arena")
        #expect(details.city == "Kraków")
        #expect(details.startsAt == Self.startsAt)
    }

    @Test func theTitleIsOptional() throws {
        #expect(try Self.details(title: "   ").title == "")
    }

    @Test(arguments: ["", "   ", "\n\t"])
    func anArtistIsRequired(artist: String) {
        #expect(Self.field { _ = try Self.details(artist: artist) } == "artist")
    }

    @Test(arguments: ["", "  "])
    func aVenueIsRequired(venue: String) {
        #expect(Self.field { _ = try Self.details(venue: venue) } == "venue")
    }

    @Test(arguments: ["", " "])
    func aCityIsRequired(city: String) {
        #expect(Self.field { _ = try Self.details(city: city) } == "city")
    }

    @Test func theFirstInvalidFieldIsNamed() {
        #expect(Self.field { _ = try Self.details(artist: "", venue: "", city: "") } == "artist")
        #expect(Self.field { _ = try Self.details(venue: "", city: "") } == "venue")
    }

    @Test func lengthLimits() throws {
        #expect(try Self.details(artist: String(repeating: "a", count: 200)).artist.count == 200)
        #expect(Self.field { _ = try Self.details(artist: String(repeating: "a", count: 201)) } == "artist")
        #expect(Self.field { _ = try Self.details(title: String(repeating: "t", count: 201)) } == "title")
        #expect(Self.field { _ = try Self.details(venue: String(repeating: "v", count: 201)) } == "venue")
        #expect(try Self.details(city: String(repeating: "c", count: 100)).city.count == 100)
        #expect(Self.field { _ = try Self.details(city: String(repeating: "c", count: 101)) } == "city")
    }

    @Test func controlCharactersAreRefused() {
        #expect(Self.field { _ = try Self.details(artist: "Dua\u{0}Lipa") } == "artist")
        #expect(Self.field { _ = try Self.details(title: "Radical\u{7}Optimism") } == "title")
        #expect(Self.field { _ = try Self.details(city: "Kra\u{1B}ków") } == "city")
    }

    // MARK: TicketLevel

    @Test func aValidLevel() throws {
        let level = try TicketLevel(id: " golden_circle-1 ", name: " Golden circle ", capacity: 2_000, price: 89_900)
        #expect(level.id == "golden_circle-1")
        #expect(level.name == "Golden circle")
        #expect(level.capacity == 2_000)
        #expect(level.price == 89_900)
    }

    @Test(arguments: [0, -1, 100_001, Int.max])
    func capacityOutsideOneToOneHundredThousandIsRefused(capacity: Int) {
        #expect(
            Self.field { _ = try TicketLevel(id: "a", name: "A", capacity: capacity, price: 1, position: 0) }
                == "ticketLevels[0].capacity")
    }

    @Test func capacityBoundsAreAccepted() throws {
        #expect(try TicketLevel(id: "a", name: "A", capacity: 1, price: 1).capacity == 1)
        #expect(try TicketLevel(id: "a", name: "A", capacity: 100_000, price: 1).capacity == 100_000)
    }

    @Test(arguments: [-1, -45_000, Int.min])
    func aNegativePriceIsRefused(price: Int) {
        #expect(
            Self.field { _ = try TicketLevel(id: "a", name: "A", capacity: 1, price: price, position: 3) }
                == "ticketLevels[3].price")
    }

    @Test func aFreeLevelIsAccepted() throws {
        #expect(try TicketLevel(id: "free", name: "Guest list", capacity: 10, price: 0).price == 0)
    }

    @Test(arguments: ["", "  ", "golden circle", "złoty", "a/b", String(repeating: "x", count: 41)])
    func aBadLevelIdIsRefused(id: String) {
        #expect(
            Self.field { _ = try TicketLevel(id: id, name: "A", capacity: 1, price: 1, position: 1) }
                == "ticketLevels[1].id")
    }

    @Test func aLevelNeedsAName() {
        #expect(
            Self.field { _ = try TicketLevel(id: "a", name: "  ", capacity: 1, price: 1, position: 2) }
                == "ticketLevels[2].name")
    }

    @Test func listValidation() throws {
        #expect(Self.field { try TicketLevel.validate([]) } == "ticketLevels")
        let a = try TicketLevel(id: "a", name: "A", capacity: 1, price: 1)
        let b = try TicketLevel(id: "b", name: "B", capacity: 1, price: 1)
        #expect(Self.field { try TicketLevel.validate([a, b]) } == nil)
        #expect(Self.field { try TicketLevel.validate([a, b, a]) } == "ticketLevels[2].id")
    }

    // MARK: Currency

    @Test(arguments: [("PLN", "PLN"), ("pln", "PLN"), (" eur ", "EUR"), ("Usd", "USD")])
    func currenciesAreUpperCased(input: String, expected: String) throws {
        #expect(try Currency.validate(input) == expected)
    }

    @Test(arguments: ["", "PL", "PLNN", "12A", "P N", "ZŁO", "€€€"])
    func badCurrenciesAreRefused(code: String) {
        #expect(Self.field { _ = try Currency.validate(code) } == "currency")
    }
}
