#!/usr/bin/env bash
# bench/concerts.sh: the public concert pages under wrk, next to nginx's static file, in one
# run (issue 5):
#   - a static file that nginx serves from public/ (the reference),
#   - GET /            (the concert list: nginx -> pool -> read model -> template),
#   - GET /concerts/ID (one concert with its levels; default the demo concert
#                       beyonce-warsaw-2027 that `encore seed` loads),
# as an anonymous visitor (no cookies, the pages' public variant). Prints req/s, p50, p99,
# each rate as a share of the static rate and the CPU time nginx, the pool and PostgreSQL
# spend per request (the figure other load on the machine skews least), checks the goal (GET /concerts/ID at least 25%
# of the static rate, p99 under 20 ms), and writes the figures with the date and machine into
# the "## Concerts pages" section of bench/RESULTS.md (other sections, and a "### Notes" part
# of this one, are kept).
#
# Start the stack first with `bin/up` (release build, seeded demo data, nginx on
# 127.0.0.1:8080); when it does not answer, this script runs bin/up itself.
#
# Settings (environment):
#   BENCH_THREADS=2  BENCH_CONNECTIONS=32  BENCH_DURATION=10s  BENCH_WARMUP=2s
#   BENCH_STATIC_PATH=/css/encore.css  BENCH_CONCERT=beyonce-warsaw-2027
#   BENCH_BASE_URL=http://127.0.0.1:8080   another running stack (then bin/up is not run)
#   BENCH_NO_WRITE=1                        print only, leave bench/RESULTS.md alone
#   BENCH_COMMIT=abc1234                    what was measured, when the binary is not the checkout's
#   BENCH_NGINX_PREFIX=DIR  BENCH_DATABASE_URL=URL
#                           with BENCH_BASE_URL: that stack's nginx prefix (nginx.pid) and database,
#                           to find its nginx workers and PostgreSQL backends for the CPU figures
#   BENCH_SAMPLER_LOG=FILE  raw CPU samples and sampler errors, for debugging
# Exit status: 0 when the goal is met, 3 when it is missed, 1 on errors.
set -euo pipefail
# shellcheck source=bin/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../bin/lib.sh"

stack_init dev
threads=${BENCH_THREADS:-2}
connections=${BENCH_CONNECTIONS:-32}
duration=${BENCH_DURATION:-10s}
warmup=${BENCH_WARMUP:-2s}
static_path=${BENCH_STATIC_PATH:-/css/encore.css}
concert=${BENCH_CONCERT:-beyonce-warsaw-2027}
base=${BENCH_BASE_URL:-$BASE_URL}
results="$ENCORE_ROOT/bench/RESULTS.md"

command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk, or run bin/up)"
if [[ $(http_status "$base/healthz") != 200 ]]; then
    [[ -z ${BENCH_BASE_URL:-} ]] || die "$base/healthz does not answer 200"
    step "The dev stack does not answer; starting it with bin/up"
    "$ENCORE_ROOT/bin/up"
fi

names=("nginx static file" "GET /" "GET /concerts/{id}")
paths=("$static_path" / "/concerts/$concert")
for path in "${paths[@]}"; do
    code=$(http_status "$base$path")
    [[ $code == 200 ]] || die "$base$path answers $code, not 200 (is the demo data seeded? encore seed)"
done

nginx_pid_file=$NGINX_PID
[[ -n ${BENCH_BASE_URL:-} ]] && nginx_pid_file=${BENCH_NGINX_PREFIX:+$BENCH_NGINX_PREFIX/nginx.pid}
database_url=${BENCH_DATABASE_URL:-$DB_URL}
# shellcheck source=bench/measure.sh
source "$ENCORE_ROOT/bench/measure.sh"

declare -a rps p50 p99 errs cpu_ms
for i in 0 1 2; do
    step "wrk -t$threads -c$connections -d$duration --latency ${paths[$i]}"
    read -r "rps[i]" "p50[i]" "p99[i]" "errs[i]" "cpu_ms[i]" < <(measure "${paths[$i]}")
