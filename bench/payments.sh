#!/usr/bin/env bash
# bench/payments.sh: orders and payments under load (issue 21), in one run: a webhook storm,
# and the flash sale carried through payment.
#
#   1. Starts the bench stack (bench/stack.sh: .data/bench, PostgreSQL 5436 with
#      pg_stat_statements, nginx 8180, localstripe 8451, the mail sink 2561, a ticket-signing
#      key of its own), from an empty database; stopped again at the end.
#   2. Webhook storm. Set-up (not measured): PAYMENTS_STORM_CUSTOMERS customers make
#      PAYMENTS_STORM_PAYMENTS held checkouts through the API (1-2 tickets each, online delivery,
#      confirm: each a payment with its intent at localstripe). Measured: for each payment one
#      `payment_intent.succeeded` event (its intent as localstripe has it, status succeeded),
#      delivered PAYMENTS_STORM_COPIES times (the same event id), signed with the stack's webhook
#      secret as Stripe signs, all in random order over PAYMENTS_STORM_CONNECTIONS keep-alive
#      connections to POST /webhooks/stripe through nginx (encore-bench http-fire). Checks:
#      every delivery 200, each event applied once (`applied` once, `replay` after), exactly one
#      PaymentConfirmed per payment; then the PaymentSettlement process manager completes the
#      orders: how long after PaymentConfirmed each OrderCompleted was recorded.
#   3. The flash sale through payment. Set-up: PAYMENTS_SALE_CUSTOMERS customers registered and
#      signed in, a stadium concert (golden circle PAYMENTS_SALE_GOLDEN, regular
#      PAYMENTS_SALE_REGULAR) and a cart of 1-4 tickets each (flash.py). Measured: every
#      customer's POST /api/cart/confirm once over 64 connections (each confirm makes its
#      intent at localstripe), then every confirmed checkout paid (POST /api/checkouts/{id}/pay
#      with a 4242 card's PaymentMethod made at localstripe beforehand, as Stripe.js makes it)
#      over 64 connections: pays/s, and from each pay request's start to its OrderCompleted
#      (p50/p99). Checks: sold tickets (shards' `sold`) equal the completed orders' tickets and
#      the tickets issued, exactly; the checkouts not paid still hold theirs (sold + held = what
#      the 201s reserved); every pay answered 200 completed its order. Answers other than 200
#      are reported (a pay waits for localstripe in its worker thread, so the gateway's speed
#      decides them), not failed.
#   A sampler records CPU per process group (PostgreSQL, the pool, nginx, the generator,
#   localstripe, the mail sink) during each measured step.
#   4. Prints the figures and writes them into the "## Payments" section of bench/RESULTS.md
#      (a hand-written "### Notes" part of the old section is kept).
#
# Settings (environment):
#   PAYMENTS_STORM_PAYMENTS=1000  PAYMENTS_STORM_COPIES=5  PAYMENTS_STORM_CONNECTIONS=64
#   PAYMENTS_STORM_CUSTOMERS=50   PAYMENTS_STORM_SHAPE=2x4
#   PAYMENTS_SALE_CUSTOMERS=2000  PAYMENTS_SALE_GOLDEN=1000  PAYMENTS_SALE_REGULAR=3000
#   PAYMENTS_SALE_CONNECTIONS=64  PAYMENTS_PAY_CONNECTIONS (default: the same)
#   PAYMENTS_SALE_SHAPE=1x32 (the flash sale's headline shape)
#   PAYMENTS_PARTS="storm sale"   which parts to run
#   PAYMENTS_QUIET=2.5  PAYMENTS_QUIET_WAIT=300   wait for a 1-minute load average below 2.5 before
#                         each measured step, at most this long (the load is recorded either way)
#   PAYMENTS_NO_WRITE=1   print only, leave bench/RESULTS.md alone
#   BENCH_KEEP=1          leave the stack running (stop it with: bench/payments.sh --stop)
#   bench/stack.sh's BENCH_* ports; ENCORE_BIN, ENCORE_SKIP_BUILD=1 as bin/up
# Exit status: 0 when every check passes and the goal (1,000 deliveries/s) is met, 3 when it is
# missed, 1 when a check fails or on errors.
set -euo pipefail
{ # One block: bash reads it all before running it, so an edit during a run cannot change the run.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=bin/lib.sh
source "$HERE/../bin/lib.sh"
# shellcheck source=bench/stack.sh
source "$HERE/stack.sh"

storm_payments=${PAYMENTS_STORM_PAYMENTS:-1000}
storm_copies=${PAYMENTS_STORM_COPIES:-5}
storm_connections=${PAYMENTS_STORM_CONNECTIONS:-64}
storm_customers=${PAYMENTS_STORM_CUSTOMERS:-50}
storm_shape=${PAYMENTS_STORM_SHAPE:-2x4}
sale_customers=${PAYMENTS_SALE_CUSTOMERS:-2000}
sale_golden=${PAYMENTS_SALE_GOLDEN:-1000}
sale_regular=${PAYMENTS_SALE_REGULAR:-3000}
sale_connections=${PAYMENTS_SALE_CONNECTIONS:-64}
pay_connections=${PAYMENTS_PAY_CONNECTIONS:-$sale_connections}
sale_shape=${PAYMENTS_SALE_SHAPE:-1x32}
read -ra parts <<<"${PAYMENTS_PARTS:-storm sale}"
results_md="$ENCORE_ROOT/bench/RESULTS.md"
has_part() { [[ " ${parts[*]} " == *" $1 "* ]]; }

bench_stack_init encore_payments
if [[ ${1:-} == --stop ]]; then pg_prepare_dir; bench_stack_stop; exit 0; fi
bench_stack_lock
work="$RUN_DIR/payments"
rm -rf "$work"; mkdir -p "$work"

cleanup() {
    local rc=$?
    [[ -n ${sampler_pid:-} ]] && kill "$sampler_pid" 2>/dev/null || true
    bench_finish "$rc"
}

step "Payments: ${parts[*]}"
bench_build
trap cleanup EXIT

BENCH_POOL_SHAPE=$storm_shape bench_stack_start ENCORE_HOLD_SECONDS=3600
py() { python3 "$HERE/payments.py" --base "$BASE_URL" --stripe "$STRIPE_API_BASE" "$@"; }
tag="$(date -u +%Y%m%d%H%M%S)-$$"
failures=()

sampler() { # out
    python3 "$HERE/flash-sale/sampler.py" --postmaster "$(head -1 "$PGDATA_DIR/postmaster.pid")" \
        --pool-sid "$(read_pid "$SID_FILE" || echo 0)" --status-url "$BASE_URL/status" --nginx "$(read_pid "$NGINX_PID" || echo 0)" \
        --generator-file "$work/generator.pid" --group "localstripe=$RUN_DIR/localstripe.pid" \
        --group "mailsink=$RUN_DIR/mail-sink.pid" \
        --psql "$(pg_bindir)/psql -h $PG_RUN -p $PG_PORT -U postgres -d $DB_NAME" --database "$DB_NAME" \
        --out "$1" &
    sampler_pid=$!
}
sampler_stop() { kill "$sampler_pid"; wait "$sampler_pid" || true; sampler_pid=''; }
measured() { # out-json sampler-json command... : runs it, sampled (http-fire is the generator)
    local out=$1 sampled=$2; shift 2
    rm -f "$work/generator.pid"
    sampler "$sampled"
    sleep 0.3
    "$@" --generator-pid-file "$work/generator.pid" >"$out" || die "the sender failed: $*"
    sampler_stop
}
cpu_line() { # sampler.json count -> "total_ms detail"
    python3 - "$1" "$2" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
c = s["cpu_s"]
groups = [g for g in ("postgres", "pool", "jobs", "nginx", "generator", "localstripe", "mailsink") if g in c]
total = sum(c.values()) * 1000 / n
parts = ", ".join("%s %.3f" % (g, c[g] * 1000 / n) for g in groups)
idle = 100 * max(0, s["machine_capacity_s"] - s["machine_busy_s"]) / s["elapsed_s"]
other = 100 * s["other_s"] / s["elapsed_s"]
print("%.3f %s; other processes %.0f%% of a core, idle %.0f%%" % (total, parts, other, idle))
PY
}
pyval() { python3 -c "import json,sys; v=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# ---------------------------------------------------------------------------- webhook storm
storm_section=""
if has_part storm; then
    step "Webhook storm, set-up (not measured): $storm_customers customers, $storm_payments held checkouts"
    python3 "$HERE/flash-sale/flash.py" --base "$BASE_URL" customers --count "$storm_customers" --tag "$tag-s" \
        --concurrency 8 --out "$work/storm-customers.jsonl" >/dev/null
    py concert --tag "$tag" --capacity $((storm_payments * 2 + 100)) >"$work/storm-concert.json"
    storm_concert=$(jget "$work/storm-concert.json" concert)
    py checkouts --customers "$work/storm-customers.jsonl" --concert "$storm_concert" --level storm \
        --count "$storm_payments" --out "$work/storm-checkouts.jsonl" >"$work/storm-setup.json"
    wait_projections 600 || die "the projections did not catch up"
    step "Webhook storm: $storm_payments events x $storm_copies deliveries over $storm_connections connections, pool $storm_shape"
    storm_load=$(wait_for_quiet "${PAYMENTS_QUIET:-2.5}" "${PAYMENTS_QUIET_WAIT:-300}")
    info "load average before: $storm_load"
    psql_db "$DB_NAME" "SELECT pg_stat_statements_reset()" >/dev/null
    commits0=$(pg_commits)
    measured "$work/storm.json" "$work/storm-sampler.json" py storm --checkouts "$work/storm-checkouts.jsonl" \
        --copies "$storm_copies" --connections "$storm_connections" --secret "$STRIPE_WEBHOOK_SECRET" --sender "$bench_bin"
    storm_load_after=$(cut -d' ' -f1-3 /proc/loadavg)
    commits1=$(pg_commits)
    read -r storm_stmts _ < <(pg_statements "$LOG_DIR/payments-storm-pg_stat_statements.tsv")
    s="$work/storm.json"
    deliveries=$((storm_payments * storm_copies))
    storm_rate=$(jget "$s" per_s) storm_p50=$(jget "$s" p50_ms) storm_p99=$(jget "$s" p99_ms)
    storm_elapsed=$(jget "$s" elapsed_s) storm_statuses=$(jget "$s" statuses) storm_outcomes=$(jget "$s" outcomes)
    storm_once=$(jget "$s" events_applied_once) storm_more=$(jget "$s" events_applied_more)
    read -r storm_cpu_ms storm_cpu_detail < <(cpu_line "$work/storm-sampler.json" "$deliveries")
    storm_per_commits=$(python3 -c 'import sys; print("%.2f" % ((int(sys.argv[2]) - int(sys.argv[1])) / int(sys.argv[3])))' "$commits0" "$commits1" "$deliveries")
    storm_per_stmts=$(python3 -c 'import sys; print("%.2f" % (int(sys.argv[1]) / int(sys.argv[2])))' "$storm_stmts" "$deliveries")
    info "$deliveries deliveries in ${storm_elapsed}s: $storm_rate/s; p50 $storm_p50 ms, p99 $storm_p99 ms; $storm_statuses; outcomes $storm_outcomes"
    info "events applied once: $storm_once, more than once: $storm_more; CPU per delivery $storm_cpu_ms ms ($storm_cpu_detail)"
    info "per delivery: $storm_per_commits commits, $storm_per_stmts top-level statements"
    n200=$(pyval "$s" 'v["statuses"].get("200", 0)')
    [[ $n200 == "$deliveries" ]] || failures+=("storm: $n200 of $deliveries answered 200 ($storm_statuses, $(jget "$s" codes))")
    [[ $storm_once == "$storm_payments" && $storm_more == 0 ]] \
        || failures+=("storm: $storm_once events applied once, $storm_more more than once, of $storm_payments")
    # Exactly one PaymentConfirmed per payment, and the orders completed by the process manager.
    storm_wait_started=$SECONDS
    wait_projections 900 || failures+=("storm: the process managers did not catch up in 900 s")
    psql_db "$DB_NAME" "CREATE TABLE IF NOT EXISTS bench_storm (id text PRIMARY KEY); TRUNCATE bench_storm"
    python3 -c 'import json,sys
for line in open(sys.argv[1]): print(json.loads(line)["checkout"])' "$work/storm-checkouts.jsonl" \
        | as_pg "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U postgres -d "$DB_NAME" \
            -c "COPY bench_storm FROM STDIN" || die "could not load the storm's checkouts"
    # recorded_at is the time its transaction began: a process manager's batch of events shares one.
    read -r confirmed confirmed_payments webhook_rows completed settle_p50 settle_p99 settle_max drained fulfil_p50 fulfil_p99 <<<"$(psql_db "$DB_NAME" "
        WITH pc AS (SELECT data->>'paymentId' AS payment, recorded_at FROM es_events
                    WHERE event_type = 'PaymentConfirmed' AND data->>'paymentId' IN (SELECT id FROM bench_storm)),
             oc AS (SELECT data->>'paymentId' AS payment, data->>'orderId' AS order_id, recorded_at FROM es_events
                    WHERE event_type = 'OrderCompleted' AND data->>'paymentId' IN (SELECT id FROM bench_storm)),
             dp AS (SELECT data->>'orderId' AS order_id, recorded_at FROM es_events
                    WHERE event_type = 'TicketDeliveryPrepared' AND data->>'orderId' IN (SELECT order_id FROM oc)),
             lag AS (SELECT extract(epoch FROM oc.recorded_at - pc.recorded_at) * 1000 AS ms FROM oc JOIN pc USING (payment)),
             ful AS (SELECT extract(epoch FROM dp.recorded_at - oc.recorded_at) * 1000 AS ms FROM dp JOIN oc USING (order_id))
        SELECT (SELECT count(*) FROM pc), (SELECT count(DISTINCT payment) FROM pc),
               (SELECT count(*) FROM stripe_webhook_events WHERE payment_id IN (SELECT id FROM bench_storm)),
               (SELECT count(*) FROM oc),
               (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1) FROM lag),
               (SELECT round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1) FROM lag),
               (SELECT round(max(ms)::numeric, 1) FROM lag),
               (SELECT round(extract(epoch FROM max(oc.recorded_at) - min(pc.recorded_at))::numeric, 2) FROM oc, pc),
               (SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1) FROM ful),
               (SELECT round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1) FROM ful)" | tr '\t' ' ')"
    info "PaymentConfirmed: $confirmed ($confirmed_payments payments); webhook events taken in: $webhook_rows; OrderCompleted: $completed"
    info "PaymentConfirmed -> OrderCompleted (the PaymentSettlement process manager): p50 $settle_p50 ms, p99 $settle_p99 ms, max $settle_max ms; first confirmation to last completion ${drained}s"
    info "OrderCompleted -> TicketDeliveryPrepared (TicketFulfilment: tickets issued, e-mail queued): p50 $fulfil_p50 ms, p99 $fulfil_p99 ms"
    [[ $confirmed == "$storm_payments" && $confirmed_payments == "$storm_payments" ]] \
        || failures+=("storm: $confirmed PaymentConfirmed for $confirmed_payments payments, not $storm_payments")
    [[ $webhook_rows == "$storm_payments" ]] || failures+=("storm: $webhook_rows webhook events recorded, not $storm_payments")
    [[ $completed == "$storm_payments" ]] || failures+=("storm: $completed orders completed, not $storm_payments")
    psql_db "$DB_NAME" "DROP TABLE bench_storm"
    storm_goal=$(python3 -c "import sys; print('met' if float(sys.argv[1]) >= 1000 else 'missed')" "$storm_rate")
    storm_section=$(cat <<EOF
### Webhook storm
$storm_payments payments held (set-up through the API: $storm_customers customers, 1-2 tickets each, intents at
localstripe); one \`payment_intent.succeeded\` per payment delivered $storm_copies times (same event id, signed with the
stack's secret), $deliveries deliveries in random order over $storm_connections connections to \`POST /webhooks/stripe\`
through nginx, pool $storm_shape. Load average before: $storm_load; after: $storm_load_after.

| figure | value |
|---|---:|
| deliveries per second | **$storm_rate** ($deliveries in $storm_elapsed s) |
| latency p50 / p99 | $storm_p50 ms / $storm_p99 ms |
| answers / outcomes | $storm_statuses / $storm_outcomes |
| events applied exactly once / more than once | $storm_once / $storm_more |
| PaymentConfirmed (payments) / webhook events recorded | $confirmed ($confirmed_payments) / $webhook_rows |
| orders completed by PaymentSettlement; PaymentConfirmed -> OrderCompleted p50 / p99 / max | $completed; $settle_p50 / $settle_p99 / $settle_max ms |
| first confirmation to last completion | $drained s |
| OrderCompleted -> TicketDeliveryPrepared (TicketFulfilment) p50 / p99 | $fulfil_p50 / $fulfil_p99 ms |
| CPU per delivery (all processes; by group, ms) | $storm_cpu_ms ms ($storm_cpu_detail) |
| per delivery: commits / top-level statements | $storm_per_commits / $storm_per_stmts |

Goal (issue 21): at least 1,000 deliveries per second and exactly one PaymentConfirmed per payment: **$storm_goal**.
EOF
)
fi

# ---------------------------------------------------------------------------- flash sale through payment
sale_section=""
if has_part sale; then
    step "Flash sale through payment, set-up (not measured): $sale_customers customers, carts"
    bench_pool_start 2x8
    flash() { python3 "$HERE/flash-sale/flash.py" --base "$BASE_URL" "$@"; }
    flash customers --count "$sale_customers" --tag "$tag" --concurrency 8 --out "$work/sale-customers.jsonl" >"$work/sale-customers.json"
    flash concert --tag "$tag" --golden "$sale_golden" --regular "$sale_regular" >"$work/sale-concert.json"
    sale_concert=$(jget "$work/sale-concert.json" concert)
    flash carts --customers "$work/sale-customers.jsonl" --concert "$sale_concert" --out "$work/sale-carts.jsonl" >"$work/sale-carts.json"
    info "carts: $(jget "$work/sale-carts.json" carts), demand $(jget "$work/sale-carts.json" demand)"
    bench_pool_start "$sale_shape"
    wait_projections 900 || die "the projections did not catch up"
    step "Confirms: $sale_customers customers over $sale_connections connections, pool $sale_shape"
    confirm_load=$(wait_for_quiet "${PAYMENTS_QUIET:-2.5}" "${PAYMENTS_QUIET_WAIT:-300}")
    info "load average before: $confirm_load"
    psql_db "$DB_NAME" "SELECT pg_stat_statements_reset()" >/dev/null
    measured "$work/confirm.json" "$work/confirm-sampler.json" py confirm --carts "$work/sale-carts.jsonl" \
        --connections "$sale_connections" --sender "$bench_bin" --out "$work/sale-checkouts.jsonl"
    read -r confirm_stmts _ < <(pg_statements "$LOG_DIR/payments-confirm-pg_stat_statements.tsv")
    c="$work/confirm.json"
    confirmed_n=$(jget "$c" confirmed) confirm_rate=$(jget "$c" confirmed_per_s) sold_out=$(jget "$c" sold_out_s)
    confirm_p50=$(jget "$c" p50_ms) confirm_p99=$(jget "$c" p99_ms) confirm_codes=$(jget "$c" codes)
    read -r confirm_cpu_ms confirm_cpu_detail < <(cpu_line "$work/confirm-sampler.json" "$sale_customers")
    info "confirmed $confirmed_n in ${sold_out}s: $confirm_rate/s; p50 $confirm_p50 ms, p99 $confirm_p99 ms; $(jget "$c" statuses); $confirm_codes"
    info "CPU per confirm: $confirm_cpu_ms ms ($confirm_cpu_detail); $(python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / int(sys.argv[2])))' "$confirm_stmts" "$sale_customers") top-level statements per confirm"
    bad=$(pyval "$c" 'sum(n for k, n in v["codes"].items() if k != "409 not_enough_tickets")')
    [[ $bad == 0 ]] || failures+=("sale: confirms answered other than 201 or 409 not_enough_tickets: $confirm_codes")
    wait_projections 900 || true

    step "Paying the $confirmed_n confirmed checkouts over $pay_connections connections"
    pay_load=$(wait_for_quiet "${PAYMENTS_QUIET:-2.5}" "${PAYMENTS_QUIET_WAIT:-300}")
    info "load average before: $pay_load"
    psql_db "$DB_NAME" "SELECT pg_stat_statements_reset()" >/dev/null
    measured "$work/pay.json" "$work/pay-sampler.json" py pay --checkouts "$work/sale-checkouts.jsonl" \
        --connections "$pay_connections" --sender "$bench_bin" --answers "$work/pay-answers.txt"
    pay_load_after=$(cut -d' ' -f1-3 /proc/loadavg)
    read -r pay_stmts _ < <(pg_statements "$LOG_DIR/payments-pay-pg_stat_statements.tsv")
    p="$work/pay.json"
    pay_rate=$(jget "$p" per_s) pay_p50=$(jget "$p" p50_ms) pay_p99=$(jget "$p" p99_ms) pay_statuses=$(jget "$p" statuses)
    pay_elapsed=$(jget "$p" elapsed_s)
    read -r pay_cpu_ms pay_cpu_detail < <(cpu_line "$work/pay-sampler.json" "$confirmed_n")
    localstripe_calls=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("%.0f%%" % (100 * s["cpu_s"].get("localstripe", 0) / s["elapsed_s"]))' "$work/pay-sampler.json")
    info "$confirmed_n pays in ${pay_elapsed}s: $pay_rate/s; p50 $pay_p50 ms, p99 $pay_p99 ms; $pay_statuses $(jget "$p" codes)"
    info "CPU per pay: $pay_cpu_ms ms ($pay_cpu_detail); localstripe used $localstripe_calls of a core"
    n200=$(pyval "$p" 'v["statuses"].get("200", 0)')
    # Answers other than 200 are reported, not failed: the gateway's speed decides them (a pay
    # waits for localstripe in its worker thread). What must hold whatever they were is below.
    pay_errors=$(pyval "$p" '", ".join("%s %s" % kv for kv in v["codes"].items()) or "none"')
    wait_projections 900 || failures+=("sale: the process managers did not catch up in 900 s")
    psql_db "$DB_NAME" "SELECT data->>'paymentId', extract(epoch FROM recorded_at) FROM es_events WHERE event_type = 'OrderCompleted'
        AND data->>'concertId' = '$sale_concert'" | tr '\t' ' ' >"$work/completed.txt"
    py latency --answers "$work/pay-answers.txt" --completed "$work/completed.txt" >"$work/latency.json"
    l="$work/latency.json"
    info "pay request -> OrderCompleted recorded: p50 $(jget "$l" p50_ms) ms, p99 $(jget "$l" p99_ms) ms, max $(jget "$l" max_ms) ms; completed within the pay request: $(jget "$l" completed_before_answer) of $(jget "$l" paid); missing $(jget "$l" missing)"
    read -r sold held orders_tickets issued rows sources <<<"$(psql_db "$DB_NAME" "SELECT
        (SELECT sum(sold) FROM availability_shards WHERE concert_id = '$sale_concert'),
        (SELECT sum(held) FROM availability_shards WHERE concert_id = '$sale_concert'),
        (SELECT coalesce(sum((i->>'quantity')::int), 0) FROM es_events e, jsonb_array_elements(e.data->'items') i
            WHERE e.event_type = 'OrderCompleted' AND e.data->>'concertId' = '$sale_concert'),
        (SELECT count(*) FROM es_events WHERE event_type = 'TicketIssued' AND data->'concert'->>'id' = '$sale_concert'),
        (SELECT count(*) FROM tickets WHERE concert_id = '$sale_concert'),
        (SELECT string_agg(s || ':' || n, ',') FROM (SELECT data->>'source' AS s, count(*) AS n FROM es_events
            WHERE event_type = 'PaymentConfirmed' AND data->>'paymentId' IN (SELECT data->>'paymentId' FROM es_events
            WHERE event_type = 'OrderCompleted' AND data->>'concertId' = '$sale_concert') GROUP BY 1) x)" | tr '\t' ' ')"
    demand_201=$(pyval "$c" 'sum(v["reserved_by_201"].values())')
    paid_orders=$(psql_db "$DB_NAME" "SELECT count(*) FROM es_events WHERE event_type = 'OrderCompleted' AND data->>'concertId' = '$sale_concert'")
    info "tickets: sold by the shards $sold (still held $held), in completed orders $orders_tickets, reserved by the 201s $demand_201, TicketIssued $issued, rows in tickets $rows; PaymentConfirmed by source: $sources"
    # Sold tickets are the paid orders' tickets exactly, each issued once; the unpaid checkouts'
    # are still held (nothing lost); every pay answered 200 completed its order.
    [[ $sold == "$orders_tickets" && $issued == "$sold" && $rows == "$sold" && $((sold + held)) == "$demand_201" ]] \
        || failures+=("sale: sold $sold, held $held, completed orders' $orders_tickets, 201s' $demand_201, issued $issued, rows $rows")
    [[ $(jget "$l" missing) == 0 && $(jget "$l" completed) == "$n200" ]] \
        || failures+=("sale: $(jget "$l" completed) of the $n200 checkouts paid with a 200 completed")
    sale_section=$(cat <<EOF
### Flash sale through payment
$sale_customers customers signed in beforehand, carts of 1-4 tickets (flash.py), a stadium concert with golden circle
$sale_golden and regular $sale_regular; pool $sale_shape. Each confirm makes its payment's intent at localstripe; each
pay sets a card (a PaymentMethod made at localstripe beforehand, as Stripe.js makes it) on the intent and confirms it
there, and settles the orders in the request (the PaymentSettlement process manager behind it finds them completed).
Load average before the confirms: $confirm_load; before the pays: $pay_load; after: $pay_load_after.

| figure | value |
|---|---:|
| confirms: successful per second (first confirm to last 201) | **$confirm_rate** ($confirmed_n in $sold_out s) |
| confirm latency p50 / p99 | $confirm_p50 ms / $confirm_p99 ms |
| confirms refused / other errors | $confirm_codes |
| CPU per confirm (all processes; by group, ms) | $confirm_cpu_ms ms ($confirm_cpu_detail) |
| pays per second | **$pay_rate** ($confirmed_n in $pay_elapsed s, $pay_connections connections) |
| pay latency p50 / p99 | $pay_p50 ms / $pay_p99 ms |
| pays answered 200 / otherwise | $n200 / $pay_errors |
| pay request's start -> OrderCompleted recorded, p50 / p99 / max | $(jget "$l" p50_ms) / $(jget "$l" p99_ms) / $(jget "$l" max_ms) ms |
| orders completed within their pay request | $(jget "$l" completed_before_answer) of $(jget "$l" paid) |
| CPU per pay (all processes; by group, ms) | $pay_cpu_ms ms ($pay_cpu_detail) |
| localstripe's share of a core during the pays | $localstripe_calls |
| tickets sold (shards) = in completed orders ($paid_orders) = issued; still held (unpaid checkouts) | $sold = $orders_tickets = $issued; $held (sold + held = $demand_201 reserved by the 201s) |
| PaymentConfirmed by source | $sources |
EOF
)
fi

# ---------------------------------------------------------------------------- report
checks_verdict=$([[ ${#failures[@]} == 0 ]] && echo "all passed" || echo "FAILED: ${failures[*]}")
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
when=$(date -u '+%Y-%m-%d %H:%M UTC')
section=$(cat <<EOF
## Payments
Measured by \`bench/payments.sh\` on $when (commit $commit).
Machine: $(nproc) cores, $cpu_model; other work on the machine included (load averages below).
Own stack (bench/stack.sh): PostgreSQL 15 (fsync and synchronous_commit on), nginx 1 worker, localstripe, the mail
sink; load generator \`encore-bench http-fire\` on the same cores. Checks: $checks_verdict.

$storm_section

$sale_section
EOF
)
echo
printf '%s\n' "$section"
if [[ ${PAYMENTS_NO_WRITE:-0} != 1 ]]; then
    SECTION=$section python3 "$ENCORE_ROOT/bench/write_section.py" "$results_md" "Payments"
    ok "wrote the Payments section of ${results_md#"$ENCORE_ROOT"/}"
fi
((${#failures[@]} == 0)) || exit 1
if has_part storm && [[ $storm_goal != met ]]; then exit 3; fi
exit 0
}
