#!/usr/bin/env bash
# Event store benchmark, all in one run on one throwaway PostgreSQL cluster:
#   - appends per second with 1 and 16 concurrent writers, 1-event and 10-event appends
#     (`encore-bench append`: each writer has its own connection and thread, and appends to
#     100 streams in turn with the exact expected version); the 16 writers of one-event
#     appends also with one `GroupCommit` shared between them (concurrent one-event appends
#     share an INSERT and its transaction; appends of several events are not batched);
#   - the raw ceiling: pgbench with a custom script doing one INSERT per transaction of a row
#     of the same size (~150-byte JSON data, ids, metadata), 1 and 16 clients, prepared;
#   - the Python `eventsourcing` package (PyPI, with its PostgreSQL extra) as a peer, 16
#     writer threads saving one event at a time;
#   - the cost of NOTIFY: 16 writers again, with a subscriber registered as waiting, so that
#     every append notifies (by default appends notify only while a daemon is idle);
#   - projection catch-up: `stream_overview` rebuilt from zero over 200,000 events.
# It prints a table with ratios and a Markdown section for bench/RESULTS.md (RECORD=1 writes it).
#
# The cluster: initdb in a temporary folder, started on a Unix socket only, as the `postgres`
# user when run as root (PostgreSQL refuses root), with shared_buffers=256MB, max_wal_size=4GB
# and otherwise default settings (fsync and synchronous_commit on). It is removed at the end.
# Needs: PostgreSQL server binaries (pg_config --bindir, or PGBIN), pgbench, python3, swift.
#
# Environment: DURATION (seconds per measurement, default 10), PAIRS and PAIR_DURATION (the
# back-to-back raw/group-commit pairs, default 6 of 5 s), CATCHUP_EVENTS (default
# 200000), SCRATCH (swift build scratch path, default .build), RECORD=1 to update RESULTS.md
# (a "### Notes" part of the old section is kept).
set -euo pipefail