done
counted="nginx workers, pool HTTP workers and PostgreSQL backends of the stack's database"

share() { awk -v a="$1" -v b="${rps[0]}" 'BEGIN { printf "%.0f", (b > 0 ? 100 * a / b : 0) }'; }
concert_share=$(share "${rps[2]}")
goal_met=$(awk -v s="$concert_share" -v p="${p99[2]}" -v e="${errs[2]}" \
    'BEGIN { print (s >= 25 && p < 20 && e == 0) ? "yes" : "no" }')

pool_shape=$(curl -s --max-time 3 "$base/status" | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
    w = [x for x in s.get("workers", []) if x.get("kind", "http") == "http"]
    print("%d workers x %s threads" % (len(w), w[0].get("threads", "?")) if w else "unknown")
except Exception:
    print("unknown")' 2>/dev/null || echo unknown)
page_bytes=$(curl -s --max-time 3 "$base/concerts/$concert" | wc -c)
home_bytes=$(curl -s --max-time 3 "$base/" | wc -c)
cache_control=$(curl -s -o /dev/null -D - --max-time 3 "$base/concerts/$concert" \
    | awk -F': ' 'tolower($1) == "cache-control" { sub(/\r$/, "", $2); print $2 }')
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
load=$(cut -d' ' -f1-3 /proc/loadavg)
when=$(date -u '+%Y-%m-%d %H:%M UTC')
if [[ -n ${BENCH_COMMIT:-} ]]; then
    commit=$BENCH_COMMIT
else
    commit=$(git -C "$ENCORE_ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
    dirty=$(git -C "$ENCORE_ROOT" status --porcelain --untracked-files=no -- Sources Package.swift 2>/dev/null | wc -l)
    ((dirty > 0)) && commit+=" plus uncommitted changes in $dirty files"
fi

table=$(
    printf '| what | path | req/s | p50 (ms) | p99 (ms) | share of static | errors | CPU ms per request (nginx + pool + PostgreSQL) |\n'
    printf '|---|---|---:|---:|---:|---:|---:|---:|\n'
    for i in 0 1 2; do
        # shellcheck disable=SC2016  # the backquotes are Markdown
        printf '| %s | `%s` | %s | %s | %s | %s%% | %s | %s |\n' "${names[$i]}" "${paths[$i]}" "${rps[$i]}" \
            "${p50[$i]}" "${p99[$i]}" "$(share "${rps[$i]}")" "${errs[$i]}" "${cpu_ms[$i]//_/ }"
    done
)
verdict="met"
[[ $goal_met == yes ]] || verdict="missed"
section=$(cat <<EOF
## Concerts pages
Measured by \`bench/concerts.sh\` on $when (commit $commit): \`wrk -t$threads -c$connections -d$duration --latency\`
after a $warmup warm-up per path, anonymous (no cookies), against $base.
Machine: $(nproc) cores, $cpu; load average before the run: $load. Pool: $pool_shape.
Page sizes: \`/\` $home_bytes bytes, \`/concerts/$concert\` $page_bytes bytes; Cache-Control of the concert page: \`$cache_control\`.

$table

Goal (issue 5): \`GET /concerts/{id}\` at least 25% of the static rate, p99 under 20 ms: **$verdict**
($concert_share%, p99 ${p99[2]} ms).
CPU ms per request: user and system time of the serving processes ($counted)
during the measured run, divided by the requests served (wrk's own time is not counted). It moves
far less with other load than req/s does; $(nproc) cores divided by it is the most this machine
could serve.
wrk runs on the same cores as nginx, the pool and PostgreSQL, so the figures compare runs on this
machine; they are not absolute capacity.
EOF
)

echo
printf '%s\n' "$section"

if [[ ${BENCH_NO_WRITE:-0} != 1 ]]; then
    SECTION=$section python3 "$ENCORE_ROOT/bench/write_section.py" "$results" "Concerts pages"
    ok "wrote the Concerts pages section of ${results#"$ENCORE_ROOT"/}"
fi
[[ $goal_met == yes ]] || exit 3
