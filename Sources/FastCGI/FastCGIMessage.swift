/// A request as the web server passed it: CGI parameters and the body.
public struct FastCGIRequest: Sendable {
    /// CGI/1.1 parameters (`REQUEST_METHOD`, `REQUEST_URI`, `HTTP_COOKIE`, ...).
    public let params: [String: String]
    public let body: [UInt8]

    public init(params: [String: String], body: [UInt8] = []) {
        self.params = params
        self.body = body
    }

    public var method: String { params["REQUEST_METHOD"] ?? "GET" }

    /// The path without the query string, as the client sent it (still percent-encoded).
    public var path: String {
        let uri = params["REQUEST_URI"] ?? params["DOCUMENT_URI"] ?? "/"
        if let question = uri.firstIndex(of: "?") { return String(uri[..<question]) }
        return uri
    }

    public var query: String { params["QUERY_STRING"] ?? "" }
}

/// A response in the CGI form that FastCGI carries: a status, headers and a body.
public struct FastCGIResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// The index of the route that answered, for the request metrics (`Scoreboard.unmatchedRoute`
    /// when none did).
    public var route = Scoreboard.unmatchedRoute

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON error body in the API's shape: `{"error": {"code": ..., "message": ...}}`.
    public static func error(_ status: Int, code: String, message: String) -> FastCGIResponse {
        let body = #"{"error":{"code":"\#(code)","message":"\#(message)"}}"#
        return FastCGIResponse(
            status: status, headers: [("Content-Type", "application/json; charset=utf-8")],
            body: Array(body.utf8))
    }

    /// The bytes written to FastCGI's stdout stream.
    var serialized: [UInt8] {
        var head = "Status: \(status) \(FastCGIResponse.reason(status))\r\n"
        var hasLength = false
        for (name, value) in headers {
            if name.lowercased() == "content-length" { hasLength = true }
            head += "\(name): \(value)\r\n"
        }
        if !hasLength { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        bytes.reserveCapacity(bytes.count + body.count)
        bytes.append(contentsOf: body)
        return bytes
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 413: "Payload Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Status"
        }
    }
}

/// Serves requests on one worker thread. Made once per thread, used only by that thread, so it
/// may keep per-thread resources such as a PostgreSQL connection.
public protocol RequestHandler: AnyObject {
    func handle(_ request: FastCGIRequest) -> FastCGIResponse
}

/// What a handler factory learns about the thread it serves.
public struct WorkerThreadContext: Sendable {
    public let workerSlot: Int
    public let threadIndex: Int
    public let configuration: PoolConfiguration
    /// The pool's figures, for `/status` and `/metrics`.
    public let status: @Sendable () -> PoolStatus
    /// The pool's request durations per route and status class, for `/metrics`.
    public let requestHistograms: @Sendable () -> [RouteHistogram]
}

/// Makes the handler for one worker thread.
public typealias RequestHandlerFactory = @Sendable (WorkerThreadContext) -> RequestHandler
