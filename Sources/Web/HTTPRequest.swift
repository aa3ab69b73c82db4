import FastCGI
import Foundation
import Sodium

/// An HTTP request as a route sees it: method, decoded path, query, headers, cookies and body.
public struct HTTPRequest: Sendable {
    public let method: String
    /// The path, percent-decoded.
    public let path: String
    public let query: [String: String]
    public let body: [UInt8]
    public let params: [String: String]
    /// Values captured by the route pattern (`/concerts/:id` -> `id`).
    public internal(set) var routeParameters: [String: String] = [:]
    /// nginx's `$request_id` (the correlation id of everything this request causes).
    public let requestId: String
    /// The `Cookie` header's cookies by name (the first of a name wins), read once: several
    /// steps of a request look at them (session, CSRF, the page cache's decision).
    public let cookies: [String: String]

    public init(_ raw: FastCGIRequest) {
        method = raw.method.uppercased()
        path = PercentDecoding.decode(raw.path) ?? raw.path
        query = FormDecoder.decode(raw.query)
        body = raw.body
        params = raw.params
        requestId = raw.params["REQUEST_ID"] ?? Digest.hex(SecureRandom.bytes(16))
        cookies = raw.params["HTTP_COOKIE"].map(Self.parseCookies) ?? [:]
    }

    /// A request header, by its HTTP name (`Content-Type`, `Authorization`).
    public func header(_ name: String) -> String? {
        let variable = Self.cgiName(ofHeader: name)
        switch variable {
        case "HTTP_CONTENT_TYPE": return params["CONTENT_TYPE"]
        case "HTTP_CONTENT_LENGTH": return params["CONTENT_LENGTH"]
        default: return params[variable]
        }
    }

    /// The CGI variable of a header (`User-Agent` -> `HTTP_USER_AGENT`), built byte by byte:
    /// every request reads a few headers, and Foundation's `replacingOccurrences` showed in
    /// the flash sale's profile (bench/flash-sale/FINDINGS.md).
    static func cgiName(ofHeader name: String) -> String {
        var bytes = Array("HTTP_".utf8)
        bytes.reserveCapacity(5 + name.utf8.count)
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "-"): bytes.append(UInt8(ascii: "_"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): bytes.append(byte - 32)
            default: bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public var remoteAddress: String { params["REMOTE_ADDR"] ?? "" }

    /// Whether the client reached nginx over HTTPS.
    public var isSecure: Bool { params["HTTPS"] == "on" || params["REQUEST_SCHEME"] == "https" }

    /// `name=value; name2=value2`, with the spaces and tabs around names and values left out
    /// and pairs with an empty name or value ignored,
    /// by UTF-8 bytes (Foundation's `trimmingCharacters` was a tenth of a signed-in page's CPU).
    static func parseCookies(_ header: String) -> [String: String] {
        var result: [String: String] = [:]
        let bytes = Array(header.utf8)
        func trimmed(_ range: Range<Int>) -> String {
            var lower = range.lowerBound
            var upper = range.upperBound
            while lower < upper, bytes[lower] == UInt8(ascii: " ") || bytes[lower] == UInt8(ascii: "\t") { lower += 1 }
            while upper > lower, bytes[upper - 1] == UInt8(ascii: " ") || bytes[upper - 1] == UInt8(ascii: "\t") {
                upper -= 1
            }
            return String(decoding: bytes[lower..<upper], as: UTF8.self)
        }
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
            if let equals = bytes[start..<end].firstIndex(of: UInt8(ascii: "=")) {
                let name = trimmed(start..<equals)
                let value = trimmed(equals + 1..<end)
                if !name.isEmpty, !value.isEmpty, result[name] == nil { result[name] = value }
            }
            start = end + 1
        }
        return result
    }

    /// Whether the client asked for JSON rather than a page (API and webhook paths always do).
    public var wantsJSON: Bool {
        path.hasPrefix("/api/") || path == "/api" || path.hasPrefix("/webhooks/")
            || (header("Accept")?.contains("application/json") ?? false)
    }

