#!/usr/bin/env bash
# bench/hostile.sh: the hostile-input and fault suite's figures, into the "Hostile input and
# faults" section of bench/RESULTS.md (its hand-written "### Notes" are kept).
#
# Runs bin/test's end-to-end stage for that suite (bin/test --no-swift -- -k ...: the
# hostile-input tests, the faults under load, /metrics and the fuzz stage), which writes its
# figures to .data/test/e2e-figures.json, then renders them. Like bin/test, it starts a test stack
# of its own (ENCORE_TEST_PG_PORT, ENCORE_TEST_HTTP_PORT, ENCORE_TEST_STRIPE_PORT move it).
#
#   BENCH_FROM_LAST_RUN=1   render the figures of the last bin/test run instead of running it
#   BENCH_NO_WRITE=1        print the section only
#   ENCORE_FUZZ_EXAMPLES, ENCORE_FUZZ_SEED   as for bin/test (Tests/e2e/test_fuzz.py)
set -euo pipefail
# shellcheck source=bin/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../bin/lib.sh"
stack_init test
figures="$STACK_DIR/e2e-figures.json"
results="$ENCORE_ROOT/bench/RESULTS.md"

if [[ ${BENCH_FROM_LAST_RUN:-0} != 1 ]]; then
    "$ENCORE_ROOT/bin/test" --no-swift -- -k "hostile or faults or metrics or fuzz"
fi
[[ -s $figures ]] || die "no figures at $figures (run bin/test first, or without BENCH_FROM_LAST_RUN)"

commit=$(git -C "$ENCORE_ROOT" rev-parse --short HEAD)
when=$(date -u -r "$figures" '+%Y-%m-%d %H:%M UTC')
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo | awk '{ print $1, $2 }')
load=$(cut -d' ' -f1-3 /proc/loadavg)
section=$(python3 - "$figures" "$when" "$commit" "$(nproc)" "$cpu" "$load" <<'PY'
import json, sys
figures, when, commit, cores, cpu, load = sys.argv[1:]
f = json.load(open(figures))
def get(group, key, default="not run"):
    return f.get(group, {}).get(key, default)
fuzz = "fuzz stage (schemathesis)"
kill, hup, pg = ("kill -9 under load (main stack)", "SIGHUP under load (main stack)",
                 "PostgreSQL restarted under load (main stack)")
restarts = "worker restarts (main stack, whole e2e run)"
runs = [(g[len("fuzz run: "):], v) for g, v in f.items() if g.startswith("fuzz run: ")]
lines = [
    "## Hostile input and faults",
    f"Written by `bench/hostile.sh` on {when} (commit {commit}) from the figures of the end-to-end",
    "suite's hostile-input, fault, /metrics and fuzz tests (bin/test's run, or the script's own",
    "`bin/test --no-swift -- -k ...`), against bin/test's stack: nginx, a pool of 2 workers x 4 threads,",
    f"PostgreSQL. Machine: {cores} cores, {cpu}; load average when written: {load}.",
    "The tests assert outcomes (no 5xx, no schema violation, no undeclared restart, 0 failed GETs or",
    "requests, Retry-After on every 503); the figures below are printed by them, not asserted.",
    "",
    "### Fuzz stage (schemathesis, `Tests/e2e/test_fuzz.py`)",
    "",
    f"Seed {get(fuzz, 'seed')}, at most {get(fuzz, 'examples_per_operation')} examples per operation and run,",
    "phases examples, coverage and fuzzing, checks `not_a_server_error` and `response_schema_conformance`.",
    "",
    "| run | operations | cases | failures |",
    "|---|---:|---:|---:|",
    *[f"| {name} | {v.get('operations')} | {v.get('cases')} | {v.get('failures')} |" for name, v in runs],
    f"| **all** | {get(fuzz, 'operations_tested')} | {get(fuzz, 'cases')} | |",
    "",
    "| figure | value |",
    "|---|---:|",
    f"| cases run | {get(fuzz, 'cases')} |",
    f"| 5xx found by schemathesis | {get(fuzz, 'server_errors_5xx')} |",
    f"| 5xx the pool answered during the stage (its own histogram) | {get(fuzz, 'pool_5xx')} |",
    f"| response schema violations | {get(fuzz, 'schema_violations')} |",
    f"| worker restarts during the stage | {get(fuzz, 'worker_restarts')} |",
    f"| time (s) | {get(fuzz, 'seconds')} |",
    "",
    "### Faults under load on the main stack (`Tests/e2e/test_faults.py`)",
    "",
    "| fault | figures |",
    "|---|---|",
    f"| kill -9 of a worker under GET load | {get(kill, 'failed_gets')} failed GETs of {get(kill, 'gets')} "
    f"({get(kill, 'in_flight_at_the_kill')} in flight at the kill, {get(kill, 'gets_in_the_next_second')} in the "
    f"second after it); replacement running after "
    f"{get(kill, 'replacement_running_ms')} ms; the unanswered POST, retried with its Idempotency-Key, took effect once |",
    f"| SIGHUP under load | {get(hup, 'failed')} failed requests of {get(hup, 'requests')} |",
    f"| PostgreSQL stopped (fast) and started under load | 503s (each with Retry-After) for "
    f"{get(pg, 'window_503_ms')} ms ({get(pg, 'answered_503')} answers; the server was down "
    f"{get(pg, 'down_ms')} ms); service {get(pg, 'service_after_start_ms')} ms after it was back; "
    f"{get(pg, 'other_failures')} other failures of {get(pg, 'requests')} requests |",
    f"| worker restarts in the whole run | {get(restarts, 'restarts')} (declared by the tests that kill: "
    f"{get(restarts, 'declared')}) |",
]
print("\n".join(lines))
PY
)
echo
printf '%s\n' "$section"
if [[ ${BENCH_NO_WRITE:-0} != 1 ]]; then
    SECTION=$section python3 "$ENCORE_ROOT/bench/write_section.py" "$results" "Hostile input and faults"
    ok "wrote the Hostile input and faults section of ${results#"$ENCORE_ROOT"/}"
fi
