import CFastCGI
import Glibc

/// One thread's FastCGI request slot: owns the libfcgi `FCGX_Request` and the connection it
/// reads from.
///
/// libfcgi keeps per-request state in this struct, so each worker thread has exactly one and
/// never shares it; the type is not `Sendable`. Accepting is done by the pool itself
/// (`epoll` + `accept4`), so that stopping a worker never depends on libfcgi's signal flags:
/// the accepted socket is handed to libfcgi, which then reads the request's records.
final class FastCGIConnection {
    private let request: UnsafeMutablePointer<FCGX_Request>

    /// Initialises libfcgi once per process; must run before any thread starts.
    static func initializeLibrary() {
        precondition(FCGX_Init() == 0, "FCGX_Init failed")
    }

    init(listeningSocket: Int32) {
        request = .allocate(capacity: 1)
        request.initialize(to: FCGX_Request())
        precondition(FCGX_InitRequest(request, listeningSocket, 0) == 0, "FCGX_InitRequest failed")
    }

    deinit {
        FCGX_Free(request, 1)
        request.deinitialize(count: 1)
        request.deallocate()
    }

    /// Reads the request's BEGIN_REQUEST and PARAMS records from an accepted socket.
    ///
    /// Returns nil when the peer sent something that is not a well-formed FastCGI request;
    /// libfcgi has then closed the socket, and the thread simply goes back to accepting.
    func begin(socket: Int32) -> [String: String]? {
        // libfcgi's accept step is skipped when a socket is already set. `keepConnection` is
        // set so that the "finish the previous request" step at the top of FCGX_Accept_r does
        // not close the socket we just handed over; the request's own flags replace it.
        request.pointee.ipcFd = socket
        request.pointee.keepConnection = 1
        guard FCGX_Accept_r(request) == 0 else { return nil }
        // libfcgi ends the PARAMS stream early, as if it were complete, when the peer closes
        // the connection or breaks the protocol in the middle of it; only the stream's error
        // tells. Such a request is cut short: drop it rather than serve it half-read.
        if inputFailed {
            abandon()
            return nil
        }
        var params: [String: String] = [:]
        params.reserveCapacity(32)
        if var entry = request.pointee.envp {
            while let pointer = entry.pointee {
                // "NAME=value": both halves decoded straight from libfcgi's buffer.
                let length = strlen(pointer)
                pointer.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
                    let pair = UnsafeBufferPointer(start: bytes, count: length)
                    if let equals = pair.firstIndex(of: UInt8(ascii: "=")) {
                        let name = String(decoding: UnsafeBufferPointer(rebasing: pair[..<equals]), as: UTF8.self)
                        params[name] = String(
                            decoding: UnsafeBufferPointer(rebasing: pair[(equals + 1)...]), as: UTF8.self)
                    }
                }
                entry += 1
            }
        }
        return params
    }

    /// The socket of the current request: libfcgi may have moved on to another connection
    /// when the one it was handed turned out malformed.
    var socket: Int32 { request.pointee.ipcFd }

    /// Whether reading the request's input failed: the peer closed the connection or broke
    /// the protocol before the stream's end record, or a read timed out.
    var inputFailed: Bool {
        guard let input = request.pointee.in else { return true }
        return FCGX_GetError(input) != 0
    }

    /// Closes the connection without an answer (the peer is gone or not speaking FastCGI).
    func abandon() {
        let socket = request.pointee.ipcFd
        FCGX_Free(request, 0)
        if socket >= 0 { close(socket) }
        request.pointee.ipcFd = -1
    }

    enum Body {
        case complete([UInt8])
        /// Longer than the limit; reading stopped there.
        case tooLarge
        /// The connection ended (or a read failed) before the end of the body.
        case incomplete
    }

    /// Reads the request body, up to `limit` bytes.
    func readBody(limit: Int) -> Body {
        var body: [UInt8] = []
        // Uninitialised: libfcgi writes what it reads, and most requests have no body at all.
        var chunk = [UInt8](unsafeUninitializedCapacity: 16_384) { _, count in count = 16_384 }
        while true {
            let read = chunk.withUnsafeMutableBytes { buffer in
                FCGX_GetStr(
                    buffer.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(buffer.count),
                    request.pointee.in)
            }
            if read <= 0 { break }
            if body.count + Int(read) > limit { return .tooLarge }
            body.append(contentsOf: chunk[0..<Int(read)])
        }
        // libfcgi reports the end of the connection like the end of the stream.
        return inputFailed ? .incomplete : .complete(body)
    }

    /// Writes the whole response (CGI-style headers, blank line, body).
    /// Returns false when the peer has gone away.
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = min(bytes.count - offset, Int(Int32.max))
            let written = bytes.withUnsafeBytes { buffer in
                FCGX_PutStr(
                    buffer.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self),
                    Int32(count), request.pointee.out)
            }
            if written < 0 { return false }
            offset += Int(written)
        }
        return true
    }

    /// Whether the web server asked to keep the connection for further requests
    /// (FCGI_KEEP_CONN, nginx's `fastcgi_keep_conn on`); valid after `begin`.
    var peerKeepsConnection: Bool { request.pointee.keepConnection != 0 }

    /// Ends the request and keeps the connection open for the web server's next request:
    /// flushes and sends END_REQUEST. Returns the socket, now the caller's, or nil when
    /// libfcgi found the connection broken and closed it.
    func finishKeepingConnection() -> Int32? {
        request.pointee.keepConnection = 1
        request.pointee.detached = 0
        FCGX_Finish_r(request)
        let socket = request.pointee.ipcFd
        request.pointee.ipcFd = -1
        return socket >= 0 ? socket : nil
    }

    /// Ends the request: flushes, sends END_REQUEST and closes the socket.
    ///
    /// `drain`: the peer may still be sending (a refused body), so libfcgi half-closes and
    /// reads until the peer closes, lest closing with unread data cut our answer off. When the
    /// whole request was read there is nothing to wait for: the socket is closed at once, and
    /// the thread is free without waiting for the web server to hang up.
    func finish(drain: Bool) {
        request.pointee.keepConnection = 0
        request.pointee.detached = drain ? 0 : 1
        FCGX_Finish_r(request)
        if request.pointee.ipcFd >= 0 {
            close(request.pointee.ipcFd)
            request.pointee.ipcFd = -1
        }
    }
}