    /// Whether the body is a URL-encoded form (the media type, in any case).
    public var isForm: Bool {
        (header("Content-Type") ?? "").lowercased().hasPrefix("application/x-www-form-urlencoded")
    }

    /// The URL-encoded form fields of the body; empty unless the body is a form. (A page on
    /// another site can post a text/plain or multipart body shaped like a form: it is not one.)
    public var form: [String: String] {
        guard isForm else { return [:] }
        return FormDecoder.decode(String(decoding: body, as: UTF8.self))
    }

    /// Decodes a JSON body, or throws a 400 that says what is wrong.
    public func decodeJSON<T: Decodable>(_ type: T.Type) throws -> T {
        guard !body.isEmpty else { throw HTTPError.badRequest("The request body is empty; JSON was expected.") }
        // Only a JSON content type: a page on another site can post a text/plain (or urlencoded,
        // or multipart) form whose body is valid JSON, as a top-level navigation that keeps
        // the cookies it sets (login CSRF), without cookies and so without a CSRF check.
        // application/json it cannot send without a CORS preflight, which nothing here allows.
        let contentType = header("Content-Type")?.lowercased() ?? ""
        guard contentType.hasPrefix("application/json") else {
            throw HTTPError(
                status: 415, code: "unsupported_media_type", message: "Send JSON with Content-Type: application/json.")
        }
        if let problem = TextCheck.problem(inJSON: body) { throw problem }
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch DecodingError.keyNotFound(let key, let context) {
            let field = HTTPRequest.fieldName(context.codingPath + [key])
            throw HTTPError(
                status: 422, code: "missing_field", message: "The field '\(field)' is required.", field: field)
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            let field = HTTPRequest.fieldName(context.codingPath)
            throw HTTPError(
                status: 422, code: "invalid_field", message: "The field '\(field)' has the wrong type.", field: field)
        } catch {
            // Foundation's decoder says "not valid JSON", naming no field, for valid JSON with a
            // number its type cannot hold (past Int's range, 2^63, or with a fraction): find it.
            if let field = HTTPRequest.pathOfNonInteger(in: body) {
                throw HTTPError(
                    status: 422, code: "invalid_field",
                    message: "The field '\(field)' must be a whole number within range.", field: field)
            }
            throw HTTPError.badRequest("The request body is not valid JSON.")
        }
    }

    /// The API's name of the first number in a JSON text that is not a whole number an `Int`
    /// holds (every number of the API is one), or nil (also for text that is not JSON).
    static func pathOfNonInteger(in body: [UInt8]) -> String? {
        guard let value = try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) else {
            return nil
        }
        func walk(_ value: Any, _ path: String) -> String? {
            switch value {
            case let number as NSNumber:
                // Its own digits, so Int.max (which a Double cannot hold exactly) still counts;
                // true and false read as 1 and 0.
                return Int(number.stringValue) != nil ? nil : path
            case let object as [String: Any]:
                for key in object.keys.sorted() {
                    if let found = walk(object[key] as Any, path.isEmpty ? key : path + "." + key) { return found }
                }
                return nil
            case let array as [Any]:
                for (index, element) in array.enumerated() {
                    if let found = walk(element, path + "[\(index)]") { return found }
                }
                return nil
            default:
                return nil
            }
        }
        return walk(value, "").flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// Decodes `application/x-www-form-urlencoded` text.
public enum FormDecoder {
    public static func decode(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = unescape(parts[0])
            let value = parts.count > 1 ? unescape(parts[1]) : ""
            if !name.isEmpty, result[name] == nil { result[name] = value }
        }
        return result
    }

    static func unescape(_ text: Substring) -> String {
        let spaced = text.contains("+") ? text.replacingOccurrences(of: "+", with: " ") : String(text)
        return PercentDecoding.decode(spaced) ?? spaced
    }

}

extension HTTPRequest {
    /// A coding path as the API names fields: `ticketLevels[0].capacity`.
    static func fieldName(_ path: [any CodingKey]) -> String {
        var name = ""
        for key in path {
            if let index = key.intValue {
                name += "[\(index)]"
            } else {
                name += (name.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return name
    }
}
