import EventStore
import Foundation

/// An error that has an HTTP face: a context's domain errors conform in its web part, once,
/// and the router (and the forms, through `HTTPError.answering`) use that face wherever the
/// error is thrown from. Nothing maps errors per call site.
public protocol HTTPErrorConvertible: Error {
    var http: HTTPError { get }
}

/// An error that knows its HTTP status and the API's error body.
///
/// One value builds both the status and the body. Anything that is neither an `HTTPError`
/// nor `HTTPErrorConvertible` (nor one of the few infrastructure errors the router knows)
/// becomes a logged, generic 500 that reveals nothing.
public struct HTTPError: HTTPErrorConvertible, Sendable, Equatable {
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
    public static let nulInText = HTTPError(
        status: 400, code: "invalid_text", message: "Text may not contain NUL (U+0000) characters.")
    /// PostgreSQL does not answer. Like every 503 the router sends, it says when to try again.
    public static let unavailable = HTTPError(
        status: 503, code: "service_unavailable", message: "The service is unavailable right now; try again shortly."
    ).retrying(after: retryAfterUnavailable)

    /// Seconds a client waits before retrying after a 503 (`Retry-After`): PostgreSQL restarts
    /// in about that, and the pool reconnects on the next request.
    public static let retryAfterUnavailable = 1

    /// This error with `Retry-After: seconds`.
    public func retrying(after seconds: Int) -> HTTPError {
        var copy = self
        copy.headers["Retry-After"] = "\(seconds)"
        return copy
    }

    /// A command lost a race: another request changed the same thing first, and the retries
    /// did not get through either. The customer can look again and repeat.
    public static let conflict = HTTPError(
        status: 409, code: "conflict",
        message: "This was changed by someone else at the same moment; reload and try again."
    )

    /// The one shape of a field's validation error across the API: 422 `invalid_field`,
    /// naming the field as the API spells it (`email`, `address.postalCode`, `ticketLevels[1].price`).
    public static func invalid(_ field: String, _ message: String) -> HTTPError {
        HTTPError(status: 422, code: "invalid_field", message: message, field: field)
    }

    /// A required field that is absent.
    public static func missing(_ field: String) -> HTTPError {
        HTTPError(status: 422, code: "missing_field", message: "The field '\(field)' is required.", field: field)
    }

    public var http: HTTPError { self }

    /// The HTTP face of an error, if it has one: its own, or 409 `conflict` for an append that
    /// kept meeting a newer version of its stream. Nil for anything unexpected (a 500).
    public static func face(of error: Error) -> HTTPError? {
        switch error {
        case let error as HTTPErrorConvertible: error.http
        case is WrongExpectedVersion: .conflict
        default: nil
        }
    }

    /// The statuses of errors a form shows next to its fields: what the customer can correct.
    /// 401 and 403 (sign in, not allowed) are the router's to answer.
    public static let formStatuses: Set<Int> = [400, 404, 409, 413, 415, 422, 429]

    /// Runs a form's action; when it fails with an error of `statuses`, answers with `page`,
    /// which shows the form again with the error, under the error's status. Anything else is
    /// thrown on.
    public static func answering(
        statuses: Set<Int> = formStatuses, _ action: () throws -> HTTPResponse,
        withPage page: (HTTPError) throws -> HTTPResponse
    ) throws -> HTTPResponse {
        do {
            return try action()
        } catch {
            guard let http = face(of: error), statuses.contains(http.status) else { throw error }
            var response = try page(http)
            response.status = http.status
            return response
        }
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

/// The API's JSON conventions: camelCase keys, RFC 3339 UTC dates, sorted keys for stable output.
public enum JSONCoding {
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }
}
