#!/usr/bin/env python3
"""Set-up and load for bench/payments.sh (issue 21: orders and payments under load).

Subcommands (each prints one JSON object on stdout, progress on stderr):
  concert    the organiser's concert of one level of CAPACITY tickets
  checkouts  COUNT held checkouts, made by the given customers in turn through the API (cart of
             1-2 tickets, online delivery, confirm): each has its payment and its intent at
             localstripe (kept as localstripe shows it), and waits for the money
  storm      the webhook storm: for each checkout, its intent as localstripe has it, told as
             `payment_intent.succeeded` in one event, delivered COPIES times (the same event id,
             each delivery signed with the webhook secret as Stripe signs), all in random order
             over CONNECTIONS keep-alive connections to POST /webhooks/stripe through nginx
  confirm    the flash sale's confirms (one per customer of flash.py's carts, random order, over
             CONNECTIONS connections), keeping each checkout that was confirmed
  pay        each confirmed checkout paid: a card PaymentMethod made at localstripe per checkout
             (set-up, as Stripe.js makes it in the browser), then POST /api/checkouts/{id}/pay
             for all, in random order over CONNECTIONS connections (measured)
  latency    from the pay answers and the times OrderCompleted was recorded: pay-to-completed
             p50/p99
Measured steps are sent by `encore-bench http-fire`.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import hmac
import json
import random
import time

import sales


def cmd_concert(args):
    token = sales.sign_in(args.base)
    levels = [{"id": "storm", "name": "Standing", "capacity": args.capacity, "price": 20000}]
    concert = sales.create_concert(args.base, token, f"Webhook Storm {args.tag}", levels)
    print(json.dumps({"concert": concert, "level": "storm"}))


def cmd_checkouts(args):
    shoppers = sales.shoppers_from(args.base, args.customers)
    rng = random.Random(args.seed)
    jobs = [(n, rng.randint(1, 2)) for n in range(args.count)]

    def checkout(shopper: sales.Shopper, job):
        n, quantity = job
        made = shopper.checkout([(args.concert, args.level, quantity)], {"method": "online", "email": shopper.email})
        payment = made["payments"][0]
        if not payment.get("gatewayPaymentId"):
            raise RuntimeError(f"checkout {made['id']} has no intent: {payment}")
        # The intent as the gateway has it, for the storm's events.
        intent = sales.stripe(args.stripe, "GET", f"/v1/payment_intents/{payment['gatewayPaymentId']}")
        return {"checkout": made["id"], "intent": intent, "orders": [o["id"] for o in made["orders"]]}

    t0 = time.monotonic()
    made = sales.in_parallel(shoppers, jobs, checkout, args.concurrency, "checkouts")
    with open(args.out, "w") as out:
        for m in made:
            out.write(json.dumps(m) + "\n")
    print(json.dumps({"checkouts": len(made), "setup_s": round(time.monotonic() - t0, 1)}))


def signed(body: bytes, secret: str) -> str:
    t = int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def cmd_storm(args):
    checkouts = [json.loads(line) for line in open(args.checkouts)]
    host = sales.flash.host_of(args.base)
    # Each intent as the gateway has it, told as succeeded (what Stripe sends once the card
    # is charged; the emulator's own intents stay unconfirmed, so it sends nothing itself).
    events = []
    for c in checkouts:
        intent = dict(c["intent"], status="succeeded")
        events.append({"id": f"evt_bench_{c['checkout'][:8]}_{random.getrandbits(48):012x}", "object": "event",
                       "type": "payment_intent.succeeded", "created": int(time.time()), "livemode": False,
                       "api_version": "2017-08-15", "data": {"object": intent}})
    deliveries = []
    for event in events:
        body = json.dumps(event).encode()
        for _ in range(args.copies):
            deliveries.append((event["id"], body))
    random.Random(args.seed).shuffle(deliveries)
    # Signed just before sending: each within the 300 s a signature's timestamp may be off.
    requests_ = [sales.raw("POST", "/webhooks/stripe", host, body, (f"Stripe-Signature: {signed(body, args.secret)}",))
                 for _, body in deliveries]
    results, cpu, wall = sales.fire(args.sender, args.base, requests_, args.connections, drop_body_of=(),
                                     pid_file=args.generator_pid_file)
    out = sales.figures(results)
    outcomes = collections.Counter()
    applied = collections.Counter()
    for (event_id, _), (status, _, _, body) in zip(deliveries, results):
        try:
            outcome = json.loads(body)["outcome"] if status == 200 else f"{status}"
        except Exception:
            outcome = f"{status} unparsable"
        outcomes[outcome] += 1
        if outcome == "applied":
            applied[event_id] += 1
    out["outcomes"] = dict(outcomes)
    out["codes"] = sales.error_codes(results)
    out["events"] = len(events)
    out["events_applied_once"] = sum(1 for n in applied.values() if n == 1)
    out["events_applied_more"] = sum(1 for n in applied.values() if n > 1)
    out["generator_cpu_us_per_request"] = round(cpu / max(1, len(results)) * 1e6, 1)
    out["wall_start_ns"] = wall
    print(json.dumps(out))


def cmd_confirm(args):
    entries = [json.loads(line) for line in open(args.carts)]
    order = list(range(len(entries)))
    random.Random(args.seed + 1).shuffle(order)
    host = sales.flash.host_of(args.base)
    requests_ = [sales.raw("POST", "/api/cart/confirm", host, None, (f"Authorization: Bearer {entries[i]['token']}",))
                 for i in order]
    results, cpu, wall = sales.fire(args.sender, args.base, requests_, args.connections, drop_body_of=(),
                                     pid_file=args.generator_pid_file)
    out = sales.figures(results)
    out["codes"] = sales.error_codes(results)
    ok = [r for r in results if r[0] == 201]
    last = max((r[2] for r in ok), default=0) / 1e9
    out["confirmed"] = len(ok)
    out["sold_out_s"] = round(last, 3)
    out["confirmed_per_s"] = round(len(ok) / last, 1) if last else 0
    reserved = collections.Counter()
    with open(args.out, "w") as f:
        for i, (status, _, _, body) in zip(order, results):
            if status == 201:
                checkout = json.loads(body)["checkout"]
                reserved.update(entries[i]["cart"])
                f.write(json.dumps({"token": entries[i]["token"], "checkout": checkout["id"],
                                    "amount": checkout["payments"][0]["amount"],
                                    "intent": checkout["payments"][0].get("gatewayPaymentId")}) + "\n")
    out["reserved_by_201"] = dict(reserved)
    out["generator_cpu_us_per_request"] = round(cpu / max(1, len(results)) * 1e6, 1)
    print(json.dumps(out))


def cmd_pay(args):
    checkouts = [json.loads(line) for line in open(args.checkouts)]
    random.Random(args.seed).shuffle(checkouts)
    host = sales.flash.host_of(args.base)
    t0 = time.monotonic()
    methods = [sales.payment_method(args.stripe) for _ in checkouts]
    sales.log(f"{len(methods)} card PaymentMethods made at localstripe in {time.monotonic() - t0:.1f} s (set-up)")
    requests_ = [
        sales.raw("POST", f"/api/checkouts/{c['checkout']}/pay", host, sales.json_body({"paymentMethod": m}),
                  (f"Authorization: Bearer {c['token']}",))
        for c, m in zip(checkouts, methods)]
    results, cpu, wall = sales.fire(args.sender, args.base, requests_, args.connections, drop_body_of=(200,),
                                     pid_file=args.generator_pid_file)
    out = sales.figures(results)
    out["codes"] = sales.error_codes(results)
    out["generator_cpu_us_per_request"] = round(cpu / max(1, len(results)) * 1e6, 1)
    with open(args.answers, "w") as f:
        for c, (status, s, e, _) in zip(checkouts, results):
            f.write(f"{c['checkout']} {status} {wall + s} {wall + e}\n")
    print(json.dumps(out))


def cmd_latency(args):
    """pay start (wall ns) -> OrderCompleted recorded (epoch seconds, from the database)."""
    paid = {}
    for line in open(args.answers):
        checkout, status, start, end = line.split()
        if status == "200":
            paid[checkout] = (int(start) / 1e9, int(end) / 1e9)
    to_completed, answered_before = [], 0
    missing = 0
    completed = {}
    for line in open(args.completed):
        checkout, at = line.split()
        completed[checkout] = max(completed.get(checkout, 0), float(at))
    for checkout, (start, end) in paid.items():
        if checkout not in completed:
            missing += 1
            continue
        to_completed.append((completed[checkout] - start) * 1000)
        answered_before += completed[checkout] <= end
    to_completed.sort()
    print(json.dumps({
        "paid": len(paid), "completed": len(to_completed), "missing": missing,
        "p50_ms": round(sales.percentile(to_completed, 50), 1), "p99_ms": round(sales.percentile(to_completed, 99), 1),
        "max_ms": round(to_completed[-1], 1) if to_completed else 0,
        "completed_before_answer": answered_before,
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="http://127.0.0.1:8180")
    parser.add_argument("--stripe", default="http://127.0.0.1:8451")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("concert")
    p.add_argument("--tag", required=True)
    p.add_argument("--capacity", type=int, default=3000)
    p.set_defaults(func=cmd_concert)

    p = sub.add_parser("checkouts")
    p.add_argument("--customers", required=True, help="flash.py customers' output")
    p.add_argument("--concert", required=True)
    p.add_argument("--level", required=True)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--seed", type=int, default=21)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_checkouts)

    p = sub.add_parser("storm")
    p.add_argument("--checkouts", required=True)
    p.add_argument("--copies", type=int, default=5)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--secret", required=True, help="the stack's webhook signing secret")
    p.add_argument("--sender", required=True)
    p.add_argument("--seed", type=int, default=21)
    p.set_defaults(func=cmd_storm)

    p = sub.add_parser("confirm")
    p.add_argument("--carts", required=True, help="flash.py carts' output")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--sender", required=True)
    p.add_argument("--seed", type=int, default=21)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_confirm)

    p = sub.add_parser("pay")
    p.add_argument("--checkouts", required=True, help="confirm's output")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--sender", required=True)
    p.add_argument("--seed", type=int, default=21)
    p.add_argument("--answers", required=True, help="write 'checkout status start_ns end_ns' (wall clock)")
    p.set_defaults(func=cmd_pay)

    p = sub.add_parser("latency")
    p.add_argument("--answers", required=True)
    p.add_argument("--completed", required=True, help="'checkout epoch_seconds' of each OrderCompleted")
    p.set_defaults(func=cmd_latency)

    for p in sub.choices.values():
        p.add_argument("--generator-pid-file", help="where to write the sender's pid (for the sampler)")
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
