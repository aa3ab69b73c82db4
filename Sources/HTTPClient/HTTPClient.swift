import CCurl

/// A small synchronous HTTP/1.1 client on libcurl, for the worker threads (plain threads,
/// not Swift concurrency), which block on a request the way they block on PostgreSQL.
///
/// Owns one libcurl easy handle. The handle keeps its connections open between requests,
/// so a thread that reuses its client talks to the same server over one kept-alive
/// connection (libcurl re-connects by itself when the server closed it).
///
/// Threads: a libcurl easy handle must never be used by two threads at once, so an
/// `HTTPClient` belongs to one thread at a time; the worker pool gives each worker thread its
/// own (as it does with its `Connection`). It is `@unchecked Sendable` only so that it can be
/// made on one thread and handed to the thread that will own it; nothing in it is guarded.
///
/// Never log a request's or a response's headers: they carry API keys.
public final class HTTPClient: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// How long to wait for the TCP (and TLS) connection.
        public var connectTimeout: Duration
        /// How long the whole request may take, connecting included.
        public var timeout: Duration
        /// The largest response body accepted; a larger one fails with `.tooLarge`.
        public var maximumResponseSize: Int
        public var userAgent: String

        public init(
            connectTimeout: Duration = .seconds(5), timeout: Duration = .seconds(30),
            maximumResponseSize: Int = 1 << 20, userAgent: String = "encore"
        ) {
            self.connectTimeout = connectTimeout
            self.timeout = timeout
            self.maximumResponseSize = maximumResponseSize
            self.userAgent = userAgent
        }
    }

    public let configuration: Configuration
    private let handle: UnsafeMutableRawPointer
    /// libcurl writes a readable reason for a failure here (CURLOPT_ERRORBUFFER).
    private let errorBuffer: UnsafeMutablePointer<CChar>

    /// Makes a client with its own libcurl handle (no connection is opened yet).
    public init(configuration: Configuration = Configuration()) throws(HTTPClientError) {
        HTTPClient.globalInit()
        guard let handle = curl_easy_init() else { throw .other("curl_easy_init failed") }
        self.handle = handle
        self.configuration = configuration
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Initialises libcurl (and through it OpenSSL) once per process. Call it from `main`
    /// before any thread starts: `curl_global_init` is not thread-safe in every libcurl build
    /// (only where `curl_version_info` reports CURL_VERSION_THREADSAFE, 7.84 and later), and it
    /// sets up process-wide state that other threads must not be using at that moment.
    /// `init` calls it too, as a fallback for programs (and tests) with one thread.
    public static func globalInit() {
        _ = initialized
    }

    private static let initialized: Bool = {
        let status = encore_curl_global_init()
        precondition(status == CURLE_OK, "curl_global_init failed: \(String(cString: curl_easy_strerror(status)))")
        return true
    }()

    /// Sends one request and waits for the whole response. Does not follow redirects.
    public func send(_ request: HTTPClientRequest) throws(HTTPClientError) -> HTTPClientResponse {
        let transfer = Transfer(limit: configuration.maximumResponseSize)
        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(headerList) }

        curl_easy_reset(handle)  // every option back to its default; connections stay open
        errorBuffer[0] = 0
        try configure(request, transfer: transfer, headerList: &headerList)
        let code = curl_easy_perform(handle)
        // The callbacks point at `transfer`: keep it alive until here.
        withExtendedLifetime(transfer) {}
        guard code == CURLE_OK else {
            throw HTTPClientError.from(
                code, detail: String(cString: errorBuffer), limit: configuration.maximumResponseSize,
                exceededLimit: transfer.exceededLimit)
        }
        var status = 0
        _ = encore_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPClientResponse(status: status, headers: transfer.headers, body: transfer.body)
    }

    private func configure(
        _ request: HTTPClientRequest, transfer: Transfer, headerList: inout UnsafeMutablePointer<curl_slist>?
    ) throws(HTTPClientError) {
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        try check(encore_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))  // no SIGALRM: we run many threads
        try check(encore_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        try check(
            encore_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(configuration.connectTimeout)))
        try check(encore_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, milliseconds(configuration.timeout)))
        try check(encore_curl_setopt_off_t(handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(transfer.limit)))
        try check(encore_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
        try check(encore_curl_setopt_long(handle, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1))
        try check(encore_curl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1))
        try check(encore_curl_setopt_string(handle, CURLOPT_USERAGENT, configuration.userAgent))
        try check(encore_curl_setopt_callback(handle, CURLOPT_WRITEFUNCTION, receiveBody))
        try check(encore_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context))
        try check(encore_curl_setopt_callback(handle, CURLOPT_HEADERFUNCTION, receiveHeader))
        try check(encore_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context))
        try check(encore_curl_setopt_string(handle, CURLOPT_URL, request.url))

        switch request.method {
        case .get where request.body.isEmpty:
            try check(encore_curl_setopt_long(handle, CURLOPT_HTTPGET, 1))
        case .head:
            try check(encore_curl_setopt_long(handle, CURLOPT_NOBODY, 1))
        case .delete where request.body.isEmpty:
            try check(encore_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, "DELETE"))
        default:
            // A body: POST's machinery, under the request's own method name.
            try check(encore_curl_setopt_long(handle, CURLOPT_POST, 1))
            try check(encore_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)))
            // COPYPOSTFIELDS: libcurl keeps its own copy, so the array need not outlive this call.
            let storage = request.body.isEmpty ? [0] : request.body
            let status = storage.withUnsafeBytes { bytes in
                encore_curl_setopt_pointer(
                    handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
            }
            try check(status)
            if request.method != .post {
                try check(encore_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method.rawValue))
            }
        }

        for header in request.headers {
            guard Self.isValidHeader(header) else {
                throw .other("invalid header \(header.name.debugDescription): a line break or a bad name")
            }
            guard let appended = curl_slist_append(headerList, "\(header.name): \(header.value)") else {
                throw .other("out of memory building headers")
            }
            headerList = appended
        }
        // No `Expect: 100-continue` round trip for larger bodies.
        if let appended = curl_slist_append(headerList, "Expect:") { headerList = appended }
        try check(encore_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList))
    }

    private func check(_ code: CURLcode) throws(HTTPClientError) {
        guard code == CURLE_OK else {
            throw HTTPClientError.from(code, detail: "", limit: configuration.maximumResponseSize, exceededLimit: false)
        }
    }

    /// A header name is a token; neither part may break the line (header injection).
    static func isValidHeader(_ header: HTTPHeader) -> Bool {
        !header.name.isEmpty
            && header.name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: ":") }
            && !header.value.utf8.contains { $0 == 0x0d || $0 == 0x0a || $0 == 0 }
    }
}

