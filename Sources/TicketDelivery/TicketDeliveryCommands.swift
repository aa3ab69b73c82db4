import EventStore
import Foundation
import Postgres
import Sodium

/// The TicketDelivery context's command side: each method is one command on one stream (a
/// ticket's or a delivery's). Preparing an online delivery also queues its e-mail in the
/// outbox, in the same transaction.
public struct TicketDeliveryCommands {
    public let connection: Connection
    public let store: StoreSetup
    public let mail: TicketMailSettings

    public init(connection: Connection, store: StoreSetup, mail: TicketMailSettings) {
        self.connection = connection
        self.store = store
        self.mail = mail
    }

    /// In a caller's transaction (a process manager's), appends join it and never retry.
    private var tickets: CommandHandler<Ticket> {
        store.handler(Ticket.self, streamType: Ticket.streamType, eventTypes: Ticket.eventTypes, on: connection)
    }

    /// `joining`: in a transaction `prepare` opened itself, whose BEGIN the server has not seen
    /// yet (`isInTransaction` tells only what the server reported).
    private func deliveries(joining: Bool? = nil) -> CommandHandler<TicketDelivery> {
        store.handler(
            TicketDelivery.self, streamType: TicketDelivery.streamType, eventTypes: TicketDelivery.eventTypes,
            on: connection, joining: joining)
    }

    /// The id of an order's `seat`-th ticket (from 1): the same every time it is asked, so a
    /// process manager that runs again issues the same tickets. A UUID (version 8, RFC 9562)
    /// from a hash of the order id and the seat.
    public static func ticketId(orderId: String, seat: Int) -> String {
        var bytes = Array(Digest.blake2b(Array("encore-ticket:\(orderId):\(seat)".utf8)).prefix(16))
        bytes[6] = 0x80 | (bytes[6] & 0x0f)
        bytes[8] = 0x80 | (bytes[8] & 0x3f)
        let uuid = bytes.withUnsafeBytes { $0.loadUnaligned(as: uuid_t.self) }
        return UUID(uuid: uuid).uuidString.lowercased()
    }

    public func issue(_ command: IssueTicket, metadata: EventMetadata) throws {
        try tickets.handle(.issue(command), on: Ticket.streamId(command.ticketId), metadata: metadata)
    }

    /// Lets the ticket's holder in: the ticket's state after, or `TicketError` (already in,
    /// void). Two gates at once: one appends, the other's append meets the new version, loads
    /// again and finds the ticket checked in.
    @discardableResult
    public func checkIn(_ ticketId: String, _ command: CheckInTicket, metadata: EventMetadata) throws -> Ticket.State {
        try tickets.handle(
            .checkIn(command), on: Ticket.streamId(ticketId), metadata: metadata, retriesOnConflict: 3
        ).state
    }

    public func void(_ ticketId: String, reason: String, now: Date, metadata: EventMetadata) throws {
        try tickets.handle(
            .void(VoidTicket(reason: reason, now: now)), on: Ticket.streamId(ticketId), metadata: metadata,
            retriesOnConflict: 3)
    }

    public func loadTicket(_ ticketId: String) throws -> Ticket.State {
        try tickets.load(Ticket.streamId(ticketId)).state
    }

    /// Prepares an order's delivery; for online delivery its e-mail is composed and queued in
    /// the outbox in the same transaction (the caller's, or one of its own).
    public func prepare(_ command: PrepareTicketDelivery, metadata: EventMetadata) throws {
        try connection.transaction { _ in
            let result = try deliveries(joining: true).handle(
                .prepare(command), on: TicketDelivery.streamId(command.orderId), metadata: metadata)
            for case .prepared(let prepared) in result.events where prepared.method == .online {
                let message = try TicketMail.compose(
                    prepared, settings: mail, templates: try TicketMail.templates.get())
                try MailOutbox.enqueue(message, purpose: .ticketDelivery, reference: prepared.orderId, on: connection)
            }
        }
    }

    /// The message id an online delivery's e-mail will carry.
    public func messageId(orderId: String) -> String { TicketMail.messageId(orderId: orderId, settings: mail) }

    public func loadDelivery(_ orderId: String) throws -> TicketDelivery.State {
        try deliveries().load(TicketDelivery.streamId(orderId)).state
    }

    /// The organiser posted an order's printed tickets.
    public func ship(_ orderId: String, _ command: DeliverPrintedTicket, metadata: EventMetadata) throws {
        try deliveries().handle(
            .deliverPrinted(command), on: TicketDelivery.streamId(orderId), metadata: metadata, retriesOnConflict: 3)
    }

    func recordSent(_ orderId: String, messageId: String, now: Date, metadata: EventMetadata) throws {
        try deliveries().handle(
            .deliverOnline(DeliverOnlineTicket(messageId: messageId, now: now)), on: TicketDelivery.streamId(orderId),
            metadata: metadata)
    }

    func recordFailure(_ orderId: String, reason: String, now: Date, metadata: EventMetadata) throws {
        try deliveries().handle(
            .recordFailure(RecordDeliveryFailure(reason: reason, now: now)), on: TicketDelivery.streamId(orderId),
            metadata: metadata)
    }
}
