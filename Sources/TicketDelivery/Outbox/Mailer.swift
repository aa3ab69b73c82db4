import EventStore
import Foundation
import Logging
import Mail
import Postgres
import Web

/// Where and how the `mailer` job sends, and how long it waits between attempts.
public struct MailerSettings: Sendable {
    public let smtp: SMTPClient.Configuration
    /// The longest wait between two attempts at one message, and at the server while it is away.
    public let retryMax: TimeInterval
    /// A message still not accepted this long after it was queued is given up (recorded as failed).
    public let giveUpAfter: TimeInterval

    public init(smtp: SMTPClient.Configuration, retryMax: TimeInterval, giveUpAfter: TimeInterval = 3 * 86_400) {
        self.smtp = smtp
        self.retryMax = retryMax
        self.giveUpAfter = giveUpAfter
    }
}

/// The `mailer` job: sends the outbox's messages through SMTP, one at a time, each in a
/// transaction that holds its row and records its outcome:
/// - accepted: the row is `sent` and its delivery's `OnlineTicketDelivered` appended;
/// - refused for good (a `5xx` to its recipient or its content): the row is `failed` and
///   `TicketDeliveryFailed` appended, for the organiser to see;
/// - anything else (no server, a timeout, a `4xx`): the row waits, 1 s after the first failure,
///   twice as long after each next one, up to `retryMax`; when the server did not answer at
///   all, the job itself waits too before it tries the server again (1 s, doubling up to
///   `retryMax`), so a server that is down is not hammered by every new message.
///
/// At least once: a crash between the server's acceptance and the commit sends the message
/// again, with the same Message-ID (which is how a receiver tells).
struct Mailer {
    let store: StoreSetup
    let mail: TicketMailSettings
    let settings: MailerSettings
    let environment: BackgroundJob.Environment

    func run(shouldStop: () -> Bool) {
        let logger = environment.logger
        var connection: Connection?
        var client: SMTPClient?
        var pause: TimeInterval = 0
        while !shouldStop() {
            do {
                let open = try connection ?? Connection(url: environment.databaseURL)
                if connection == nil {
                    try open.listen("mail_outbox")
                    connection = open
                }
                let smtp = try client ?? SMTPClient(configuration: settings.smtp)
                client = smtp
                switch try sendNext(on: open, with: smtp, logger: logger) {
                case .sent, .failed, .retryLater:
                    pause = 0
                case .serverAway:
                    // No answer from the server: wait before trying it again
                    // (new messages too), and start over with a new client, whose connection
                    // is not half dead.
                    pause = min(settings.retryMax, max(1, pause * 2))
                    client = nil
                    sleep(pause, unless: shouldStop)
                case .nothingDue:
                    _ = try open.waitForNotifications(timeout: 1)
                }
            } catch {
                logger.error("mailer: run failed", metadata: ["error": "\(error)"])
                connection = nil
                sleep(1, unless: shouldStop)
            }
        }
    }

    enum Outcome {
        case sent, failed, nothingDue
        /// The server answered, but not now for this message (a `4xx`).
        case retryLater
        /// No answer: no connection, or it broke.
        case serverAway
    }

    /// Sends the next message due, if any, and records what came of it.
    func sendNext(on connection: Connection, with smtp: SMTPClient, logger: Logger, now: Date = Date()) throws
        -> Outcome
    {
        try connection.transaction { tx in
            guard let entry = try MailOutbox.claimNext(on: tx) else { return .nothingDue }
            let attempts = entry.attempts + 1
            let metadata = EventMetadata(causationId: "mailer:" + entry.messageId)
            let commands = TicketDeliveryCommands(connection: tx, store: store, mail: mail)
            do throws(SMTPError) {
                try smtp.send(entry.message, from: entry.sender, to: entry.recipients)
            } catch let error where error.isPermanent || now.timeIntervalSince(entry.createdAt) > settings.giveUpAfter {
                let reason = error.isPermanent ? "\(error)" : "gave up after \(attempts) attempts: \(error)"
                logger.warning(
                    "mailer: message refused", metadata: ["message": "\(entry.messageId)", "error": "\(reason)"])
                try MailOutbox.markFailed(entry.messageId, attempts: attempts, error: reason, on: tx)
                if entry.purpose == MailOutbox.Purpose.ticketDelivery.rawValue {
                    try commands.recordFailure(entry.reference, reason: reason, now: now, metadata: metadata)
                }
                return .failed
            } catch {
                let wait = min(settings.retryMax, pow(2, Double(min(attempts - 1, 20))))
                logger.info(
                    "mailer: will try again",
                    metadata: ["message": "\(entry.messageId)", "in": "\(wait)s", "error": "\(error)"])
                try MailOutbox.retryLater(entry.messageId, attempts: attempts, after: wait, error: "\(error)", on: tx)
                if case .transient(nil, _) = error { return .serverAway }
                return .retryLater
            }
            try MailOutbox.markSent(entry.messageId, attempts: attempts, on: tx)
            if entry.purpose == MailOutbox.Purpose.ticketDelivery.rawValue {
                try commands.recordSent(entry.reference, messageId: entry.messageId, now: now, metadata: metadata)
            }
            return .sent
        }
    }

    private func sleep(_ seconds: TimeInterval, unless shouldStop: () -> Bool) {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end, !shouldStop() { Thread.sleep(forTimeInterval: 0.1) }
    }
}
