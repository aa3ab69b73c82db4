import Postgres

/// The event store's tables and its append function, as migrations 100...199.
///
/// The composition root concatenates these with the other modules' migrations and runs them
/// with `Migrator`. Every name starts with `es_` so the store can share a schema with the
/// contexts' read models.
public enum EventStoreSchema {
    /// The migrations, in order.
    public static let migrations: [Migration] = [
        Migration(version: 100, name: "event store: streams and events", sql: streamsAndEvents),
        Migration(version: 101, name: "event store: checkpoints, snapshots, idempotency keys", sql: bookkeeping),
        Migration(version: 102, name: "event store: append function", sql: appendFunction),
        Migration(version: 103, name: "event store: append as a prepared statement", sql: appendStatement),
        Migration(version: 104, name: "event store: a stream is its events", sql: streamsFromEvents),
    ]

    /// The channel appenders notify when a subscriber waits (see `ProjectionDaemon`).
    public static let notificationChannel = "es_events"

    static let streamsAndEvents = """
        CREATE TABLE es_streams (
            stream_id   text PRIMARY KEY,
            stream_type text NOT NULL,
            version     bigint NOT NULL CHECK (version >= 0),
            created_at  timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now()
        );

        -- global_position is taken at INSERT, transaction_id is the writer's top-level xid.
        -- Subscribers follow (transaction_id, global_position) and read only transactions below
        -- pg_snapshot_xmin(pg_current_snapshot()), so a late commit is never skipped.
        CREATE TABLE es_events (
            global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
            event_id        uuid NOT NULL UNIQUE,
            stream_id       text NOT NULL,
            stream_type     text NOT NULL,
            stream_version  bigint NOT NULL,
            event_type      text NOT NULL,
            schema_version  integer NOT NULL DEFAULT 1,
            data            jsonb NOT NULL,
            metadata        jsonb NOT NULL DEFAULT '{}',
            recorded_at     timestamptz NOT NULL DEFAULT now(),
            UNIQUE (stream_id, stream_version)
        );
        CREATE INDEX es_events_global_order ON es_events (transaction_id, global_position);
        """

    static let bookkeeping = """
        -- One row per async projection or reactor: where it is in the global order.
        CREATE TABLE es_checkpoints (
            name           text PRIMARY KEY,
            kind           text NOT NULL,
            transaction_id xid8 NOT NULL DEFAULT '0',
            position       bigint NOT NULL DEFAULT 0,
            version        integer NOT NULL DEFAULT 1,
            last_error     text,
            updated_at     timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE es_snapshots (
            stream_id      text PRIMARY KEY,
            stream_version bigint NOT NULL,
            schema_version integer NOT NULL,
            state          jsonb NOT NULL,
            taken_at       timestamptz NOT NULL DEFAULT now()
        );

        -- A command's key and what its append returned, written in the append's transaction.
        CREATE TABLE es_idempotency_keys (
            key        text PRIMARY KEY,
            result     jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );

        -- Projection daemons that are idle and waiting for a notification. Appenders NOTIFY
        -- only while one is waiting: NOTIFY serialises commits cluster-wide.
        CREATE TABLE es_subscribers (
            name          text PRIMARY KEY,
            waiting_since timestamptz
        );
        """

