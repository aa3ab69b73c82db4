import EventStore
import Foundation
import Testing

@testable import Finance

/// Financial details: created once, then updated; validated for form before any command is
/// made, each error naming its field as the API spells it.
@Suite struct UserFinancialInfoTests {
    typealias Spec = DeciderSpec<UserFinancialInfo>
    static let now = Date(timeIntervalSince1970: 1_900_000_000)

    static func details(
        legalName: String = "Anna Kowalska", country: String = "PL", postalCode: String = "00-950",
        taxId: String? = nil
    ) throws -> FinancialDetails {
        try FinancialDetails(
            legalName: legalName, line1: "ul. Długa 1", line2: nil, postalCode: postalCode, city: "Warszawa",
            country: country, taxId: taxId)
    }

    @Test func createdOnceThenUpdated() throws {
        let first = try Self.details()
        let second = try Self.details(legalName: "Anna Kowalska-Nowak")
        let created = UserFinancialInfo.Event.created(
            UserFinancialInfoCreated(userId: "ann", details: first, createdAt: Self.now))
        try Spec.given([]).when(.create(CreateUserFinancialInfo(userId: "ann", details: first, now: Self.now)))
            .then([created])
        try Spec.given([created]).when(.create(CreateUserFinancialInfo(userId: "ann", details: first, now: Self.now)))
            .then([])
        try Spec.given([created]).when(.create(CreateUserFinancialInfo(userId: "ann", details: second, now: Self.now)))
            .thenThrows(FinanceError.financialInfoExists)
        try Spec.given([created]).when(.update(UpdateUserFinancialInfo(details: second, now: Self.now))).then([
            .updated(UserFinancialInfoUpdated(userId: "ann", details: second, updatedAt: Self.now))
        ])
        try Spec.given([created]).when(.update(UpdateUserFinancialInfo(details: first, now: Self.now))).then([])
        try Spec.given([]).when(.update(UpdateUserFinancialInfo(details: first, now: Self.now))).thenThrows(
            FinanceError.noFinancialInfo)
    }

    func field(_ make: () throws -> FinancialDetails) -> String? {
        do {
            _ = try make()
            return nil
        } catch FinanceError.invalid(let field, _) {
            return field
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func badFieldsAreNamed() throws {
        #expect(field { try Self.details(legalName: String(repeating: "x", count: 10_000)) } == "legalName")
        #expect(field { try Self.details(legalName: "   ") } == "legalName")
        #expect(field { try Self.details(legalName: "Ann\u{7}") } == "legalName")
        #expect(field { try Self.details(country: "") } == "address.country")
        #expect(field { try Self.details(country: "Poland") } == "address.country")
        #expect(field { try Self.details(country: "QQ") } == "address.country")
        #expect(field { try Self.details(postalCode: "00950") } == "address.postalCode")
        #expect(field { try Self.details(country: "DE", postalCode: "10115") } == nil)
    }

    @Test func polishNIPsHaveTheirChecksum() throws {
        #expect(TaxIdentifier.isValidNIP("1234563218"))
        #expect(!TaxIdentifier.isValidNIP("1234563219"))
        #expect(!TaxIdentifier.isValidNIP("123456321"))
        #expect(try Self.details(taxId: "123-456-32-18").taxId == "1234563218")
        #expect(try Self.details(taxId: "pl 123 456 32 18").taxId == "PL1234563218")
        #expect(try Self.details(taxId: "").taxId == nil)
        #expect(field { try Self.details(taxId: "1234563219") } == "taxId")
        #expect(field { try Self.details(taxId: "PL1234563219") } == "taxId")
        #expect(field { try Self.details(taxId: "12345") } == "taxId")
    }

    @Test func euVATNumbersHaveTheirCountrysShape() throws {
        let valid = [
            "DE123456789", "FR12345678901", "FRXX123456789", "IT12345678901", "ESX1234567X", "ES12345678Z",
            "NL123456789B01", "CZ12345678", "CZ1234567890", "SK1234567890", "ATU12345678", "BE0123456789",
            "EL123456789", "SE123456789001", "IE1234567WA",
        ]
        for id in valid {
            #expect(try Self.details(country: "DE", postalCode: "10115", taxId: id).taxId == id, "\(id)")
        }
        let invalid = [
            "DE12345678", "FR1234567890", "IT1234567890", "NL123456789C01", "CZ1234567", "SK123456789",
            "AT12345678", "BE2123456789", "ES123456789012", "DE12345678X", "PL123456789",
        ]
        for id in invalid {
            #expect(field { try Self.details(country: "DE", postalCode: "10115", taxId: id) } == "taxId", "\(id)")
        }
        // In the EU, a VAT number needs its prefix; outside it, other tax numbers are taken as given.
        #expect(field { try Self.details(country: "DE", postalCode: "10115", taxId: "123456789") } == "taxId")
        #expect(try Self.details(country: "US", postalCode: "10001", taxId: "12-3456789").taxId == "123456789")
        #expect(try Self.details(country: "GB", postalCode: "SW1A 1AA", taxId: "GB123456789").taxId == "GB123456789")
        #expect(field { try Self.details(taxId: String(repeating: "1", count: 25)) } == "taxId")
        #expect(field { try Self.details(taxId: "PL12345<6321") } == "taxId")
    }

    @Test func vatRatesAreReadAsPercentagesWithTwoDecimalsAtMost() throws {
        #expect(try SetVATRate.basisPoints(fromPercent: 8) == 800)
        #expect(try SetVATRate.basisPoints(fromPercent: Decimal(string: "5.5")!) == 550)
        #expect(try SetVATRate.basisPoints(fromPercent: 0) == 0)
        for bad in ["-1", "100.01", "8.125", "1e30"] {
            #expect(throws: FinanceError.self) { try SetVATRate.basisPoints(fromPercent: Decimal(string: bad)!) }
        }
    }
}
