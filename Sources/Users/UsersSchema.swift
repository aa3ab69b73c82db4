import Postgres

/// The Users context's tables outside the event log (versions 200-299).
///
/// - `user_emails` is the uniqueness guard for e-mail addresses: a row is inserted in the
///   same transaction as `UserRegistered`, so of two concurrent registrations of one address
///   the second hits the primary key and appends nothing (the set-validation problem, solved
///   by a reservation table with a unique index).
/// - `user_credentials` holds password hashes, outside the log, overwritten on a change.
/// - `sessions` and `signin_failures` are operational state, not domain history.
public enum UsersSchema {
    public static let migrations: [Migration] = [
        Migration(
            version: 200, name: "users: e-mail guard, credentials, sessions, sign-in failures",
            sql: """
                CREATE TABLE user_emails (
                    email text PRIMARY KEY,
                    user_id text NOT NULL UNIQUE
                );
                CREATE TABLE user_credentials (
                    user_id text PRIMARY KEY,
                    password_hash text NOT NULL,
                    updated_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE TABLE sessions (
                    id text PRIMARY KEY,
                    token_hash text NOT NULL UNIQUE,
                    user_id text NOT NULL,
                    csrf_token text NOT NULL,
                    created_at timestamptz NOT NULL,
                    last_seen_at timestamptz NOT NULL,
                    expires_at timestamptz NOT NULL,
                    user_agent text NOT NULL DEFAULT '',
                    ip text NOT NULL DEFAULT ''
                );
                CREATE INDEX sessions_user_id ON sessions (user_id);
                CREATE TABLE signin_failures (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    email text NOT NULL,
                    ip text NOT NULL,
                    failed_at timestamptz NOT NULL
                );
                CREATE INDEX signin_failures_email ON signin_failures (email, failed_at);
                CREATE INDEX signin_failures_ip ON signin_failures (ip, failed_at);
                """)
    ]
}
