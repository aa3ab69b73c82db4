#!/usr/bin/env bash
# bench/signed_in.sh: the pages and API a signed-in buyer uses, under wrk, next to nginx's
# static file, in one run (issue 24):
#   - a static file nginx serves from public/ (the reference),
#   - GET /               signed in (session cookie),
#   - GET /concerts/ID    signed in (session cookie),
#   - GET /api/concerts/ID  with a bearer token,
#   - GET /cart and GET /api/cart with an item in the cart (cookie, bearer).
# For each: req/s, p50, p99, share of the static rate, CPU ms per request split into nginx,
# pool and PostgreSQL (bench/measure.sh), and SQL statements per request (pg_stat_statements,
# top-level statements of the stack's database while wrk ran, divided by the requests; the
# background jobs' few statements a second are counted too). Then a worker's resident memory
# after the run, after 64 sign-ins eight at a time (Argon2id takes 64 MiB per hash), and a minute
# later. Checks the goals and writes the "## Signed-in pages" section of bench/RESULTS.md.
#
# Start the stack first with `bin/up`; when it does not answer, this script runs bin/up itself.
# Its PostgreSQL must load pg_stat_statements (bin/lib.sh configures it; a cluster made before
# that needs one restart: bin/down && bin/up).
#
# Settings (environment): BENCH_THREADS=2 BENCH_CONNECTIONS=32 BENCH_DURATION=10s BENCH_WARMUP=2s
#   BENCH_STATIC_PATH=/css/encore.css BENCH_CONCERT=beyonce-warsaw-2027 BENCH_NO_WRITE=1
#   BENCH_SKIP_MEMORY=1 (no sign-in burst, no minute's wait)
# Exit status: 0 when every goal is met, 3 when one is missed, 1 on errors.
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
base=$BASE_URL
results="$ENCORE_ROOT/bench/RESULTS.md"
nginx_pid_file=$NGINX_PID
database_url=$DB_URL
# shellcheck source=bench/measure.sh
source "$ENCORE_ROOT/bench/measure.sh"

command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk, or run bin/up)"
[[ $OWN_PG == 1 ]] || die "this benchmark needs the dev stack's own PostgreSQL (for pg_stat_statements)"
if [[ $(http_status "$base/healthz") != 200 ]]; then
    step "The dev stack does not answer; starting it with bin/up"
    "$ENCORE_ROOT/bin/up"
fi
if [[ $(pg_psql "SHOW shared_preload_libraries") != *pg_stat_statements* ]]; then
    die "PostgreSQL does not load pg_stat_statements yet: restart it once (bin/down && bin/up)"
fi
as_pg "$(pg_bindir)/psql" -X -q -h "$PG_RUN" -p "$PG_PORT" -U postgres -d "$DB_NAME" \
    -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
db_psql() { as_pg "$(pg_bindir)/psql" -X -q -h "$PG_RUN" -p "$PG_PORT" -U postgres -d "$DB_NAME" -tA -c "$1"; }

# A customer signed in twice: a session cookie (through the sign-in form, as a browser does)
# and a bearer token; one ticket of the concert's first level in the cart.
read -r cookie token < <(BASE=$base CONCERT=$concert python3 - <<'PY'
import os, re, requests
base, concert = os.environ["BASE"], os.environ["CONCERT"]
login = {"email": "customer@encore.test", "password": "encore-demo-2026"}
browser = requests.Session()
page = browser.get(base + "/signin")
csrf = re.search(r'name="_csrf" value="([^"]+)"', page.text).group(1)
answer = browser.post(base + "/signin", data=dict(login, _csrf=csrf), allow_redirects=False)
assert answer.status_code == 303, answer.text[:300]
token = requests.post(base + "/api/sessions", json=login, timeout=30).json()["token"]
api = {"Authorization": "Bearer " + token}
levels = requests.get(f"{base}/api/concerts/{concert}", timeout=10).json()["concert"]["ticketLevels"]
cart = requests.get(base + "/api/cart", headers=api, timeout=10).json()["cart"]
if not cart["items"]:
    added = requests.post(base + "/api/cart/items", headers=api, timeout=10,
                          json={"concertId": concert, "ticketLevelId": levels[0]["id"], "quantity": 1})
    assert added.status_code == 201, added.text
print(browser.cookies["encore_session"], token)
PY
)
[[ -n $cookie && -n $token ]] || die "could not sign the demo customer in"

