# shellcheck shell=bash
# bench/stack.sh: the bench stack of bench/checkins.sh, bench/payments.sh and the flash sale (and
# the variables of bench/discovery.sh's own stack). Source it after
# bin/lib.sh. It is the flash sale's stack (bench/flash-sale/run.sh: .data/bench, PostgreSQL
# 5436 with pg_stat_statements, nginx 8180) with the rest of a stack that sells for real:
# localstripe (8451), the mail sink (2561), a ticket-signing key of its own, a public URL.
# Every run starts from an empty database. The scripts that use it take one lock
# (.data/bench/bench.lock, also the flash sale's), as they share the cluster.
#
# Settings (environment):
#   BENCH_HTTP_PORT=8180  BENCH_PG_PORT=5436  BENCH_STRIPE_PORT=8451  BENCH_MAIL_PORT=2561
#   BENCH_STACK_DIR=.data/bench
#   BENCH_KEEP=1          leave the stack running afterwards (stop: the script with --stop)

# Sets the stack's paths and ports (bin/lib.sh's variables), for database `db`. The flash sale
# and bench/discovery.sh use it too, with a stack name, folder and ports of their own given as
# arguments (defaults: the BENCH_* settings).
bench_stack_init() { # db [name dir pg_port http_port]
    stack_init dev
    unset DATABASE_URL
    STACK=${2:-bench}
    STACK_DIR=${3:-${BENCH_STACK_DIR:-$ENCORE_ROOT/.data/bench}}
    PG_PORT=${4:-${BENCH_PG_PORT:-5436}}
    DB_NAME=$1
    HTTP_LISTEN=127.0.0.1:${5:-${BENCH_HTTP_PORT:-8180}}
    HTTP_PORT=${HTTP_LISTEN##*:}
    BASE_URL="http://$HTTP_LISTEN"
    RUN_DIR="$STACK_DIR/run" LOG_DIR="$STACK_DIR/log"
    SOCKET="$RUN_DIR/encore.sock" PID_FILE="$RUN_DIR/encore.pid" SID_FILE="$RUN_DIR/encore.sid"
    LOG_FILE="$LOG_DIR/encore.log"
    NGINX_PREFIX="$STACK_DIR/nginx" NGINX_CONF="$STACK_DIR/nginx/nginx.conf"
    NGINX_PID="$STACK_DIR/nginx/nginx.pid" NGINX_ERROR_LOG="$STACK_DIR/nginx/logs/error.log"
    PG_DIR="$STACK_DIR/postgres" PGDATA_DIR="$STACK_DIR/postgres/data" PG_RUN="$STACK_DIR/postgres/run"
    PG_LOG="$STACK_DIR/postgres/postgres.log"
    OWN_PG=1
    DB_URL="postgresql://encore@/$DB_NAME?host=$(url_escape "$PG_RUN")&port=$PG_PORT"
    STRIPE_PORT=${BENCH_STRIPE_PORT:-8451}
    STRIPE_API_BASE="http://127.0.0.1:$STRIPE_PORT"
    STRIPE_WEBHOOK_SECRET=whsec_encore_bench_local
    MAIL_PORT=${BENCH_MAIL_PORT:-2561}
    MAIL_DIR="$STACK_DIR/mail"
    TICKET_KEY_FILE="$STACK_DIR/secrets/ticket-signing.key"
    # The pool's settings: only what the script passes (a developer's encore.conf stays out).
    export ENCORE_CONFIG="$STACK_DIR/encore.conf"
    export STACK STACK_DIR BASE_URL SOCKET PID_FILE LOG_FILE NGINX_PREFIX PGDATA_DIR PG_RUN PG_PORT DB_URL
    export STRIPE_PORT STRIPE_API_BASE STRIPE_WEBHOOK_SECRET MAIL_PORT MAIL_DIR
    mkdir -p "$STACK_DIR" "$RUN_DIR" "$LOG_DIR"
}

# Takes the bench stacks' lock (fd 8) or dies.
bench_stack_lock() {
    exec 8>"$STACK_DIR/bench.lock"
    flock -n 8 || die "another benchmark uses the bench stack in $STACK_DIR"
}

psql_db() { # database sql
    as_pg "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U postgres -d "$1" -tA -F $'\t' -c "$2"
}

# Starts it all from an empty database: PostgreSQL (pg_stat_statements loaded), the migrations
# and the demo data (the organiser), a fresh localstripe with Encore's webhook registered, the
# mail sink (unless `nomail`), nginx, and the pool with `pool_env` (KEY=value...) beside the
# stack's own settings.
bench_stack_start() { # [nomail] [KEY=value...]
    local mail=1
    if [[ ${1:-} == nomail ]]; then mail=0; shift; fi
    : >"$ENCORE_CONFIG"
    pg_prepare_dir
    bench_stack_stop >/dev/null 2>&1 || true
    pg_init
    {
        echo "shared_preload_libraries = 'pg_stat_statements'"
        echo "pg_stat_statements.track = all"
        echo "pg_stat_statements.max = 5000"
        echo "track_activity_query_size = 2048"
        echo "pg_stat_statements.track_planning = off"
    } | as_pg tee -a "$PGDATA_DIR/encore.conf" >/dev/null
    pg_start 8>&-   # the daemons must not inherit the lock
    pg_recreate_db "$DB_NAME"
    psql_db "$DB_NAME" "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
    step "Migrating and loading the demo data (the organiser)"
    "$ENCORE_BIN" migrate --database-url "$DB_URL" >"$LOG_DIR/migrate.txt" 2>&1 || { cat "$LOG_DIR/migrate.txt" >&2; die "encore migrate failed"; }
    "$ENCORE_BIN" seed --database-url "$DB_URL" >"$LOG_DIR/seed.txt" 2>&1 || { cat "$LOG_DIR/seed.txt" >&2; die "encore seed failed"; }
    # A fresh localstripe: it slows as its store fills (docs/localstripe.md).
    localstripe_start 8>&-
    rm -rf "$MAIL_DIR"
    [[ $mail == 1 ]] && mailsink_start 8>&-
    nginx_start 8>&-
    : >"$NGINX_PREFIX/logs/access.log"
    nginx_cmd -s reopen
    localstripe_register_encore
    bench_pool_env=("$@")
    bench_pool_start "${BENCH_POOL_SHAPE:-2x4}"
    ok "bench stack up at $BASE_URL (log ${LOG_FILE#"$ENCORE_ROOT"/}); localstripe $STRIPE_API_BASE, mail sink port $MAIL_PORT"
}

# (Re)starts the pool with a shape (workers x threads).
bench_pool_start() { # shape
    local stack_env
    mapfile -t stack_env < <(stack_pool_env)
    pool_stop >/dev/null
    pool_start "${stack_env[@]}" "${bench_pool_env[@]}" ENCORE_WORKERS="${1%x*}" ENCORE_THREADS="${1#*x}" >/dev/null 8>&-
    wait_healthy 60 >/dev/null || die "the pool ($1) did not become healthy; see $LOG_FILE"
}

bench_stack_stop() {
    pool_stop
    nginx_stop
    mailsink_stop
    localstripe_stop
    pg_stop
}

# Waits until every projection and reactor has caught up with the log (or `limit` seconds).
wait_projections() { # [limit seconds]
    local deadline=$((SECONDS + ${1:-600})) behind
    while :; do
        # Behind the last event in the global order, (transaction id, position): the highest
        # position may belong to an earlier transaction, and come before it.
        behind=$(psql_db "$DB_NAME" "SELECT count(*) FROM es_checkpoints AS c, (SELECT transaction_id, global_position
            FROM es_events ORDER BY transaction_id DESC, global_position DESC LIMIT 1) AS head
            WHERE c.kind <> 'inline' AND (c.transaction_id, c.position) < (head.transaction_id, head.global_position)")
        [[ $behind == 0 ]] && return 0
        ((SECONDS < deadline)) || { warn "projections still behind after ${1:-600} s ($behind)"; return 1; }
        sleep 0.5
    done
}

# The first value of a JSON file's key path (a.b.c), or empty.
jget() { python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v.get(k, "") if isinstance(v, dict) else ""
print(v)' "$1" "$2"; }

# The top statements of pg_stat_statements into a file (TSV), and "calls ms" of the top-level ones.
pg_statements() { # file
    psql_db "$DB_NAME" "SELECT calls, round(total_exec_time)::bigint AS ms, round(mean_exec_time::numeric, 3) AS mean_ms, rows,
            toplevel, left(regexp_replace(query, '\s+', ' ', 'g'), 160)
        FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY total_exec_time DESC LIMIT 30" >"$1"
    psql_db "$DB_NAME" "SELECT coalesce(sum(calls) FILTER (WHERE toplevel), 0), coalesce(round(sum(total_exec_time) FILTER (WHERE toplevel)), 0)
        FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())" | tr '\t' ' '
}

pg_commits() { # -> commits of the database so far
    psql_db "$DB_NAME" "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
}

# The release binaries (encore, encore-bench; ENCORE_SKIP_BUILD=1 takes them as they are):
# sets `bench_bin`, and `commit` as the results name it.
bench_build() {
    install_deps
    build_release
    bench_bin="$ENCORE_ROOT/.build/release/encore-bench"
    if [[ ${ENCORE_SKIP_BUILD:-0} != 1 ]]; then
        (cd "$ENCORE_ROOT" && swift build -c release --product encore-bench) || die "release build of encore-bench failed"
    fi
    [[ -x $bench_bin ]] || die "no encore-bench at $bench_bin"
    commit=$(git -C "$ENCORE_ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
    dirty=$(git -C "$ENCORE_ROOT" status --porcelain -- Sources Package.swift 2>/dev/null | wc -l)
    ((dirty == 0)) || commit+=" + $dirty changed files under Sources"
}

# The end of a run (from its EXIT trap): removes the run's work folder `work`, stops the stack
# unless BENCH_KEEP=1, and exits with `rc`.
bench_finish() { # rc
    local rc=$1
    rm -rf "$work"
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        info "BENCH_KEEP=1: the bench stack keeps running at $BASE_URL (stop: $0 --stop)"
    else
        bench_stack_stop >/dev/null 2>&1 || true
    fi
    exit "$rc"
}
