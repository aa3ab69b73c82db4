import FastCGI
import Logging
import Postgres

/// Maps method and path to a handler. Patterns are literal segments and `:name` captures; a
/// capture may end in a literal suffix (`:id.pdf` matches `abc.pdf` with `id` = `abc`, and
/// never `abc`), so a document and its download can share a path. Routes are tried in the
/// order they were added.
///
/// `Context` is whatever the application gives each request (its database connection, the
/// signed-in user...). Every route is registered with who may use it by the application's own
/// wrapper; the router itself only matches.
public struct Router<Context>: Sendable {
    public typealias Handler = @Sendable (HTTPRequest, Context) throws -> HTTPResponse

    struct Route: Sendable {
        let method: String
        let segments: [Segment]
        let handler: Handler
    }

    enum Segment: Sendable, Equatable {
        case literal(String)
        /// A capture, and the literal text the segment must end with after it ("" for none).
        case capture(String, suffix: String)
    }

    private var routes: [Route] = []
    /// The routes' indexes (ascending) by their number of segments and first segment, or
    /// `:` for a first segment that captures: a path is compared only with routes as long as
    /// it is that start with its first segment or a capture.
    private var byShape: [Shape: [Int]] = [:]

    struct Shape: Hashable {
        let count: Int
        let first: String
    }

    public init() {}

    public mutating func add(_ method: String, _ pattern: String, _ handler: @escaping Handler) {
        let segments = Router.split(pattern).map { part -> Segment in
            guard part.hasPrefix(":") else { return .literal(String(part)) }
            let name = part.dropFirst()
            guard let dot = name.firstIndex(of: ".") else { return .capture(String(name), suffix: "") }
            return .capture(String(name[..<dot]), suffix: String(name[dot...]))
        }
        let first: String =
            switch segments.first {
            case .literal(let text)?: text
            case .capture?: ":"
            case nil: ""
            }
        byShape[Shape(count: segments.count, first: first), default: []].append(routes.count)
        routes.append(Route(method: method.uppercased(), segments: segments, handler: handler))
    }

    public mutating func get(_ pattern: String, _ handler: @escaping Handler) { add("GET", pattern, handler) }
    public mutating func post(_ pattern: String, _ handler: @escaping Handler) { add("POST", pattern, handler) }
    public mutating func put(_ pattern: String, _ handler: @escaping Handler) { add("PUT", pattern, handler) }
    public mutating func patch(_ pattern: String, _ handler: @escaping Handler) { add("PATCH", pattern, handler) }
    public mutating func delete(_ pattern: String, _ handler: @escaping Handler) { add("DELETE", pattern, handler) }

    public enum Match {
        /// The handler, its captures, and the route's index (its place in `labels`).
        case found(Handler, [String: String], index: Int)
        /// The path exists with other methods: these (for `Allow`).
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    /// Every route as "METHOD /pattern", by index: the request metrics' labels.
    public var labels: [String] {
        routes.map { route in
            route.method + " /"
                + route.segments.map {
                    switch $0 {
                    case .literal(let text): text
                    case .capture(let name, let suffix): ":" + name + suffix
                    }
                }.joined(separator: "/")
        }
    }

    /// Finds the route for a request; HEAD is served by GET routes.
    public func match(method: String, path: String) -> Match {
        let parts = Router.split(path)
        var allowed: [String] = []
        // The two lists merged, so that routes are tried in the order they were added.
        let named = byShape[Shape(count: parts.count, first: parts.first.map(String.init) ?? "")] ?? []
        let captured = parts.isEmpty ? [] : byShape[Shape(count: parts.count, first: ":")] ?? []
        var (nextNamed, nextCaptured) = (0, 0)
        while nextNamed < named.count || nextCaptured < captured.count {
            let index: Int
            if nextCaptured == captured.count || (nextNamed < named.count && named[nextNamed] < captured[nextCaptured])
            {
                index = named[nextNamed]
                nextNamed += 1
            } else {
                index = captured[nextCaptured]
                nextCaptured += 1
            }
            let route = routes[index]
            guard let captures = Router.captures(route.segments, parts) else { continue }
            if route.method == method || (method == "HEAD" && route.method == "GET") {
                return .found(route.handler, captures, index: index)
            }
            allowed.append(route.method)
            if route.method == "GET" { allowed.append("HEAD") }
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }

    static func split(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }

    /// A route's captures for a path's parts, or nil when it does not match. Segments compare
    /// as UTF-8 bytes (a path is percent-decoded but not normalised, so a route's ASCII text
    /// matches only itself), which is cheaper than comparing strings as characters.
    static func captures(_ segments: [Segment], _ parts: [Substring]) -> [String: String]? {
        guard segments.count == parts.count else { return nil }
        // The literal segments first, so that a route that does not match allocates nothing.
        for (segment, part) in zip(segments, parts) {
            if case .literal(let text) = segment, !text.utf8.elementsEqual(part.utf8) { return nil }
        }
        var captures: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            guard case .capture(let name, let suffix) = segment else { continue }
            if suffix.isEmpty {
                captures[name] = String(part)
                continue
            }
            guard part.count > suffix.count, part.hasSuffix(suffix) else { return nil }
            captures[name] = String(part.dropLast(suffix.count))
        }
        return captures
    }

