/// Tax ids checked for form (never against a register: VIES is not asked).
///
/// - An id that starts with an EU VAT prefix (`PL`, `DE`, `FR`, `EL` for Greece, `XI` for
///   Northern Ireland...) must have that country's shape after it, as VIES describes them;
///   a Polish one (`PL` + NIP) must also pass the NIP checksum.
/// - Without a prefix, for an address in Poland: a NIP, 10 digits whose checksum holds
///   (weights 6, 5, 7, 2, 3, 4, 5, 6, 7 on the first nine; their sum mod 11 is the tenth,
///   and a sum that leaves 10 is no NIP).
/// - Without a prefix, for an address elsewhere in the EU: refused; a VAT number there is
///   written with its prefix.
/// - For an address outside the EU: 4 to 20 letters and digits (the form of tax numbers
///   differs too much to check further).
///
/// Spaces, dots and dashes are dropped and letters upper-cased first ("PL 123-456-32-18" is
/// `PL1234563218`); an empty id is no id.
public enum TaxIdentifier {
    /// What follows each EU VAT prefix: `#` a digit, `@` a letter, `*` a letter or a digit,
    /// anything else itself; one of the shapes must match.
    static let vatShapes: [String: [String]] = [
        "AT": ["U########"],
        "BE": ["0#########", "1#########"],
        "BG": ["#########", "##########"],
        "CY": ["########@"],
        "CZ": ["########", "#########", "##########"],
        "DE": ["#########"],
        "DK": ["########"],
        "EE": ["#########"],
        "EL": ["#########"],
        "ES": ["*#######*"],
        "FI": ["########"],
        "FR": ["**#########"],
        "HR": ["###########"],
        "HU": ["########"],
        "IE": ["#######@", "#######@@", "#*#####@"],
        "IT": ["###########"],
        "LT": ["#########", "############"],
        "LU": ["########"],
        "LV": ["###########"],
        "MT": ["########"],
        "NL": ["#########B##"],
        "PL": ["##########"],
        "PT": ["#########"],
        "RO": (2...10).map { String(repeating: "#", count: $0) },
        "SE": ["##########01"],
        "SI": ["########"],
        "SK": ["##########"],
        "XI": ["#########", "############", "GD###", "HA###"],
    ]

    /// The id as it is kept, nil for none; throws `FinanceError.invalid` on field `taxId`.
    /// `country` is the address's (ISO code, upper case).
    public static func normalized(_ raw: String, country: String) throws -> String? {
        let id = String(raw.uppercased().filter { $0 != " " && $0 != "." && $0 != "-" })
        guard !id.isEmpty else { return nil }
        guard id.count <= 20, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw invalid("A tax id is at most 20 letters and digits.")
        }
        let prefix = String(id.prefix(2))
        if prefix.allSatisfy(\.isLetter), let shapes = vatShapes[prefix] {
            let rest = String(id.dropFirst(2))
            guard shapes.contains(where: { matches(rest, $0) }) else {
                throw invalid("This is not the shape of a \(prefix) VAT number.")
            }
            guard prefix != "PL" || isValidNIP(rest) else { throw invalid(nipMessage) }
            return id
        }
        if country == "PL" {
            guard id.count == 10, id.allSatisfy(\.isNumber), isValidNIP(id) else { throw invalid(nipMessage) }
            return id
        }
        if Countries.euMembers.contains(country) {
            throw invalid("Write the VAT number with its country prefix, like DE123456789.")
        }
        guard id.count >= 4 else { throw invalid("A tax id has at least 4 letters and digits.") }
        return id
    }

    static let nipMessage = "This is not a valid Polish NIP (10 digits whose check digit must match)."

    static func invalid(_ message: String) -> FinanceError { .invalid(field: "taxId", message: message) }

    /// Whether ten digits are a NIP: the weighted sum of the first nine, mod 11, is the tenth.
    public static func isValidNIP(_ digits: String) -> Bool {
        let values = digits.compactMap { $0.isASCII ? $0.wholeNumberValue : nil }
        guard values.count == 10, digits.count == 10 else { return false }
        let weights = [6, 5, 7, 2, 3, 4, 5, 6, 7]
        let check = zip(weights, values).reduce(0) { $0 + $1.0 * $1.1 } % 11
        return check != 10 && check == values[9]
    }

    static func matches(_ text: String, _ shape: String) -> Bool {
        guard text.count == shape.count else { return false }
        return zip(text, shape).allSatisfy { character, rule in
            switch rule {
            case "#": character.isNumber
            case "@": character.isLetter
            case "*": character.isLetter || character.isNumber
            default: character == rule
            }
        }
    }
}