DURATION=${DURATION:-10}
PAIRS=${PAIRS:-6}
PAIR_DURATION=${PAIR_DURATION:-5}
CATCHUP_EVENTS=${CATCHUP_EVENTS:-200000}
SCRATCH=${SCRATCH:-.build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=${PGBIN:-$(pg_config --bindir)}
PORT=${PORT:-5497}
cd "$ROOT"

echo "== building encore-bench (release)" >&2
swift build -c release --product encore-bench --scratch-path "$SCRATCH" >&2
BENCH="$SCRATCH/release/encore-bench"

echo "== python eventsourcing[postgres]" >&2
VENV=${VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/encore-bench-venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "eventsourcing[postgres]" >&2

echo "== throwaway PostgreSQL cluster" >&2
WORK=$(mktemp -d /tmp/encore-es-bench.XXXXXX)
SOCK="$WORK/sock"
mkdir -p "$SOCK"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown -R postgres "$WORK"
cleanup() { as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
as_pg "$PGBIN/initdb" -D "$WORK/data" -A trust -U postgres >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -l "$WORK/log" -w start -o \
    "-p $PORT -k $SOCK -c listen_addresses= -c shared_buffers=256MB -c max_wal_size=4GB -c max_connections=100" >/dev/null
SERVER="host=$SOCK port=$PORT user=postgres"
for db in es raw py catchup; do "$PGBIN/psql" -q "$SERVER dbname=postgres" -c "CREATE DATABASE $db"; done
"$BENCH" migrate --database-url "$SERVER dbname=es" >/dev/null
"$PGBIN/psql" -q "$SERVER dbname=raw" -c "
    CREATE TABLE raw_events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id uuid NOT NULL, stream_id text NOT NULL,
        stream_version bigint NOT NULL, event_type text NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now())"
cat >"$WORK/raw.sql" <<'SQL'
\set s random(1, 100000000)
INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, data, metadata) VALUES (gen_random_uuid(), 'bench-' || :s, 1, 'BenchEventHappened', '{"amount": 12345, "currency": "PLN", "note": "a benchmark event of about one hundred and fifty bytes of json data"}', '{"correlationId": "c0ffee00-0000-4000-8000-000000000001", "userId": "bench-1"}');
SQL

# CPU time, so that the comparison holds on a machine others are loading too: the cluster's
# (the postmaster's, its reaped children's and its live children's, from /proc) and the client's
# (bash's `time`), per transaction, for the 16-writer runs.
cluster_ticks() {
    local pm total child
    pm=$(head -1 "$WORK/data/postmaster.pid")
    total=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat")
    for child in $(cat /proc/"$pm"/task/*/children); do
        total=$((total + $(awk '{ print $14 + $15 }' "/proc/$child/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}
TICK=$(getconf CLK_TCK)
# Runs "$@" (output to $WORK/out), then sets CPU_MS to (cluster + client) CPU milliseconds per
# transaction, given the transaction count as printed by the command ($1 of count_from).
with_cpu() {
    local before after client
    before=$(cluster_ticks)
    client=$( { TIMEFORMAT='%U %S'; time "$@" >"$WORK/out" 2>&1; } 2>&1 )
    sleep 0.5
    after=$(cluster_ticks)
    CPU_SECONDS=$(awk -v a="$before" -v b="$after" -v t="$TICK" -v c="$client" \
        'BEGIN { split(c, p, " "); printf "%.3f", (b - a) / t + p[1] + p[2] }')
}
per_op() { awk -v s="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.3f", 1000 * s / n; else print "-" }'; }

pgbench_tps() {  # clients -> tps; RAW_CPU_MS: CPU ms per transaction
    with_cpu "$PGBIN/pgbench" -n -M prepared -c "$1" -j "$(( $1 < 2 ? 1 : 2 ))" -T "$DURATION" -f "$WORK/raw.sql" "$SERVER dbname=raw"
    RAW_CPU_MS=$(per_op "$CPU_SECONDS" "$(awk '/actually processed/ { split($NF, p, "/"); print p[1] }' "$WORK/out")")
    awk '/^tps/ { printf "%.0f", $3 }' "$WORK/out"
}
append_rate() {  # writers events_per_append [extra flags] -> appends/s; ES_CPU_MS: CPU ms per append
    with_cpu "$BENCH" append --database-url "$SERVER dbname=es" --writers "$1" --events-per-append "$2" --duration "$DURATION" "${@:3}"
    ES_CPU_MS=$(per_op "$CPU_SECONDS" "$(sed -E 's/.*total_appends=([0-9]+).*/\1/' "$WORK/out")")
    sed -E 's/.*appends_per_s=([0-9]+).*/\1/' "$WORK/out"
}

echo "== measuring ($DURATION s each)" >&2
RAW1=$(pgbench_tps 1);   echo "raw pgbench, 1 client: $RAW1 tps" >&2
ES1=$(append_rate 1 1);  echo "encore, 1 writer x 1 event: $ES1 appends/s" >&2
pgbench_tps 16 >"$WORK/rate"; RAW16=$(cat "$WORK/rate"); RAW16_CPU=$RAW_CPU_MS
echo "raw pgbench, 16 clients: $RAW16 tps, $RAW16_CPU CPU ms per transaction" >&2
append_rate 16 1 >"$WORK/rate"; ES16=$(cat "$WORK/rate"); ES16_CPU=$ES_CPU_MS
echo "encore, 16 writers x 1 event: $ES16 appends/s, $ES16_CPU CPU ms per append" >&2
append_rate 16 1 --group-commit >"$WORK/rate"; ES16G=$(cat "$WORK/rate"); ES16G_CPU=$ES_CPU_MS
echo "encore, 16 writers x 1 event, group commit: $ES16G appends/s, $ES16G_CPU CPU ms per append" >&2
# The 16-writer goal compares two rates taken at different moments, and this machine's
# neighbours move a rate by a quarter within minutes. So raw pgbench and group commit are also
# measured in PAIRS back-to-back pairs (PAIR_DURATION s each, the order alternating), and the
# goal is read from the median of the pairs' ratios.
PAIR_RATIOS=()
for pair in $(seq 1 "$PAIRS"); do
    if [ $((pair % 2)) = 1 ]; then
        R=$(DURATION=$PAIR_DURATION pgbench_tps 16); G=$(DURATION=$PAIR_DURATION append_rate 16 1 --group-commit)
    else
        G=$(DURATION=$PAIR_DURATION append_rate 16 1 --group-commit); R=$(DURATION=$PAIR_DURATION pgbench_tps 16)
    fi
    PAIR_RATIOS+=("$(awk -v g="$G" -v r="$R" 'BEGIN { printf "%.0f", 100 * g / r }')")
    echo "pair $pair: raw pgbench $R tps, group commit $G appends/s (${PAIR_RATIOS[-1]}%)" >&2
done
PAIR_MEDIAN=$(printf '%s\n' "${PAIR_RATIOS[@]}" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
PAIR_LIST=$(printf '%s%%, ' "${PAIR_RATIOS[@]}"); PAIR_LIST=${PAIR_LIST%, }
echo "group commit against raw pgbench, $PAIRS pairs: $PAIR_LIST; median $PAIR_MEDIAN%" >&2
ES16N=$(append_rate 16 1 --notify-every-append); echo "encore, 16 writers x 1 event, NOTIFY on every append: $ES16N appends/s" >&2
ES1X10=$(append_rate 1 10); echo "encore, 1 writer x 10 events: $ES1X10 appends/s" >&2
ES16X10=$(append_rate 16 10); echo "encore, 16 writers x 10 events: $ES16X10 appends/s" >&2
PY16=$("$VENV/bin/python" bench/eventsourcing_peer.py "$SOCK" "$PORT" py 16 "$DURATION" | sed -E 's/.*appends_per_s=([0-9]+).*/\1/')
echo "python eventsourcing, 16 writers: $PY16 appends/s" >&2
"$BENCH" seed --database-url "$SERVER dbname=catchup" --events "$CATCHUP_EVENTS" >/dev/null
with_cpu "$BENCH" catchup --database-url "$SERVER dbname=catchup"
CATCHUP=$(grep catchup "$WORK/out" | sed -E 's/.*events_per_s=([0-9]+).*/\1/')
CATCHUP_CPU=$(awk -v s="$CPU_SECONDS" -v n="$CATCHUP_EVENTS" 'BEGIN { printf "%.0f", n / s }')
echo "catch-up: $CATCHUP events/s ($CATCHUP_CPU events per CPU second, cluster + client)" >&2

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "-" }'; }
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
PGVERSION=$("$PGBIN/postgres" --version | awk '{print $3}')
SECTION=$(cat <<MD
## Event store

Measured $(date -u +%Y-%m-%d) by \`bench/eventstore.sh\` (DURATION=$DURATION s per figure) on $(nproc) cores ($CPU),
PostgreSQL $PGVERSION in a throwaway cluster (fsync and synchronous_commit on, shared_buffers 256MB), client and
server on the same machine, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end (other work on the machine
lowers the rates; the CPU-per-transaction row is the comparison that load does not skew much). Event data: ~150 bytes
of JSON plus metadata.

| measurement | 1 writer | 16 writers |
|---|---:|---:|
| raw pgbench: one INSERT per transaction (tps) | $RAW1 | $RAW16 |
| encore append, 1 event (appends/s) | $ES1 ($(ratio "$ES1" "$RAW1") of raw) | $ES16 ($(ratio "$ES16" "$RAW16") of raw) |
| encore append, 10 events (appends/s) | $ES1X10 ($((ES1X10 * 10)) events/s) | $ES16X10 ($((ES16X10 * 10)) events/s) |
| encore append, 1 event, group commit (appends/s) | | $ES16G ($(ratio "$ES16G" "$RAW16") of raw) |
| group commit against raw pgbench in $PAIRS back-to-back pairs of $PAIR_DURATION s | | $PAIR_LIST; **median $PAIR_MEDIAN%** |
| Python eventsourcing 9.5, 1 event (appends/s) | | $PY16 (encore: $(ratio "$ES16" "$PY16")) |
| encore append, 1 event, NOTIFY in every append (appends/s) | | $ES16N ($(ratio "$ES16N" "$ES16") of without) |
| CPU per transaction, cluster + client (ms): raw INSERT / encore 1-event append | | $RAW16_CPU / $ES16_CPU (raw's cost is $(ratio "$RAW16_CPU" "$ES16_CPU") of ours) |
| CPU per 1-event append with group commit, cluster + client (ms) | | $ES16G_CPU (raw's cost is $(ratio "$RAW16_CPU" "$ES16G_CPU") of it) |

Projection catch-up (stream_overview rebuilt from zero over $CATCHUP_EVENTS events, each event updating its
stream's row): $CATCHUP events/s; $CATCHUP_CPU events per CPU second of cluster and client together (the rate on an
otherwise idle machine, since reading and applying a batch alternate).

Goals: 16 writers at least 70% of raw pgbench (read from the pairs' median); more than the Python peer; catch-up at least 20,000 events/s.
MD
)
echo
echo "$SECTION"
if [ "${RECORD:-0}" = 1 ]; then
    FILE=bench/RESULTS.md
    [ -f "$FILE" ] || printf '# Benchmark results\n' >"$FILE"
    SECTION=$SECTION python3 "$ROOT/bench/write_section.py" "$FILE" "Event store"
    echo "recorded in $FILE" >&2
fi
