"""Orders and payments end to end, through nginx, with localstripe as the gateway: a good card
completes the orders, a declined one leaves the checkout held for another card, a hold that
ends unpaid cancels the orders and the intent and frees the tickets once, a refund gives the
tickets back, a cancelled concert refunds its paid orders; the webhook endpoint verifies
signatures and takes each event once whatever the order or number of deliveries; a payment
whose webhook never comes is completed by reconciliation.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import requests

from conftest import Database, EncoreSession, wait_until
from payments_support import (DECLINED_CARD, GOOD_CARD, intent, intent_event, payment_method, register_webhook, stripe,
                              signed)
from test_cart_api import ONLINE, available, create_concert, expect_error, level, new_customer, sign_in
from tickets_support import tickets_of


@pytest.fixture(scope="module")
def organiser(base_url):
    with sign_in(base_url, "organiser@encore.test") as session:
        yield session


@pytest.fixture
def concert(organiser, db) -> dict:
    return create_concert(organiser, db, [level("floor", 10, 30_000), level("balcony", 6, 15_000)])


@pytest.fixture
def customer(base_url):
    with new_customer(base_url, "pay") as session:
        yield session


def checkout_of(customer, items) -> dict:
    for concert_id, level_id, quantity in items:
        response = customer.post("/api/cart/items", json={"concertId": concert_id, "ticketLevelId": level_id,
                                                          "quantity": quantity})
        assert response.status_code == 201, response.text
    assert customer.put("/api/cart/delivery", json=ONLINE).status_code == 200
    response = customer.post("/api/cart/confirm")
    assert response.status_code == 201, response.text
    return response.json()["checkout"]


def pay(customer, checkout: dict, card: str):
    return customer.post(f"/api/checkouts/{checkout['id']}/pay", json={"paymentMethod": payment_method(card)})


def current(customer, checkout: dict) -> dict:
    response = customer.get(f"/api/checkouts/{checkout['id']}")
    assert response.status_code == 200, response.text
    return response.json()["checkout"]


def events_of(db: Database, stream: str, event_type: str) -> int:
    return db.count("SELECT count(*) FROM es_events WHERE stream_id = :'s' AND event_type = :'t'", s=stream, t=event_type)


# --------------------------------------------------------------------------------- paying
def test_confirming_answers_the_orders_and_a_payment_with_its_client_secret(customer, concert):
    checkout = checkout_of(customer, [(concert["id"], "floor", 2), (concert["id"], "balcony", 1)])
    assert checkout["status"] == "held"
    assert [o["status"] for o in checkout["orders"]] == ["pending"]
    order = checkout["orders"][0]
    assert order["total"] == {"amount": 75_000, "currency": "PLN"} and order["number"].startswith("EN-")
    [payment] = checkout["payments"]
    assert payment["status"] == "pending" and payment["amount"] == 75_000 and payment["currency"] == "PLN"
    assert payment["gatewayPaymentId"].startswith("pi_") and payment["clientSecret"]
    assert checkout["publishableKey"] and checkout["stripeJsUrl"].endswith("/js.stripe.com/v3/")
    assert intent(payment["gatewayPaymentId"])["amount"] == 75_000


def test_a_good_card_completes_the_orders_and_confirms_the_reservations(customer, concert, db):
    checkout = checkout_of(customer, [(concert["id"], "floor", 2)])
    response = pay(customer, checkout, GOOD_CARD)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"]["status"] == "paid"
    paid = response.json()["checkout"]
    assert paid["status"] == "paid" and paid["orders"][0]["status"] == "completed"
    assert paid["payments"][0].get("clientSecret") is None  # nothing left to pay
    assert customer.get(f"/api/reservations/{checkout['reservations'][0]['id']}").json()["reservation"]["status"] \
        == "confirmed"
    orders = customer.get("/api/orders").json()["orders"]
    assert [o["id"] for o in orders if o["status"] == "completed"] == [paid["orders"][0]["id"]]
    assert available(customer, concert["id"])["floor"] == 8
    # localstripe's webhook for the same success lands a second later and changes nothing.
    wait_until(lambda: db.count("SELECT count(*) FROM stripe_webhook_events WHERE payment_id = :'p'",
                                p=checkout["id"]) >= 1, 15, 0.2, "localstripe's webhook")
    assert events_of(db, f"payment-{checkout['id']}", "PaymentConfirmed") == 1


def test_a_declined_card_keeps_the_checkout_held_and_another_card_pays(customer, concert):
    checkout = checkout_of(customer, [(concert["id"], "balcony", 1)])
    expect_error(pay(customer, checkout, DECLINED_CARD), 402, "card_declined")
    held = current(customer, checkout)
    assert held["status"] == "held" and held["orders"][0]["status"] == "pending"
    assert held["payments"][0]["lastDecline"]
    response = pay(customer, checkout, GOOD_CARD)
    assert response.status_code == 200, response.text
    assert current(customer, checkout)["orders"][0]["status"] == "completed"


def test_mixing_currencies_in_one_cart_is_refused(customer, organiser, db, concert):
    euro = create_concert(organiser, db, [level("standing", 5, 9_900)], currency="EUR")
    assert customer.post("/api/cart/items", json={"concertId": concert["id"], "ticketLevelId": "floor",
                                                  "quantity": 1}).status_code == 201
    expect_error(customer.post("/api/cart/items", json={"concertId": euro["id"], "ticketLevelId": "standing",
                                                        "quantity": 1}), 409, "currency_mismatch")


def test_a_hold_that_ends_unpaid_cancels_orders_and_intent_and_frees_the_tickets_once(customer, concert, pool, db):
    before = available(customer, concert["id"])["floor"]
    with pool.settings(hold_seconds="2"):
        checkout = checkout_of(customer, [(concert["id"], "floor", 3)])
    assert available(customer, concert["id"])["floor"] in (before - 3, before)
    def settled() -> bool:
        now = current(customer, checkout)
        return now["status"] == "cancelled" and now["orders"][0]["status"] == "cancelled" \
            and now["payments"][0]["status"] == "failed"
    wait_until(settled, 60, 0.2, "the hold's end to cancel the order and give the payment up")
    ended = current(customer, checkout)
    assert ended["orders"][0]["status"] == "cancelled" and ended["payments"][0]["status"] == "failed"
    assert intent(checkout["payments"][0]["gatewayPaymentId"])["status"] == "canceled"
    assert available(customer, concert["id"])["floor"] == before
    released = db.count("SELECT count(*) FROM es_events WHERE event_type = 'TicketsReleased' AND data->>'reservationId' = :'r'",
                        r=checkout["reservations"][0]["id"])
    assert released >= 1
    assert db.count("SELECT coalesce(sum((data->>'quantity')::int), 0) FROM es_events WHERE event_type = 'TicketsReleased' "
                    "AND data->>'reservationId' = :'r'", r=checkout["reservations"][0]["id"]) == 3
    expect_error(pay(customer, checkout, GOOD_CARD), 409, "payment_failed")


# --------------------------------------------------------------------------------- refunds
def test_an_organiser_refunds_an_order_and_its_tickets_return(customer, concert, organiser, base_url):
    checkout = checkout_of(customer, [(concert["id"], "floor", 2)])
    assert pay(customer, checkout, GOOD_CARD).status_code == 200
    order_id = checkout["orders"][0]["id"]
    assert available(customer, concert["id"])["floor"] == 8
    with new_customer(base_url, "stranger") as stranger:
        expect_error(stranger.post(f"/api/orders/{order_id}/refund"), 403, "forbidden")
    response = organiser.post(f"/api/orders/{order_id}/refund")
    assert response.status_code == 200, response.text
    assert response.json()["order"]["status"] == "refunded"
    assert available(customer, concert["id"])["floor"] == 10
    refunds = intent(checkout["payments"][0]["gatewayPaymentId"])
    assert refunds["status"] == "succeeded"
    expect_error(organiser.post(f"/api/orders/{order_id}/refund"), 409, "order_not_completed")
    assert customer.get(f"/api/orders/{order_id}").json()["order"]["status"] == "refunded"


def test_cancelling_a_concert_refunds_its_paid_orders(customer, organiser, db):
    concert = create_concert(organiser, db, [level("floor", 5, 20_000)])
    checkout = checkout_of(customer, [(concert["id"], "floor", 1)])
    assert pay(customer, checkout, GOOD_CARD).status_code == 200
    assert organiser.post(f"/api/concerts/{concert['id']}/cancel", json={}).status_code == 200
    order_id = checkout["orders"][0]["id"]
    wait_until(lambda: customer.get(f"/api/orders/{order_id}").json()["order"]["status"] == "refunded", 60, 0.2,
               "the cancelled concert's order to be refunded")


def test_free_tickets_alone_need_no_card_and_a_cancellation_voids_them_with_nothing_to_give_back(
        customer, organiser, db):
    free = create_concert(organiser, db, [level("rehearsal", 5, 0)])
    checkout = checkout_of(customer, [(free["id"], "rehearsal", 2)])
    assert checkout["status"] == "paid", checkout
    [payment] = checkout["payments"]
    assert payment["status"] == "confirmed" and payment["amount"] == 0
    assert "gatewayPaymentId" not in payment and "clientSecret" not in payment
    assert [o["status"] for o in checkout["orders"]] == ["completed"]
    assert events_of(db, f"payment-{checkout['id']}", "PaymentIntentCreated") == 0
    assert available(customer, free["id"])["rehearsal"] == 3
    order_id = checkout["orders"][0]["id"]
    tickets = tickets_of(customer, order_id, 2)
    page = customer.get(f"/checkout/{checkout['id']}")
    assert "these tickets are free" in page.text and 'id="payment-form"' not in page.text

    assert organiser.post(f"/api/concerts/{free['id']}/cancel", json={}).status_code == 200
    wait_until(lambda: customer.get(f"/api/orders/{order_id}").json()["order"]["status"] == "refunded", 60, 0.2,
               "the cancelled concert's free order to be refunded")
    wait_until(lambda: all(customer.get(f"/api/tickets/{t['id']}").json()["ticket"]["status"] == "void"
                           for t in tickets), 30, 0.2, "the free tickets to be void")
    assert events_of(db, f"payment-{checkout['id']}", "PaymentRefunded") == 0


# --------------------------------------------------------------------------------- webhooks
@pytest.fixture
def pending(customer, concert) -> dict:
    """A held checkout whose payment's intent exists, and the intent as localstripe has it."""
    checkout = checkout_of(customer, [(concert["id"], "balcony", 1)])
    return {"checkout": checkout, "intent": intent(checkout["payments"][0]["gatewayPaymentId"])}


