#!/usr/bin/env python3
"""Set-up and load for bench/checkins.sh (issue 22, the gate rush).

Subcommands (each prints one JSON object on stdout, progress on stderr):
  concert  the organiser's concert: LEVELS levels of CAPACITY tickets
  buy      ORDERS orders of LINES x PER_ORDER tickets, bought by the given customers through the API:
           cart, online delivery, confirm, and pay with a 4242 card made at localstripe (as
           Stripe.js makes one); the TicketFulfilment process manager then issues the tickets
           and queues one e-mail per order
  tokens   the organiser signed in GATES times (one session per gate)
  fire     POST /api/check-ins once per ticket id given, with the ticket's code made from the
           stack's key (README, "Tickets"), as the organiser from the gates' sessions,
           over CONNECTIONS keep-alive connections through nginx, sent by `encore-bench
           http-fire`; checks a sample of the codes against GET /api/tickets/{id} first
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import random
import time
import uuid

import sales


def cmd_concert(args):
    token = sales.sign_in(args.base)
    levels = [{"id": f"gate-{n + 1}", "name": f"Gate {n + 1}", "capacity": args.capacity, "price": 15000}
              for n in range(args.levels)]
    t0 = time.monotonic()
    concert = sales.create_concert(args.base, token, f"Gate Rush {args.tag}", levels)
    sales.log(f"concert {concert}: {args.levels} levels of {args.capacity}, shards ready in {time.monotonic() - t0:.1f} s")
    print(json.dumps({"concert": concert, "levels": [level["id"] for level in levels]}))


def cmd_buy(args):
    shoppers = sales.shoppers_from(args.base, args.customers)
    levels = args.levels.split(",")
    jobs = [(n, levels[n % len(levels)]) for n in range(args.orders)]

    def buy(shopper: sales.Shopper, job):
        n, _ = job
        items = [(args.concert, levels[(n + k) % len(levels)], args.per_order) for k in range(args.lines)]
        checkout = shopper.checkout(items, {"method": "online", "email": f"gate-{args.tag}-{n:05d}@bench.test"})
        method = sales.payment_method(args.stripe)
        paid = shopper.pay(checkout["id"], method)
        return {"checkout": checkout["id"], "orders": [o["id"] for o in paid["orders"]]}

    t0 = time.monotonic()
    bought = sales.in_parallel(shoppers, jobs, buy, args.concurrency, "orders bought")
    elapsed = time.monotonic() - t0
    per_order = args.per_order * args.lines
    sales.log(f"{len(bought)} orders of {per_order} tickets bought and paid in {elapsed:.1f} s")
    with open(args.out, "w") as out:
        for b in bought:
            out.write(json.dumps(b) + "\n")
    print(json.dumps({"orders": len(bought), "tickets": len(bought) * per_order, "buy_s": round(elapsed, 1)}))


def code_for(key: bytes, ticket_id: str) -> str:
    """A ticket's code: T1 + base32(id bytes + HMAC-SHA-256(key, "encore-ticket-v1" || id)[:16])."""
    raw = uuid.UUID(ticket_id).bytes
    mac = hmac.new(key, b"encore-ticket-v1" + raw, hashlib.sha256).digest()[:16]
    return "T1" + base64.b32encode(raw + mac).decode().rstrip("=")


def cmd_tokens(args):
    with open(args.out, "w") as out:
        for _ in range(args.gates):
            out.write(sales.sign_in(args.base) + "\n")
    print(json.dumps({"gates": args.gates}))


def cmd_fire(args):
    key = open(args.key_file).read().strip().split(",")[0].encode()
    ids = [line.strip() for line in open(args.ids) if line.strip()]
    host = sales.flash.host_of(args.base)
    tokens = [line.strip() for line in open(args.tokens) if line.strip()]
    gates = len(tokens)
    # The codes made here must be the ones the stack gives out.
    sample = random.Random(args.seed).sample(ids, min(10, len(ids)))
    for ticket_id in sample:
        shown = sales.flash.one(args.base, "GET", f"/api/tickets/{ticket_id}", token=tokens[0])["ticket"]
        if shown["code"] != code_for(key, ticket_id) or shown["status"] != args.expect_status_before:
            raise SystemExit(f"error: ticket {ticket_id}: the API shows {shown['code']} ({shown['status']}), "
                             f"made here {code_for(key, ticket_id)} (expected status {args.expect_status_before})")
    requests_ = []
    for n, ticket_id in enumerate(ids):
        body = sales.json_body({"code": code_for(key, ticket_id), "gate": f"gate {n % gates + 1}"})
        requests_.append(sales.raw("POST", "/api/check-ins", host, body,
                                   (f"Authorization: Bearer {tokens[n % gates]}",)))
    results, cpu, wall = sales.fire(args.sender, args.base, requests_, args.connections, drop_body_of=(200,),
                                     pid_file=args.generator_pid_file)
    out = sales.figures(results)
    out["codes"] = sales.error_codes(results)
    out["generator_cpu_us_per_request"] = round(cpu / max(1, len(results)) * 1e6, 1)
    out["wall_start_ns"] = wall
    out["sample_checked"] = len(sample)
    if args.answers:
        with open(args.answers, "w") as f:
            for ticket_id, (status, t0, t1, _) in zip(ids, results):
                f.write(f"{ticket_id} {status} {t0} {t1}\n")
    print(json.dumps(out))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="http://127.0.0.1:8180")
    parser.add_argument("--stripe", default="http://127.0.0.1:8451")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("concert")
    p.add_argument("--tag", required=True)
    p.add_argument("--levels", type=int, default=3)
    p.add_argument("--capacity", type=int, default=7000)
    p.set_defaults(func=cmd_concert)

    p = sub.add_parser("buy")
    p.add_argument("--customers", required=True, help="flash.py customers' output")
    p.add_argument("--concert", required=True)
    p.add_argument("--levels", required=True, help="level ids, comma-separated; orders take them in turn")
    p.add_argument("--orders", type=int, default=2100)
    p.add_argument("--per-order", type=int, default=10, help="tickets per cart line (1-10)")
    p.add_argument("--lines", type=int, default=1, help="cart lines per order, each of another level")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--tag", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_buy)

    p = sub.add_parser("tokens")
    p.add_argument("--gates", type=int, default=8, help="organiser sessions, one per gate")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_tokens)

    p = sub.add_parser("fire")
    p.add_argument("--ids", required=True, help="ticket ids, one a line, in the order to check them in")
    p.add_argument("--key-file", required=True, help="the stack's ticket_signing_keys")
    p.add_argument("--tokens", required=True, help="the gates' bearer tokens, one a line")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--sender", required=True, help="the encore-bench binary")
    p.add_argument("--seed", type=int, default=22)
    p.add_argument("--expect-status-before", default="valid")
    p.add_argument("--answers", help="write 'ticket status start_ns end_ns' per check-in")
    p.set_defaults(func=cmd_fire)

    for p in sub.choices.values():
        p.add_argument("--generator-pid-file", help="where to write the sender's pid (for the sampler)")
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
