#!/usr/bin/env bash
# bench/flash-sale/run.sh: the sell-out rush of issue 6, in one run.
#
#   1. Starts its own stack (so it disturbs no dev or test stack and starts from an empty
#      database): PostgreSQL in .data/bench/postgres (port 5436, pg_stat_statements loaded),
#      nginx on 127.0.0.1:8180 with the repository's nginx.conf, localstripe (8451: each
#      confirm makes its payment's intent there), the mail sink (2561), the pool with its
#      background jobs and a ticket-signing key of its own. Stopped again at the end
#      (FLASH_KEEP=1 leaves it running). bench/checkins.sh and bench/payments.sh use the same
#      cluster and ports (bench/stack.sh), so the three take one lock.
#   2. Calibrates the load generator (bench/flash-sale/flash.py) against wrk on a static file
#      and on GET /healthz, so that it is visibly not the bottleneck.
#   3. Set-up, not measured: 8,000 customers registered and signed in through the API (Argon2,
#      twice per customer, makes this the long part: ~10 minutes on 2 quiet cores, 50 when
#      other work shares them; sign-ins come from 64 loopback addresses, as nginx allows 10
#      a second per address), a fresh stadium concert
#      (golden circle 2,000, regular 8,000) created by the demo organiser, and a cart of 1-4
#      tickets per customer (random levels, about a fifth of the carts with both levels)
#      with online delivery.
#   4. The PostgreSQL ceiling for one hot counter: pgbench, 64 clients, the guarded
#      `UPDATE ... SET available = available - n WHERE id = 1 AND available >= n` on a table
#      in the same cluster (database flash_pgbench, recreated every run).
#   4b. The SQL floor: pgbench running a confirm's statements, in their leanest form, on a
#      database of Encore's schema (flash_floor, recreated every run), in batches of 1, 2
#      and 4 confirmations per transaction (bench/flash-sale/floor/): what PostgreSQL and a C
#      client alone need per confirmation, without HTTP, the pool or refusals.
#   5. The measured step: every customer's POST /api/cart/confirm once, in random order,
#      over 64 keep-alive connections through nginx. Meanwhile a sampler records CPU per
#      process group and what PostgreSQL's backends wait on; pg_stat_statements is reset
#      before and read after.
#   6. Checks: tickets reserved per level equal to capacity exactly, by the shards' read
#      model (sum of held over availability_shards), by the events (TicketsHeld minus
#      TicketsReleased, and ReservationHeld items) and by the 201 answers; no 5xx; every 409
#      is not_enough_tickets naming concert, level and what is available.
#   7. Prints a table and writes it into the "## Flash sale" section of bench/RESULTS.md
#      (a hand-written "### Notes" part of the old section is kept).
#      Per-round files (answers, timeline, sampler, pg_stat_statements, perf) stay in
#      .data/bench/log/; the tokens are deleted at the end and never reused. How to read the
#      profile, and what it showed: bench/flash-sale/FINDINGS.md.
#
# Settings (environment):
#   FLASH_CUSTOMERS=8000  FLASH_GOLDEN=2000  FLASH_REGULAR=8000  FLASH_CONNECTIONS=64
#   FLASH_SHAPES="1x32 2x8" pool shapes (workers x threads), one round each with a fresh concert
#                          and fresh carts for the same customers; the first is the headline
#                          (a shape may name another binary: "2x8 2x8@/tmp/proto/encore" compares
#                          a prototype in the same run; its migrations run before its round)
#   FLASH_SENDER=swift    who sends the measured confirms: encore-bench http-fire (an epoll
#                         loop per thread, ~25-40 us of CPU per request), or python (flash.py's
#                         asyncio client, ~200 us)
#   FLASH_SETUP_SHAPE=2x8  the pool's shape during the set-up
#   FLASH_SETUP_CONNECTIONS=8  concurrent registrations and sign-ins (Argon2 is CPU- and
#                          memory-bound: more in flight only makes each slower)
#   FLASH_PGBENCH_SECONDS=15   FLASH_SEED=6
#   FLASH_FLOOR_SECONDS=10  FLASH_FLOOR_BATCHES="1 2 4"  the SQL floor (step 4b); 0 seconds skips it
#   FLASH_PROJECTION_WAIT=600  seconds to wait for the async projections to catch up with the
#                          set-up before pgbench and the confirms (they would compete otherwise)
#   FLASH_HTTP_PORT=8180  FLASH_PG_PORT=5436  FLASH_STRIPE_PORT=8451  FLASH_MAIL_PORT=2561
#   FLASH_STACK_DIR=.data/bench
#   FLASH_PERF=1          also `perf record` the whole machine during the first round's confirms
#   FLASH_TRACK_PLANNING=1  pg_stat_statements also times planning (plan_ms in its files; it
#                         costs a little under load, so it is off by default)
#   FLASH_KEEP=1          leave the bench stack running afterwards
#   FLASH_NO_WRITE=1      print only, leave bench/RESULTS.md alone
#   ENCORE_BIN=...        another encore binary; ENCORE_SKIP_BUILD=1 does not build
# Exit status: 0 when every check passes and the goal is met, 3 when the goal is missed,
# 1 when a check fails or on errors.
set -euo pipefail
{ # The whole script is one block: bash reads it completely before running it, so an edit
  # during a run cannot change the run.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=bin/lib.sh
source "$HERE/../../bin/lib.sh"

customers=${FLASH_CUSTOMERS:-8000}
golden=${FLASH_GOLDEN:-2000}
regular=${FLASH_REGULAR:-8000}
connections=${FLASH_CONNECTIONS:-64}
read -ra shapes <<<"${FLASH_SHAPES:-1x32 2x8}"
pgbench_seconds=${FLASH_PGBENCH_SECONDS:-15}
floor_seconds=${FLASH_FLOOR_SECONDS:-10}
read -ra floor_batches <<<"${FLASH_FLOOR_BATCHES:-1 2 4}"
floor_cells=()
seed=${FLASH_SEED:-6}
results_md="$ENCORE_ROOT/bench/RESULTS.md"

# ---------------------------------------------------------------------------- the bench stack
# bin/lib.sh's functions pointed at .data/bench (bench/stack.sh): with a gateway, a mail server
# and a ticket key of its own, as a confirm makes its payment's intent at the gateway, and
# without these the pool would use the dev stack's localstripe and mail sink, or refuse to start.
# shellcheck source=bench/stack.sh
source "$HERE/../stack.sh"
BENCH_STRIPE_PORT=${FLASH_STRIPE_PORT:-8451} BENCH_MAIL_PORT=${FLASH_MAIL_PORT:-2561} \
    bench_stack_init encore_flash bench "${FLASH_STACK_DIR:-$ENCORE_ROOT/.data/bench}" \
    "${FLASH_PG_PORT:-5436}" "${FLASH_HTTP_PORT:-8180}"
if [[ ${1:-} == --stop ]]; then
    pg_prepare_dir
    pool_stop; nginx_stop; localstripe_stop; mailsink_stop; pg_stop
    rm -rf "$RUN_DIR/flash"
    exit 0
fi
bench_stack_lock
: >"$ENCORE_CONFIG"
work="$RUN_DIR/flash"   # this run's tokens and figures; deleted at the end, never reused
rm -rf "$work"
mkdir -p "$work"

psql_db() { # database sql
    as_pg "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U postgres -d "$1" -tA -F $'\t' -c "$2"
}

cleanup() {
    local rc=$?
    [[ -n ${sampler_pid:-} ]] && kill "$sampler_pid" 2>/dev/null || true
    [[ -n ${perf_pid:-} ]] && kill -INT "$perf_pid" 2>/dev/null || true
    rm -rf "$work"
    if [[ ${FLASH_KEEP:-0} == 1 ]]; then
        info "FLASH_KEEP=1: the bench stack keeps running at $BASE_URL (stop: FLASH_KEEP=0 $0 --stop)"
    else
        pool_stop >/dev/null 2>&1 || true
        nginx_stop >/dev/null 2>&1 || true
        localstripe_stop >/dev/null 2>&1 || true
        mailsink_stop >/dev/null 2>&1 || true
        pg_stop >/dev/null 2>&1 || true
    fi
    exit "$rc"
}


command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk, or run bin/up)"
command -v pgbench >/dev/null || [[ -x $(pg_bindir)/pgbench ]] || die "pgbench is not installed"
pgbench_cmd=$(pg_bindir)/pgbench

