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

    /// Which ticket a gate names: by its id (from a code whose signature was checked), or by
    /// its number (typed by door staff).
    public enum DoorTicket: Sendable, Equatable {
        case id(String)
        case number(String)
    }

    /// Check-in at the door, from the ticket's stream alone: one read (the stream, which holds
    /// the ticket as issued with its concert's organiser; for a number, found through the
    /// `tickets` read model in the same statement), `allowed` asked about the issued ticket
    /// before anything is decided, then the append with the version read. The ticket's state
    /// after, or `TicketError`: `notFound` for no such ticket and for one `allowed` refuses,
    /// `alreadyCheckedIn`, `void`.
    ///
    /// The same guarantees as `checkIn(_:_:metadata:)`, which reads the stream inside its
    /// handler after the caller has read the ticket's row: one check-in per ticket, since the
    /// append expects the version read (two gates at once: the second append meets the new
    /// version, reads again and finds the ticket checked in, up to three times), and the
    /// `tickets` read model changes in the append's transaction. It saves a round trip and a
    /// statement per check-in (bench/FINDINGS.md, "The gate rush").
    public func checkIn(
        at door: DoorTicket, _ command: CheckInTicket, metadata: EventMetadata, allowed: (TicketIssued) -> Bool
    ) throws -> Ticket.State {
        let handler = tickets
        let encoder = EventJSON.encoder()
        var attempt = 0
        while true {
            let streamId: String
            let loaded: Loaded<Ticket.State>
            switch door {
            case .id(let ticketId):
                streamId = Ticket.streamId(ticketId)
                loaded = try handler.load(streamId)
            case .number(let number):
                guard
                    let found = try handler.load(
                        idFrom: "SELECT \(Ticket.streamType + "-") || id FROM tickets WHERE number = \(number)")
                else { throw TicketError.notFound }
                (streamId, loaded) = found
            }
            guard let issued = loaded.state.issued, allowed(issued) else { throw TicketError.notFound }
            let events = try Ticket.decide(.checkIn(command), loaded.state)
            do {
                try handler.store.append(
                    to: streamId, type: Ticket.streamType, expectedVersion: .version(loaded.version),
                    events: try events.map { try Ticket.eventTypes.encode($0, encoder: encoder) }, metadata: metadata)
                return Ticket.fold(events, from: loaded.state)
            } catch is WrongExpectedVersion where attempt < 3 && !handler.store.joinsCallerTransaction {
                attempt += 1
            }
        }
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
