import Foundation
import Postgres

/// The append: one INSERT (prepared, as every statement with parameters is), so one round trip,
/// no planning per append, and one table.
///
/// A stream is its events: there is no stream row to lock and bump. The unique index on
/// (stream id, stream version) is the optimistic-concurrency check. Appending after version
/// `n` inserts versions `n+1...`; if another writer got there first, the index refuses the
/// insert (a concurrent writer of the same version waits for the first to commit, then is
/// refused), and the store turns the unique violation into `WrongExpectedVersion`. An exact
/// expectation `n > 0` also requires version `n` to exist (an index probe), so a version
/// ahead of the stream is refused too instead of leaving a gap: then nothing is inserted and
/// no rows come back. The notification for a waiting subscriber rides in the RETURNING list
/// (evaluated once, as an init plan).
///
/// An idempotency key, which few appends carry, makes the INSERT a CTE that also records the
/// key with the result.
///
/// Parameters: $1 stream id, $2 stream type, $3 expected version (0 for none and for `.any`),
/// $4 ids, $5 types, $6 schema versions, $7 data, $8 metadata, [$9 idempotency key].
///
/// One table instead of two leaves PostgreSQL much less work per append: no stream row to
/// update besides the events (measured with pgbench: bench/RESULTS.md, "Event store" notes;
/// bench/FINDINGS.md, session 13).
enum AppendStatement {
    /// The unique constraint that refuses a version that exists already.
    static let versionConstraint = "es_events_stream_id_stream_version_key"

    static func query(_ request: StreamAppend, metadataJSON: String, idempotencyKey: String?) -> SQLQuery {
        let events = request.events
        let kind = Kind(request.expectedVersion)
        var parameters: [String?] = [
            request.streamId, request.streamType, String(max(0, request.expectedVersion.sqlValue)),
            SQLArray(events.map(\.id.lowercaseText)).postgresText, SQLArray(events.map(\.type)).postgresText,
            SQLArray(unquoted: events.map(\.schemaVersion)).postgresText, SQLArray(events.map(\.data)).postgresText,
            metadataJSON,
        ]
        guard let idempotencyKey else {
            return SQLQuery(unsafeSQL: kind.plain, parameters: parameters).withGenericPlan()
        }
        parameters.append(idempotencyKey)
        return SQLQuery(unsafeSQL: kind.keyed, parameters: parameters).withGenericPlan()
    }

    /// What the stream must look like for the append, and the statements for it.
    private struct Kind {
        let plain: String
        let keyed: String

        init(_ expected: ExpectedVersion) {
            self =
                switch expected {
                case .any: Self.any
                case .noStream, .exact(0): Self.new
                case .exact: Self.exact
                }
        }

        private init(base: String, check: String) {
            plain = AppendStatement.insert(base: base, check: check, returning: AppendStatement.returning)
            keyed = AppendStatement.keyed(AppendStatement.insert(base: base, check: check, returning: "e.*"))
        }

        /// After whatever the stream holds now; only a concurrent writer can make it fail.
        static let any = Kind(
            base:
                "coalesce((SELECT max(x.stream_version) FROM es_events AS x WHERE x.stream_id = $1::text), $3::bigint)",
            check: "true")
        /// Versions from 1: the index refuses them if the stream exists.
        static let new = Kind(base: "$3::bigint", check: "true")
        /// After version $3, which must exist.
        static let exact = Kind(
            base: "$3::bigint",
            check:
                "EXISTS (SELECT 1 FROM es_events AS x WHERE x.stream_id = $1::text AND x.stream_version = $3::bigint)")
    }

    private static func insert(base: String, check: String, returning: String) -> String {
        """
        INSERT INTO es_events AS e
            (event_id, stream_id, stream_type, stream_version, event_type, schema_version, data, metadata)
        SELECT u.id, $1::text, $2::text, \(base) + u.ord, u.typ, u.sv, u.d, $8::jsonb
        FROM unnest($4::uuid[], $5::text[], $6::integer[], $7::jsonb[]) WITH ORDINALITY AS u(id, typ, sv, d, ord)
        WHERE \(check)
        ORDER BY u.ord
        RETURNING \(returning)
        """
    }

    /// One row per event, in stream order.
    private static let returning = """
        e.global_position, e.transaction_id, e.stream_version, e.recorded_at, \(notify)
        """

    /// NOTIFY only while a projection daemon waits: NOTIFY serialises commits cluster-wide.
    static let notify = """
        CASE WHEN EXISTS (SELECT 1 FROM es_subscribers AS w WHERE w.waiting_since > now() - interval '1 minute')
             THEN pg_notify('\(EventStoreSchema.notificationChannel)', '') END AS notified
        """