step "Flash sale: $customers customers, golden circle $golden + regular $regular tickets, $connections connections"
install_deps
build_release
# The sender of the measured requests (flash.py fire --sender): encore-bench's http-fire,
# unless FLASH_SENDER=python (flash.py's own asyncio client, the sender before session 8).
sender_args=()
if [[ ${FLASH_SENDER:-swift} != python ]]; then
    bench_bin="$ENCORE_ROOT/.build/release/encore-bench"
    if [[ ${ENCORE_SKIP_BUILD:-0} != 1 ]]; then
        (cd "$ENCORE_ROOT" && swift build -c release --product encore-bench) || die "release build of encore-bench failed"
    fi
    [[ -x $bench_bin ]] || die "no encore-bench at $bench_bin"
    sender_args=(--sender "$bench_bin")
    generator_name="\`encore-bench http-fire\` (an epoll loop per thread over keep-alive connections), driven by \`flash.py\`"
    generator_short="http-fire"
else
    generator_name="\`flash.py\` (asyncio, keep-alive)"
    generator_short="flash.py"
fi
# What the binary was built from (the tree may change while the run goes on).
commit=$(git -C "$ENCORE_ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
dirty=$(git -C "$ENCORE_ROOT" status --porcelain -- Sources Package.swift 2>/dev/null | wc -l)
trap cleanup EXIT

# Leftovers of an earlier run (FLASH_KEEP=1) go first: every run starts from an empty database.
pg_prepare_dir
pool_stop
nginx_stop
localstripe_stop   # a fresh one every run: it slows as its store fills (docs/localstripe.md)
pg_init
{
    echo "shared_preload_libraries = 'pg_stat_statements'"
    echo "pg_stat_statements.track = all"
    echo "pg_stat_statements.max = 5000"
    echo "track_activity_query_size = 2048"
    echo "pg_stat_statements.track_planning = $([[ ${FLASH_TRACK_PLANNING:-0} == 1 ]] && echo on || echo off)"
} | as_pg tee -a "$PGDATA_DIR/encore.conf" >/dev/null
if pg_running && [[ $(psql_db postgres "SHOW shared_preload_libraries") != *pg_stat_statements* ]]; then pg_stop; fi
pg_start 8>&-   # the daemons must not inherit the lock
pg_recreate_db "$DB_NAME"
psql_db "$DB_NAME" "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
step "Migrating and loading the demo data (the organiser)"
"$ENCORE_BIN" migrate --database-url "$DB_URL" >"$LOG_DIR/migrate.txt" 2>&1 || { cat "$LOG_DIR/migrate.txt" >&2; die "encore migrate failed"; }
"$ENCORE_BIN" seed --database-url "$DB_URL" >"$LOG_DIR/seed.txt" 2>&1 || { cat "$LOG_DIR/seed.txt" >&2; die "encore seed failed"; }
localstripe_start 8>&-
mailsink_start 8>&-
nginx_start 8>&-
: >"$NGINX_PREFIX/logs/access.log"
nginx_cmd -s reopen
localstripe_register_encore
mapfile -t stack_env < <(stack_pool_env)

main_bin=$ENCORE_BIN
shape_workers() { local s=${1%@*}; printf '%s' "${s%x*}"; }
shape_threads() { local s=${1%@*}; printf '%s' "${s#*x}"; }
shape_bin() { if [[ $1 == *@* ]]; then printf '%s' "${1#*@}"; else printf '%s' "$main_bin"; fi; }
start_pool() { # shape
    pool_stop >/dev/null
    ENCORE_BIN=$(shape_bin "$1")
    if [[ $ENCORE_BIN != "$main_bin" ]]; then
        "$ENCORE_BIN" migrate --database-url "$DB_URL" >>"$LOG_DIR/migrate.txt" 2>&1 || die "$ENCORE_BIN migrate failed"
    fi
    pool_start "${stack_env[@]}" ENCORE_WORKERS="$(shape_workers "$1")" ENCORE_THREADS="$(shape_threads "$1")" >/dev/null 8>&-
    wait_healthy 60 >/dev/null || die "the pool ($1) did not become healthy; see $LOG_FILE"
}
setup_shape=${FLASH_SETUP_SHAPE:-2x8}
start_pool "$setup_shape"
ok "bench stack up at $BASE_URL (pool $setup_shape for the set-up, log ${LOG_FILE#"$ENCORE_ROOT"/})"

flash() { python3 "$HERE/flash.py" --base "$BASE_URL" "$@"; }
jget() { python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v.get(k, "") if isinstance(v, dict) else ""
print(v)' "$1" "$2"; }

# ---------------------------------------------------------------------------- calibration
calib() { # path -> "wrk_rps flash_rps flash_cpu_us"
    local w f
    w=$(wrk -t2 -c"$connections" -d4s "$BASE_URL$1" | awk '/^Requests\/sec:/ { printf "%.0f", $2 }')
    flash calibrate --path "$1" --requests "${2:-20000}" --concurrency "$connections" "${sender_args[@]}" >"$work/calib.json"
    f=$(jget "$work/calib.json" rps)
    printf '%s %s %s\n' "$w" "${f%.*}" "$(jget "$work/calib.json" cpu_us_per_request)"
}
calibrate() {
    read -r cal_static_wrk cal_static_py cal_static_cpu < <(calib /robots.txt 40000)
    read -r cal_health_wrk cal_health_py cal_health_cpu < <(calib /healthz 10000)
    info "static file: wrk $cal_static_wrk/s, $generator_short $cal_static_py/s (${cal_static_cpu} us CPU per request)"
    info "GET /healthz: wrk $cal_health_wrk/s, $generator_short $cal_health_py/s (${cal_health_cpu} us CPU per request)"
}

# ---------------------------------------------------------------------------- set-up
tag="$(date -u +%Y%m%d%H%M%S)-$$"
step "Registering and signing in $customers customers (set-up, not measured)"
flash customers --count "$customers" --tag "$tag" --concurrency "${FLASH_SETUP_CONNECTIONS:-8}" --out "$work/customers.jsonl" >"$work/customers.json"
setup_register_s=$(jget "$work/customers.json" register_s)
setup_signin_s=$(jget "$work/customers.json" signin_s)

# Waits until every projection and reactor has caught up with the log.
wait_projections() {
    local deadline=$((SECONDS + ${FLASH_PROJECTION_WAIT:-600})) behind
    while :; do
        # Behind the last event in the global order, (transaction id, position): the highest
        # position may belong to an earlier transaction, and come before it.
        behind=$(psql_db "$DB_NAME" "SELECT count(*) FROM es_checkpoints AS c, (SELECT transaction_id, global_position
            FROM es_events ORDER BY transaction_id DESC, global_position DESC LIMIT 1) AS head
            WHERE c.kind <> 'inline' AND (c.transaction_id, c.position) < (head.transaction_id, head.global_position)")
        [[ $behind == 0 ]] && return 0
        ((SECONDS < deadline)) || { warn "projections still behind after ${FLASH_PROJECTION_WAIT:-600} s ($behind)"; return 0; }
        sleep 0.5
    done
}

pg_stat_snapshot() { # -> "commits wal_bytes wal_syncs"
    psql_db "$DB_NAME" "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
        wal_bytes::bigint, wal_sync FROM pg_stat_wal" | tr '\t' ' '
}

# ---------------------------------------------------------------------------- pgbench
pgbench_ceiling() {
    step "pgbench: one hot counter, 64 clients, guarded UPDATE, ${pgbench_seconds}s"
    psql_db postgres "DROP DATABASE IF EXISTS flash_pgbench WITH (FORCE)"
    psql_db postgres "CREATE DATABASE flash_pgbench"
    psql_db flash_pgbench "CREATE TABLE flash_counter (id integer PRIMARY KEY, available bigint NOT NULL);
        INSERT INTO flash_counter VALUES (1, 1000000000000)"
    local script
    script=$(mktemp /tmp/flash-pgbench.XXXXXX)
    printf '%s\n' '\set n random(1, 4)' \
        'UPDATE flash_counter SET available = available - :n WHERE id = 1 AND available >= :n;' >"$script"
    chmod 644 "$script"
    as_pg "$pgbench_cmd" -h "$PG_RUN" -p "$PG_PORT" -U postgres -n -c 64 -j 2 -M prepared \
        -T "$pgbench_seconds" -f "$script" flash_pgbench >"$work/pgbench.txt" 2>&1 \
        || { cat "$work/pgbench.txt" >&2; die "pgbench failed"; }
    pgbench_tps=$(awk '/^tps = / { printf "%.0f", $3 }' "$work/pgbench.txt")
    pgbench_lat=$(awk '/^latency average = / { print $4 }' "$work/pgbench.txt")
    local taken
    taken=$(psql_db flash_pgbench "SELECT 1000000000000 - available FROM flash_counter WHERE id = 1")
    info "pgbench: $pgbench_tps transactions/s, average latency $pgbench_lat ms ($taken taken from the counter)"
    psql_db postgres "DROP DATABASE flash_pgbench"
    rm -f "$script"
}

# What PostgreSQL itself needs for the sale: pgbench (its C client, no HTTP, no pool) running
# a confirm's statements in their leanest form (bench/flash-sale/floor/confirms.sh) on a
# database of Encore's own schema, in batches of 1, 2 and 4 confirmations per transaction,
# with as many confirmations in flight as the pool has threads. CPU is the whole machine's
# (the stack is idle meanwhile): what is left of 2 cores' 2 ms per confirmation at 1,000/s.
sql_floor() {
    local threads=$(( $(shape_workers "${shapes[0]}") * $(shape_threads "${shapes[0]}") ))
    step "SQL floor: a confirm's statements through pgbench, ${floor_seconds}s per batch size, $threads in flight"
    pg_recreate_db flash_floor >/dev/null
    "$ENCORE_BIN" migrate --database-url "postgresql://encore@/flash_floor?host=$(url_escape "$PG_RUN")&port=$PG_PORT" \
        >>"$LOG_DIR/migrate.txt" 2>&1 || die "encore migrate (flash_floor) failed"
    as_pg "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -v customers="$customers" -h "$PG_RUN" -p "$PG_PORT" \
        -U postgres -d flash_floor -f "$HERE/floor/setup.sql" || die "the floor's set-up failed"
    psql_db flash_floor "VACUUM ANALYZE"
    local batch script busy0 busy1 tx rate ms
    floor_cells=()
    for batch in "${floor_batches[@]}"; do
        script=$(mktemp /tmp/flash-floor.XXXXXX)
        "$HERE/floor/confirms.sh" "$batch" >"$script"
        chmod 644 "$script"
        busy0=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)
        as_pg "$pgbench_cmd" -h "$PG_RUN" -p "$PG_PORT" -U postgres -n -c "$(( (threads + batch - 1) / batch ))" -j 2 \
            -M prepared -D customers="$customers" -T "$floor_seconds" -f "$script" flash_floor >"$work/floor.txt" 2>&1 \
            || { cat "$work/floor.txt" >&2; die "pgbench (SQL floor, batches of $batch) failed"; }
        busy1=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)
        tx=$(awk '/^number of transactions actually processed:/ { print $6 }' "$work/floor.txt")
        read -r rate ms < <(python3 -c 'import os, sys
tx, batch, secs, ticks = int(sys.argv[1]) * int(sys.argv[2]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
print("%.0f %.3f" % (tx / secs, ticks / os.sysconf("SC_CLK_TCK") / tx * 1000))' "$tx" "$batch" "$floor_seconds" "$((busy1 - busy0))")
        info "batches of $batch: $rate confirmations/s, $ms ms of CPU per confirmation (PostgreSQL and pgbench)"
        floor_cells+=("$batch: $rate/s at $ms ms")
        rm -f "$script"
    done
    psql_db postgres "DROP DATABASE flash_floor"
}

# ---------------------------------------------------------------------------- rounds
failures=()
round_rows=()
for r in "${!shapes[@]}"; do
    shape=${shapes[$r]}
    step "Round $((r + 1)): pool $shape"
    start_pool "$shape"
    if ((r == 0)); then
        step "Calibrating the load generator against wrk ($connections connections, pool $shape)"
        calibrate
    fi
    flash concert --tag "$tag-$r" --golden "$golden" --regular "$regular" >"$work/concert.json"
    concert=$(jget "$work/concert.json" concert)
    reset=(); ((r == 0)) || reset=(--reset)   # carts refused in the last round are still open
    flash carts --customers "$work/customers.jsonl" --concert "$concert" --seed "$((seed + r))" "${reset[@]}" \
        --out "$work/carts.jsonl" >"$work/carts.json"
    info "carts: $(jget "$work/carts.json" carts) ($(jget "$work/carts.json" both_levels) with both levels), demand $(jget "$work/carts.json" demand)"
    wait_projections
    ((r == 0)) && pgbench_ceiling
    ((r == 0)) && [[ $floor_seconds != 0 ]] && sql_floor
    wait_projections
    sleep 1

    step "Confirming $customers carts over $connections connections"
    psql_db "$DB_NAME" "SELECT pg_stat_statements_reset()" >/dev/null
    read -r commits0 wal0 walsync0 < <(pg_stat_snapshot)
    : >"$NGINX_PREFIX/logs/access.log"; nginx_cmd -s reopen
    postmaster=$(head -1 "$PGDATA_DIR/postmaster.pid")
    pool_sid=$(read_pid "$SID_FILE" || echo 0)
    rm -f "$work/generator.pid"
    python3 "$HERE/sampler.py" --postmaster "$postmaster" --pool-sid "$pool_sid" \
        --nginx "$(read_pid "$NGINX_PID" || echo 0)" --generator-file "$work/generator.pid" \
        --psql "$(pg_bindir)/psql -h $PG_RUN -p $PG_PORT -U postgres -d $DB_NAME" \
        --database "$DB_NAME" --out "$work/sampler.json" &
    sampler_pid=$!
    perf_pid=''
    if [[ ${FLASH_PERF:-0} == 1 && $r == 0 ]] && command -v perf >/dev/null; then
        perf record -a -F 499 -g -o "$LOG_DIR/perf.data" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    sleep 0.3
    python3 "$HERE/flash.py" --base "$BASE_URL" fire --carts "$work/carts.jsonl" --concurrency "$connections" \
        --seed "$((seed + r))" --timeline "$work/timeline.txt" "${sender_args[@]}" >"$work/fire.json" &
    echo $! >"$work/generator.pid"
    wait $! || die "the load generator failed"
    kill "$sampler_pid"; wait "$sampler_pid" || true; sampler_pid=''
    if [[ -n $perf_pid ]]; then
        kill -INT "$perf_pid"; wait "$perf_pid" || true; perf_pid=''
        perf report -i "$LOG_DIR/perf.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null \
            | grep -v '^#' | grep -v '^$' | head -25 >"$LOG_DIR/perf-comm-dso.txt" || true
        perf report -i "$LOG_DIR/perf.data" --no-children --sort comm,sym --stdio -g none 2>/dev/null \
            | grep -v '^#' | grep -v '^$' | head -60 >"$LOG_DIR/perf-symbols.txt" || true
        info "perf: ${LOG_DIR#"$ENCORE_ROOT"/}/perf-comm-dso.txt, perf-symbols.txt (perf.data beside them)"
    fi
    read -r commits1 wal1 walsync1 < <(pg_stat_snapshot)
    f="$work/fire.json"
    ok_n=$(jget "$f" ok)
    sold_out_s=$(jget "$f" sold_out_s)
    ok_rate=$(jget "$f" ok_per_s)
    p50=$(jget "$f" p50_ms)
    p99=$(jget "$f" p99_ms)
    statuses=$(jget "$f" statuses)
    n409=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["statuses"].get("409", 0))' "$f")
    n5xx=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["statuses"]; print(sum(v for k, v in s.items() if k == "0" or k >= "500"))' "$f")
    info "statuses $statuses; 409 codes $(jget "$f" codes)"
    info "sold out after ${sold_out_s}s: $ok_n confirmations, ${ok_rate}/s; p50 ${p50} ms, p99 ${p99} ms (all answered after $(jget "$f" all_answered_s)s)"

    # --- checks: per level, capacity = shards' held = events = what the 201s asked for
    wait_projections
    checks=$(psql_db "$DB_NAME" "
        WITH shards AS (
            SELECT level_id, sum(capacity) AS capacity, sum(held) AS held, sum(sold) AS sold,
                   count(*) AS n, count(*) FILTER (WHERE held + sold > capacity) AS over
            FROM availability_shards WHERE concert_id = '$concert' GROUP BY level_id),
        ev AS (
            SELECT regexp_replace(substr(stream_id, length('availability-$concert-') + 1), '-[0-9]+\$', '') AS level_id,
                   sum(CASE event_type WHEN 'TicketsHeld' THEN (data->>'quantity')::int
                                       WHEN 'TicketsReleased' THEN -(data->>'quantity')::int ELSE 0 END) AS held
            FROM es_events WHERE stream_type = 'availability' AND stream_id LIKE 'availability-' || '$concert' || '-%'
            GROUP BY 1),
        res AS (
            SELECT item->>'ticketLevelId' AS level_id, sum((item->>'quantity')::int) AS held, count(DISTINCT e.stream_id) AS n
            FROM es_events e, jsonb_array_elements(e.data->'items') AS item
            WHERE e.event_type = 'ReservationHeld' AND e.data->>'concertId' = '$concert' GROUP BY 1)
        SELECT s.level_id, s.capacity, s.held, s.sold, s.n, s.over, coalesce(ev.held, 0), coalesce(res.held, 0)
        FROM shards s LEFT JOIN ev USING (level_id) LEFT JOIN res USING (level_id) ORDER BY s.level_id")
    reservations=$(psql_db "$DB_NAME" "SELECT count(DISTINCT stream_id) FROM es_events
        WHERE event_type = 'ReservationHeld' AND data->>'concertId' = '$concert'")
    level_summary=()
    while IFS=$'\t' read -r level cap held sold nshards over evheld resheld; do
        client=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["reserved_by_201"].get(sys.argv[2], 0))' "$f" "$level")
        info "$level: capacity $cap over $nshards shards; held by shards $held (sold $sold), by events $evheld, by ReservationHeld $resheld, by the 201s $client; shards over capacity: $over"
        if [[ $held != "$cap" || $evheld != "$cap" || $resheld != "$cap" || $client != "$cap" || $over != 0 || $sold != 0 ]]; then
            failures+=("round $((r + 1)): $level reserved $held/$evheld/$resheld/$client of $cap")
        fi
        level_summary+=("$level $held/$cap")
    done <<<"$checks"
    [[ $reservations == "$ok_n" ]] || failures+=("round $((r + 1)): $reservations reservations for $ok_n confirmations")
    [[ $n5xx == 0 ]] || failures+=("round $((r + 1)): $n5xx answers 5xx or none")
    bad409=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["codes"]; print(sum(v for k, v in c.items() if k != "not_enough_tickets"))' "$f")
    [[ $bad409 == 0 ]] || failures+=("round $((r + 1)): answers other than 201 or 409 not_enough_tickets: $(jget "$f" codes)")

    # --- profile
    s="$work/sampler.json"
    cpu=$(python3 - "$s" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
c = s["cpu_s"]
el = s["elapsed_s"]
parts = ["%s %.0f%%" % (k, 100 * c.get(k, 0) / el) for k in ("postgres", "pool", "nginx", "generator")]
parts.append("other %.0f%%" % (100 * s["other_s"] / el))
parts.append("idle %.0f%%" % (100 * max(0, s["machine_capacity_s"] - s["machine_busy_s"]) / el))
print(", ".join(parts) + " (of one core; the machine has %.0f%%)" % (100 * s["machine_capacity_s"] / el))
PY
)
    # CPU milliseconds per confirm answered, per process group, and what 2 idle cores would allow.
    read -r cpu_ms cpu_detail < <(python3 - "$s" "$customers" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
c = s["cpu_s"]
groups = ("postgres", "pool", "nginx", "generator")
total = sum(c.get(k, 0) for k in groups) * 1000 / n
print("%.2f %s" % (total, "/".join("%.2f" % (c.get(k, 0) * 1000 / n) for k in groups)))
PY
)
    cpu_bound=$(python3 -c "import os, sys; print('%.0f' % (os.cpu_count() * 1000 / max(0.001, float(sys.argv[1]))))" "$cpu_ms")
    mkdir -p "$LOG_DIR/round$((r + 1))"
    cp "$work/fire.json" "$work/sampler.json" "$work/timeline.txt" "$LOG_DIR/round$((r + 1))/"
    states=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["backend_states"]; print(", ".join("%s %.1f" % kv for kv in s.items()))' "$s")
    per_confirm=$(python3 -c 'import sys; print("%.1f" % ((int(sys.argv[2]) - int(sys.argv[1])) / int(sys.argv[3])))' "$commits0" "$commits1" "$customers")
    wal_per=$(python3 -c 'import sys; print("%.0f" % ((int(sys.argv[2]) - int(sys.argv[1])) / max(1, int(sys.argv[3]))))' "$wal0" "$wal1" "$ok_n")
    walsyncs=$((walsync1 - walsync0))
    psql_db "$DB_NAME" "SELECT calls, round(total_exec_time)::bigint AS ms, round(mean_exec_time::numeric, 3) AS mean_ms, rows,
            toplevel, round(total_plan_time)::bigint AS plan_ms, plans, left(regexp_replace(query, '\s+', ' ', 'g'), 140)
        FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY total_exec_time DESC LIMIT 25" >"$LOG_DIR/pg_stat_statements-round$((r + 1)).tsv"
    stmts=$(psql_db "$DB_NAME" "SELECT sum(calls) FILTER (WHERE toplevel), round(sum(total_exec_time) FILTER (WHERE toplevel))
        FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())")
    read -r stmt_calls stmt_ms <<<"$(tr '\t' ' ' <<<"$stmts")"
    upstream=$(python3 - "$NGINX_PREFIX/logs/access.log" <<'PY'
import json, sys
times = []
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("uri") == "/api/cart/confirm" and e.get("upstream_time"):
        times.append(float(e["upstream_time"].split(",")[0]) * 1000)
times.sort()
if times:
    print("%.1f %.1f %.1f" % (sum(times) / len(times), times[len(times) // 2], times[int(len(times) * 0.99) - 1]))
else:
    print("- - -")
PY
)
    read -r up_mean up_p50 up_p99 <<<"$upstream"
    info "CPU during the confirms: $cpu"
    info "CPU per confirm: $cpu_ms ms (postgres/pool/nginx/generator $cpu_detail ms); $(nproc) idle cores would allow about $cpu_bound confirms/s"
    info "PostgreSQL client backends (average count per state): $states"
    info "per confirm: $per_confirm commits, $(python3 -c "print('%.1f' % ($stmt_calls / $customers))") top-level statements; $wal_per WAL bytes per sale; $walsyncs WAL flushes"
    info "nginx upstream (pool) time of confirm: mean $up_mean ms, p50 $up_p50 ms, p99 $up_p99 ms"
    info "top statements: ${LOG_DIR#"$ENCORE_ROOT"/}/pg_stat_statements-round$((r + 1)).tsv"
    lockwait=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["backend_states"]; print("%.1f" % sum(v for k, v in s.items() if k.startswith("Lock:")))' "$s")
    round_rows+=("| $shape | $ok_n | $sold_out_s | $ok_rate | $p50 | $p99 | $n409 | $n5xx | $cpu_ms | $lockwait | ${level_summary[*]} |")
    if ((r == 0)); then
        head_ok=$ok_n head_sold_out=$sold_out_s head_rate=$ok_rate head_p50=$p50 head_p99=$p99 head_409=$n409
        head_5xx=$n5xx head_levels="${level_summary[*]}" head_cpu=$cpu head_states=$states head_per_confirm=$per_confirm
        head_stmts=$(python3 -c "print('%.1f' % ($stmt_calls / $customers))") head_wal=$wal_per head_up="$up_mean/$up_p50/$up_p99"
        head_cpu_ms=$cpu_ms head_cpu_detail=$cpu_detail head_cpu_bound=$cpu_bound
        head_all=$(jget "$f" all_answered_s) head_codes=$(jget "$f" codes) head_gen_cpu=$(jget "$f" generator_cpu_us_per_request)
        cp "$LOG_DIR/pg_stat_statements-round1.tsv" "$LOG_DIR/pg_stat_statements.tsv"
    fi
done

# ---------------------------------------------------------------------------- report
goal_met=0
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 1000 and float(sys.argv[1]) > float(sys.argv[2]) else 1)" \
    "$head_rate" "$pgbench_tps" && goal_met=1
verdict=$([[ $goal_met == 1 ]] && echo "met" || echo "missed")
floor_summary=$(IFS=';'; printf '%s' "${floor_cells[*]}" | sed 's/;/; /g')
checks_verdict=$([[ ${#failures[@]} == 0 ]] && echo "all passed" || echo "FAILED: ${failures[*]}")
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
when=$(date -u '+%Y-%m-%d %H:%M UTC')
[[ $dirty == 0 || $main_bin != "$ENCORE_ROOT/.build/release/encore" ]] || commit="$commit + $dirty changed files under Sources"
[[ -z ${ENCORE_BIN_NOTE:-} ]] || commit="$commit; $ENCORE_BIN_NOTE"
load=$(cut -d' ' -f1-3 /proc/loadavg)

section=$(cat <<EOF
## Flash sale
Measured by \`bench/flash-sale/run.sh\` on $when (commit $commit).
Machine: $(nproc) cores, $cpu_model; load average at the end: $load (other work on the machine included).
Own stack: PostgreSQL 15 (fsync and synchronous_commit on, as the dev stack), nginx 1 worker, pool ${shapes[0]}
(workers x threads), load generator $generator_name on the same cores.

$customers customers signed in beforehand, carts of 1-4 tickets (random levels, some with both), all confirming
once over $connections connections through nginx; a stadium concert with golden circle $golden and regular $regular.

| figure | value |
|---|---:|
| time to sell out (first confirm to last 201) | ${head_sold_out} s |
| successful confirmations | $head_ok |
| successful confirmations per second | **$head_rate** |
| confirm latency p50 / p99 (all answers) | $head_p50 ms / $head_p99 ms |
| 409 \`not_enough_tickets\` / 5xx | $head_409 / $head_5xx |
| tickets reserved per level (shards' held = events = 201s) | $head_levels |
| all $customers answered after | ${head_all} s |
| pgbench ceiling: one hot counter, 64 clients, guarded UPDATE | **$pgbench_tps tx/s** (avg $pgbench_lat ms) |
| SQL floor: a confirm's statements through pgbench, no HTTP, no pool (confirmations per transaction: rate at CPU per confirmation) | ${floor_summary:-not measured} |

Goal (issue 6): at least 1,000 successful confirmations per second and more than the pgbench ceiling: **$verdict**.
Checks: $checks_verdict.

Generator check: wrk vs $generator_short at 64 connections, static file $cal_static_wrk vs $cal_static_py req/s,
\`GET /healthz\` $cal_health_wrk vs $cal_health_py req/s; $generator_short used ${head_gen_cpu} us of CPU per confirm.

Where the time went during the confirms: CPU $head_cpu; per confirm $head_cpu_ms ms
(postgres/pool/nginx/generator $head_cpu_detail ms), so $(nproc) otherwise idle cores would allow about $head_cpu_bound
confirms/s. PostgreSQL client backends, average number
per state: $head_states. Per confirm: $head_per_confirm commits, $head_stmts top-level statements; $head_wal
WAL bytes per sale. Pool time per confirm as nginx saw it (mean/p50/p99 ms): $head_up.
EOF
)
if ((${#shapes[@]} > 1)); then
    section+=$'\n\n'"Pool shapes, one round each (fresh concert, fresh carts, same customers):"$'\n\n'
    section+="| pool | 201s | sold out (s) | 201/s | p50 (ms) | p99 (ms) | 409 | 5xx | CPU ms/confirm | backends waiting on locks | reserved |"$'\n'
    section+="|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"$'\n'
    section+=$(printf '%s\n' "${round_rows[@]}")
fi
section+=$(cat <<'EOF'


Design (lead's, `Sources/Reservations/Reserving/TicketReservations.swift`): each ticket level's
availability is split into shard streams (about 100 tickets each, at most 32; golden circle 20,
regular 32), with an inline snapshot row per shard in `availability_shards`. A confirm reserves
all items of the cart in one short transaction: items in a fixed order, each from a shard row
locked with `FOR UPDATE SKIP LOCKED` starting at a random shard (so concurrent confirms spread
over the shards instead of queueing on one row), a `TicketsHeld` event per shard appended with
the version the locked row holds, one `ReservationHeld` per concert and the cart's
`CartConfirmed`; only when every free shard is locked does it wait, and only when the level's
total rest is too small does it answer 409 naming the level, rolling back so nothing is held.
Statements that need no answer (the BEGIN, the inline read-model writes) travel with the next
one that does (libpq pipeline mode, since f60b694). Confirms that arrive while a worker is
writing a batch are done together in its next one (since ba5b6c4, `Checkout.confirmations`,
`reserveBatch`): one pass locking the free shards the batch needs, the carts decided one after
the other on them in memory, one INSERT for every shard's, reservation's and closed cart's events
(the carts' in the same one since session 10), one commit; a cart whose level falls short counting every shard (the batch's locked ones
and the others as last committed) is refused in the batch (since 7dcd4b7), and one the locked
shards cannot cover otherwise joins up to three later batches before it goes the single way
above (since session 10: alone it waits for locked shards while holding others). One batch at a
time per worker, written by a committer thread with a connection of its own (`Committers`; two
from 6f3900a until session 10, which then took shards from each other near a sell-out).

Profile, prototypes measured against this design and recommendations: `bench/flash-sale/FINDINGS.md`.
EOF
)
echo
printf '%s\n' "$section"

if [[ ${FLASH_NO_WRITE:-0} != 1 ]]; then
    SECTION=$section python3 "$ENCORE_ROOT/bench/write_section.py" "$results_md" "Flash sale"
    ok "wrote the Flash sale section of ${results_md#"$ENCORE_ROOT"/}"
fi
((${#failures[@]} == 0)) || exit 1
[[ $goal_met == 1 ]] || exit 3
exit 0
}
