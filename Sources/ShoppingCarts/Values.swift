import Foundation

/// One line of a cart: tickets of one level of one concert, at the price when added.
public struct CartItem: Sendable, Equatable, Codable {
    public let concertId: String
    public let ticketLevelId: String
    public var quantity: Int
    public let unitPrice: Int
    public let currency: String

    public init(concertId: String, ticketLevelId: String, quantity: Int, unitPrice: Int, currency: String) {
        self.concertId = concertId
        self.ticketLevelId = ticketLevelId
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.currency = currency
    }
}

/// How the tickets reach the customer.
public enum Delivery: Sendable, Equatable, Codable {
    case online(email: String)
    case printed(PostalAddress)

    /// Validates an e-mail delivery.
    public static func online(validating raw: String) throws -> Delivery {
        let email = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard email.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
            !parts[1].hasPrefix("."), !parts[1].hasSuffix("."), !email.contains(where: \.isWhitespace)
        else {
            throw CartError.invalid(field: "email", message: "Enter the e-mail address the tickets go to.")
        }
        return .online(email: email)
    }
}

/// A postal address for printed tickets.
public struct PostalAddress: Sendable, Equatable, Codable {
    public let name: String
    public let line1: String
    public let line2: String
    public let postalCode: String
    public let city: String
    /// ISO 3166-1 alpha-2, upper case.
    public let country: String

    public init(name: String, line1: String, line2: String = "", postalCode: String, city: String, country: String)
        throws
    {
        func required(_ value: String, _ field: String, _ label: String, max: Int) throws -> String {
            let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else {
                throw CartError.invalid(field: "address.\(field)", message: "Enter the \(label).")
            }
            guard trimmed.count <= max else {
                throw CartError.invalid(field: "address.\(field)", message: "The \(label) is too long.")
            }
            return trimmed
        }
        self.name = try required(name, "name", "recipient's name", max: 100)
        self.line1 = try required(line1, "line1", "street and number", max: 200)
        let second = line2.trimmingCharacters(in: .whitespacesAndNewlines)
        guard second.count <= 200 else {
            throw CartError.invalid(field: "address.line2", message: "The second line is too long.")
        }
        self.line2 = second
        let code = try required(postalCode, "postalCode", "postal code", max: 12)
        guard code.allSatisfy({ $0.isLetter || $0.isNumber || $0 == " " || $0 == "-" }) else {
            throw CartError.invalid(
                field: "address.postalCode", message: "The postal code has characters that are not allowed.")
        }
        // The country as it is stored (trimmed, upper case), so " pl" gets the Polish rule too.
        if country.trimmingCharacters(in: .whitespaces).uppercased() == "PL" {
            guard code.count == 6,
                code.enumerated().allSatisfy({
                    $0.offset == 2 ? $0.element == "-" : $0.element.isASCII && $0.element.isNumber
                })
            else {
                throw CartError.invalid(field: "address.postalCode", message: "A Polish postal code looks like 00-950.")
            }
        }
        self.postalCode = code.uppercased()
        self.city = try required(city, "city", "city", max: 100)
        let countryCode = country.trimmingCharacters(in: .whitespaces).uppercased()
        guard countryCode.count == 2, countryCode.allSatisfy({ $0.isASCII && $0.isLetter }) else {
            throw CartError.invalid(field: "address.country", message: "The country is a two-letter code, like PL.")
        }
        self.country = countryCode
    }
}
