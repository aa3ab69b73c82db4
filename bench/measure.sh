# bench/measure.sh: what the HTTP benchmarks share (sourced, after bin/lib.sh and stack_init):
# wrk runs with the CPU time of the serving processes sampled meanwhile.
#
# Needs: threads, connections, duration, warmup, base (the stack's URL), nginx_pid_file and
# database_url set by the caller; BENCH_SAMPLER_LOG=FILE keeps raw samples.

# CPU time per request (a figure that, unlike req/s, hardly depends on what else the machine
# runs): a sampler adds up the user and system time of the serving processes while wrk runs:
# nginx's workers, the pool's HTTP workers (found afresh each time, as workers are recycled)
# and the PostgreSQL backends connected to the stack's database. A process that starts during
# the run counts from its start; one that ends counts until its last sample (0.2 s apart).
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
measure() { # path [wrk options, e.g. -H 'Cookie: ...']
    local path=$1
    shift
    wrk -t"$threads" -c"$connections" -d"$warmup" "$@" "$base$path" >/dev/null 2>&1 || true
    # A caller's hook between the warm-up and the measured run (signed_in.sh resets its counters).
    if [[ $(type -t after_warmup) == function ]]; then after_warmup; fi
    local stop out sampled ticks t_nginx t_pool t_pg
    stop=$(mktemp -u)
    sampled=$(mktemp)
    cpu_sampler "$stop" >"$sampled" 2>>"${BENCH_SAMPLER_LOG:-/dev/null}" &
    local sampler=$!
    for _ in {1..100}; do [[ -e $stop.ready ]] && break; sleep 0.1; done  # its first look, before wrk starts
    out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$@" "$base$path")
    touch "$stop"
    wait "$sampler" || true
    read -r ticks t_nginx t_pool t_pg <<<"$(cat "$sampled")"
    [[ -n ${BENCH_SAMPLER_LOG:-} ]] && echo "$path: $ticks $t_nginx $t_pool $t_pg" >>"$BENCH_SAMPLER_LOG"
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

