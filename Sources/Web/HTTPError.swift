import Foundation

/// An error that knows its HTTP status and the API's error body.
///
/// One value builds both the status and the body, so a domain error becomes HTTP-aware in a
/// context's web part by mapping to this type. Anything that is not an `HTTPError` becomes a
/// logged, generic 500 that reveals nothing.
public struct HTTPError: Error, Sendable, Equatable {
    public let status: Int
    public let code: String
    public let message: String
    public let field: String?
    public var headers: [String: String] = [:]
    /// Extra facts for API clients (e.g. which ticket level fell short), added to the error object.
    public var details: [String: String] = [:]

    public init(status: Int, code: String, message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    public static func badRequest(_ message: String) -> HTTPError {
        HTTPError(status: 400, code: "bad_request", message: message)
    }
    public static let notFound = HTTPError(status: 404, code: "not_found", message: "There is nothing here.")
    public static let methodNotAllowed = HTTPError(
        status: 405, code: "method_not_allowed", message: "This method is not allowed here.")
    public static let internalError = HTTPError(
        status: 500, code: "internal_error", message: "Something went wrong on our side. It has been logged.")
    public static let unavailable = HTTPError(
        status: 503, code: "service_unavailable", message: "The service is unavailable right now; try again shortly.")

    public static func invalid(_ field: String, _ message: String) -> HTTPError {
        HTTPError(status: 422, code: "invalid_\(field.snakeCased)", message: message, field: field)
    }

    /// `{"error": {"code": ..., "message": ..., "field": ...}}`
    public var jsonBody: [UInt8] {
        struct Body: Encodable {
            struct Inner: Encodable {
                let code: String
                let message: String
                let field: String?
                let details: [String: String]

                func encode(to encoder: Encoder) throws {
                    var container = encoder.container(keyedBy: DynamicKey.self)
                    for (key, value) in details { try container.encode(value, forKey: DynamicKey(key)) }
                    try container.encode(code, forKey: DynamicKey("code"))
                    try container.encode(message, forKey: DynamicKey("message"))
                    if let field { try container.encode(field, forKey: DynamicKey("field")) }
                }
            }
            let error: Inner
        }
        return
            (try? JSONCoding.encode(Body(error: .init(code: code, message: message, field: field, details: details))))
            ?? []
    }

    struct DynamicKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

extension String {
    var snakeCased: String {
        var out = ""
        for character in self {
            if character.isUppercase {
                if !out.isEmpty { out += "_" }
                out += character.lowercased()
            } else {
                out.append(character)
            }
        }
        return out
    }
}

/// The API's JSON conventions: camelCase keys, RFC 3339 UTC dates, sorted keys for stable output.
public enum JSONCoding {
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }
}
