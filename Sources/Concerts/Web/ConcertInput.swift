import Foundation
import Web

/// The Concerts context's errors, as the API answers them.
extension ConcertError: HTTPErrorConvertible {
    public var http: HTTPError {
        switch self {
        case .notFound: HTTPError(status: 404, code: "unknown_concert", message: "There is no such concert.")
        case .alreadyExists: HTTPError(status: 409, code: "concert_exists", message: "This concert exists already.")
        case .cancelled:
            HTTPError(status: 409, code: "concert_cancelled", message: "The concert is cancelled; it cannot change.")
        case .alreadyCancelled:
            HTTPError(status: 409, code: "already_cancelled", message: "The concert is cancelled already.")
        case .notOnSale:
            HTTPError(
                status: 409, code: "concert_cancelled",
                message: "This concert is cancelled; its tickets are not on sale.")
        case .unknownConcert:
            HTTPError(status: 404, code: "unknown_concert", message: "There is no such concert.", field: "concertId")
        case .unknownTicketLevel:
            HTTPError(
                status: 404, code: "unknown_ticket_level", message: "The concert has no such ticket level.",
                field: "ticketLevelId")
        case .capacityBelowTaken(let levelId, let taken):
            HTTPError(
                status: 409, code: "capacity_below_sold",
                message: "The level '\(levelId)' has \(taken) tickets held or sold; its capacity cannot go below that.",
                field: "ticketLevels")
        case .invalid(let field, let message):
            .invalid(field, message)
        }
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

    /// A form's start typed as an RFC 3339 moment (a `datetime-local` value, the usual, is
    /// the venue's wall-clock time: `LocalDateTime`).
    static func formDate(_ text: String) throws -> Date {
        if let date = try? date(text.trimmingCharacters(in: .whitespaces)) { return date }
        throw ConcertError.invalid(field: "startsAt", message: "Enter the start date and time.")
    }

    /// A price typed as major units ("450", "450.50") into minor units (45050). Bounded
    /// before any arithmetic: a number of any length may arrive.
    static func formPrice(_ text: String, position: Int) throws -> Int {
        let field = "ticketLevels[\(position)].price"
        let trimmed = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ",", with: ".")
        let parts = trimmed.split(separator: ".", omittingEmptySubsequences: false)
        guard !trimmed.isEmpty, parts.count <= 2, parts[0].count <= 9, let whole = Int(parts[0]), whole >= 0,
            parts.count == 1 || (parts[1].count <= 2 && parts[1].allSatisfy(\.isASCII) && Int(parts[1]) != nil)
        else {
            throw ConcertError.invalid(field: field, message: "Enter the price like 450 or 450.50.")
        }
        var cents = 0
        if parts.count == 2, let fraction = Int(parts[1]) { cents = fraction * (parts[1].count == 1 ? 10 : 1) }
        let price = whole * 100 + cents
        guard price <= TicketLevel.maxPrice else {
            throw ConcertError.invalid(field: field, message: "A price is at most \(TicketLevel.maxPrice / 100).")
        }
        return price
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
}
