import Postgres

/// How a projection runs.
public enum ProjectionKind: String, Sendable, Codable {
    /// In every append's transaction (pass it to `EventStore`): its read model never lags.
    /// Keep these few and cheap, since every append pays for them.
    case inline
    /// Behind the appends, in the global order, by `ProjectionDaemon`, with its checkpoint
    /// stored in the same transaction as its writes.
    case async
    /// Like `async`, but for side effects (e-mails, gateway calls). Starts at the head of the
    /// store when first deployed, and is never re-run by a rebuild.
    case reactor
}

/// Turns events into a read model (or, for a reactor, into side effects).
///
/// A projection owns its tables: it creates them and writes them only through
/// `ProjectionTarget.table(_:)`, so that a rebuild can build them again in a shadow schema
/// while the live ones keep serving, and then swap them in. `apply` must be a deterministic
/// function of the events and the tables (no clock, no outside calls), so that a rebuild
/// gives what the live run gave.
public protocol Projection: Sendable {
    /// A stable name: the checkpoint's key and the name `encore projections rebuild` takes.
    var name: String { get }
    var kind: ProjectionKind { get }
    /// Bump it when the read model's shape or meaning changes; status then asks for a rebuild.
    var version: Int { get }
    /// The unqualified names of the tables the projection owns (none for most reactors).
    var tables: [String] { get }
    /// Creates the tables (and their indexes) in `target`. Must not name indexes or
    /// constraints explicitly, or must name them per table, since a shadow copy lives beside
    /// the live one until the swap.
    func createTables(in target: ProjectionTarget) throws
    /// Applies a batch of events, in global order, inside `target`'s transaction.
    func apply(_ events: [RecordedEvent], to target: ProjectionTarget) throws
}

extension Projection {
    public var kind: ProjectionKind { .async }
    public var version: Int { 1 }
    public var tables: [String] { [] }
    public func createTables(in target: ProjectionTarget) throws {}
}

/// Where a projection writes: its connection, in a transaction, and the schema of its tables.
public struct ProjectionTarget {
    /// The connection, inside the transaction that also stores the checkpoint (or the append).
    public let connection: Connection
    /// The schema holding the tables: the live one, or a shadow one during a rebuild.
    public let schema: String
    /// True while rebuilding into a shadow schema.
    public let isRebuild: Bool

    public init(connection: Connection, schema: String, isRebuild: Bool) {
        self.connection = connection
        self.schema = schema
        self.isRebuild = isRebuild
    }

    /// The quoted, schema-qualified name of one of the projection's tables, for
    /// `\(unsafeSQL: target.table("stream_overview"))`.
    public func table(_ name: String) -> String {
        Connection.quoteIdentifier(schema) + "." + Connection.quoteIdentifier(name)
    }
}
