import EventStore
import Foundation
import Postgres

/// The `waiting_list_entries` read model: every entry, with where it stands, for the
/// customer's page, the leave links and the process manager's lookups (which offer a
/// checkout is). Inline: a customer sees their entry the moment they join.
public struct WaitingListProjection: Projection {
    public let name = "waiting_list_entries"
    public var kind: ProjectionKind { .inline }
    public var tables: [String] { ["waiting_list_entries"] }

    public init() {}

    public func createTables(in target: ProjectionTarget) throws {
        let table = target.table("waiting_list_entries")
        try target.connection.executeScript(
            unsafeSQL: """
                CREATE TABLE \(table) (
                    entry_id text PRIMARY KEY,
                    concert_id text NOT NULL,
                    level_id text NOT NULL,
                    user_id text NOT NULL,
                    email text NOT NULL,
                    quantity int NOT NULL,
                    status text NOT NULL,
                    overtaken int NOT NULL DEFAULT 0,
                    checkout_id text,
                    joined_at timestamptz NOT NULL,
                    offered_at timestamptz,
                    expires_at timestamptz,
                    updated_at timestamptz NOT NULL
                );
                CREATE INDEX ON \(table) (user_id, joined_at);
                CREATE INDEX ON \(table) (concert_id, level_id, joined_at) WHERE status IN ('waiting', 'offered');
                CREATE UNIQUE INDEX ON \(table) (checkout_id);
                """)
    }

    public func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws {
        let table = target.table("waiting_list_entries")
        let connection = target.connection
        for recorded in events where recorded.streamType == WaitingList.streamType {
            switch try WaitingList.eventTypes.decode(recorded) {
            case .joined(let e):
                try connection.executeLater(
                    """
                    INSERT INTO \(unsafeSQL: table)
                        (entry_id, concert_id, level_id, user_id, email, quantity, status, joined_at, updated_at)
                    VALUES (\(e.entryId), \(e.concertId), \(e.levelId), \(e.userId), \(e.email), \(e.quantity),
                            'waiting', \(e.joinedAt), \(e.joinedAt))
                    ON CONFLICT (entry_id) DO NOTHING
                    """)
            case .left(let e):
                try status(table, e.entryId, "left", e.leftAt, on: connection)
            case .offered(let e):
                try connection.executeLater(
                    """
                    UPDATE \(unsafeSQL: table) SET status = 'offered', checkout_id = \(e.checkoutId),
                        offered_at = \(e.offeredAt), expires_at = \(e.expiresAt), updated_at = \(e.offeredAt)
                    WHERE entry_id = \(e.entryId)
                    """)
            case .overtaken(let e):
                try connection.executeLater(
                    "UPDATE \(unsafeSQL: table) SET overtaken = overtaken + 1 WHERE entry_id = \(e.entryId)")
            case .accepted(let e):
                try status(table, e.entryId, "accepted", e.acceptedAt, on: connection)
            case .lapsed(let e):
                try status(table, e.entryId, "lapsed", e.lapsedAt, on: connection)
            }
        }
    }

    private func status(_ table: String, _ entryId: String, _ status: String, _ at: Date, on connection: Connection)
        throws
    {
        try connection.executeLater(
            "UPDATE \(unsafeSQL: table) SET status = \(status), updated_at = \(at) WHERE entry_id = \(entryId)")
    }
}

/// An entry as the customer's page and the API show it.
public struct WaitingListEntryView: Sendable, Equatable, Encodable {
    public let id: String
    public let concertId: String
    public let levelId: String
    public let quantity: Int
    /// `waiting`, `offered` (tickets held: pay by `expiresAt` under `checkoutId`), `accepted`,
    /// `lapsed`, `left`.
    public let status: String
    /// Entries of the level ahead of this one, still waiting or with an offer open.
    public let ahead: Int?
    public let checkoutId: String?
    public let expiresAt: Date?
    public let joinedAt: Date
    let userId: String
    let email: String

    enum CodingKeys: String, CodingKey {
        case id, concertId, levelId, quantity, status, ahead, checkoutId, expiresAt, joinedAt
    }

    init(row: Row) throws {
        id = try row.decode("entry_id")
        concertId = try row.decode("concert_id")
        levelId = try row.decode("level_id")
        quantity = try row.decode("quantity")
        status = try row.decode("status")
        ahead = try row.decodeIfPresent("ahead")
        checkoutId = try row.decodeIfPresent("checkout_id")
        expiresAt = try row.decodeIfPresent("expires_at")
        joinedAt = try row.decode("joined_at")
        userId = try row.decode("user_id")
        email = try row.decode("email")
    }
}

public enum WaitingListQueries {
    static let columns = """
        w.*, CASE WHEN w.status = 'waiting' THEN (
            SELECT count(*)::int FROM waiting_list_entries a
            WHERE a.concert_id = w.concert_id AND a.level_id = w.level_id AND a.status IN ('waiting', 'offered')
              AND a.joined_at < w.joined_at) END AS ahead
        """

    public static func find(_ entryId: String, on connection: Connection) throws -> WaitingListEntryView? {
        try connection.query(
            "SELECT \(unsafeSQL: columns) FROM waiting_list_entries w WHERE entry_id = \(entryId)"
        ).first.map(WaitingListEntryView.init)
    }

    /// A customer's entries, open ones first, newest first.
    public static func mine(userId: String, on connection: Connection) throws -> [WaitingListEntryView] {
        try connection.query(
            """
            SELECT \(unsafeSQL: columns) FROM waiting_list_entries w WHERE user_id = \(userId)
            ORDER BY w.status NOT IN ('waiting', 'offered'), joined_at DESC LIMIT 200
            """
        ).map(WaitingListEntryView.init)
    }

    /// The entry whose offer a checkout is, if any.
    public static func offer(checkoutId: String, on connection: Connection) throws -> WaitingListEntryView? {
        try connection.query(
            "SELECT \(unsafeSQL: columns) FROM waiting_list_entries w WHERE checkout_id = \(checkoutId)"
        ).first.map(WaitingListEntryView.init)
    }

    /// Whether anyone waits for the level (with no offer open).
    public static func hasWaiting(concertId: String, levelId: String, on connection: Connection) throws -> Bool {
        try connection.query(
            """
            SELECT 1 FROM waiting_list_entries
            WHERE concert_id = \(concertId) AND level_id = \(levelId) AND status = 'waiting' LIMIT 1
            """
        ).first != nil
    }
}
