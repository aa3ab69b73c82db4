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

# CPU time per request (a figure that, unlike req/s, hardly depends on what else the machine
# runs): a sampler adds up the user and system time of the serving processes while wrk runs:
# nginx's workers, the pool's HTTP workers (found afresh each time, as workers are recycled)
# and the PostgreSQL backends connected to the stack's database. A process that starts during
# the run counts from its start; one that ends counts until its last sample (0.2 s apart).
nginx_pid_file=$NGINX_PID
[[ -n ${BENCH_BASE_URL:-} ]] && nginx_pid_file=${BENCH_NGINX_PREFIX:+$BENCH_NGINX_PREFIX/nginx.pid}
database_url=${BENCH_DATABASE_URL:-$DB_URL}
cpu_sampler() { # stop-file -> prints "total_ticks nginx_ticks pool_ticks postgres_ticks"
    NGINX_PID_FILE=$nginx_pid_file DATABASE=$database_url BASE=$base python3 - "$1" <<'PY'
import json, os, subprocess, sys, time, urllib.request
stop = sys.argv[1]
boot_ticks = time.clock_gettime(time.CLOCK_BOOTTIME) * os.sysconf("SC_CLK_TCK")
seen = {}  # pid -> [group, first ticks, last ticks]

def stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12]), int(fields[19])  # utime + stime, starttime

def discover():
    groups = {"nginx": [], "pool": [], "postgres": []}
    try:
        master = open(os.environ["NGINX_PID_FILE"]).read().strip() if os.environ["NGINX_PID_FILE"] else ""
        if master:
            out = subprocess.run(["pgrep", "-P", master], capture_output=True, text=True).stdout
            groups["nginx"] = [int(p) for p in out.split()]
    except OSError:
        pass
    try:
        with urllib.request.urlopen(os.environ["BASE"] + "/status", timeout=2) as r:
            groups["pool"] = [w["pid"] for w in json.load(r)["workers"] if w.get("kind", "http") == "http"]
    except Exception:
        pass
    out = subprocess.run(["psql", os.environ["DATABASE"], "-XAtq", "-c",
                          "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                          " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"],
                         capture_output=True, text=True).stdout
    groups["postgres"] = [int(p) for p in out.split()]
    return groups

began = boot_ticks
first = True
while True:
    for group, pids in discover().items():
        for pid in pids:
            try:
                ticks, started = stat(pid)
            except (OSError, IndexError, ValueError):
                continue
            if pid not in seen:
                seen[pid] = [group, 0 if (not first and started > began) else ticks, ticks]
            seen[pid][2] = ticks
    if first:
        open(stop + ".ready", "w").close()
    first = False
    if os.path.exists(stop):
        break
    time.sleep(0.2)
by_group = {g: sum(last - start for group, start, last in seen.values() if group == g)
            for g in ("nginx", "pool", "postgres")}
print(sum(by_group.values()), by_group["nginx"], by_group["pool"], by_group["postgres"])
PY
}

# Runs wrk; prints "req/s p50_ms p99_ms errors cpu_ms_per_request".
measure() { # path
    wrk -t"$threads" -c"$connections" -d"$warmup" "$base$1" >/dev/null 2>&1 || true
    local stop out sampled ticks t_nginx t_pool t_pg
    stop=$(mktemp -u)
    sampled=$(mktemp)
    cpu_sampler "$stop" >"$sampled" 2>>"${BENCH_SAMPLER_LOG:-/dev/null}" &
    local sampler=$!
    for _ in {1..100}; do [[ -e $stop.ready ]] && break; sleep 0.1; done  # its first look, before wrk starts
    out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$base$1")
    touch "$stop"
    wait "$sampler" || true
    read -r ticks t_nginx t_pool t_pg <<<"$(cat "$sampled")"
    [[ -n ${BENCH_SAMPLER_LOG:-} ]] && echo "$1: $ticks $t_nginx $t_pool $t_pg" >>"$BENCH_SAMPLER_LOG"
    rm -f "$stop" "$stop.ready" "$sampled"
    printf '%s\n' "$out" | awk -v ticks="${ticks:-0}" -v hz="$(getconf CLK_TCK)" -v tn="${t_nginx:-0}" -v tp="${t_pool:-0}" -v tg="${t_pg:-0}" '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
            return v + 0
        }
        $1 == "50%"              { p50 = ms($2) }
        $1 == "99%"              { p99 = ms($2) }
        /^Requests\/sec:/        { rps = $2 }
        /Non-2xx or 3xx/         { errors += $NF }
        /Socket errors:/         { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
        / requests in /          { total = $1 }
        END {
            cpu = "?"
            if (ticks > 0 && total > 0) {
                f = 1000 / hz / total
                cpu = sprintf("%.3f_(%.3f_+_%.3f_+_%.3f)", ticks * f, tn * f, tp * f, tg * f)
            }
            printf "%.0f %.2f %.2f %d %s\n", rps, p50, p99, errors, cpu
        }'
}

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
