import Foundation
import Mail
import QRCode
import Web

/// What the tickets' e-mail is made with: who it is from, where its links point, and the key
/// that signs the codes in its QR images.
public struct TicketMailSettings: Sendable {
    public let from: Mailbox
    /// The site's address as customers reach it (`https://tickets.example`), for links.
    public let publicURL: String
    public let codes: TicketCodes

    public init(from: Mailbox, publicURL: String, codes: TicketCodes) {
        self.from = from
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        self.codes = codes
    }

    /// The Message-ID's domain: the public URL's host.
    var domain: String { URL(string: publicURL)?.host ?? "encore.invalid" }
}

/// The e-mail that carries an order's tickets: one QR image per ticket (PNG, inline) with its
/// number and level, and a link to each e-ticket page.
enum TicketMail {
    static func messageId(orderId: String, settings: TicketMailSettings) -> String {
        "tickets-\(orderId)@\(settings.domain)"
    }

    static func compose(_ prepared: TicketDeliveryPrepared, settings: TicketMailSettings, templates: Templates) throws
        -> MailMessage
    {
        let concert = prepared.concert
        let when = DateText.display(concert.startsAt)
        var images: [MailMessage.InlineImage] = []
        var lines: [EmailPage.Line] = []
        for (index, ticket) in prepared.tickets.enumerated() {
            let code = try settings.codes.code(for: ticket.ticketId)
            let contentId = "qr\(index + 1)-\(prepared.orderId)@\(settings.domain)"
            images.append(
                .init(
                    contentId: contentId, filename: "ticket-\(ticket.number).png",
                    data: try QRCode(code, correction: .quartile).png(scale: 6)))
            lines.append(
                .init(
                    number: ticket.number, level: ticket.levelName,
                    link: "\(settings.publicURL)/tickets/\(ticket.ticketId)",
                    image: "cid:" + contentId, code: code))
        }
        let page = EmailPage(
            recipient: prepared.recipient, concertName: concert.name, venue: "\(concert.venue), \(concert.city)",
            when: when, orderNumber: prepared.orderNumber, tickets: lines, ticketsLink: "\(settings.publicURL)/tickets")
        var text = """
            Hello \(prepared.recipient),

            here are your tickets for \(concert.name).
            \(concert.venue), \(concert.city), \(when). Order \(prepared.orderNumber).

            Show the QR code at the entrance, on your phone or printed. Each code admits one person once.

            """
        for line in lines {
            text += "\n\(line.number) · \(line.level)\n  \(line.link)\n  code: \(line.code)\n"
        }
        text += "\nAll your tickets: \(page.ticketsLink)\n"
        return MailMessage(
            from: settings.from, to: [Mailbox(prepared.email ?? "", name: prepared.recipient)],
            subject: "Your tickets: \(concert.name)",
            messageId: messageId(orderId: prepared.orderId, settings: settings),
            date: prepared.preparedAt, text: text, html: try templates.render("ticket_email", page), images: images)
    }

    struct EmailPage: Encodable {
        struct Line: Encodable {
            let number: String
            let level: String
            let link: String
            let image: String
            let code: String
        }
        let recipient: String
        let concertName: String
        let venue: String
        let when: String
        let orderNumber: String
        let tickets: [Line]
        let ticketsLink: String
    }

    /// The context's own templates (the e-mail's), for the processes that send without pages.
    static let templates: Result<Templates, Error> = Result {
        guard let folder = Bundle.module.resourceURL?.appendingPathComponent("Templates").path else {
            throw CocoaError(.fileNoSuchFile)
        }
        return try Templates(directories: [folder])
    }
}
