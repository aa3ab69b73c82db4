import Foundation

/// An e-mail address, normalised: surrounding spaces removed and lower-cased, so that
/// " Ann@Example.com " and "ann@example.com" are the same account.
public struct EmailAddress: Sendable, Equatable, Hashable {
    public let value: String

    public init(_ raw: String) throws {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard trimmed.count <= 254 else {
            throw UserError.invalid(field: "email", message: "The e-mail address is too long.")
        }
        let parts = trimmed.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64, parts[1].contains("."),
            !parts[1].hasPrefix("."), !parts[1].hasSuffix("."), !parts[1].contains(".."),
            trimmed.allSatisfy({ !$0.isWhitespace && $0 != "<" && $0 != ">" && $0 != "," })
        else {
            throw UserError.invalid(field: "email", message: "Enter an e-mail address like name@example.com.")
        }
        value = trimmed
    }
}

/// A person's display name: 1 to 100 characters after trimming, no control characters.
public struct PersonName: Sendable, Equatable {
    public let value: String

    public init(_ raw: String) throws {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw UserError.invalid(field: "name", message: "Enter your name.") }
        guard trimmed.count <= 100 else {
            throw UserError.invalid(field: "name", message: "The name may have at most 100 characters.")
        }
        guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw UserError.invalid(field: "name", message: "The name contains characters that are not allowed.")
        }
        value = trimmed
    }
}

/// A new password: 8 to 1,024 characters (ASVS 2.1.1 and 2.1.2); any characters, spaces
/// included, and no composition rules. Never logged, echoed or stored in events.
public struct NewPassword: Sendable {
    public let value: String

    public init(_ raw: String) throws {
        guard raw.count >= 8 else {
            throw UserError.invalid(field: "password", message: "The password needs at least 8 characters.")
        }
        guard raw.count <= 1024 else {
            throw UserError.invalid(field: "password", message: "The password may have at most 1,024 characters.")
        }
        value = raw
    }
}

extension NewPassword: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String { "<password>" }
    public var debugDescription: String { "<password>" }
}