names=("nginx static file" "GET / (cookie)" "GET /concerts/{id} (cookie)" "GET /api/concerts/{id} (bearer)"
    "GET /cart (cookie)" "GET /api/cart (bearer)")
paths=("$static_path" / "/concerts/$concert" "/api/concerts/$concert" /cart /api/cart)
auth=("" "Cookie: encore_session=$cookie" "Cookie: encore_session=$cookie" "Authorization: Bearer $token"
    "Cookie: encore_session=$cookie" "Authorization: Bearer $token")
for i in "${!paths[@]}"; do
    args=(-s -o /dev/null -w '%{http_code}' --max-time 5)
    [[ -n ${auth[$i]} ]] && args+=(-H "${auth[$i]}")
    code=$(curl "${args[@]}" "$base${paths[$i]}")
    [[ $code == 200 ]] || die "$base${paths[$i]} answers $code, not 200"
done

statements() { db_psql "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '$DB_NAME'"; }

declare -a rps p50 p99 errs cpu_ms per_request
load=$(cut -d' ' -f1-3 /proc/loadavg)
for i in "${!paths[@]}"; do
    step "wrk -t$threads -c$connections -d$duration --latency ${names[$i]}"
    header=()
    [[ -n ${auth[$i]} ]] && header=(-H "${auth[$i]}")
    after_warmup() { db_psql "SELECT pg_stat_statements_reset()" >/dev/null; }
    before=0
    read -r "rps[i]" "p50[i]" "p99[i]" "errs[i]" "cpu_ms[i]" < <(measure "${paths[$i]}" "${header[@]}")
    after=$(statements)
    seconds=${duration%s}
    per_request[i]=$(awk -v n="$((after - before))" -v r="${rps[$i]}" -v s="$seconds" \
        'BEGIN { printf "%.2f", (r > 0 ? n / (r * s) : 0) }')
done

share() { awk -v a="$1" -v b="${rps[0]}" 'BEGIN { printf "%.0f", (b > 0 ? 100 * a / b : 0) }'; }
part() { # "total_(nginx_+_pool_+_pg)" index(1 nginx, 2 pool, 3 pg)
    echo "$1" | tr -d '()' | awk -F'_\\+_|_' -v k="$2" '{ print $(k + 1) }'
}