def deliver(base_url: str, body: bytes, headers: dict) -> requests.Response:
    return requests.post(base_url + "/webhooks/stripe", data=body, headers=headers, timeout=15)


def test_one_event_delivered_ten_times_at_once_takes_effect_once(pending, base_url, db, customer):
    event = intent_event("payment_intent.succeeded", pending["intent"], "succeeded")
    body, headers = signed(event)
    barrier = threading.Barrier(10)
    answers: list[int] = []

    def send():
        barrier.wait(timeout=10)
        answers.append(deliver(base_url, body, headers).status_code)

    threads = [threading.Thread(target=send) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers == [200] * 10
    checkout_id = pending["checkout"]["id"]
    assert events_of(db, f"payment-{checkout_id}", "PaymentConfirmed") == 1
    wait_until(lambda: current(customer, pending["checkout"])["orders"][0]["status"] == "completed", 30, 0.2,
               "the settlement")


def test_a_tampered_body_or_a_wrong_or_stale_signature_is_400_and_changes_nothing(pending, base_url, db):
    checkout_id = pending["checkout"]["id"]
    event = intent_event("payment_intent.succeeded", pending["intent"], "succeeded")
    body, headers = signed(event)
    tampered = body.replace(b'"succeeded"', b'"succeeded" ', 1)
    for case, (data, hdrs, code) in {
        "tampered": (tampered, headers, "invalid_signature"),
        "wrong secret": (*signed(event, secret="whsec_not_ours"), "invalid_signature"),
        "stale": (*signed(event, timestamp=int(time.time()) - 301), "stale_signature"),
        "no signature": (body, {"Content-Type": "application/json"}, "invalid_signature"),
        "not an event": (*signed({"hello": "world"}), "invalid_event"),
    }.items():
        response = deliver(base_url, data, hdrs)
        assert response.status_code == 400, (case, response.text)
        assert response.json()["error"]["code"] == code, case
    assert events_of(db, f"payment-{checkout_id}", "PaymentConfirmed") == 0
    assert db.count("SELECT count(*) FROM stripe_webhook_events WHERE event_id = :'e'", e=event["id"]) == 0


def test_other_types_and_other_intents_answer_200_and_change_nothing(pending, base_url, db):
    body, headers = signed({"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": "customer.created",
                            "created": int(time.time()), "data": {"object": {"id": "cus_1", "object": "customer"}}})
    response = deliver(base_url, body, headers)
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    stranger = dict(pending["intent"], id="pi_not_encores")
    body, headers = signed(intent_event("payment_intent.succeeded", stranger, "succeeded"))
    response = deliver(base_url, body, headers)
    assert response.status_code == 200 and response.json()["outcome"] == "unknown_payment"


def test_a_failure_delivered_after_the_success_leaves_it_paid(pending, base_url, customer):
    success = intent_event("payment_intent.succeeded", pending["intent"], "succeeded")
    failure = intent_event("payment_intent.payment_failed", pending["intent"], "requires_payment_method",
                           last_payment_error={"code": "card_declined", "message": "Your card was declined."})
    for event in (success, failure):
        assert deliver(base_url, *signed(event)).status_code == 200
    paid = current(customer, pending["checkout"])
    assert paid["payments"][0]["status"] == "confirmed"


def test_postgresql_down_during_a_delivery_is_5xx_and_the_same_delivery_succeeds_later(pending, base_url, pg, db,
                                                                                        customer):
    body, headers = signed(intent_event("payment_intent.succeeded", pending["intent"], "succeeded"))
    pg.stop()
    try:
        response = deliver(base_url, body, headers)
        assert response.status_code in (502, 503), response.text
    finally:
        pg.start()
    wait_until(lambda: deliver(base_url, body, headers).status_code == 200, 30, 0.5, "the delivery to go through")
    assert events_of(db, f"payment-{pending['checkout']['id']}", "PaymentConfirmed") == 1


def test_a_webhook_that_never_comes_is_made_up_for_by_reconciliation(pending, base_url, pool, customer):
    register_webhook("http://127.0.0.1:9/nowhere")
    try:
        with pool.settings(payment_reconcile_seconds="1"):
            # The customer's card is charged at the gateway, and Encore hears nothing of it.
            pi = pending["intent"]
            stripe("POST", f"/v1/payment_intents/{pi['id']}", payment_method=payment_method(GOOD_CARD))
            assert stripe("POST", f"/v1/payment_intents/{pi['id']}/confirm")["status"] == "succeeded"
            wait_until(lambda: current(customer, pending["checkout"])["orders"][0]["status"] == "completed", 60, 0.5,
                       "reconciliation to complete the order")
    finally:
        register_webhook(base_url + "/webhooks/stripe")
