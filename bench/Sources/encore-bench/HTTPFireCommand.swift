import ArgumentParser
import CLinux
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The flash sale's sender (`bench/flash-sale/flash.py fire --sender`): one request per
/// token, each sent once, over keep-alive HTTP/1.1 connections driven by one epoll loop per
/// thread, as wrk does. Python's asyncio client spent about 200 us of CPU per request on the
/// cores the stack under test shares; this sends and records, and `flash.py` reads the answers.
///
/// Output, one line per token in the input's order: status (0 when the connection failed
/// before an answer: the request is not sent again, a confirm is not idempotent), start and
/// end in nanoseconds from the first request, and the body in base64 (empty for statuses in
/// `--drop-body-of`).
///
/// Instead of tokens, `--requests` gives whole requests, one per line in base64 (each its own
/// method, path, headers and body: the check-ins' codes, the webhook deliveries' signatures),
/// sent in that order as they are. `--clock-out` writes the wall clock (Unix nanoseconds) at
/// the first request, so that the answers' times can be set against the database's.
struct HTTPFireCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http-fire", abstract: "Send one request per token over keep-alive connections.")

    @Option(help: "IPv4 address of the server.") var host = "127.0.0.1"
    @Option(help: "TCP port of the server.") var port: UInt16
    @Option(help: "Connections, spread over the threads.") var concurrency = 64
    @Option(help: "Threads, each with its own epoll loop.") var threads = 2
    @Option(help: "Request method.") var method = "POST"
    @Option(help: "Request path.") var path = "/"
    @Option(help: "File of bearer tokens, one per line, in the order to send them.") var tokens: String?
    @Option(help: "File of whole requests, one per line in base64, in the order to send them.") var requests: String?
    @Option(help: "Where to write the answers.") var out: String
    @Option(help: "Where to write the wall clock at the first request (Unix nanoseconds).") var clockOut: String?
    @Option(help: "Statuses whose bodies are not kept.") var dropBodyOf: [Int] = [201]

    func validate() throws {
        guard (tokens == nil) != (requests == nil) else { throw ValidationError("give --tokens or --requests") }
    }

    func run() throws {
        let requests: [[UInt8]]
        if let file = self.requests {
            requests = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map { line in
                guard let data = Data(base64Encoded: String(line)) else {
                    throw ValidationError("a line of \(file) is not base64")
                }
                return Array(data)
            }
        } else {
            let lines = try String(contentsOfFile: tokens ?? "", encoding: .utf8).split(separator: "\n")
            requests = lines.map { token in
                Array(
                    ("\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUser-Agent: encore-flash-sale\r\n"
                        + "Authorization: Bearer \(token)\r\nContent-Length: 0\r\n\r\n").utf8)
            }
        }
        let answers = Answers(count: requests.count)
        let next = Counter()
        let wallClock = Date().timeIntervalSince1970
        let start = monotonicNanoseconds()
        if let clockOut {
            try "\(Int64(wallClock * 1e9))\n".write(toFile: clockOut, atomically: false, encoding: .utf8)
        }
        let target = Target(host: host, port: port)
        let connections = min(concurrency, max(1, requests.count))
        let threadCount = max(1, min(threads, connections))
        let done = DispatchGroup()
        for thread in 0..<threadCount {
            let mine = connections / threadCount + (thread < connections % threadCount ? 1 : 0)
            done.enter()
            Thread {
                EventLoop(
                    connections: mine, target: target, requests: requests, next: next, answers: answers, start: start
                ).run()
                done.leave()
            }.start()
        }
        done.wait()
        var text = ""
        text.reserveCapacity(requests.count * 48)
        for answer in answers.all() {
            let body = dropBodyOf.contains(answer.status) ? "" : Data(answer.body).base64EncodedString()
            text += "\(answer.status) \(answer.start) \(answer.end) \(body)\n"
        }
        try text.write(toFile: out, atomically: false, encoding: .utf8)
    }
}

/// One thread's connections, each with a request in flight until none is left.
private final class EventLoop {
    private let target: Target
    private let requests: [[UInt8]]
    private let next: Counter
    private let answers: Answers
    private let start: UInt64
    private let epoll = epoll_create1(0)
    private var slots: [Slot]
    private var open = 0

