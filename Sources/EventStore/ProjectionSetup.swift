import Postgres

/// Creates what projections need before they first run: their tables and checkpoint rows.
public enum ProjectionSetup {
    /// For each projection never seen before: creates its tables in `readModelSchema` and its
    /// checkpoint row. Async read models start at the beginning of the store; reactors at its
    /// head, so a new reactor does not act on history; an inline projection added to a store
    /// that already has events starts empty and needs `encore projections rebuild NAME`.
    /// Safe to call from several processes at once, and again on every start.
    public static func prepare(
        _ projections: [any Projection], on connection: Connection, readModelSchema: String = "public"
    ) throws {
        for projection in projections {
            try connection.transaction { tx in
                try tx.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(\("es_projection:" + projection.name), 0))")
                let exists = try tx.query("SELECT 1 FROM es_checkpoints WHERE name = \(projection.name)").count > 0
                if exists { return }
                let target = ProjectionTarget(connection: tx, schema: readModelSchema, isRebuild: false)
                if try !allTablesExist(projection, in: readModelSchema, on: tx) {
                    try projection.createTables(in: target)
                }
                let start = projection.kind == .reactor ? try EventStore.headCheckpoint(on: tx) : .start
                try tx.execute(
                    """
                    INSERT INTO es_checkpoints (name, kind, transaction_id, position, version)
                    VALUES (\(projection.name), \(projection.kind.rawValue), \(start.transactionId)::xid8,
                            \(start.position), \(projection.version))
                    """)
            }
        }
    }

    static func allTablesExist(_ projection: any Projection, in schema: String, on connection: Connection) throws
        -> Bool
    {
        for table in projection.tables {
            let name = Connection.quoteIdentifier(schema) + "." + Connection.quoteIdentifier(table)
            let row = try connection.query("SELECT to_regclass(\(name)) IS NOT NULL AS present").first
            if row?["present"] != "t" { return false }
        }
        return !projection.tables.isEmpty
    }
}
