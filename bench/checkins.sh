#!/usr/bin/env bash
# bench/checkins.sh: the gate rush of issue 22, and the e-mails of the tickets, in one run.
#
#   1. Starts the bench stack (bench/stack.sh: .data/bench, PostgreSQL 5436 with
#      pg_stat_statements, nginx 8180, localstripe 8451, the mail sink 2561 but not yet running,
#      a ticket-signing key of its own), from an empty database; stopped again at the end.
#   2. Set-up, not measured, all through the real path: CHECKINS_CUSTOMERS customers registered
#      and signed in (flash.py), a concert of the demo organiser's (3 levels of 7,000), and
#      CHECKINS_ORDERS orders of CHECKINS_PER_ORDER tickets bought through the API (cart,
#      online delivery, confirm, pay with a 4242 card at localstripe). The TicketFulfilment
#      process manager issues every ticket (TicketIssued in its `ticket-<id>` stream, a row in
#      `tickets`) and queues each order's e-mail in `mail_outbox`, while the mail sink is down.
#   3. E-mail (measured): the mail sink starts; the `mailer` job sends the whole outbox. Prints
#      mails/s (first to last `sent_at`, and from the sink's start until nothing is pending) and
#      checks every message reached the sink and every delivery is recorded `sent`.
#   4. Check-ins (measured): CHECKINS_COUNT distinct tickets' codes (made from the stack's key,
#      a sample compared with GET /api/tickets/{id}) POSTed to /api/check-ins as the organiser
#      (one session per gate) over CHECKINS_CONNECTIONS keep-alive connections through nginx,
#      sent by `encore-bench http-fire`. Meanwhile a sampler records CPU per process group;
#      pg_stat_statements is reset before and read after (FLASH-style files in .data/bench/log).
#   5. Checks: every answer 200; exactly one TicketCheckedIn per ticket sent (and none for the
#      others), the `tickets` read model agreeing; then a second pass over the same codes must
#      answer 409 already_checked_in to every one and append nothing.
#   6. Prints a table and writes it into the "## Gate rush (check-ins)" section of
#      bench/RESULTS.md (a hand-written "### Notes" part of the old section is kept).
#
# Settings (environment):
#   CHECKINS_CUSTOMERS=64  CHECKINS_ORDERS=2100  CHECKINS_PER_ORDER=10  CHECKINS_LINES=1 (lines of
#   CHECKINS_PER_ORDER tickets per order, each of another level)  CHECKINS_COUNT=20000
#   CHECKINS_CONNECTIONS=32  CHECKINS_GATES=8 (organiser sessions)  CHECKINS_SETUP_CONCURRENCY=16
#   CHECKINS_SHAPE=2x4    the pool's shape (workers x threads); BENCH_POOL_SHAPE for the set-up
#   CHECKINS_QUIET=2.5  CHECKINS_QUIET_WAIT=300   measure when the 1-minute load average is below
#                         2.5, or after waiting this long anyway (the load is recorded)
#   CHECKINS_PERF=1       also `perf record` the whole machine during the first pass
#   CHECKINS_NO_WRITE=1   print only, leave bench/RESULTS.md alone
#   BENCH_KEEP=1          leave the stack running (stop it with: bench/checkins.sh --stop)
#   bench/stack.sh's BENCH_* ports; ENCORE_BIN, ENCORE_SKIP_BUILD=1 as bin/up
# Exit status: 0 when every check passes and the goal (2,000 check-ins/s) is met, 3 when the goal
# is missed, 1 when a check fails or on errors.
set -euo pipefail
{ # One block: bash reads it all before running it, so an edit during a run cannot change the run.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=bin/lib.sh
source "$HERE/../bin/lib.sh"
# shellcheck source=bench/stack.sh
source "$HERE/stack.sh"

customers=${CHECKINS_CUSTOMERS:-64}
orders=${CHECKINS_ORDERS:-2100}
per_order=${CHECKINS_PER_ORDER:-10}   # tickets per cart line
lines=${CHECKINS_LINES:-1}            # cart lines per order (each of another level, at most 3)
count=${CHECKINS_COUNT:-20000}
connections=${CHECKINS_CONNECTIONS:-32}
gates=${CHECKINS_GATES:-8}
shape=${CHECKINS_SHAPE:-2x4}
results_md="$ENCORE_ROOT/bench/RESULTS.md"
per_mail=$((per_order * lines))        # tickets per order, and QR codes per e-mail
tickets_total=$((orders * per_mail))
((count <= tickets_total)) || die "CHECKINS_COUNT ($count) is more than the tickets sold ($tickets_total)"

bench_stack_init encore_checkins
if [[ ${1:-} == --stop ]]; then pg_prepare_dir; bench_stack_stop; exit 0; fi
bench_stack_lock
work="$RUN_DIR/checkins"
rm -rf "$work"; mkdir -p "$work"

cleanup() {
    local rc=$?
    [[ -n ${sampler_pid:-} ]] && kill "$sampler_pid" 2>/dev/null || true
    [[ -n ${perf_pid:-} ]] && kill -INT "$perf_pid" 2>/dev/null || true
    bench_finish "$rc"
}

step "Gate rush: $orders orders of $per_mail tickets, $count check-ins over $connections connections"
bench_build
trap cleanup EXIT

# The e-mails wait in the outbox while the sink is down; the mailer tries again every 2 s at most.
bench_stack_start nomail ENCORE_HOLD_SECONDS=3600 ENCORE_MAIL_RETRY_MAX_SECONDS=2
py() { python3 "$HERE/checkins.py" --base "$BASE_URL" --stripe "$STRIPE_API_BASE" "$@"; }

# ---------------------------------------------------------------------------- set-up
tag="$(date -u +%Y%m%d%H%M%S)-$$"
setup_started=$SECONDS
step "Set-up (not measured): $customers customers, a concert, $orders paid orders"
python3 "$HERE/flash-sale/flash.py" --base "$BASE_URL" customers --count "$customers" --tag "$tag" \
    --concurrency 8 --out "$work/customers.jsonl" >"$work/customers.json"
py concert --tag "$tag" --levels 3 --capacity $(((orders * lines + 2) / 3 * per_order)) >"$work/concert.json"
concert=$(jget "$work/concert.json" concert)
levels=$(python3 -c 'import json,sys; print(",".join(json.load(open(sys.argv[1]))["levels"]))' "$work/concert.json")
py buy --customers "$work/customers.jsonl" --concert "$concert" --levels "$levels" --orders "$orders" \
    --per-order "$per_order" --lines "$lines" --concurrency "${CHECKINS_SETUP_CONCURRENCY:-16}" --tag "$tag" \
    --out "$work/orders.jsonl" >"$work/buy.json"
buy_s=$(jget "$work/buy.json" buy_s)
step "Waiting for the process managers to issue the tickets"
wait_projections 900 || die "the process managers did not catch up"
read -r issued issued_events rows pending <<<"$(psql_db "$DB_NAME" "SELECT
    (SELECT count(*) FROM tickets WHERE concert_id = '$concert'),
    (SELECT count(*) FROM es_events WHERE event_type = 'TicketIssued' AND stream_type = 'ticket' AND data->'concert'->>'id' = '$concert'),
    (SELECT count(*) FROM mail_outbox),
    (SELECT count(*) FROM mail_outbox WHERE status = 'pending')" | tr '\t' ' ')"
setup_s=$((SECONDS - setup_started))
info "set-up: $issued tickets in the read model, $issued_events TicketIssued, $pending of $rows e-mails pending ($setup_s s; buying $buy_s s)"
failures=()
[[ $issued == "$tickets_total" && $issued_events == "$tickets_total" ]] \
    || die "expected $tickets_total tickets, found $issued rows and $issued_events TicketIssued"
[[ $pending == "$orders" ]] || failures+=("$pending e-mails pending after the set-up, not $orders")

sampler() { # out [extra sampler args...]
    local out=$1; shift
    python3 "$HERE/flash-sale/sampler.py" --postmaster "$(head -1 "$PGDATA_DIR/postmaster.pid")" \
        --pool-sid "$(read_pid "$SID_FILE" || echo 0)" --status-url "$BASE_URL/status" --nginx "$(read_pid "$NGINX_PID" || echo 0)" \
        --psql "$(pg_bindir)/psql -h $PG_RUN -p $PG_PORT -U postgres -d $DB_NAME" --database "$DB_NAME" \
        --out "$out" "$@" &
    sampler_pid=$!
}
sampler_stop() { kill "$sampler_pid"; wait "$sampler_pid" || true; sampler_pid=''; }
cpu_line() { # sampler.json count -> "total_ms detail" (CPU ms per item by group)
    python3 - "$1" "$2" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
c = s["cpu_s"]
groups = [g for g in ("postgres", "pool", "jobs", "nginx", "generator", "mailsink", "localstripe") if g in c]
total = sum(c.values()) * 1000 / n
parts = ", ".join("%s %.3f" % (g, c[g] * 1000 / n) for g in groups)
idle = 100 * max(0, s["machine_capacity_s"] - s["machine_busy_s"]) / s["elapsed_s"]
other = 100 * s["other_s"] / s["elapsed_s"]
print("%.3f %s; other processes %.0f%% of a core, idle %.0f%%" % (total, parts, other, idle))
PY
}

# ---------------------------------------------------------------------------- e-mail
step "E-mail: the mail sink starts; the mailer sends $pending e-mails"
mail_load=$(wait_for_quiet "${CHECKINS_QUIET:-2.5}" "${CHECKINS_QUIET_WAIT:-300}")
sampler "$work/mail-sampler.json" --group "mailsink=$RUN_DIR/mail-sink.pid"
mail_t0=$(date +%s.%N)
mailsink_start >/dev/null 8>&-
sink_pid=$(mailsink_pid)
deadline=$((SECONDS + 900))
while :; do
    left=$(psql_db "$DB_NAME" "SELECT count(*) FROM mail_outbox WHERE status = 'pending'")
    [[ $left == 0 ]] && break
    ((SECONDS < deadline)) || { failures+=("$left e-mails still pending after 900 s"); break; }
    sleep 0.2
done
mail_t1=$(date +%s.%N)
sampler_stop
read -r sent failed first_to_last first_after <<<"$(psql_db "$DB_NAME" "SELECT count(*) FILTER (WHERE status = 'sent'),
    count(*) FILTER (WHERE status = 'failed'),
    round(extract(epoch FROM max(sent_at) - min(sent_at))::numeric, 3),
    round((extract(epoch FROM min(sent_at)) - $mail_t0)::numeric, 3) FROM mail_outbox" | tr '\t' ' ')"
received=$(wc -l <"$MAIL_DIR/received.jsonl" 2>/dev/null || echo 0)
files=$(find "$MAIL_DIR" -name '*.eml' | wc -l)
mail_bytes=$(psql_db "$DB_NAME" "SELECT round(avg(octet_length(message))) FROM mail_outbox")
wait_projections 120 || true
delivered=$(psql_db "$DB_NAME" "SELECT count(*) FROM ticket_deliveries WHERE concert_id = '$concert' AND status = 'sent'")
mail_rate=$(python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / max(0.001, float(sys.argv[2]))))' "$sent" "$first_to_last")
mail_wall=$(python3 -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$mail_t0" "$mail_t1")
mail_wall_rate=$(python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / max(0.001, float(sys.argv[2]))))' "$sent" "$mail_wall")
read -r mail_cpu_ms mail_cpu_detail < <(cpu_line "$work/mail-sampler.json" "$sent")
info "sent $sent (failed $failed) in ${first_to_last}s first to last: $mail_rate mails/s; all sent ${mail_wall}s after the sink's start ($mail_wall_rate/s; the first ${first_after}s after it)"
info "the sink received $received messages ($files files); deliveries recorded sent: $delivered; average message $mail_bytes bytes"
info "CPU per e-mail: $mail_cpu_ms ms ($mail_cpu_detail)"
[[ $sent == "$orders" && $failed == 0 ]] || failures+=("e-mail: $sent sent, $failed failed of $orders")
[[ $received == "$orders" && $files == "$orders" ]] || failures+=("e-mail: the sink received $received ($files files) of $orders")
[[ $delivered == "$orders" ]] || failures+=("e-mail: $delivered deliveries recorded sent of $orders")

