import Foundation
import Web

/// The concert list's query parameters, shared by `GET /api/concerts` and the home page:
/// `q`, `city`, `from`, `to`, `hasTickets`, `limit` (the API's only), `cursor`. An invalid
/// one is 422 `invalid_field` naming it; an empty one is absent.
enum ConcertListInput {
    static let maxQuery = 200
    static let maxCity = 100

    static func search(_ query: [String: String], limitAllowed: Bool = true) throws -> ConcertSearch {
        var search = ConcertSearch()
        search.words = ConcertSearch.words(of: try text(query["q"], field: "q", max: maxQuery))
        search.city = try text(query["city"], field: "city", max: maxCity)
        search.from = try bound(query["from"], field: "from")
        search.to = try bound(query["to"], field: "to")
        search.hasTickets = try flag(query["hasTickets"], field: "hasTickets")
        if limitAllowed, let raw = query["limit"], !raw.isEmpty {
            guard raw.count <= 3, let limit = Int(raw), (1...ConcertSearch.maxLimit).contains(limit) else {
                throw HTTPError.invalid("limit", "The limit is a whole number from 1 to \(ConcertSearch.maxLimit).")
            }
            search.limit = limit
        }
        if let raw = query["cursor"], !raw.isEmpty {
            guard let cursor = ConcertCursor(token: raw) else {
                throw HTTPError.invalid(
                    "cursor", "This cursor is not one this list gave; start again from the first page.")
            }
            search.after = cursor
        }
        return search
    }

    /// The query string of `search`'s filters (not its cursor or limit), for the pages' links.
    static func filterQuery(_ query: [String: String]) -> [(String, String)] {
        ["q", "city", "from", "to", "hasTickets"].compactMap { name in
            guard let value = query[name], !value.isEmpty else { return nil }
            return (name, value)
        }
    }

    static func text(_ raw: String?, field: String, max: Int) throws -> String {
        let text = (raw ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count <= max else {
            throw HTTPError.invalid(field, "The \(field) may have at most \(max) characters.")
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw HTTPError.invalid(field, "The \(field) contains characters that are not allowed.")
        }
        return text
    }

    /// `2027-06-05` (a day at the venue) or an RFC 3339 time.
    static func bound(_ raw: String?, field: String) throws -> ConcertSearch.Bound? {
        let text = (raw ?? "").trimmingCharacters(in: .whitespaces)
        if text.isEmpty { return nil }
        if text.count == 10, let day = LocalDate(parsing: text) { return .day(day) }
        if text.count <= 40, let moment = try? ConcertInput.date(text, field: field) { return .moment(moment) }
        throw HTTPError.invalid(
            field, "Give a date like 2027-06-05 (the venue's day) or a time like 2027-06-05T19:00:00Z.")
    }

    static func flag(_ raw: String?, field: String) throws -> Bool {
        switch (raw ?? "").lowercased() {
        case "", "false", "0": false
        case "true", "1", "on": true
        default: throw HTTPError.invalid(field, "The \(field) filter is true or false.")
        }
    }

    /// `?name=value&...`, percent-encoded; "" when there is nothing.
    static func queryString(_ items: [(String, String)]) -> String {
        guard !items.isEmpty else { return "" }
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return "?"
            + items.map { name, value in
                name + "=" + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
            }.joined(separator: "&")
    }
}
