#!/usr/bin/env bash
# bench/http.sh: requests per second and p99 latency, measured with wrk in one run, for
#   - a static file that nginx serves from public/ (the reference),
#   - GET /healthz (nginx -> pool -> PostgreSQL round trip),
#   - GET / (nginx -> pool -> template -> PostgreSQL),
# against the running dev stack (bin/up is run first when it does not answer). Prints a
# table with each rate as a share of the static rate (measured in rounds of the three paths
# back to back; medians over the rounds), and writes the figures with the date
# and machine into the "## HTTP" section of bench/RESULTS.md (other sections are kept).
#
# Settings (environment):
#   BENCH_THREADS=2  BENCH_CONNECTIONS=32  BENCH_DURATION=10s  BENCH_WARMUP=2s  BENCH_ROUNDS=3
#   BENCH_STATIC_PATH=/css/encore.css  BENCH_BASE_URL=http://127.0.0.1:8080
#   BENCH_NO_WRITE=1   print only, leave bench/RESULTS.md alone
set -euo pipefail
# shellcheck source=bin/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../bin/lib.sh"

stack_init dev
threads=${BENCH_THREADS:-2}
connections=${BENCH_CONNECTIONS:-32}
duration=${BENCH_DURATION:-10s}
rounds=${BENCH_ROUNDS:-3}
warmup=${BENCH_WARMUP:-2s}
static_path=${BENCH_STATIC_PATH:-/css/encore.css}
base=${BENCH_BASE_URL:-$BASE_URL}
results="$ENCORE_ROOT/bench/RESULTS.md"

command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk, or run bin/up)"
if [[ $(http_status "$base/healthz") != 200 ]]; then
    [[ -z ${BENCH_BASE_URL:-} ]] || die "$base/healthz does not answer 200"
    step "The dev stack does not answer; starting it with bin/up"
    "$ENCORE_ROOT/bin/up"
fi
for path in "$static_path" /healthz /; do
    code=$(http_status "$base$path")
    [[ $code == 200 ]] || die "$base$path answers $code, not 200"
done

# Runs wrk; prints "req/s p99_ms errors".
measure() { # path
    wrk -t"$threads" -c"$connections" -d"$warmup" "$base$1" >/dev/null 2>&1 || true
    wrk -t"$threads" -c"$connections" -d"$duration" --latency "$base$1" | awk '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
            return v + 0
        }
        $1 == "99%"              { p99 = ms($2) }
        /^Requests\/sec:/        { rps = $2 }
        /Non-2xx or 3xx/         { errors += $NF }
        /Socket errors:/         { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
        END { printf "%.0f %.2f %d\n", rps, p99, errors }'
}

names=("nginx static file" "GET /healthz" "GET /")
paths=("$static_path" /healthz /)
# Rounds of (static, /healthz, /) back to back: the static rate itself moves by a third between
# runs minutes apart here, so each share is taken within its round, and the median is reported.
declare -A rps p99 errs
load=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 0; r < rounds; r++)); do
    for i in 0 1 2; do
        step "round $((r + 1))/$rounds: wrk -t$threads -c$connections -d$duration --latency ${paths[$i]}"
        read -r "rps[$r,$i]" "p99[$r,$i]" "errs[$r,$i]" < <(measure "${paths[$i]}")
    done
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
share() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b > 0 ? 100 * a / b : 0) }'; }
declare -a med_rps max_p99 sum_errs med_share round_shares
for i in 0 1 2; do
    values=() p99s=() shares=() total=0
    for ((r = 0; r < rounds; r++)); do
        values+=("${rps[$r,$i]}") p99s+=("${p99[$r,$i]}") shares+=("$(share "${rps[$r,$i]}" "${rps[$r,0]}")")
        total=$((total + ${errs[$r,$i]}))
    done
    med_rps[i]=$(median "${values[@]}")
    max_p99[i]=$(printf '%s\n' "${p99s[@]}" | sort -g | tail -1)
    med_share[i]=$(median "${shares[@]}")
    sum_errs[i]=$total
    round_shares[i]=$(printf '%s%%, ' "${shares[@]}")
done

pool_shape=$(curl -s --max-time 3 "$base/status" | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
    w = [x for x in s.get("workers", []) if x.get("kind", "http") == "http"]
    print("%d workers x %s threads" % (len(w), w[0].get("threads", "?")) if w else "unknown")
except Exception:
    print("unknown")' 2>/dev/null || echo unknown)
nginx_workers=$(awk '/^worker_processes/ { gsub(/;/, ""); print $2 }' "$NGINX_CONF" 2>/dev/null || echo "?")
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
when=$(date -u '+%Y-%m-%d %H:%M UTC')
commit=$(git -C "$ENCORE_ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")

table=$(
    printf '| what | path | req/s (median) | p99 (ms, worst round) | share of static (median) | share per round | errors |\n'
    printf '|---|---|---:|---:|---:|---|---:|\n'
    for i in 0 1 2; do
        printf '| %s | `%s` | %.0f | %s | %s%% | %s | %s |\n' "${names[$i]}" "${paths[$i]}" "${med_rps[$i]}" \
            "${max_p99[$i]}" "${med_share[$i]}" "${round_shares[$i]%, }" "${sum_errs[$i]}"
    done
)
section=$(cat <<EOF
## HTTP
Measured by \`bench/http.sh\` on $when (commit $commit): $rounds rounds of \`wrk -t$threads -c$connections -d$duration --latency\`
for each path in turn, after a $warmup warm-up per path, against the dev stack started by \`bin/up\`.
Machine: $(nproc) cores, $cpu; load average before the run: $load. nginx: worker_processes
$nginx_workers. Pool: $pool_shape.

$table

Goals (issue 2): \`GET /healthz\` at least 30% of the static rate, \`GET /\` at least 20%, p99 under 20 ms.
wrk runs on the same 2 cores as nginx, the pool and PostgreSQL, so the figures are for comparing
runs on this machine, not absolute capacity.
EOF
)

echo
printf '%s\n' "$section"

if [[ ${BENCH_NO_WRITE:-0} != 1 ]]; then
    SECTION=$section python3 "$ENCORE_ROOT/bench/write_section.py" "$results" "HTTP"
    ok "wrote the HTTP section of ${results#"$ENCORE_ROOT"/}"
fi