# ---------------------------------------------------------------------------- check-ins
bench_pool_start "$shape"
psql_db "$DB_NAME" "SELECT id FROM tickets WHERE concert_id = '$concert' ORDER BY md5(id) LIMIT $count" >"$work/ids"
py tokens --gates "$gates" --out "$work/gates" >/dev/null
wait_projections 120 || true
step "Check-ins: $count codes over $connections connections, pool $shape"
load_before=$(wait_for_quiet "${CHECKINS_QUIET:-2.5}" "${CHECKINS_QUIET_WAIT:-300}")
info "load average before: $load_before"
psql_db "$DB_NAME" "SELECT pg_stat_statements_reset()" >/dev/null
commits0=$(pg_commits)
: >"$NGINX_PREFIX/logs/access.log"; nginx_cmd -s reopen
rm -f "$work/generator.pid"
sampler "$work/sampler.json" --generator-file "$work/generator.pid"
perf_pid=''
if [[ ${CHECKINS_PERF:-0} == 1 ]] && command -v perf >/dev/null; then
    perf record -a -F 499 -g -o "$LOG_DIR/checkins-perf.data" >/dev/null 2>&1 &
    perf_pid=$!
fi
sleep 0.3
py fire --ids "$work/ids" --key-file "$TICKET_KEY_FILE" --tokens "$work/gates" --connections "$connections" \
    --sender "$bench_bin" --answers "$work/answers.txt" --generator-pid-file "$work/generator.pid" >"$work/fire.json" \
    || die "the check-ins' sender failed"
