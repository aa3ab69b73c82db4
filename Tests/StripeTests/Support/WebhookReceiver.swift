import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A small HTTP server in Python on 127.0.0.1 (a port of its own) that answers 200 to every
/// POST and records each request's `Stripe-Signature` header and raw body, so a test can check
/// what the emulator really sends.
final class WebhookReceiver: @unchecked Sendable {
    struct Delivery: Decodable {
        var path: String
        var signature: String?
        var bodyBase64: String

        var body: [UInt8] { Array(Data(base64Encoded: bodyBase64) ?? Data()) }
    }

    let url: String
    private let process = Process()
    private let log: URL

    private static let script = #"""
        import base64, http.server, json, sys, threading
        out = open(sys.argv[1], "a")
        lock = threading.Lock()  # the server answers on a thread per request: one line at a time
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                line = json.dumps({"path": self.path, "signature": self.headers.get("Stripe-Signature"),
                                   "bodyBase64": base64.b64encode(body).decode()}) + "\n"
                with lock:
                    out.write(line)
                    out.flush()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
            def log_message(self, *args):
                pass
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#

    init() throws {
        log = FileManager.default.temporaryDirectory.appendingPathComponent("webhooks-\(UUID().uuidString).jsonl")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, log.path]
        process.standardOutput = output
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            process.terminate()
            throw CocoaError(.fileReadCorruptFile)
        }
        url = "http://127.0.0.1:\(port)/webhooks/stripe"
    }

    /// SIGKILL, not `terminate()`'s SIGTERM: the child inherits the signal mask of the test
    /// thread that spawned it, where SIGTERM is blocked, so SIGTERM would never arrive.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: log)
    }

    var deliveries: [Delivery] {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Delivery.self, from: Data($0.utf8)) }
    }

    /// Waits (polling) until a delivery satisfies `matches`, for at most `timeout`. The emulator
    /// sends every event to every endpoint one after another, on one event loop that the other
    /// suites running at the same time keep busy, so a delivery can take a while.
    func waitFor(timeout: Duration = .seconds(45), _ matches: (Delivery) -> Bool) async -> Delivery? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let found = deliveries.first(where: matches) { return found }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }
}
