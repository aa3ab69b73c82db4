import Foundation
import TestSupport
import Testing

@testable import Mail

struct MailMessageTests {
    let message = MailMessage(
        from: Mailbox("tickets@encore.test", name: "Encore"),
        to: [Mailbox("anna@example.com", name: "Anna Nowak-Żak")],
        subject: "Your tickets: Beyoncé, Warsaw",
        messageId: "delivery-1@encore.test",
        date: Date(timeIntervalSince1970: 1_796_000_000),
        text:
            "Hello Anna,\nyour tickets are attached.\n.\nA line that is long enough to need a soft break because it goes on and on and on.",
        html: "<p>Hello <b>Anna</b></p><img src=\"cid:qr1\">",
        images: [.init(contentId: "qr1", filename: "ticket-1.png", data: [0x89, 0x50, 0x4E, 0x47])])

    @Test func headersAreEncodedAndLinesEndInCRLF() {
        let text = message.rendered
        #expect(text.contains("From: \"Encore\" <tickets@encore.test>\r\n"))
        #expect(text.contains("To: =?UTF-8?B?"))  // a name with non-ASCII letters
        #expect(text.contains("Subject: =?UTF-8?B?"))
        #expect(text.contains("Message-ID: <delivery-1@encore.test>\r\n"))
        #expect(text.contains("Date: Mon, 30 Nov 2026 "))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        #expect(text.split(separator: "\r\n").allSatisfy { $0.utf8.count <= 78 })
    }

    @Test func partsNestRelatedAroundAlternative() {
        let text = message.rendered
        let related = text.range(of: "multipart/related")!
        let alternative = text.range(of: "multipart/alternative")!
        #expect(related.lowerBound < alternative.lowerBound)
        #expect(text.contains("Content-ID: <qr1>"))
        #expect(text.contains("iVBORw=="))  // the image's bytes in base64
    }

    @Test func quotedPrintableKeepsTextExact() {
        #expect(MailMessage.quotedPrintable("a=b") == "a=3Db")
        #expect(MailMessage.quotedPrintable("ends with space ") == "ends with space=20")
        #expect(MailMessage.quotedPrintable("ż") == "=C5=BC")
        #expect(MailMessage.quotedPrintable("a\nb") == "a\r\nb")
        let long = MailMessage.quotedPrintable(String(repeating: "x", count: 100))
        #expect(long == String(repeating: "x", count: 75) + "=\r\n" + String(repeating: "x", count: 25))
    }

    @Test func headerInjectionIsFlattened() {
        #expect(MailMessage.headerText("Hi\r\nBcc: victim@example.com") == "Hi  Bcc: victim@example.com")
    }

    @Test func mailboxesParse() {
        #expect(Mailbox(parsing: "Encore <tickets@encore.test>") == Mailbox("tickets@encore.test", name: "Encore"))
        #expect(Mailbox(parsing: "tickets@encore.test") == Mailbox("tickets@encore.test"))
        #expect(Mailbox(parsing: "no-at-sign") == nil)
        #expect(Mailbox(parsing: "a@b\r\nRCPT TO:<x@y>") == nil)
    }

    @Test func sendErrorsAreClassified() {
        #expect(SMTPError.classify(code: .init(55), reply: 550, detail: "RCPT failed: 550").isPermanent)
        #expect(!SMTPError.classify(code: .init(55), reply: 451, detail: "RCPT failed: 451").isPermanent)
        #expect(!SMTPError.classify(code: .init(7), reply: 0, detail: "Failed to connect").isPermanent)
        #expect(!SMTPError.classify(code: .init(55), reply: 550, detail: "MAIL failed: 550").isPermanent)
    }
}

/// Against a real SMTP server: the repository's development sink (bin/mail-sink, aiosmtpd).
@Suite(.enabled(if: MailSink.isAvailable, "python3 with aiosmtpd is needed (requirements-test.txt)"), .serialized)
final class SMTPClientTests {
    let sink: MailSink

    init() throws { sink = try MailSink() }
    deinit { sink.stop() }

    func message(to address: String, id: String) -> MailMessage {
        MailMessage(
            from: Mailbox("tickets@encore.test", name: "Encore"), to: [Mailbox(address)], subject: "Tickets",
            messageId: id, date: Date(), text: "Hello\n.\nThe dot above stays.", html: "<p>Hello</p>")
    }

    @Test func aMessageArrivesWhole() throws {
        let client = try SMTPClient(configuration: .init(host: "127.0.0.1", port: sink.port))
        let sent = message(to: "anna@example.com", id: "t1-\(UUID())@encore.test")
        try client.send(sent)
        try client.send(message(to: "anna@example.com", id: "t2-\(UUID())@encore.test"))  // the same connection
        let stored = try String(
            contentsOf: sink.folder.appendingPathComponent(sent.messageId + ".eml"), encoding: .utf8)
        #expect(stored.contains("Message-ID: <\(sent.messageId)>"))
        #expect(stored.contains("Hello\r\n.\r\nThe dot above stays."))
    }

    @Test func aRefusedRecipientIsPermanent() throws {
        let client = try SMTPClient(configuration: .init(host: "127.0.0.1", port: sink.port))
        #expect(throws: SMTPError.self) { try client.send(self.message(to: "bounce@example.com", id: "b@x")) }
        do {
            try client.send(message(to: "bounce@example.com", id: "b@x"))
        } catch {
            #expect(error.isPermanent)
        }
        do {
            try client.send(message(to: "defer@example.com", id: "d@x"))
        } catch {
            #expect(!error.isPermanent)
        }
    }

    @Test func noServerIsTransient() throws {
        let client = try SMTPClient(configuration: .init(host: "127.0.0.1", port: 1, connectTimeout: .seconds(1)))
        do {
            try client.send(message(to: "anna@example.com", id: "n@x"))
            Issue.record("sent to nothing")
        } catch {
            #expect(!error.isPermanent)
        }
    }
}