    /// Runs the matching route and turns every outcome into a response: an error with an HTTP
    /// face (`HTTPError.face(of:)`) into its status and body, a lost database into 503, anything
    /// else into a logged, generic 500.
    ///
    /// `before` runs first for every request (authentication, CSRF); what it throws is answered
    /// like a route's error.
    public func respond(
        to raw: FastCGIRequest, context: Context, logger: Logger,
        before: (HTTPRequest, Context) throws -> Void = { _, _ in }
    ) -> FastCGIResponse {
        var request = HTTPRequest(raw)
        var response: HTTPResponse
        var routeIndex = Scoreboard.unmatchedRoute
        switch match(method: request.method, path: request.path) {
        case .found(let handler, let captures, let index):
            routeIndex = index
            request.routeParameters = captures
            do {
                if let problem = TextCheck.problem(in: request) { throw problem }
                try before(request, context)
                response = try handler(request, context)
            } catch {
                response = Router.render(Router.face(of: error, request: request, logger: logger), for: request)
            }
        case .methodNotAllowed(let allowed):
            response = Router.render(.methodNotAllowed, for: request)
            response.headers.append(("Allow", Array(Set(allowed)).sorted().joined(separator: ", ")))
        case .notFound:
            response = Router.render(.notFound, for: request)
        }
        if response.status == 503, !response.headers.contains(where: { $0.0.lowercased() == "retry-after" }) {
            // Every 503 is temporary (PostgreSQL away, a statement out of time): say when to retry.
            response.headers.append(("Retry-After", "\(HTTPError.retryAfterUnavailable)"))
        }
        if request.method == "HEAD" {
            // The length the GET would have had, without its body.
            if !response.headers.contains(where: { $0.0.lowercased() == "content-length" }) {
                response.headers.append(("Content-Length", "\(response.body.count)"))
            }
            response.body = []
        }
        var out = response.fastCGI
        out.route = routeIndex
        return out
    }

    /// What a route's error answers: its HTTP face; 503 when PostgreSQL is gone or the statement
    /// ran out of time; otherwise a logged, generic 500.
    static func face(of error: Error, request: HTTPRequest, logger: Logger) -> HTTPError {
        if let face = HTTPError.face(of: error) {
            // A context's own 5xx (a gateway down or refusing): the answer says it is logged.
            if face.status >= 500 {
                logger.warning(
                    "request failed",
                    metadata: ["path": "\(request.path)", "code": "\(face.code)", "error": "\(error)"])
            }
            return face
        }
        switch error {
        case let error as PostgresError where error.kind == .connection || error.isServerUnavailable:
            logger.warning("database unavailable", metadata: ["path": "\(request.path)", "error": "\(error)"])
            return .unavailable
        case let error as PostgresError where error.kind == .nulInText:
            // The edge refuses NUL in every field it reads; this is what reached the database anyway.
            logger.warning("text with a NUL character reached the database", metadata: ["path": "\(request.path)"])
            return .nulInText
        case let error as PostgresError where error.isQueryCanceled:
            logger.warning("statement timeout", metadata: ["path": "\(request.path)"])
            return HTTPError(status: 503, code: "request_timeout", message: "The request ran past its time limit.")
                .retrying(after: HTTPError.retryAfterUnavailable)
        default:
            logger.error("unhandled error", metadata: ["path": "\(request.path)", "error": "\(error)"])
            return .internalError
        }
    }

    /// Error pages: JSON for API clients, a small HTML page for browsers.
    public static func render(_ error: HTTPError, for request: HTTPRequest) -> HTTPResponse {
        if request.wantsJSON { return .error(error) }
        let page = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(HTML.escape(error.message))</title>\
            <link rel="stylesheet" href="/css/encore.css"></head><body><main class="container error-page">\
            <h1>\(error.status)</h1><p>\(HTML.escape(error.message))</p><p><a href="/">Back to concerts</a></p>\
            </main></body></html>
            """
        var response = HTTPResponse.html(page, status: error.status)
        for (name, value) in error.headers.sorted(by: { $0.key < $1.key }) { response.headers.append((name, value)) }
        return response
    }
}
