#!/usr/bin/env bash
# shellcheck disable=SC2119,SC2317  # pg_init takes optional arguments; cleanup runs from the EXIT trap
# bench/discovery.sh: the concert list and its search with ten concerts and with 50,000
# (issue 25), signed in (so that nginx's microcache does not answer), next to nginx's
# static file, in one run:
#
#   1. Starts its own stack (it disturbs no dev or test stack, and starts from an empty
#      database): PostgreSQL in .data/discovery (port 5437), nginx on 127.0.0.1:8186, the
#      pool with its background jobs; `encore seed` loads the three demo concerts (Beyoncé
#      among them) and the demo accounts. Stopped again at the end (DISCOVERY_KEEP=1 keeps it).
#   2. Seven concerts more through the API: ten. Measures, each with wrk after a warm-up:
#        - a static file nginx serves from public/ (the reference),
#        - GET /                      the home page (cookie): the first page of the list,
#        - GET /?q=beyonce            a search (cookie): accents and case do not matter,
#        - GET /api/concerts?q=beyon  the same through the API (bearer), a partial word,
#        - GET /?city=Krak%C3%B3w     a filter (cookie),
#        - GET /api/concerts          the API's first page (bearer).
#   3. 49,990 concerts more through the API, the real command path (POST /api/concerts over
#      8 connections: nginx, the pool, the decider, the event store's append with the inline
#      read models; the projection daemon's process manager then makes each concert's
#      availability shards), 1% of them cancelled; waits until every projection has caught
#      up and ANALYZEs the read models (as autovacuum would, a little later). Measures again.
#   Each state is measured in three rounds of all the paths back to back (medians; a path's
#      share is of the static file's rate in the same round).
#   4. Prints both states, each rate as a share of the static rate, with the CPU per request
#      (nginx + pool + PostgreSQL) and the load average, and checks the goal: the home page and
#      the searches keep at 50,000 concerts at least 90% of the share they had with ten. Writes the "## Discovery at 50,000 concerts" section of bench/RESULTS.md (its
#      "### Notes" are kept).
#
# The searched concert is the demo's only Beyoncé: at 50,000 concerts the searches find
# one concert, as with ten, so they measure finding it. The home page shows ten concerts
# with ten and a full page (12) with 50,000.
#
# Settings (environment):
#   BENCH_THREADS=2 BENCH_CONNECTIONS=32 BENCH_DURATION=10s BENCH_WARMUP=2s BENCH_ROUNDS=3
#   BENCH_STATIC_PATH=/css/encore.css  DISCOVERY_CONCERTS=50000  DISCOVERY_CREATE_THREADS=8
#   DISCOVERY_HTTP_PORT=8186  DISCOVERY_PG_PORT=5437  DISCOVERY_STACK_DIR=.data/discovery
#   DISCOVERY_KEEP=1 (leave the stack running; stop it with `bench/discovery.sh --stop`)
#   DISCOVERY_QUIET=2.5 DISCOVERY_QUIET_WAIT=300 (each state is measured once the 1-minute load
#   average is below 2.5, or after 300 s)
#   BENCH_NO_WRITE=1 (print only)  ENCORE_SKIP_BUILD=1 (use the release binary as it is)
# Exit status: 0 when the goal is met, 3 when it is missed, 1 on errors.
set -euo pipefail
{ # One block: bash reads all of it before running, so an edit during a run changes nothing.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=bin/lib.sh
source "$HERE/../bin/lib.sh"

threads=${BENCH_THREADS:-2}
connections=${BENCH_CONNECTIONS:-32}
duration=${BENCH_DURATION:-10s}
warmup=${BENCH_WARMUP:-2s}
static_path=${BENCH_STATIC_PATH:-/css/encore.css}
total=${DISCOVERY_CONCERTS:-50000}
results="$ENCORE_ROOT/bench/RESULTS.md"

# bin/lib.sh's functions pointed at a stack of this script's own (bench/stack.sh's variables;
# it starts no gateway or mail server).
# shellcheck source=bench/stack.sh
source "$HERE/stack.sh"
bench_stack_init encore_discovery discovery "${DISCOVERY_STACK_DIR:-$ENCORE_ROOT/.data/discovery}" \
    "${DISCOVERY_PG_PORT:-5437}" "${DISCOVERY_HTTP_PORT:-8186}"
if [[ ${1:-} == --stop ]]; then
    pg_prepare_dir
    pool_stop; nginx_stop; pg_stop
    exit 0
fi
exec 8>"$STACK_DIR/discovery.lock"
flock -n 8 || die "another bench/discovery.sh is running in $ENCORE_ROOT"
: >"$ENCORE_CONFIG"

cleanup() {
    local rc=$?
    if [[ ${DISCOVERY_KEEP:-0} == 1 ]]; then
        info "DISCOVERY_KEEP=1: the stack keeps running at $BASE_URL (stop: $0 --stop)"
    else
        pool_stop >/dev/null 2>&1 || true
        nginx_stop >/dev/null 2>&1 || true
        pg_stop >/dev/null 2>&1 || true
    fi
    exit "$rc"
}

command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk, or run bin/up)"
[[ ${ENCORE_SKIP_BUILD:-0} == 1 ]] || build_release
commit=$(git -C "$ENCORE_ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
dirty=$(git -C "$ENCORE_ROOT" status --porcelain --untracked-files=no -- Sources Package.swift 2>/dev/null | wc -l)
((dirty > 0)) && commit+=" plus uncommitted changes in $dirty files"
trap cleanup EXIT

step "Discovery: $total concerts against ten, signed in, on a stack of its own at $BASE_URL"
pg_prepare_dir
pool_stop
nginx_stop
pg_init
pg_start 8>&-
pg_recreate_db "$DB_NAME"
db_psql() { as_pg "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U postgres -d "$DB_NAME" -tA -c "$1"; }
"$ENCORE_BIN" migrate --database-url "$DB_URL" >"$LOG_DIR/migrate.txt" 2>&1 || { cat "$LOG_DIR/migrate.txt" >&2; die "encore migrate failed"; }
"$ENCORE_BIN" seed --database-url "$DB_URL" >"$LOG_DIR/seed.txt" 2>&1 || { cat "$LOG_DIR/seed.txt" >&2; die "encore seed failed"; }
nginx_start 8>&-
pool_start ENCORE_TICKET_SIGNING_KEYS="$(ticket_key)" ENCORE_PUBLIC_URL="$BASE_URL" >/dev/null 8>&-
wait_healthy 60 >/dev/null || die "the pool did not become healthy; see $LOG_FILE"
pool_shape=$(curl -s --max-time 3 "$BASE_URL/status" | python3 -c '
import json, sys
w = [x for x in json.load(sys.stdin).get("workers", []) if x.get("kind", "http") == "http"]
print("%d workers x %s threads" % (len(w), w[0].get("threads", "?")) if w else "unknown")' 2>/dev/null || echo unknown)

discovery() { python3 "$HERE/discovery.py" --base "$BASE_URL" "$@"; }
read -r cookie bearer organiser < <(discovery sessions)
[[ -n $cookie && -n $bearer && -n $organiser ]] || die "could not sign the demo accounts in"

# Waits until every async projection and reactor has caught up with the log.
wait_projections() {
    local deadline=$((SECONDS + ${DISCOVERY_PROJECTION_WAIT:-1800})) behind
    while :; do
        behind=$(db_psql "SELECT count(*) FROM es_checkpoints AS c, (SELECT transaction_id, global_position
            FROM es_events ORDER BY transaction_id DESC, global_position DESC LIMIT 1) AS head
            WHERE c.kind <> 'inline' AND (c.transaction_id, c.position) < (head.transaction_id, head.global_position)")
        [[ $behind == 0 ]] && return 0
        ((SECONDS < deadline)) || { warn "projections still behind ($behind)"; return 0; }
        sleep 1
    done
}
settle() {
    wait_projections
    db_psql "VACUUM ANALYZE concerts" >/dev/null
    db_psql "VACUUM ANALYZE availability_shards" >/dev/null
    sleep 3
}

names=("nginx static file" "GET / (cookie)" "GET /?q=beyonce (cookie)" "GET /api/concerts?q=beyon (bearer)"
    "GET /?city=Kraków (cookie)" "GET /api/concerts (bearer)")
paths=("$static_path" / "/?q=beyonce" "/api/concerts?q=beyon" "/?city=Krak%C3%B3w" /api/concerts)
auth=("" "Cookie: encore_session=$cookie" "Cookie: encore_session=$cookie" "Authorization: Bearer $bearer"
    "Cookie: encore_session=$cookie" "Authorization: Bearer $bearer")
goal_paths=(1 2 3)

base=$BASE_URL nginx_pid_file=$NGINX_PID database_url=$DB_URL
# shellcheck source=bench/measure.sh
source "$HERE/measure.sh"

rounds=${BENCH_ROUNDS:-3}
declare -A rps p99 errs cpu share load concerts_in found
# The median of numbers given as arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# Measures every path in `rounds` rounds, back to back; keeps each figure's median over the
# rounds, and each path's share of the static file's rate within its own round (the machine's
# other work moves both alike), as the median of the rounds' shares.
measure_state() { # name
    local r=$1 i n args out
    concerts_in[$r]=$(db_psql "SELECT count(*) FROM concerts")
    # Making 50,000 concerts leaves the load average high for a minute or two: both states
    # are measured from the same calm (the load is recorded either way).
    load[$r]=$(wait_for_quiet "${DISCOVERY_QUIET:-2.5}" "${DISCOVERY_QUIET_WAIT:-300}")
    for i in "${!paths[@]}"; do
        args=(-s --max-time 10)
        [[ -n ${auth[$i]} ]] && args+=(-H "${auth[$i]}")
        out=$(curl "${args[@]}" -o "$RUN_DIR/answer" -w '%{http_code}' "$BASE_URL${paths[$i]}")
        [[ $out == 200 ]] || die "$BASE_URL${paths[$i]} answers $out, not 200"
        if [[ ${paths[$i]} == /api/* ]]; then
            found[$r,$i]=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["concerts"]))' "$RUN_DIR/answer")
        elif [[ $i != 0 ]]; then
            found[$r,$i]=$(grep -c 'class="concert-card' "$RUN_DIR/answer" || true)
        fi
    done
    local -A all_rps all_p99 all_cpu all_share all_errs
    for ((n = 1; n <= rounds; n++)); do
        for i in "${!paths[@]}"; do
            step "[${concerts_in[$r]} concerts, round $n of $rounds] wrk -t$threads -c$connections -d$duration --latency ${names[$i]}"
            header=()
            [[ -n ${auth[$i]} ]] && header=(-H "${auth[$i]}")
            read -r x_rps _ x_p99 x_errs x_cpu < <(measure "${paths[$i]}" "${header[@]}")
            all_rps[$i]+=" $x_rps" all_p99[$i]+=" $x_p99" all_errs[$i]+=" $x_errs"
            all_cpu[$i]+=" ${x_cpu%%_*}"
            all_share[$i]+=" $(awk -v a="$x_rps" -v b="${static_rps:-$x_rps}" 'BEGIN { printf "%.2f", (b > 0 ? 100 * a / b : 0) }')"
            [[ $i == 0 ]] && static_rps=$x_rps
        done
        unset static_rps
    done
    for i in "${!paths[@]}"; do
        # shellcheck disable=SC2086  # the lists are words
        rps[$r,$i]=$(printf '%.0f' "$(median ${all_rps[$i]})") p99[$r,$i]=$(printf '%.1f' "$(median ${all_p99[$i]})")
        # shellcheck disable=SC2086
        cpu[$r,$i]=$(printf '%.3f' "$(median ${all_cpu[$i]})") share[$r,$i]=$(printf '%.1f' "$(median ${all_share[$i]})")
        # shellcheck disable=SC2086
        errs[$r,$i]=$(echo ${all_errs[$i]} | awk '{ s = 0; for (k = 1; k <= NF; k++) s += $k; print s }')
    done
}

step "Seven concerts more: ten"
discovery create --count 7 --threads 1 --seed 10 --cancel-share 0 --token "$organiser" >/dev/null
settle
measure_state ten

step "$((total - 10)) concerts more, through POST /api/concerts (${DISCOVERY_CREATE_THREADS:-8} at a time), 1% cancelled"
created=$(discovery create --count "$((total - 10))" --threads "${DISCOVERY_CREATE_THREADS:-8}" --seed 25 --token "$organiser")
info "created: $created"
projection_started=$SECONDS
settle
projection_seconds=$((SECONDS - projection_started))
shards=$(db_psql "SELECT count(*) FROM availability_shards")
measure_state many

met=met
table=$(
    printf '| what | path | concerts shown (10 / %s) | req/s (10 / %s) | share of static (10 / %s) | p99 ms (10 / %s) | CPU ms per request (10 / %s) |\n' \
        "$total" "$total" "$total" "$total" "$total"
    printf '|---|---|---:|---:|---:|---:|---:|\n'
    for i in "${!paths[@]}"; do
        # shellcheck disable=SC2016  # the backquotes are Markdown
        printf '| %s | `%s` | %s / %s | %s / %s | %s%% / %s%% | %s / %s | %s / %s |\n' "${names[$i]}" "${paths[$i]}" \
            "${found[ten,$i]:--}" "${found[many,$i]:--}" "${rps[ten,$i]}" "${rps[many,$i]}" "${share[ten,$i]}" \
            "${share[many,$i]}" "${p99[ten,$i]}" "${p99[many,$i]}" "${cpu[ten,$i]}" "${cpu[many,$i]}"
    done
)
checks=""
for i in "${goal_paths[@]}"; do
    ratio=$(awk -v a="${share[many,$i]}" -v b="${share[ten,$i]}" 'BEGIN { printf "%.0f", (b > 0 ? 100 * a / b : 0) }')
    verdict=$(awk -v r="$ratio" 'BEGIN { print (r >= 90) ? "met" : "missed" }')
    [[ $verdict == met ]] || met=missed
    checks+="- ${names[$i]}: ${share[ten,$i]}% of the static rate with ten concerts, ${share[many,$i]}% with ${concerts_in[many]} ($ratio% of it): **$verdict**"$'\n'
done
errors=0
for key in "${!errs[@]}"; do errors=$((errors + ${errs[$key]})); done

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
when=$(date -u '+%Y-%m-%d %H:%M UTC')
section=$(cat <<EOF
## Discovery at 50,000 concerts
Measured by \`bench/discovery.sh\` on $when (commit $commit): \`wrk -t$threads -c$connections -d$duration --latency\`
after a $warmup warm-up per path, $rounds rounds of all paths back to back per state (medians; a path's share is of
the static file's rate in the same round), signed in as the demo customer (cookie for pages, bearer token for the API), on a
stack of its own at $BASE_URL. Machine: $(nproc) cores, $cpu_model. Pool: $pool_shape.
Load average (1, 5, 15 min) before the round with ten concerts: ${load[ten]}; before the round with ${concerts_in[many]}: ${load[many]}.

The ${concerts_in[many]} concerts: the demo's three, seven more, then $((total - 10)) made through \`POST /api/concerts\`
(the real command path, ${DISCOVERY_CREATE_THREADS:-8} connections; $created), their $shards availability
shards made by the projection daemon ($projection_seconds s to catch up and ANALYZE after the last POST).

$table

Goal (issue 25): the home page and a search keep, with ${concerts_in[many]} concerts, at least 90% of the share of
the static rate they have with ten (the searches find the one Beyoncé in both states; the home page shows a
full page of 12 instead of ten): **$met**.
$checks
Errors (non-2xx, socket) across all runs: $errors. CPU ms per request: nginx, the pool and PostgreSQL
together, as in "Concerts pages" above (the figure the machine's other work moves least).
EOF
)
echo
printf '%s\n' "$section"
if [[ ${BENCH_NO_WRITE:-0} != 1 ]]; then
    SECTION=$section python3 "$HERE/write_section.py" "$results" "Discovery at 50,000 concerts"
    ok "wrote the Discovery section of ${results#"$ENCORE_ROOT"/}"
fi
[[ $met == met ]] || exit 3
exit 0
}
