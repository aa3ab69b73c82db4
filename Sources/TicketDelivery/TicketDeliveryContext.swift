import EventStore
import Foundation
import Identity
import Mail
import Postgres
import Web

/// The TicketDelivery context as the composition root wires it: tickets issued for completed
/// orders, their delivery (e-mail through the outbox and SMTP, or printed and posted), the
/// e-ticket pages, and check-in at the door.
public struct TicketDeliveryContext: BoundedContext {
    /// The concerts, from the Concerts context: who organises one, and how a ticket names it.
    public let concerts: TicketConcerts
    public let mail: TicketMailSettings
    public let mailer: MailerSettings

    public init(concerts: TicketConcerts, mail: TicketMailSettings, mailer: MailerSettings) {
        self.concerts = concerts
        self.mail = mail
        self.mailer = mailer
    }

    public var name: String { "tickets" }
    public var migrations: [Migration] { TicketDeliverySchema.migrations }
    public var inlineProjections: [any Projection] { [TicketsProjection()] }
    public var resources: URL? { Bundle.module.resourceURL }

    public func routes(_ router: inout Router<RequestContext>, store: StoreSetup) {
        let api = TicketsAPI(store: store, mail: mail, concerts: concerts)
        api.add(to: &router)
        TicketPages(api: api).add(to: &router)
        DoorPages(api: api).add(to: &router)
    }

    /// The commands, on a connection: for the process managers that issue and void tickets.
    public func commands(on connection: Connection, store: StoreSetup) -> TicketDeliveryCommands {
        TicketDeliveryCommands(connection: connection, store: store, mail: mail)
    }

    /// `mailer`: sends the outbox's e-mails (`Mailer`).
    public func backgroundJobs(store: StoreSetup) -> [BackgroundJob] {
        [
            BackgroundJob(name: "mailer") { environment in
                { shouldStop in
                    Mailer(store: store, mail: mail, settings: mailer, environment: environment)
                        .run(shouldStop: shouldStop)
                }
            }
        ]
    }

    public func metrics(on connection: Connection) throws -> [Metric] {
        let outbox = try MailOutbox.backlog(on: connection)
        return [
            Metric(
                "encore_mail_outbox_pending", .gauge, help: "E-mails queued and not yet accepted by the mail server.",
                value: Double(outbox.pending)),
            Metric(
                "encore_mail_outbox_oldest_seconds", .gauge, help: "Age of the oldest e-mail still queued.",
                value: outbox.oldestSeconds),
            Metric(
                "encore_mail_failed", .gauge, help: "E-mails the mail server refused for good.",
                value: Double(outbox.failed)),
            Metric(
                "encore_mail_sent_total", .counter, help: "E-mails the mail server accepted.",
                value: Double(outbox.sent)),
        ]
    }
}

/// What the TicketDelivery context needs to know of concerts. The Concerts context provides it.
public struct TicketConcerts: Sendable {
    /// A concert as its tickets name it, with its organiser; nil when there is no such concert.
    public let find: @Sendable (_ concertId: String, _ connection: Connection) throws -> TicketConcert?

    public init(find: @escaping @Sendable (String, Connection) throws -> TicketConcert?) {
        self.find = find
    }
}

/// Who may see a ticket or a delivery (its buyer, its concert's organiser, an admin) and who
/// may check tickets in and ship them (the organiser, an admin). Another's is "not found".
enum TicketAccess {
    static func maySee(userId: String, organiserId: String, _ principal: Principal) -> Bool {
        principal.userId == userId || mayManage(organiserId: organiserId, principal)
    }

    static func mayManage(organiserId: String, _ principal: Principal) -> Bool {
        principal.role == .admin || (principal.role >= .organiser && principal.userId == organiserId)
    }
}
