#!/usr/bin/env python3
"""Where the time goes while the confirms run (bench/flash-sale/run.sh starts it in the
background and stops it with SIGTERM). Every --interval seconds it samples

  - CPU time of each process group: PostgreSQL (the bench cluster's postmaster and its
    children), the pool (the pool's session; with --status-url its background processes apart,
    as "jobs"), nginx (master and workers), the load generator,
    any other named with --group (localstripe, the mail sink: bench/checkins.sh, payments.sh),
    and the whole machine from /proc/stat (so that other load on the machine shows);
  - pg_stat_activity of the benchmark database: what each client backend is doing (running
    on the CPU, waiting for a row lock, for the WAL flush, or idle / idle in transaction,
    that is waiting for the pool to send the next statement).

On SIGTERM it writes a JSON summary to --out.
"""

import argparse
import collections
import json
import os
import shlex
import signal
import subprocess
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def proc_stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    # fields[0] is state (field 3); ppid is field 4, session field 6, utime 14, stime 15.
    return {"ppid": int(fields[1]), "sid": int(fields[3]), "cpu": (int(fields[11]) + int(fields[12])) / TICKS}


def all_procs():
    procs = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st:
                procs[int(name)] = st
    return procs


def descendants(procs, roots):
    members = set(r for r in roots if r in procs)
    changed = True
    while changed:
        changed = False
        for pid, st in procs.items():
            if pid not in members and st["ppid"] in members:
                members.add(pid)
                changed = True
    return members


def machine_cpu():
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    values = [int(v) for v in parts]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / TICKS, sum(values[:8]) / TICKS


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--postmaster", type=int, required=True)
    p.add_argument("--pool-sid", type=int, default=0)
    p.add_argument("--nginx", type=int, default=0)
    p.add_argument("--generator", type=int, default=0, help="pid of the load generator, once it runs")
    p.add_argument("--generator-file", help="file that will hold the generator's pid")
    p.add_argument("--psql", required=True, help="psql command line, one string (it reads SQL on stdin)")
    p.add_argument("--database", required=True)
    p.add_argument("--interval", type=float, default=0.1)
    p.add_argument("--group", action="append", default=[],
                   help="NAME=PIDFILE: another group, the process in PIDFILE (read at every sample) and its children")
    p.add_argument("--status-url", help="the pool's /status: its background processes (projections, "
                   "process managers, expiry, mailer...) are then the group 'jobs', apart from 'pool'")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    extra = [g.split("=", 1) for g in args.group]

    psql = subprocess.Popen(
        shlex.split(args.psql) + ["-X", "-q", "-tA", "-F", "\t"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True, bufsize=1)
    query = (
        "SELECT coalesce(wait_event_type || ':' || wait_event, CASE WHEN state = 'active' THEN 'CPU (running)' "
        "ELSE state END), count(*) FROM pg_stat_activity WHERE datname = '%s' AND backend_type = 'client backend' "
        "AND pid <> pg_backend_pid() GROUP BY 1;\nSELECT '--end--';\n" % args.database)

    background = set()

    def background_pids():
        import urllib.request
        try:
            with urllib.request.urlopen(args.status_url, timeout=2) as r:
                return {w["pid"] for w in json.load(r)["workers"] if w.get("kind", "http") != "http"}
        except Exception:
            return set()

    known_pool = set()
    seen = {}  # pid -> (group, last cpu)
    group_cpu = collections.Counter()
    waits = collections.Counter()
    samples = 0
    stop = False

    def on_term(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    m0 = machine_cpu()
    t0 = time.monotonic()
    first = True
    while not stop:
        generator = args.generator
        if not generator and args.generator_file:
            try:
                generator = int(open(args.generator_file).read().strip() or 0)
            except (OSError, ValueError):
                generator = 0
        procs = all_procs()
        groups = {}
        for pid in descendants(procs, [args.postmaster]):
            groups[pid] = "postgres"
        if args.pool_sid:
            members = {pid for pid, st in procs.items() if st["sid"] == args.pool_sid}
            if args.status_url and not members <= known_pool:
                background = background_pids()
                known_pool = members
            for pid in members:
                groups[pid] = "jobs" if pid in background else "pool"
        if args.nginx:
            for pid in descendants(procs, [args.nginx]):
                groups[pid] = "nginx"
        if generator:
            for pid in descendants(procs, [generator]):
                groups[pid] = "generator"
        for name, pid_file in extra:
            try:
                root = int(open(pid_file).read().strip() or 0)
            except (OSError, ValueError):
                continue
            for pid in descendants(procs, [root]):
                groups[pid] = name
        for pid, group in groups.items():
            cpu = procs[pid]["cpu"]
            if pid in seen:
                group_cpu[group] += max(0.0, cpu - seen[pid][1])
            elif not first:
                group_cpu[group] += cpu  # born during the sampling
            seen[pid] = (group, cpu)
        first = False
        psql.stdin.write(query)
        psql.stdin.flush()
        while True:
            line = psql.stdout.readline()
            if not line or line.strip() == "--end--":
                break
            what, _, count = line.rstrip("\n").partition("\t")
            if count:
                waits[what] += int(count)
        samples += 1
        time.sleep(args.interval)
    elapsed = time.monotonic() - t0
    m1 = machine_cpu()
    psql.stdin.close()
    psql.wait(timeout=5)
    busy = m1[0] - m0[0]
    total = m1[1] - m0[1]
    known = sum(group_cpu.values())
    summary = {
        "elapsed_s": round(elapsed, 2),
        "samples": samples,
        "cpu_s": {k: round(v, 2) for k, v in sorted(group_cpu.items())},
        "machine_busy_s": round(busy, 2),
        "machine_capacity_s": round(total, 2),
        "other_s": round(max(0.0, busy - known), 2),
        "backend_states": {k: round(v / max(1, samples), 2) for k, v in waits.most_common()},
    }
    with open(args.out, "w") as f:
        json.dump(summary, f)


if __name__ == "__main__":
    sys.exit(main())
