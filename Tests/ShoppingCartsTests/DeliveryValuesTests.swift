import Foundation
import Testing

@testable import ShoppingCarts

/// The delivery choice's validation: an e-mail address for online tickets, a postal address
/// for printed ones. Every refusal is `CartError.invalid` naming the field.
@Suite struct DeliveryValuesTests {
    static func invalid(_ field: String) -> (Error) -> Bool {
        { error in
            if case .invalid(let f, let message)? = error as? CartError { return f == field && !message.isEmpty }
            return false
        }
    }

    func expectInvalid(_ field: String, _ body: () throws -> Any, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let value = try body()
            Issue.record("expected invalid \(field), got \(value)", sourceLocation: sourceLocation)
        } catch {
            #expect(Self.invalid(field)(error), "got \(error)", sourceLocation: sourceLocation)
        }
    }

    static func address(
        name: String = "Ada Lovelace", line1: String = "ul. Marszałkowska 1", line2: String = "",
        postalCode: String = "00-950", city: String = "Warszawa", country: String = "PL"
    ) throws -> PostalAddress {
        try PostalAddress(name: name, line1: line1, line2: line2, postalCode: postalCode, city: city, country: country)
    }

    // MARK: online

    @Test func onlineTakesATrimmedLowerCasedAddress() throws {
        #expect(try Delivery.online(validating: "  Ada@Example.COM \n") == .online(email: "ada@example.com"))
        #expect(
            try Delivery.online(validating: "a.b+tickets@mail.example.pl")
                == .online(email: "a.b+tickets@mail.example.pl"))
    }

    @Test func onlineRefusesWhatIsNoEmailAddress() {
        let bad = [
            "", "   ", "ada", "ada@", "@example.com", "ada@example", "ada@.example.com", "ada@example.com.",
            "ada@@example.com", "a@b@example.com", "ada lovelace@example.com",
            String(repeating: "a", count: 250) + "@example.com",
        ]
        for raw in bad {
            expectInvalid("email") { try Delivery.online(validating: raw) }
        }
    }

    // MARK: printed

    @Test func aValidPolishAddress() throws {
        let address = try Self.address(
            name: " Ada Lovelace ", line1: " ul. Marszałkowska 1 ", line2: "  m. 4 ", postalCode: " 00-950 ",
            city: " Warszawa ", country: "pl")
        #expect(address.name == "Ada Lovelace")
        #expect(address.line1 == "ul. Marszałkowska 1")
        #expect(address.line2 == "m. 4")
        #expect(address.postalCode == "00-950")
        #expect(address.city == "Warszawa")
        #expect(address.country == "PL")
    }

    @Test func theSecondLineIsOptional() throws {
        #expect(try Self.address(line2: "").line2 == "")
        #expect(try Self.address(line2: "   ").line2 == "")
    }

    @Test func otherCountriesKeepTheirOwnPostalCodes() throws {
        #expect(try Self.address(postalCode: "sw1a 1aa", city: "London", country: "GB").postalCode == "SW1A 1AA")
        #expect(try Self.address(postalCode: "10115", city: "Berlin", country: "de").postalCode == "10115")
        #expect(try Self.address(postalCode: "1010", city: "Wien", country: "AT").postalCode == "1010")
    }

    @Test func requiredFields() {
        expectInvalid("address.name") { try Self.address(name: "") }
        expectInvalid("address.name") { try Self.address(name: " \t ") }
        expectInvalid("address.line1") { try Self.address(line1: "") }
        expectInvalid("address.postalCode") { try Self.address(postalCode: "  ") }
        expectInvalid("address.city") { try Self.address(city: "") }
        expectInvalid("address.country") { try Self.address(country: "") }
    }

    @Test func lengthLimits() throws {
        _ = try Self.address(name: String(repeating: "n", count: 100))
        expectInvalid("address.name") { try Self.address(name: String(repeating: "n", count: 101)) }
        _ = try Self.address(line1: String(repeating: "l", count: 200))
        expectInvalid("address.line1") { try Self.address(line1: String(repeating: "l", count: 201)) }
        _ = try Self.address(line2: String(repeating: "l", count: 200))
        expectInvalid("address.line2") { try Self.address(line2: String(repeating: "l", count: 201)) }
        _ = try Self.address(city: String(repeating: "c", count: 100))
        expectInvalid("address.city") { try Self.address(city: String(repeating: "c", count: 101)) }
        expectInvalid("address.postalCode") {
            try Self.address(postalCode: "1234567890123", country: "GB")
        }
    }

    @Test func postalCodeCharacters() {
        for code in ["00<950", "10115;", "SW1A_1AA", "12'45"] {
            expectInvalid("address.postalCode") { try Self.address(postalCode: code, country: "DE") }
        }
    }

    @Test func polishPostalCodesLookLike00Dash950() {
        // ASCII digits only: "²" and Arabic-Indic digits are numbers to Swift, not to the post
        let codes = ["00950", "00 950", "0-0950", "000-950", "00-95", "AB-950", "00-9S0", "00–950", "00-95²", "٠٠-٩٥٠"]
        for code in codes {
            expectInvalid("address.postalCode") { try Self.address(postalCode: code, country: "PL") }
            expectInvalid("address.postalCode") { try Self.address(postalCode: code, country: "pl") }
        }
    }

    /// The country is trimmed before it is stored, so it must be trimmed before the Polish
    /// format is checked too: " PL" is stored as "PL" and gets the same rule.
    @Test func polishFormatAlsoForACountryWithSpaces() {
        expectInvalid("address.postalCode") { try Self.address(postalCode: "00950", country: " PL ") }
        expectInvalid("address.postalCode") { try Self.address(postalCode: "12345", country: "pl ") }
    }

    @Test func countryIsATwoLetterCode() {
        for country in ["P", "POL", "P1", "12", "Polska", "ŁP"] {
            expectInvalid("address.country") { try Self.address(postalCode: "00950", country: country) }
        }
    }

    @Test func printedDeliveryIsEquatableByAddress() throws {
        #expect(Delivery.printed(try Self.address()) == .printed(try Self.address(name: "  Ada Lovelace")))
        #expect(Delivery.printed(try Self.address()) != .printed(try Self.address(line2: "m. 4")))
        #expect(Delivery.printed(try Self.address()) != .online(email: "ada@example.com"))
    }
}