sampler_stop
if [[ -n $perf_pid ]]; then
    kill -INT "$perf_pid"; wait "$perf_pid" || true; perf_pid=''
    # The machine is shared: only this stack's processes (the pool, its PostgreSQL, nginx, the sender).
    mine=$( { pgrep -s "$(read_pid "$SID_FILE")"; pgrep -P "$(head -1 "$PGDATA_DIR/postmaster.pid")";
              pgrep -P "$(read_pid "$NGINX_PID")"; cat "$work/generator.pid"; } 2>/dev/null | paste -sd, )
    perf report -i "$LOG_DIR/checkins-perf.data" --pid "$mine" --no-children --sort comm,dso --stdio -g none 2>/dev/null \
        | grep -v '^#' | grep -v '^$' | head -30 >"$LOG_DIR/checkins-perf-comm-dso.txt" || true
    perf report -i "$LOG_DIR/checkins-perf.data" --pid "$mine" --no-children --sort comm,sym --stdio -g none 2>/dev/null \
        | grep -v '^#' | grep -v '^$' | head -80 >"$LOG_DIR/checkins-perf-symbols.txt" || true
    perf report -i "$LOG_DIR/checkins-perf.data" --pid "$mine" --children --sort sym --stdio -g none 2>/dev/null \
        | grep -v '^#' | grep -v '^$' | head -150 >"$LOG_DIR/checkins-perf-children.txt" || true
    info "perf: ${LOG_DIR#"$ENCORE_ROOT"/}/checkins-perf-comm-dso.txt, checkins-perf-symbols.txt"
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
commits1=$(pg_commits)
read -r stmt_calls stmt_ms < <(pg_statements "$LOG_DIR/checkins-pg_stat_statements.tsv")
f="$work/fire.json"
rate=$(jget "$f" per_s) p50=$(jget "$f" p50_ms) p99=$(jget "$f" p99_ms) elapsed=$(jget "$f" elapsed_s)
statuses=$(jget "$f" statuses) codes=$(jget "$f" codes)
n200=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["statuses"].get("200", 0))' "$f")
read -r cpu_ms cpu_detail < <(cpu_line "$work/sampler.json" "$count")
cpu_bound=$(python3 -c "import os, sys; print('%.0f' % (os.cpu_count() * 1000 / max(0.001, float(sys.argv[1]))))" "$cpu_ms")
per_commits=$(python3 -c 'import sys; print("%.2f" % ((int(sys.argv[2]) - int(sys.argv[1])) / int(sys.argv[3])))' "$commits0" "$commits1" "$count")
per_stmts=$(python3 -c 'import sys; print("%.2f" % (int(sys.argv[1]) / int(sys.argv[2])))' "$stmt_calls" "$count")
per_stmt_ms=$(python3 -c 'import sys; print("%.3f" % (float(sys.argv[1]) / int(sys.argv[2])))' "$stmt_ms" "$count")
upstream=$(python3 - "$NGINX_PREFIX/logs/access.log" <<'PY'
import json, sys
times = []
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("uri") == "/api/check-ins" and e.get("upstream_time"):
        times.append(float(e["upstream_time"].split(",")[0]) * 1000)
times.sort()
print("%.2f/%.2f/%.2f" % (sum(times) / len(times), times[len(times) // 2], times[int(len(times) * 0.99) - 1]) if times else "-")
PY
)
states=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["backend_states"]; print(", ".join("%s %.1f" % kv for kv in s.items()))' "$work/sampler.json")
info "$(jget "$f" requests) check-ins in ${elapsed}s: $rate/s; p50 $p50 ms, p99 $p99 ms; statuses $statuses; errors $codes"
info "CPU per check-in: $cpu_ms ms ($cpu_detail); $(nproc) idle cores would allow about $cpu_bound/s"
info "per check-in: $per_commits commits, $per_stmts top-level statements ($per_stmt_ms ms of execution); pool time (nginx upstream, mean/p50/p99 ms) $upstream"
info "PostgreSQL client backends (average count per state): $states"
info "top statements: ${LOG_DIR#"$ENCORE_ROOT"/}/checkins-pg_stat_statements.tsv"
[[ $n200 == "$count" ]] || failures+=("first pass: $n200 answers 200 of $count ($statuses; $codes)")

# --- exactly one check-in per ticket sent, none for the others, the read model agreeing
wait_projections 120 || true
psql_db "$DB_NAME" "CREATE TABLE IF NOT EXISTS bench_checked (id text PRIMARY KEY); TRUNCATE bench_checked"
as_pg "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U postgres -d "$DB_NAME" \
    -c "COPY bench_checked FROM STDIN" <"$work/ids" || die "could not load the ids sent"
verify() {
    psql_db "$DB_NAME" "WITH ev AS (
            SELECT substr(stream_id, 8) AS id, count(*) AS n FROM es_events
            WHERE event_type = 'TicketCheckedIn' AND stream_type = 'ticket' AND data->>'concertId' = '$concert' GROUP BY 1)
        SELECT (SELECT coalesce(sum(n), 0) FROM ev),
               (SELECT count(*) FROM ev WHERE n > 1),
               (SELECT count(*) FROM ev JOIN bench_checked USING (id)),
               (SELECT count(*) FROM tickets t JOIN bench_checked USING (id) WHERE t.status = 'checkedIn'),
               (SELECT count(*) FROM tickets WHERE concert_id = '$concert' AND status = 'checkedIn'),
               (SELECT count(*) FROM tickets WHERE concert_id = '$concert' AND status = 'valid')" | tr '\t' ' '
}
read -r ev_total ev_twice ev_sent rm_sent rm_checked rm_valid <<<"$(verify)"
info "TicketCheckedIn events $ev_total (tickets with more than one: $ev_twice; of the tickets sent: $ev_sent); read model: checked in $rm_checked (of those sent $rm_sent), valid $rm_valid"
[[ $ev_total == "$count" && $ev_twice == 0 && $ev_sent == "$count" ]] \
    || failures+=("events: $ev_total TicketCheckedIn, $ev_twice tickets twice, $ev_sent of the $count sent")
[[ $rm_sent == "$count" && $rm_checked == "$count" && $rm_valid == $((tickets_total - count)) ]] \
    || failures+=("read model: $rm_checked checked in ($rm_sent of those sent), $rm_valid valid")

# --- a second pass over the same codes: 409 already_checked_in for all, nothing appended
step "Second pass over the same $count codes"
py fire --ids "$work/ids" --key-file "$TICKET_KEY_FILE" --tokens "$work/gates" --connections "$connections" \
    --sender "$bench_bin" --expect-status-before checkedIn >"$work/again.json"
again_rate=$(jget "$work/again.json" per_s) again_p50=$(jget "$work/again.json" p50_ms) again_p99=$(jget "$work/again.json" p99_ms)
again_codes=$(jget "$work/again.json" codes)
again_ok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["codes"].get("409 already_checked_in", 0))' "$work/again.json")
info "second pass: $again_rate/s, p50 $again_p50 ms, p99 $again_p99 ms; $again_codes"
[[ $again_ok == "$count" ]] || failures+=("second pass: $again_ok of $count answered 409 already_checked_in ($again_codes)")
read -r ev_total2 ev_twice2 _ _ rm_checked2 _ <<<"$(verify)"
[[ $ev_total2 == "$count" && $ev_twice2 == 0 && $rm_checked2 == "$count" ]] \
    || failures+=("after the second pass: $ev_total2 TicketCheckedIn, $ev_twice2 twice, $rm_checked2 checked in")
psql_db "$DB_NAME" "DROP TABLE bench_checked"

# ---------------------------------------------------------------------------- report
goal_met=0
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 2000 else 1)" "$rate" && goal_met=1
verdict=$([[ $goal_met == 1 ]] && echo met || echo missed)
checks_verdict=$([[ ${#failures[@]} == 0 ]] && echo "all passed" || echo "FAILED: ${failures[*]}")
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
when=$(date -u '+%Y-%m-%d %H:%M UTC')
section=$(cat <<EOF
## Gate rush (check-ins)
Measured by \`bench/checkins.sh\` on $when (commit $commit).
Machine: $(nproc) cores, $cpu_model. Load average before the check-ins: $load_before; after: $load_after
(other work on the machine included). Own stack (bench/stack.sh): PostgreSQL 15 (fsync and synchronous_commit on),
nginx 1 worker, pool $shape (workers x threads), localstripe, the mail sink; load generator \`encore-bench http-fire\`
on the same cores.

Set-up (not measured, $setup_s s): $customers customers bought $orders orders of $per_mail tickets through the API
(cart, online delivery, confirm, a 4242 card at localstripe: $buy_s s), and the process managers issued
$tickets_total tickets (TicketIssued in \`ticket-<id>\` streams, rows in \`tickets\`) and queued $orders e-mails.

| figure | value |
|---|---:|
| check-ins (distinct tickets, POST /api/check-ins, $connections connections, $gates organiser sessions) | $count in ${elapsed} s |
| check-ins per second | **$rate** |
| latency p50 / p99 | $p50 ms / $p99 ms |
| answers | $statuses |
| TicketCheckedIn events (tickets with two) / read model checked in / still valid | $ev_total ($ev_twice) / $rm_checked / $rm_valid |
| second pass, same codes: 409 \`already_checked_in\` | $again_ok of $count, $again_rate/s, p50 $again_p50 ms, p99 $again_p99 ms |
| CPU per check-in (all processes; by group, ms) | $cpu_ms ms ($cpu_detail) |
| per check-in: commits / top-level statements / their execution | $per_commits / $per_stmts / $per_stmt_ms ms |
| pool time per check-in as nginx saw it (mean/p50/p99 ms) | $upstream |
| e-mails: $orders ticket e-mails (each $per_mail QR codes, $mail_bytes bytes) queued while the sink was down | sent $sent, failed $failed, received by the sink $received |
| e-mails per second, first to last sent | **$mail_rate** ($first_to_last s) |
| e-mails per second from the sink's start until none pending | $mail_wall_rate (${mail_wall} s; the first sent ${first_after} s after the start) |
| CPU per e-mail (all processes; by group, ms) | $mail_cpu_ms ms ($mail_cpu_detail) |

Goal (issue 22): at least 2,000 check-ins per second: **$verdict**. Checks: $checks_verdict.
Load average before the e-mails: $mail_load. $(nproc) otherwise idle cores would allow about $cpu_bound check-ins/s at
the CPU each took. PostgreSQL client backends during the check-ins, average number per state: $states.
Files of the run: \`.data/bench/log/checkins-*\` (pg_stat_statements, perf with CHECKINS_PERF=1).
EOF
)
echo
printf '%s\n' "$section"
if [[ ${CHECKINS_NO_WRITE:-0} != 1 ]]; then
    SECTION=$section python3 "$ENCORE_ROOT/bench/write_section.py" "$results_md" "Gate rush (check-ins)"
    ok "wrote the Gate rush (check-ins) section of ${results_md#"$ENCORE_ROOT"/}"
fi
((${#failures[@]} == 0)) || exit 1
[[ $goal_met == 1 ]] || exit 3
exit 0
}