    /// A connection: its socket, what it has read of the answer, its request in flight.
    private struct Slot {
        var socket: Int32 = -1
        var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 65536)
        var capacity = 65536
        var used = 0
        var index = -1
        var began: UInt64 = 0
    }

    init(connections: Int, target: Target, requests: [[UInt8]], next: Counter, answers: Answers, start: UInt64) {
        self.target = target
        self.requests = requests
        self.next = next
        self.answers = answers
        self.start = start
        slots = (0..<connections).map { _ in Slot() }
    }

    deinit {
        for slot in slots { slot.buffer.deallocate() }
        close(epoll)
    }

    func run() {
        for slot in slots.indices { sendNext(slot) }
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while open > 0 {
            let ready = epoll_wait(epoll, &events, Int32(events.count), -1)
            if ready < 0 { if errno == EINTR { continue } else { break } }
            for event in events[0..<Int(ready)] { readable(Int(event.data.u32)) }
        }
    }

    /// Sends the slot's next request, connecting first when needed; closes the slot when no
    /// request is left.
    private func sendNext(_ slot: Int) {
        let index = next.take()
        guard index < requests.count else {
            closeSocket(slot)
            return
        }
        if slots[slot].socket < 0 {
            let socket = target.connect()
            guard socket >= 0 else {
                record(index, status: 0, began: monotonicNanoseconds() - start, body: [])
                return sendNext(slot)
            }
            var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u32: UInt32(slot)))
            epoll_ctl(epoll, EPOLL_CTL_ADD, socket, &event)
            slots[slot].socket = socket
            open += 1
        }
        slots[slot].index = index
        slots[slot].used = 0
        slots[slot].began = monotonicNanoseconds() - start
        let socket = slots[slot].socket
        let sent = requests[index].withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = send(socket, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
        if !sent { failed(slot) }
    }

    private func readable(_ slot: Int) {
        if slots[slot].used == slots[slot].capacity {
            let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: slots[slot].capacity * 2)
            bigger.update(from: slots[slot].buffer, count: slots[slot].used)
            slots[slot].buffer.deallocate()
            slots[slot].buffer = bigger
            slots[slot].capacity *= 2
        }
        let n = recv(
            slots[slot].socket, slots[slot].buffer + slots[slot].used, slots[slot].capacity - slots[slot].used,
            Int32(MSG_DONTWAIT))
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
        guard n > 0 else { return failed(slot) }
        slots[slot].used += n
        guard slots[slot].index >= 0 else { return }
        guard let response = parseResponse(UnsafeBufferPointer(start: slots[slot].buffer, count: slots[slot].used))
        else { return }
        record(slots[slot].index, status: response.status, began: slots[slot].began, body: response.body)
        slots[slot].index = -1
        if response.close {
            closeSocket(slot)
        }
        sendNext(slot)
    }

    /// The connection failed or closed: its request in flight is answered 0, not sent again.
    private func failed(_ slot: Int) {
        if slots[slot].index >= 0 {
            record(slots[slot].index, status: 0, began: slots[slot].began, body: [])
            slots[slot].index = -1
        }
        closeSocket(slot)
        sendNext(slot)
    }

    private func closeSocket(_ slot: Int) {
        guard slots[slot].socket >= 0 else { return }
        close(slots[slot].socket)
        slots[slot].socket = -1
        open -= 1
    }

    private func record(_ index: Int, status: Int, began: UInt64, body: [UInt8]) {
        answers.set(index, Answer(status: status, start: began, end: monotonicNanoseconds() - start, body: body))
    }
}

/// The next request's index, shared by the threads.
private final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func take() -> Int { value.add(1, ordering: .relaxed).oldValue }
}

private struct Answer: Sendable {
    var status: Int
    var start: UInt64
    var end: UInt64
    var body: [UInt8]
}

/// Every request's answer; each slot is written by one thread, read after all have ended.
private final class Answers: @unchecked Sendable {
    private var slots: [Answer]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: Answer(status: 0, start: 0, end: 0, body: []), count: count) }

    func set(_ index: Int, _ answer: Answer) { lock.withLock { slots[index] = answer } }
    func all() -> [Answer] { lock.withLock { slots } }
}

private struct Target: Sendable {
    let host: String
    let port: UInt16

    /// A connected TCP socket with Nagle off, or -1.
    func connect() -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return -1 }
        var one: Int32 = 1
        setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(socket)
            return -1
        }
        return socket
    }
}

private func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// A complete response at the start of `bytes` (Content-Length or chunked, as nginx sends
/// them), or nil while more bytes are needed.
private func parseResponse(_ bytes: UnsafeBufferPointer<UInt8>) -> (status: Int, body: [UInt8], close: Bool)? {
    guard let headEnd = search("\r\n\r\n", in: bytes, from: 0), headEnd >= 12 else { return nil }
    let status = (Int(bytes[9]) - 48) * 100 + (Int(bytes[10]) - 48) * 10 + (Int(bytes[11]) - 48)
    let head = UnsafeBufferPointer(rebasing: bytes[0..<headEnd])
    let closes = search("\r\nConnection: close", in: head, from: 0) != nil
    let bodyStart = headEnd + 4
    if let at = search("\r\nContent-Length: ", in: head, from: 0) {
        var length = 0
        var position = at + 18
        while position < headEnd, bytes[position] >= 48, bytes[position] <= 57 {
            length = length * 10 + Int(bytes[position]) - 48
            position += 1
        }
        guard bytes.count >= bodyStart + length else { return nil }
        return (status, Array(bytes[bodyStart..<bodyStart + length]), closes)
    }
    guard search("\r\nTransfer-Encoding: chunked", in: head, from: 0) != nil else {
        return (status, [], closes)
    }
    var body: [UInt8] = []
    var position = bodyStart
    while true {
        guard let lineEnd = search("\r\n", in: bytes, from: position) else { return nil }
        var size = 0
        for byte in bytes[position..<lineEnd] {
            guard let digit = hexDigit(byte) else { break }
            size = size * 16 + digit
        }
        let data = lineEnd + 2
        guard bytes.count >= data + size + 2 else { return nil }
        body += bytes[data..<data + size]
        position = data + size + 2
        if size == 0 { return (status, body, closes) }
    }
}

private func hexDigit(_ byte: UInt8) -> Int? {
    switch byte {
    case 48...57: Int(byte) - 48
    case 97...102: Int(byte) - 87
    case 65...70: Int(byte) - 55
    default: nil
    }
}

/// Where `needle` first occurs in `haystack` at or after `start`.
private func search(_ needle: StaticString, in haystack: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
    let count = needle.utf8CodeUnitCount
    guard count > 0, haystack.count - start >= count else { return nil }
    let first = needle.utf8Start[0]
    var index = start
    while index <= haystack.count - count {
        if haystack[index] == first {
            var matched = 1
            while matched < count && haystack[index + matched] == needle.utf8Start[matched] { matched += 1 }
            if matched == count { return index }
        }
        index += 1
    }
    return nil
}
