import Foundation

/// bin/mail-sink on a free port, in a temporary folder.
public final class MailSink: @unchecked Sendable {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("bin/mail-sink")

    public static let isAvailable: Bool = {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-c", "import aiosmtpd"]
        check.standardError = FileHandle.nullDevice
        guard (try? check.run()) != nil else { return false }
        check.waitUntilExit()
        return check.terminationStatus == 0
    }()

    public let port: Int
    public let folder: URL
    let process = Process()

    /// Starts the sink; `port` to use a given one (to start it again where it was).
    public init(port: Int? = nil, folder: URL? = nil) throws {
        self.port = port ?? Int.random(in: 30_000..<40_000)
        self.folder = folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("mail-\(UUID())")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script.path, "--port", "\(self.port)", "--dir", self.folder.path]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if Self.answers(port: self.port) { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        stop()
        throw CocoaError(.fileNoSuchFile)
    }

    /// Whether something on the port greets like an SMTP server.
    public static func answers(port: Int) -> Bool {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { return false }
        var greeting = [UInt8](repeating: 0, count: 3)
        return recv(socket, &greeting, 3, 0) == 3 && greeting == Array("220".utf8)
    }

    /// The messages received, in order, as bin/mail-sink logs them (received.jsonl).
    public func received() throws -> [[String: Any]] {
        let log = folder.appendingPathComponent("received.jsonl")
        guard let text = try? String(contentsOf: log, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:]
        }
    }

    /// Stops it; `keepMessages` leaves its folder (to start it again on the same one).
    public func stop(keepMessages: Bool = false) {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        if !keepMessages { try? FileManager.default.removeItem(at: folder) }
    }
}
