import Foundation
import Web

/// Maps the Concerts context's errors to HTTP.
extension ConcertError {
    var http: HTTPError {
        switch self {
        case .notFound: HTTPError(status: 404, code: "unknown_concert", message: "There is no such concert.")
        case .alreadyExists: HTTPError(status: 409, code: "concert_exists", message: "This concert exists already.")
        case .cancelled:
            HTTPError(status: 409, code: "concert_cancelled", message: "The concert is cancelled; it cannot change.")
        case .alreadyCancelled:
            HTTPError(status: 409, code: "already_cancelled", message: "The concert is cancelled already.")
        case .capacityBelowTaken(let levelId, let taken):
            HTTPError(
                status: 409, code: "capacity_below_sold",
                message: "The level '\(levelId)' has \(taken) tickets held or sold; its capacity cannot go below that.",
                field: "ticketLevels")
        case .invalid(let field, let message):
            HTTPError(status: 422, code: "invalid_field", message: message, field: field)
        }
    }
}

func mappingConcertErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ConcertError {
        throw error.http
    }
}

/// Parsing of what organisers send, shared by the API and the forms.
enum ConcertInput {
    /// RFC 3339, with or without fractional seconds.
    static func date(_ text: String, field: String = "startsAt") throws -> Date {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let plain = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = plain.date(from: trimmed) ?? fractional.date(from: trimmed) { return date }
        throw ConcertError.invalid(
            field: field, message: "The start time must be an RFC 3339 time, like 2027-06-01T19:00:00Z.")
    }

    /// A form's `datetime-local` value (`2027-06-01T19:00`), read as UTC.
    static func formDate(_ text: String) throws -> Date {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let date = try? date(trimmed) { return date }
        if let date = try? date(trimmed + ":00Z") { return date }
        throw ConcertError.invalid(field: "startsAt", message: "Enter the start date and time.")
    }

    /// A price typed as major units ("450", "450.50") into minor units (45050).
    static func formPrice(_ text: String, position: Int) throws -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ",", with: ".")
        let parts = trimmed.split(separator: ".", omittingEmptySubsequences: false)
        guard !trimmed.isEmpty, parts.count <= 2, let whole = Int(parts[0]), whole >= 0,
            parts.count == 1 || (parts[1].count <= 2 && Int(parts[1]) != nil)
        else {
            throw ConcertError.invalid(
                field: "ticketLevels[\(position)].price", message: "Enter the price like 450 or 450.50.")
        }
        var cents = 0
        if parts.count == 2 { cents = Int(parts[1])! * (parts[1].count == 1 ? 10 : 1) }
        return whole * 100 + cents
    }

    static func slug(_ name: String) -> String {
        let lowered = name.lowercased().folding(options: .diacriticInsensitive, locale: nil)
        var slug = ""
        for character in lowered {
            if character.isASCII && (character.isLetter || character.isNumber) {
                slug.append(character)
            } else if !slug.hasSuffix("-") {
                slug.append("-")
            }
        }
        return String(slug.trimmingCharacters(in: CharacterSet(charactersIn: "-")).prefix(40))
    }

    /// Formats minor units as major units for display ("450.00").
    static func money(_ amount: Int, _ currency: String) -> String {
        "\(amount / 100).\(String(format: "%02d", amount % 100)) \(currency)"
    }

    static func majorUnits(_ amount: Int) -> String {
        amount % 100 == 0 ? "\(amount / 100)" : "\(amount / 100).\(String(format: "%02d", amount % 100))"
    }
}
