import Foundation
import Postgres

/// Where a projection stands: for `encore projections status` and the admin panel.
public struct ProjectionStatus: Sendable, Equatable {
    public let name: String
    public let kind: ProjectionKind
    /// The version its read model was built with, and the version of the code now.
    public let builtVersion: Int?
    public let codeVersion: Int
    public let checkpoint: Checkpoint?
    /// Visible events after the checkpoint (counted up to a cap); nil for inline ones.
    public let eventsBehind: Int?
    public let lastError: String?
    public let updatedAt: Date?

    /// True when the code's version differs from the one the read model was built with.
    public var needsRebuild: Bool { builtVersion.map { $0 != codeVersion } ?? false }

    /// Reads the status of each projection; `cap` bounds the count of events behind.
    public static func load(
        _ projections: [any Projection], on connection: Connection, cap: Int = 1_000_000
    ) throws -> [ProjectionStatus] {
        try projections.map { projection in
            let row = try connection.query(
                "SELECT transaction_id, position, version, last_error, updated_at FROM es_checkpoints WHERE name = \(projection.name)"
            ).first
            let checkpoint = try row.map {
                Checkpoint(transactionId: try $0.decode("transaction_id"), position: try $0.decode("position"))
            }
            var behind: Int?
            if let checkpoint, projection.kind != .inline {
                behind = try connection.query(
                    """
                    SELECT count(*) AS behind FROM (SELECT 1 FROM es_events
                        WHERE (transaction_id, global_position) > (\(checkpoint.transactionId)::xid8, \(checkpoint.position))
                          AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
                        LIMIT \(cap)) AS pending
                    """
                ).first?.decode("behind", as: Int.self)
            }
            return ProjectionStatus(
                name: projection.name, kind: projection.kind, builtVersion: try row?.decodeIfPresent("version"),
                codeVersion: projection.version, checkpoint: checkpoint, eventsBehind: behind,
                lastError: row?["last_error"], updatedAt: try row?.decodeIfPresent("updated_at"))
        }
    }
}
