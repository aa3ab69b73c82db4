import Foundation

/// A name and an address: `Encore <tickets@encore.example>`.
public struct Mailbox: Sendable, Equatable, Codable {
    public let name: String?
    public let address: String

    public init(_ address: String, name: String? = nil) {
        self.address = address
        self.name = name
    }

    /// Parses `Name <address>` or a bare address.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let open = trimmed.lastIndex(of: "<"), trimmed.hasSuffix(">") {
            let name = trimmed[..<open].trimmingCharacters(in: .whitespaces)
            let address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
            guard Self.isPlausible(address),
                !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
            else { return nil }
            self.init(address, name: name.isEmpty ? nil : name.trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
        } else {
            guard Self.isPlausible(trimmed) else { return nil }
            self.init(trimmed)
        }
    }

    /// One `@`, something either side, nothing that would break a header or an SMTP command.
    public static func isPlausible(_ address: String) -> Bool {
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty
            && address.unicodeScalars.allSatisfy {
                $0.value > 0x20 && $0.value != 0x7f && !"<>\",;()".unicodeScalars.contains($0)
            }
    }

    var header: String {
        let name = String(
            String.UnicodeScalarView((name ?? "").unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7f }))
        guard !name.isEmpty else { return address }
        let plain = name.unicodeScalars.allSatisfy { $0.isASCII && $0.value >= 0x20 && $0.value != 0x7f }
        if plain {
            let quoted = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"\(quoted)\" <\(address)>"
        }
        return "\(MailMessage.encodedWords(name)) <\(address)>"
    }
}

/// An e-mail as MIME text (RFC 5322, 2045-2047): a plain-text part and an HTML part
/// (`multipart/alternative`), with images the HTML shows inline (`cid:`) in a
/// `multipart/related` around them. Text is UTF-8 in quoted-printable; images in base64.
public struct MailMessage: Sendable, Equatable {
    /// An image the HTML refers to as `cid:<contentId>`.
    public struct InlineImage: Sendable, Equatable {
        public let contentId: String
        public let filename: String
        public let mediaType: String
        public let data: [UInt8]

        public init(contentId: String, filename: String, mediaType: String = "image/png", data: [UInt8]) {
            self.contentId = contentId
            self.filename = filename
            self.mediaType = mediaType
            self.data = data
        }
    }

    public let from: Mailbox
    public let to: [Mailbox]
    public let subject: String
    /// Without angle brackets: `delivery-1234@encore.example`. Receivers and our own sender
    /// recognise a message sent twice by it.
    public let messageId: String
    public let date: Date
    public let text: String
    public let html: String?
    public let images: [InlineImage]

    public init(
        from: Mailbox, to: [Mailbox], subject: String, messageId: String, date: Date, text: String,
        html: String? = nil, images: [InlineImage] = []
    ) {
        self.from = from
        self.to = to
        self.subject = subject
        self.messageId = messageId
        self.date = date
        self.text = text
        self.html = html
        self.images = images
    }

    /// The whole message, lines ending in CRLF, ready for `DATA` (libcurl stuffs the dots).
    public var rendered: String {
        var lines: [String] = [
            "From: \(from.header)",
            "To: \(to.map(\.header).joined(separator: ", "))",
            "Subject: \(Self.headerText(subject))",
            "Date: \(Self.rfc5322Date(date))",
            "Message-ID: <\(messageId)>",
            "MIME-Version: 1.0",
        ]
        // "=_" never occurs in quoted-printable or base64 text, so no part can contain it.
        let boundary = "=_encore_" + String(Self.fnv1a(messageId), radix: 36)
        let textPart = Self.part("text/plain; charset=utf-8", quotedPrintable: text)
        guard let html else {
            lines += textPart
            return lines.joined(separator: "\r\n") + "\r\n"
        }
        let alternative = Self.multipart(
            "alternative", boundary: boundary + "_alt",
            parts: [textPart, Self.part("text/html; charset=utf-8", quotedPrintable: html)])
        if images.isEmpty {
            lines += alternative
        } else {
            let imageParts = images.map { image in
                [
                    "Content-Type: \(image.mediaType); name=\"\(image.filename)\"",
                    "Content-Transfer-Encoding: base64",
                    "Content-ID: <\(image.contentId)>",
                    "Content-Disposition: inline; filename=\"\(image.filename)\"",
                    "",
                    Data(image.data).base64EncodedString(options: [
                        .lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed,
                    ]),
                ]
            }
            lines += Self.multipart("related", boundary: boundary + "_rel", parts: [alternative] + imageParts)
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func part(_ type: String, quotedPrintable body: String) -> [String] {
        ["Content-Type: \(type)", "Content-Transfer-Encoding: quoted-printable", "", quotedPrintable(body)]
    }

    static func multipart(_ subtype: String, boundary: String, parts: [[String]]) -> [String] {
        var lines = ["Content-Type: multipart/\(subtype); boundary=\"\(boundary)\"", ""]
        for part in parts { lines += ["--\(boundary)"] + part }
        lines.append("--\(boundary)--")
        return lines
    }

    /// Quoted-printable (RFC 2045 §6.7): CRLF line breaks, soft breaks before 76 characters.
    static func quotedPrintable(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        let normalised = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        for (index, line) in normalised.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if index > 0 { out += [13, 10] }
            var column = 0
            let bytes = Array(line.utf8)
            for (position, byte) in bytes.enumerated() {
                let isLast = position == bytes.count - 1
                let plain =
                    (byte >= 33 && byte <= 126 && byte != 61) || (byte == 32 && !isLast) || (byte == 9 && !isLast)
                let piece: [UInt8] = plain ? [byte] : [61, hex[Int(byte >> 4)], hex[Int(byte & 15)]]
                if column + piece.count > 75 {
                    out += [61, 13, 10]
                    column = 0
                }
                out += piece
                column += piece.count
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Header text: as it is when plain ASCII, else RFC 2047 encoded words. Line breaks never
    /// pass (header injection).
    static func headerText(_ text: String) -> String {
        let oneLine = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        if oneLine.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value != 0x7f }) {
            return oneLine
        }
        return encodedWords(oneLine)
    }

    /// `=?UTF-8?B?...?=` words of at most 45 bytes of text each (75 characters encoded), split
    /// between characters, folded onto continuation lines.
    static func encodedWords(_ text: String) -> String {
        var words: [[UInt8]] = []
        var chunk: [UInt8] = []
        for character in text {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45 {
                words.append(chunk)
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append(chunk) }
        return words.map { "=?UTF-8?B?\(Data($0).base64EncodedString())?=" }.joined(separator: "\r\n ")
    }

    /// FNV-1a, 64 bits: the same boundary for the same message in every process.
    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
