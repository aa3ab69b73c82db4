import Postgres

/// The append: one prepared statement, so one round trip and no planning per append.
///
/// A data-modifying CTE checks and bumps the stream's version (`s`), inserts the events with
/// the versions that follow (`e`), records the idempotency key with the result (`k`) and
/// notifies a waiting subscriber. When the version check fails, `s` is empty, nothing is
/// written and `stream_version` comes back NULL.
///
/// Parameters: $1 stream id, $2 stream type, $3 event count, $4 expected version, $5 ids,
/// $6 types, $7 schema versions, $8 data, $9 metadata, $10 idempotency key.
enum AppendStatement {
    static func query(_ request: StreamAppend, metadataJSON: String, idempotencyKey: String?) -> (
        SQLQuery, name: String
    ) {
        let events = request.events
        let (name, sql) = statement(request.expectedVersion)
        let parameters: [String?] = [
            request.streamId, request.streamType, String(events.count), String(request.expectedVersion.sqlValue),
            SQLArray(events.map(\.id.lowercaseText)).postgresText, SQLArray(events.map(\.type)).postgresText,
            SQLArray(unquoted: events.map(\.schemaVersion)).postgresText, SQLArray(events.map(\.data)).postgresText,
            metadataJSON, idempotencyKey,
        ]
        return (SQLQuery(unsafeSQL: sql, parameters: parameters), name)
    }

    /// The statement's text, built once per kind of expectation.
    private static func statement(_ expected: ExpectedVersion) -> (name: String, sql: String) {
        switch expected {
        case .any: any
        case .noStream, .exact(0): new
        case .exact: exact
        }
    }

    private static let any = ("es_append_any", sql(streamStep(.any)))
    private static let new = ("es_append_new", sql(streamStep(.noStream)))
    private static let exact = ("es_append_exact", sql(streamStep(.exact(1))))

    private static func sql(_ stream: String) -> String {
        """
        WITH s AS (
        \(stream)
        ), e AS (
            INSERT INTO es_events AS e
                (event_id, stream_id, stream_type, stream_version, event_type, schema_version, data, metadata)
            SELECT u.id, $1::text, s.stream_type, s.version - $3::bigint + u.ord, u.typ, u.sv, u.d, $9::jsonb
            FROM s, unnest($5::uuid[], $6::text[], $7::integer[], $8::jsonb[]) WITH ORDINALITY AS u(id, typ, sv, d, ord)
            ORDER BY u.ord
            RETURNING e.global_position, e.transaction_id
        ), p AS (
            SELECT array_agg(e.global_position ORDER BY e.global_position) AS positions,
                   max(e.transaction_id) AS transaction_id
            FROM e
        ), k AS (
            INSERT INTO es_idempotency_keys (key, result)
            SELECT $10::text, jsonb_build_array(jsonb_build_object('streamId', $1::text, 'version', s.version,
                'positions', to_jsonb(p.positions), 'transactionId', p.transaction_id::text::bigint))
            FROM s, p WHERE $10::text IS NOT NULL
        )
        SELECT s.version AS stream_version, p.transaction_id, now() AS recorded_at, p.positions,
               CASE WHEN EXISTS (SELECT 1 FROM es_subscribers AS w
                                 WHERE w.waiting_since > now() - interval '1 minute')
                    THEN pg_notify('\(EventStoreSchema.notificationChannel)', '') END AS notified,
               $2::text AS requested_type, $4::bigint AS expected
        FROM s, p
        """
    }

    /// The step that checks and bumps the stream's version, per kind of expectation.
    private static func streamStep(_ expected: ExpectedVersion) -> String {
        switch expected {
        case .any:
            """
                INSERT INTO es_streams AS s (stream_id, stream_type, version) VALUES ($1::text, $2::text, $3::bigint)
                ON CONFLICT (stream_id) DO UPDATE SET version = s.version + $3::bigint, updated_at = now()
                RETURNING s.version, s.stream_type
            """
        case .noStream, .exact(0):
            """
                INSERT INTO es_streams AS s (stream_id, stream_type, version) VALUES ($1::text, $2::text, $3::bigint)
                ON CONFLICT (stream_id) DO NOTHING
                RETURNING s.version, s.stream_type
            """
        case .exact:
            """
                UPDATE es_streams AS s SET version = s.version + $3::bigint, updated_at = now()
                WHERE s.stream_id = $1::text AND s.version = $4::bigint
                RETURNING s.version, s.stream_type
            """
        }
    }
}