# Memory: the HTTP workers' resident sizes now, after 64 sign-ins, and a minute on.
rss() {
    curl -s --max-time 3 "$base/status" | python3 -c '
import json, sys
pids = [w["pid"] for w in json.load(sys.stdin)["workers"] if w.get("kind", "http") == "http"]
sizes = []
for pid in pids:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            sizes.append(int(line.split()[1]) // 1024)
print(" ".join(str(s) for s in sizes))'
}
rss_after_load=$(rss)
rss_after_signins="not measured" rss_later="not measured"
if [[ ${BENCH_SKIP_MEMORY:-0} != 1 ]]; then
    step "64 sign-ins, eight at a time, then a minute's wait"
    BASE=$base python3 - <<'PY'
import os, requests, threading, time
base = os.environ["BASE"]
# Eight at a time (all of the pool's threads hashing at once), paced under nginx's limit of
# 10 sign-ins a second per address.
def signer(n):
    for i in range(8):
        started = time.monotonic()
        requests.post(base + "/api/sessions", timeout=60,
                      json={"email": "customer@encore.test", "password": "encore-demo-2026"})
        time.sleep(max(0, 0.9 - (time.monotonic() - started)))
threads = [threading.Thread(target=signer, args=(n,)) for n in range(8)]
for t in threads: t.start()
for t in threads: t.join()
PY
    rss_after_signins=$(rss)
    sleep 60
    rss_later=$(rss)
fi

goal() { awk "BEGIN { print ($1) ? \"met\" : \"missed\" }"; }
page_share=$(share "${rps[2]}") api_share=$(share "${rps[3]}")
cart_share=$(share "${rps[4]}") api_cart_share=$(share "${rps[5]}")
pool_ms=$(part "${cpu_ms[2]}" 2) pg_ms=$(part "${cpu_ms[2]}" 3)
g_page=$(goal "$page_share >= 20 && ${p99[2]} < 10 && $api_share >= 20 && ${p99[3]} < 10")
g_cart=$(goal "$cart_share >= 15 && $api_cart_share >= 15")
g_cpu=$(goal "$pool_ms <= 0.15 && $pg_ms <= 0.08")
max_later=$(echo "$rss_later" | tr ' ' '\n' | sort -n | tail -1)
g_mem=$(goal "${max_later:-999} < 64")
[[ $rss_later == "not measured" ]] && g_mem="not measured"

pool_shape=$(curl -s --max-time 3 "$base/status" | python3 -c '
import json, sys
w = [x for x in json.load(sys.stdin).get("workers", []) if x.get("kind", "http") == "http"]
print("%d workers x %s threads" % (len(w), w[0].get("threads", "?")) if w else "unknown")' 2>/dev/null || echo unknown)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
when=$(date -u '+%Y-%m-%d %H:%M UTC')
commit=$(git -C "$ENCORE_ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
dirty=$(git -C "$ENCORE_ROOT" status --porcelain --untracked-files=no -- Sources Package.swift 2>/dev/null | wc -l)
((dirty > 0)) && commit+=" plus uncommitted changes in $dirty files"

table=$(
    printf '| what | path | req/s | p50 (ms) | p99 (ms) | share of static | errors | CPU ms per request (nginx + pool + PostgreSQL) | statements per request |\n'
    printf '|---|---|---:|---:|---:|---:|---:|---:|---:|\n'
    for i in "${!paths[@]}"; do
        # shellcheck disable=SC2016  # the backquotes are Markdown
        printf '| %s | `%s` | %s | %s | %s | %s%% | %s | %s | %s |\n' "${names[$i]}" "${paths[$i]}" "${rps[$i]}" \
            "${p50[$i]}" "${p99[$i]}" "$(share "${rps[$i]}")" "${errs[$i]}" "${cpu_ms[$i]//_/ }" "${per_request[$i]}"
    done
)
section=$(cat <<EOF
## Signed-in pages
Measured by \`bench/signed_in.sh\` on $when (commit $commit): \`wrk -t$threads -c$connections -d$duration --latency\`
after a $warmup warm-up per path, signed in as the demo customer with one ticket in the cart, against $base.
Machine: $(nproc) cores, $cpu; load average before the run: $load. Pool: $pool_shape.

$table

Goals (issue 24):
- signed-in concert page and \`GET /api/concerts/{id}\` at least 20% of the static rate, p99 under 10 ms: **$g_page** ($page_share% and $api_share%, p99 ${p99[2]} and ${p99[3]} ms);
- the cart, page and API, at least 15%: **$g_cart** ($cart_share% and $api_cart_share%);
- the signed-in concert page's CPU at most 0.15 ms in the pool and 0.08 ms in PostgreSQL: **$g_cpu** ($pool_ms and $pg_ms ms);
- a worker's resident memory back under 64 MB within a minute: **$g_mem** (MB per HTTP worker: after the run $rss_after_load; after 64 sign-ins, eight at a time, $rss_after_signins; a minute later $rss_later).

Statements per request: top-level statements of the stack's database while wrk ran (pg_stat_statements),
divided by the requests served; the background jobs' few statements a second are in it.
CPU ms per request as in "Concerts pages" above.
EOF
)
echo
printf '%s\n' "$section"
if [[ ${BENCH_NO_WRITE:-0} != 1 ]]; then
    SECTION=$section python3 "$ENCORE_ROOT/bench/write_section.py" "$results" "Signed-in pages"
    ok "wrote the Signed-in pages section of ${results#"$ENCORE_ROOT"/}"
fi
[[ $g_page == met && $g_cart == met && $g_cpu == met && $g_mem != missed ]] || exit 3