    /// Superseded by 103: a plpgsql function re-plans nothing but costs PostgreSQL twice what
    /// the same work as one prepared statement does (see `AppendStatement`).
    static let appendFunction = """
        CREATE FUNCTION es_append(
            p_stream_id text, p_stream_type text, p_expected bigint,
            p_event_ids uuid[], p_event_types text[], p_schema_versions integer[], p_data jsonb[],
            p_metadata jsonb, p_idempotency_key text DEFAULT NULL)
        RETURNS TABLE (stream_version bigint, transaction_id xid8, recorded_at timestamptz, positions bigint[])
        LANGUAGE plpgsql AS $$
        DECLARE
            n bigint := coalesce(cardinality(p_event_ids), 0);
            v_new bigint;
            v_type text;
            v_actual bigint;
        BEGIN
            IF n = 0 THEN
                SELECT s.version INTO v_actual FROM es_streams AS s WHERE s.stream_id = p_stream_id;
                v_actual := coalesce(v_actual, 0);
                IF p_expected <> -1 AND p_expected <> v_actual THEN
                    RAISE EXCEPTION 'wrong expected version for stream %', p_stream_id
                        USING ERRCODE = 'ES409', DETAIL = format('expected=%s actual=%s', p_expected, v_actual);
                END IF;
                stream_version := v_actual;
                positions := '{}';
                RETURN NEXT;
                RETURN;
            END IF;

            IF p_expected = -1 THEN
                INSERT INTO es_streams AS s (stream_id, stream_type, version)
                VALUES (p_stream_id, p_stream_type, n)
                ON CONFLICT (stream_id) DO UPDATE SET version = s.version + n, updated_at = now()
                RETURNING s.version, s.stream_type INTO v_new, v_type;
            ELSIF p_expected = 0 THEN
                INSERT INTO es_streams AS s (stream_id, stream_type, version)
                VALUES (p_stream_id, p_stream_type, n)
                ON CONFLICT (stream_id) DO NOTHING
                RETURNING s.version, s.stream_type INTO v_new, v_type;
            ELSE
                UPDATE es_streams AS s SET version = s.version + n, updated_at = now()
                WHERE s.stream_id = p_stream_id AND s.version = p_expected
                RETURNING s.version, s.stream_type INTO v_new, v_type;
            END IF;

            IF v_new IS NULL THEN
                SELECT s.version INTO v_actual FROM es_streams AS s WHERE s.stream_id = p_stream_id;
                RAISE EXCEPTION 'wrong expected version for stream %', p_stream_id
                    USING ERRCODE = 'ES409',
                          DETAIL = format('expected=%s actual=%s', p_expected, coalesce(v_actual, 0));
            END IF;

            stream_version := v_new;
            transaction_id := pg_current_xact_id();
            recorded_at := now();
            WITH inserted AS (
                INSERT INTO es_events AS e
                    (event_id, stream_id, stream_type, stream_version, event_type, schema_version, data, metadata)
                SELECT u.id, p_stream_id, v_type, v_new - n + u.ord, u.typ, u.sv, u.d, p_metadata
                FROM unnest(p_event_ids, p_event_types, p_schema_versions, p_data)
                    WITH ORDINALITY AS u(id, typ, sv, d, ord)
                ORDER BY u.ord
                RETURNING e.global_position
            )
            SELECT array_agg(i.global_position ORDER BY i.global_position) INTO positions FROM inserted AS i;

            IF p_idempotency_key IS NOT NULL THEN
                INSERT INTO es_idempotency_keys (key, result)
                VALUES (p_idempotency_key, jsonb_build_array(jsonb_build_object(
                    'streamId', p_stream_id, 'version', v_new, 'positions', to_jsonb(positions),
                    'transactionId', transaction_id::text::bigint)));
            END IF;

            IF EXISTS (SELECT 1 FROM es_subscribers AS w
                       WHERE w.waiting_since > now() - interval '1 minute') THEN
                PERFORM pg_notify('es_events', '');
            END IF;
            RETURN NEXT;
        END
        $$;
        """

    /// The append is a prepared statement now (`AppendStatement`); the stream rows, updated on
    /// every append, keep room on their page so the updates stay HOT (no index writes).
    static let appendStatement = """
        DROP FUNCTION es_append(text, text, bigint, uuid[], text[], integer[], jsonb[], jsonb, text);
        ALTER TABLE es_streams SET (fillfactor = 80);
        """

    /// The append writes one table (`AppendStatement`): the unique index on (stream id, stream
    /// version) checks the expected version, and a stream's type and version are read from its
    /// events. `es_streams` stays as a view for tooling and queries.
    static let streamsFromEvents = """
        DROP TABLE es_streams;
        CREATE VIEW es_streams AS
            SELECT stream_id, min(stream_type) AS stream_type, max(stream_version) AS version,
                   min(recorded_at) AS created_at, max(recorded_at) AS updated_at
            FROM es_events GROUP BY stream_id;
        """
}
