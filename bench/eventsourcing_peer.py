"""The Python `eventsourcing` package appending to PostgreSQL: the peer in bench/eventstore.sh.

Each writer thread owns aggregates and saves one new event at a time (optimistic concurrency
on the aggregate's version, as our appends do), with data of the same size as encore-bench's.
Prints `appends_per_s=N` after a one-second warm-up and DURATION seconds of measurement.

Usage: python eventsourcing_peer.py SOCKET_DIR PORT DBNAME WRITERS DURATION
"""

import os
import sys
import threading
import time

socket_dir, port, dbname, writers, duration = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
os.environ.update(
    PERSISTENCE_MODULE="eventsourcing.postgres",
    POSTGRES_DBNAME=dbname,
    POSTGRES_HOST=socket_dir,
    POSTGRES_PORT=port,
    POSTGRES_USER="postgres",
    POSTGRES_PASSWORD="postgres",
    POSTGRES_POOL_SIZE=str(writers),
    POSTGRES_MAX_OVERFLOW="0",
)

from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402


class Ledger(Aggregate):
    @event("Opened")
    def __init__(self):
        self.entries = 0

    @event("BenchEventHappened")
    def happen(self, amount, currency, note):
        self.entries += 1


app = Application()
phase = {"value": 0}  # 0 warm-up, 1 measuring, 2 stop
counts = [0] * writers
errors = []


def write(index):
    try:
        ledgers = []
        for _ in range(20):
            ledger = Ledger()
            app.save(ledger)
            ledgers.append(ledger)
        turn = 0
        while phase["value"] != 2:
            now = phase["value"]
            ledger = ledgers[turn % len(ledgers)]
            turn += 1
            ledger.happen(12345, "PLN", "a benchmark event of about one hundred and fifty bytes of json data")
            app.save(ledger)
            if now == 1:
                counts[index] += 1
    except Exception as error:  # noqa: BLE001
        errors.append(repr(error))


threads = [threading.Thread(target=write, args=(index,)) for index in range(writers)]
for thread in threads:
    thread.start()
time.sleep(1)
phase["value"] = 1
start = time.monotonic()
time.sleep(duration)
phase["value"] = 2
elapsed = time.monotonic() - start
for thread in threads:
    thread.join()
if errors:
    sys.exit("a writer failed: " + errors[0])
print(f"writers={writers} appends_per_s={sum(counts) / elapsed:.0f}")
