import Foundation
import Mail
import Postgres

/// The e-mail outbox (`mail_outbox`): a message is written here in the same transaction as
/// the event that asks for it, and the `mailer` job sends it afterwards, so an e-mail is sent
/// if and only if its event is committed, at least once.
///
/// A row is `pending` until the mail server accepts the message (`sent`), or refuses it for
/// good (`failed`). While the server is away, a row waits longer after each failed attempt
/// (`next_attempt_at`). The Message-ID is the row's key: a message is never queued twice, and
/// a receiver that sees it twice (sent again after a crash between the server's acceptance
/// and our commit) can tell.
public enum MailOutbox {
    /// The purposes an outbox row may have; each one's sender records its outcome.
    public enum Purpose: String, Sendable {
        /// `reference` is the order id of a `TicketDelivery`.
        case ticketDelivery = "ticket_delivery"
        /// An offer to a waiting-list entry (`reference`: the entry id); nothing is recorded
        /// when it is sent.
        case waitingList = "waiting_list"
    }

    public struct Entry: Sendable, Equatable {
        public let messageId: String
        public let purpose: String
        public let reference: String
        public let sender: String
        public let recipients: [String]
        public let message: String
        public let attempts: Int
        public let createdAt: Date
    }

    /// Queues `message`, in the caller's transaction, and wakes the sender when it commits.
    /// A message already queued (the same Message-ID) is left as it is.
    public static func enqueue(
        _ message: MailMessage, purpose: Purpose, reference: String, on connection: Connection
    ) throws {
        try connection.executeLater(
            """
            INSERT INTO mail_outbox (message_id, purpose, reference, sender, recipients, subject, message)
            VALUES (\(message.messageId), \(purpose.rawValue), \(reference), \(message.from.address),
                    \(SQLArray(message.to.map(\.address)))::text[], \(message.subject), \(message.rendered))
            ON CONFLICT (message_id) DO NOTHING
            """)
        try connection.executeLater("SELECT pg_notify('mail_outbox', '')")
    }

    /// The next message due, locked until the caller's transaction ends (other senders skip it).
    static func claimNext(on connection: Connection) throws -> Entry? {
        guard
            let row = try connection.query(
                """
                SELECT message_id, purpose, reference, sender, array_to_json(recipients)::text AS recipients, message, attempts,
                       created_at
                FROM mail_outbox WHERE status = 'pending' AND next_attempt_at <= now()
                ORDER BY next_attempt_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED
                """
            ).first
        else { return nil }
        return Entry(
            messageId: try row.decode("message_id"), purpose: try row.decode("purpose"),
            reference: try row.decode("reference"), sender: try row.decode("sender"),
            recipients: try JSONDecoder().decode(
                [String].self, from: Data(try row.decode("recipients", as: String.self).utf8)),
            message: try row.decode("message"),
            attempts: try row.decode("attempts"), createdAt: try row.decode("created_at"))
    }

    static func markSent(_ messageId: String, attempts: Int, on connection: Connection) throws {
        try connection.executeLater(
            """
            UPDATE mail_outbox SET status = 'sent', attempts = \(attempts), sent_at = now(), last_error = NULL
            WHERE message_id = \(messageId)
            """)
    }

    static func markFailed(_ messageId: String, attempts: Int, error: String, on connection: Connection) throws {
        try connection.executeLater(
            """
            UPDATE mail_outbox SET status = 'failed', attempts = \(attempts), last_error = \(error)
            WHERE message_id = \(messageId)
            """)
    }

    static func retryLater(
        _ messageId: String, attempts: Int, after: TimeInterval, error: String, on connection: Connection
    )
        throws
    {
        try connection.executeLater(
            """
            UPDATE mail_outbox SET attempts = \(attempts), last_error = \(error),
                next_attempt_at = now() + make_interval(secs => \(after))
            WHERE message_id = \(messageId)
            """)
    }

    /// Messages waiting, and the age of the oldest, for `/metrics`.
    static func backlog(on connection: Connection) throws -> (
        pending: Int, oldestSeconds: Double, failed: Int, sent: Int
    ) {
        let row = try connection.query(
            """
            SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending,
                   coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending')), 0)::float8 AS oldest,
                   count(*) FILTER (WHERE status = 'failed')::int AS failed,
                   count(*) FILTER (WHERE status = 'sent')::int AS sent
            FROM mail_outbox
            """
        ).first!
        return (
            try row.decode("pending"), try row.decode("oldest"), try row.decode("failed"), try row.decode("sent")
        )
    }
}

/// The TicketDelivery context's tables outside its read models (versions 800-899).
public enum TicketDeliverySchema {
    public static let migrations: [Migration] = [
        Migration(
            version: 800, name: "ticket delivery: the e-mail outbox",
            sql: """
                CREATE TABLE mail_outbox (
                    message_id text PRIMARY KEY,
                    purpose text NOT NULL,
                    reference text NOT NULL,
                    sender text NOT NULL,
                    recipients text[] NOT NULL,
                    subject text NOT NULL,
                    message text NOT NULL,
                    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
                    attempts int NOT NULL DEFAULT 0,
                    next_attempt_at timestamptz NOT NULL DEFAULT now(),
                    last_error text,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    sent_at timestamptz
                );
                CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at, created_at) WHERE status = 'pending';
                CREATE INDEX mail_outbox_reference ON mail_outbox (purpose, reference);
                """)
    ]
}
