import Foundation

/// A postal address as an invoice shows it.
public struct BillingAddress: Sendable, Equatable, Codable {
    public let line1: String
    public let line2: String?
    public let postalCode: String
    public let city: String
    /// ISO 3166-1 alpha-2, upper case.
    public let country: String

    /// The lines an invoice prints: street, second line, postal code and city, country.
    public var lines: [String] {
        [line1] + (line2.map { [$0] } ?? []) + ["\(postalCode) \(city)", country]
    }
}

/// Who someone is for invoices: the legal name, the address and the tax id that a buyer's
/// invoices show (and, for an organiser, that their invoices show as the seller's).
///
/// Made only validated (`init(legalName:...)`), so a command never carries details that are
/// wrong; decoded from stored events as they were.
public struct FinancialDetails: Sendable, Equatable, Codable {
    public let legalName: String
    public let address: BillingAddress
    /// Upper case, without separators: an EU VAT number with its country prefix
    /// (`PL1234563218`), a Polish NIP (`1234563218`), or another country's tax number.
    public let taxId: String?

    /// The longest legal name kept (registers of companies allow about this much).
    public static let maxLegalName = 200

    /// Validates and normalises what a form or the API brings; throws `FinanceError.invalid`
    /// naming the first wrong field as the API spells it. Fields are trimmed; the country and
    /// the postal code upper-cased; the tax id upper-cased without spaces, dots or dashes.
    public init(
        legalName: String, line1: String, line2: String?, postalCode: String, city: String, country: String,
        taxId: String?
    ) throws {
        self.legalName = try Self.text(legalName, "legalName", "legal name", max: Self.maxLegalName)
        let line1 = try Self.text(line1, "address.line1", "street and number", max: 200)
        let second = try Self.text(line2 ?? "", "address.line2", "second line", max: 200, required: false)
        let postalCode = try Self.text(postalCode, "address.postalCode", "postal code", max: 12).uppercased()
        guard postalCode.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == " " || $0 == "-") }) else {
            throw FinanceError.invalid(
                field: "address.postalCode", message: "The postal code has characters that are not allowed.")
        }
        let city = try Self.text(city, "address.city", "city", max: 100)
        let country = try Self.text(country, "address.country", "country", max: 2, tooLong: Self.countryMessage)
            .uppercased()
        guard Countries.iso3166.contains(country) else {
            throw FinanceError.invalid(field: "address.country", message: Self.countryMessage)
        }
        if country == "PL" {
            guard postalCode.count == 6,
                postalCode.enumerated().allSatisfy({ $0.offset == 2 ? $0.element == "-" : $0.element.isNumber })
            else {
                throw FinanceError.invalid(
                    field: "address.postalCode", message: "A Polish postal code looks like 00-950.")
            }
        }
        address = BillingAddress(
            line1: line1, line2: second.isEmpty ? nil : second, postalCode: postalCode, city: city, country: country)
        self.taxId = try TaxIdentifier.normalized(taxId ?? "", country: country)
    }

    static let countryMessage = "The country is a two-letter ISO code, like PL."

    /// Trimmed text of 1 to `max` characters (0 when not `required`), without control characters.
    static func text(
        _ value: String, _ field: String, _ label: String, max: Int, required: Bool = true, tooLong: String? = nil
    ) throws -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !required || !trimmed.isEmpty else {
            throw FinanceError.invalid(field: field, message: "Enter the \(label).")
        }
        guard trimmed.count <= max else {
            throw FinanceError.invalid(field: field, message: tooLong ?? "The \(label) is at most \(max) characters.")
        }
        guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw FinanceError.invalid(field: field, message: "The \(label) may not contain control characters.")
        }
        return trimmed
    }
}

/// The countries an address may name: ISO 3166-1 alpha-2 codes (and XK, Kosovo, which the EU
/// and most registers use).
enum Countries {
    static let iso3166: Set<String> = Set(
        """
        AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY
        BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK
        FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR
        IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK
        ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
        PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
        TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))

    /// The EU's member states, by ISO code (Greece is GR here; its VAT prefix is EL).
    static let euMembers: Set<String> = [
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU",
        "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
    ]
}