private func milliseconds(_ duration: Duration) -> Int {
    let (seconds, attoseconds) = duration.components
    return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
}

/// What one transfer collects; the callbacks reach it through their context pointer.
private final class Transfer {
    let limit: Int
    var body: [UInt8] = []
    var headers: [HTTPHeader] = []
    var exceededLimit = false

    init(limit: Int) { self.limit = limit }
}

/// CURLOPT_WRITEFUNCTION: appends a piece of the body, or stops the transfer (returning
/// less than it was given) when the body would grow past the limit.
private let receiveBody: curl_write_callback = { data, size, count, context in
    let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    guard transfer.body.count + length <= transfer.limit else {
        transfer.exceededLimit = true
        return 0
    }
    if length > 0, let data {
        transfer.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
    }
    return length
}

/// CURLOPT_HEADERFUNCTION: called once per header line, status lines included. A new status
/// line (after a `100 Continue`, say) starts the headers over, so only the final response's
/// headers are kept.
private let receiveHeader: curl_write_callback = { data, size, count, context in
    let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    guard length > 0, let data else { return length }
    var line = Array(UnsafeRawBufferPointer(start: data, count: length))
    while let last = line.last, last == 0x0d || last == 0x0a { line.removeLast() }
    if line.starts(with: Array("HTTP/".utf8)) {
        transfer.headers.removeAll()
    } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
        let name = String(decoding: line[..<colon], as: UTF8.self)
        var value = line[(colon + 1)...]
        while let first = value.first, first == 0x20 || first == 0x09 { value.removeFirst() }
        transfer.headers.append(HTTPHeader(name, String(decoding: value, as: UTF8.self)))
    }
    return length
}
