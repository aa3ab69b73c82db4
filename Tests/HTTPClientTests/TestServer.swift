import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 for the client's tests: it answers each request on a
/// connection with what `respond` returns, and keeps the connection open until the client
/// closes it. With `silent` it listens but never accepts, so a client connects and then
/// waits for an answer that never comes.
final class TestServer: @unchecked Sendable {
    struct Request: Sendable {
        var method: String
        var target: String
        var headers: [(String, String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    let port: Int
    private let socket: Int32
    private let lock = NSLock()
    private var _connections = 0
    private var _requests: [Request] = []

    /// How many connections were accepted, and the requests received, in order.
    var connections: Int { lock.withLock { _connections } }
    var requests: [Request] { lock.withLock { _requests } }

    init(silent: Bool = false, respond: @escaping @Sendable (Request) -> [UInt8] = { _ in TestServer.ok("") }) throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) }
        }
        guard bound == 0, listen(socket, 16) == 0 else {
            close(socket)
            throw POSIXError(.EADDRINUSE)
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        self.socket = socket
        port = Int(UInt16(bigEndian: address.sin_port))
        if !silent {
            let thread = Thread { [self] in acceptLoop(respond) }
            thread.start()
        }
    }

    /// Stops accepting (the accept loop ends when the socket is shut down).
    func stop() {
        shutdown(socket, Int32(SHUT_RDWR))
        close(socket)
    }

    static func ok(_ body: String, headers: [String] = ["Content-Type: text/plain"]) -> [UInt8] {
        response(status: "200 OK", headers: headers, body: Array(body.utf8))
    }

    static func response(status: String, headers: [String], body: [UInt8]) -> [UInt8] {
        var head = "HTTP/1.1 \(status)\r\n"
        for header in headers { head += header + "\r\n" }
        head += "Content-Length: \(body.count)\r\n\r\n"
        return Array(head.utf8) + body
    }

    private func acceptLoop(_ respond: @escaping @Sendable (Request) -> [UInt8]) {
        while true {
            let client = accept(socket, nil, nil)
            if client < 0 { return }
            lock.withLock { _connections += 1 }
            let thread = Thread { [self] in serve(client, respond) }
            thread.start()
        }
    }

    private func serve(_ client: Int32, _ respond: (Request) -> [UInt8]) {
        defer { close(client) }
        var buffer: [UInt8] = []
        while true {
            guard let request = readRequest(client, &buffer) else { return }
            lock.withLock { _requests.append(request) }
            let answer = respond(request)
            var sent = 0
            while sent < answer.count {
                let n = answer[sent...].withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
                if n <= 0 { return }
                sent += n
            }
        }
    }

    private func readRequest(_ client: Int32, _ buffer: inout [UInt8]) -> Request? {
        let separator = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while true {
            if headEnd == nil, let range = buffer.firstRange(of: separator) { headEnd = range.upperBound }
            if let end = headEnd {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
                let requestLine = lines.removeFirst().split(separator: " ")
                let headers = lines.map { line -> (String, String) in
                    let parts = line.split(separator: ":", maxSplits: 1)
                    return (String(parts[0]), parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
                }
                let length = headers.first { $0.0.lowercased() == "content-length" }.flatMap { Int($0.1) } ?? 0
                if buffer.count >= end + length {
                    let body = Array(buffer[end..<(end + length)])
                    buffer.removeFirst(end + length)
                    return Request(
                        method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: body)
                }
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
            if n <= 0 { return nil }
            buffer += chunk[..<n]
        }
    }
}