    private static func keyed(_ insert: String) -> String {
        """
        WITH e AS (
        \(insert)
        ), k AS (
            INSERT INTO es_idempotency_keys (key, result)
            SELECT $9::text, jsonb_build_array(jsonb_build_object('streamId', $1::text,
                'version', max(e.stream_version), 'positions', to_jsonb(array_agg(e.global_position ORDER BY e.global_position)),
                'transactionId', max(e.transaction_id)::text::bigint))
            FROM e HAVING count(*) > 0
        )
        SELECT e.global_position, e.transaction_id, e.stream_version, e.recorded_at, \(notify)
        FROM e ORDER BY e.stream_version
        """
    }
}

/// One INSERT for appends to many streams, each with an exact (or "no stream") expected
/// version: every event of every append, in the given order, in one statement.
///
/// Each row names its stream, the version its chain of appends starts after (`base`) and its
/// place in that chain (`ord`, from 1): the row is version `base + ord`. A row is written only
/// if `base` exists (or is 0). Its version must be free: `skippingTaken` skips a taken one
/// (`ON CONFLICT DO NOTHING`: group commit, where each append fails by itself); otherwise the
/// unique index refuses it and the statement fails (`appendMany`, all or nothing). Returns the
/// stream id, version and position of every row written.
enum ManyStreamsStatement {
    struct Row {
        let request: StreamAppend
        let base: Int64
        let ord: Int
        let event: NewEvent
        let metadataJSON: String
    }

    /// What the statement wrote: each stream's versions and their positions, and the
    /// transaction's id and time.
    struct Written {
        private var positions: [String: [Int64: Int64]] = [:]
        private(set) var transactionId: UInt64 = 0
        private(set) var recordedAt = Date()

        init(_ rows: Rows) throws {
            for (index, row) in rows.enumerated() {
                positions[try row.decode("stream_id"), default: [:]][try row.decode("stream_version")] =
                    try row.decode("global_position")
                if index == 0 {
                    transactionId = try row.decode("transaction_id")
                    recordedAt = try row.decode("recorded_at")
                }
            }
        }

        /// The versions and positions of `request`'s events, or nil when not all were written.
        func rows(of request: StreamAppend) -> [(version: Int64, position: Int64)]? {
            let expected = max(0, request.expectedVersion.sqlValue)
            var rows: [(version: Int64, position: Int64)] = []
            for version in (expected + 1)...(expected + Int64(request.events.count)) {
                guard let position = positions[request.streamId]?[version] else { return nil }
                rows.append((version, position))
            }
            return rows
        }
    }

    static func query(_ rows: [Row], skippingTaken: Bool) -> SQLQuery {
        SQLQuery(
            unsafeSQL: skippingTaken ? skipping : strict,
            parameters: [
                SQLArray(rows.map(\.request.streamId)).postgresText,
                SQLArray(rows.map(\.request.streamType)).postgresText,
                SQLArray(unquoted: rows.map(\.base)).postgresText, SQLArray(unquoted: rows.map(\.ord)).postgresText,
                SQLArray(unquoted: rows.map(\.event.id.lowercaseText)).postgresText,
                SQLArray(rows.map(\.event.type)).postgresText,
                SQLArray(unquoted: rows.map(\.event.schemaVersion)).postgresText,
                SQLArray(rows.map(\.event.data)).postgresText, SQLArray(rows.map(\.metadataJSON)).postgresText,
            ]
        ).withGenericPlan()
    }

    private static let insert = """
        INSERT INTO es_events AS e
            (event_id, stream_id, stream_type, stream_version, event_type, schema_version, data, metadata)
        SELECT u.id, u.stream, u.stype, u.base + u.ord, u.typ, u.sv, u.d, u.meta
        FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::uuid[], $6::text[], $7::integer[],
                    $8::jsonb[], $9::jsonb[]) WITH ORDINALITY AS u(stream, stype, base, ord, id, typ, sv, d, meta, n)
        WHERE u.base = 0
           OR EXISTS (SELECT 1 FROM es_events AS x WHERE x.stream_id = u.stream AND x.stream_version = u.base)
        ORDER BY u.n
        """
    private static let returning = """
        RETURNING e.stream_id, e.global_position, e.transaction_id, e.stream_version, e.recorded_at, \(AppendStatement.notify)
        """
    static let strict = insert + "\n" + returning
    static let skipping = insert + "\nON CONFLICT (stream_id, stream_version) DO NOTHING\n" + returning
}
