import CCurl
import HTTPClient

/// Sends e-mail over SMTP with libcurl: `EHLO`, `STARTTLS` or implicit TLS when configured,
/// `AUTH` when given credentials, then `MAIL FROM`, `RCPT TO` and `DATA` for each message.
///
/// Owns one libcurl easy handle, which keeps its connection to the server open between
/// messages, so a sender that reuses its client does not pay for a new TCP (and TLS)
/// connection per message. One thread at a time, like `HTTPClient`.
///
/// Never log the configuration: it carries the password.
public final class SMTPClient: @unchecked Sendable {
    public struct Configuration: Sendable {
        public enum Security: String, Sendable {
            /// Plain text, for a server on this machine (the development sink).
            case none
            /// `STARTTLS` on the submission port (587), required: a server that does not offer
            /// it is not sent to.
            case startTLS = "starttls"
            /// TLS from the first byte (SMTPS, port 465).
            case tls
        }

        public var host: String
        public var port: Int
        public var security: Security
        public var username: String?
        public var password: String?
        /// The name this client gives in `EHLO`.
        public var clientName: String
        public var connectTimeout: Duration
        public var timeout: Duration

        public init(
            host: String, port: Int, security: Security = .none, username: String? = nil, password: String? = nil,
            clientName: String = "localhost", connectTimeout: Duration = .seconds(5), timeout: Duration = .seconds(30)
        ) {
            self.host = host
            self.port = port
            self.security = security
            self.username = username
            self.password = password
            self.clientName = clientName
            self.connectTimeout = connectTimeout
            self.timeout = timeout
        }

        var url: String {
            let scheme = security == .tls ? "smtps" : "smtp"
            let name = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
            return "\(scheme)://\(name):\(port)/\(clientName)"
        }
    }

    public let configuration: Configuration
    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>

    public init(configuration: Configuration) throws(SMTPError) {
        HTTPClient.globalInit()
        guard let handle = curl_easy_init() else { throw .transient(code: nil, "curl_easy_init failed") }
        self.handle = handle
        self.configuration = configuration
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Sends `message` to its recipients and returns when the server has accepted it (its
    /// `250` after `DATA`), or throws: `.rejected` when the server refused this message or a
    /// recipient for good (a `5xx` reply), `.transient` for anything that may pass later (no
    /// connection, a timeout, a `4xx`, refused credentials).
    public func send(_ message: MailMessage) throws(SMTPError) {
        try send(message.rendered, from: message.from.address, to: message.to.map(\.address))
    }

    /// Sends a message already rendered (`MailMessage.rendered`, as an outbox keeps it) from
    /// the envelope sender `from` to the envelope recipients `to`.
    public func send(_ rendered: String, from: String, to: [String]) throws(SMTPError) {
        // An address that would break the SMTP command it goes into is refused before sending.
        guard Mailbox.isPlausible(from) else { throw .transient(code: nil, "invalid sender address") }
        guard !to.isEmpty, to.allSatisfy(Mailbox.isPlausible) else {
            throw .rejected(code: 0, "invalid recipient address")
        }
        let upload = Upload(Array(rendered.utf8))
        var recipients: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(recipients) }
        curl_easy_reset(handle)
        errorBuffer[0] = 0
        let context = Unmanaged.passUnretained(upload).toOpaque()
        try check(encore_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        try check(encore_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        try check(encore_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "smtp,smtps"))
        try check(encore_curl_setopt_string(handle, CURLOPT_URL, configuration.url))
        try check(
            encore_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(configuration.connectTimeout)))
        try check(encore_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, milliseconds(configuration.timeout)))
        if configuration.security == .startTLS {
            try check(encore_curl_setopt_long(handle, CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue)))
        }
        if let username = configuration.username {
            try check(encore_curl_setopt_string(handle, CURLOPT_USERNAME, username))
            try check(encore_curl_setopt_string(handle, CURLOPT_PASSWORD, configuration.password ?? ""))
        }
        try check(encore_curl_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(from)>"))
        for recipient in to {
            guard let list = curl_slist_append(recipients, "<\(recipient)>") else {
                throw .transient(code: nil, "out of memory")
            }
            recipients = list
        }
        try check(encore_curl_setopt_slist(handle, CURLOPT_MAIL_RCPT, recipients))
        try check(encore_curl_setopt_long(handle, CURLOPT_UPLOAD, 1))
        try check(encore_curl_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(upload.bytes.count)))
        try check(encore_curl_setopt_read_callback(handle, CURLOPT_READFUNCTION, readMessage))
        try check(encore_curl_setopt_pointer(handle, CURLOPT_READDATA, context))

        let code = curl_easy_perform(handle)
        withExtendedLifetime(upload) {}
        guard code != CURLE_OK else { return }
        var reply = 0
        _ = encore_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &reply)
        let detail = String(cString: errorBuffer)
        throw SMTPError.classify(
            code: code, reply: reply, detail: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
    }

    private func check(_ code: CURLcode) throws(SMTPError) {
        guard code == CURLE_OK else { throw .transient(code: nil, String(cString: curl_easy_strerror(code))) }
    }
}

/// Why a message was not sent.
public enum SMTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server refused it for good (a `5xx` reply to `RCPT` or `DATA`): sending it again
    /// will not help. `code` is the reply code.
    case rejected(code: Int, String)
    /// It may go through later: no connection, a timeout, a `4xx` reply, credentials refused
    /// or the sender refused (the configuration's fault, not the message's).
    case transient(code: Int?, String)

    public var description: String {
        switch self {
        case .rejected(let code, let message): "rejected (\(code)): \(message)"
        case .transient(let code, let message): "failed\(code.map { " (\($0))" } ?? ""): \(message)"
        }
    }

    public var isPermanent: Bool {
        if case .rejected = self { true } else { false }
    }

    /// libcurl's result, the server's last reply code and libcurl's message ("RCPT failed:
    /// 550"), as one of the two outcomes.
    static func classify(code: CURLcode, reply: Int, detail: String) -> SMTPError {
        let refusedForGood = (500..<600).contains(reply) && code != CURLE_LOGIN_DENIED
        // A refused MAIL FROM or AUTH is the sender's setup, and a server may answer 5xx to
        // everything while it is misconfigured: retried, not charged to the message.
        let atSender = detail.hasPrefix("MAIL failed") || detail.contains("AUTH")
        if refusedForGood && !atSender { return .rejected(code: reply, detail) }
        return .transient(code: reply == 0 ? nil : reply, detail)
    }
}

private func milliseconds(_ duration: Duration) -> Int {
    let (seconds, attoseconds) = duration.components
    return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
}

/// The message's bytes and how far libcurl has read them.
private final class Upload {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }
}

/// CURLOPT_READFUNCTION: copies the next piece of the message; 0 at its end.
private let readMessage: curl_read_callback = { buffer, size, count, context in
    let upload = Unmanaged<Upload>.fromOpaque(context!).takeUnretainedValue()
    let length = min(size * count, upload.bytes.count - upload.offset)
    guard length > 0, let buffer else { return 0 }
    upload.bytes.withUnsafeBytes { bytes in
        UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + upload.offset, byteCount: length)
    }
    upload.offset += length
    return length
}
