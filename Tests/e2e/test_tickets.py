"""Tickets end to end, through nginx: paying issues one ticket per seat; online delivery
e-mails them through SMTP (the stack's mail sink) with QR images that decode to the tickets'
codes and links that open the e-tickets; printed delivery waits in the organiser's print queue
until shipped with a tracking number the buyer sees; a ticket checks in once (also when ten
gates scan it at once), a forged code is 422, a code of no ticket 404, a refunded or cancelled
concert's ticket 409; a refused address is shown to the organiser; and with the mail server
down for 30 s every e-mail arrives after it returns, each exactly once.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter

import pytest

from conftest import wait_until
from test_cart_api import create_concert, expect_error, level, new_customer, sign_in
from tickets_support import (CODE_PATTERN, PRINTED, buy, code_for, decode_qr, delivery_of, message_id, online, receipts,
                             restart_mail_sink, stop_mail_sink, tickets_of, wait_for_message, zbarimg)


@pytest.fixture(scope="module")
def organiser(base_url):
    with sign_in(base_url, "organiser@encore.test") as session:
        yield session


@pytest.fixture
def concert(organiser, db) -> dict:
    return create_concert(organiser, db, [level("floor", 40, 30_000), level("balcony", 20, 15_000)])


@pytest.fixture
def customer(base_url):
    with new_customer(base_url, "tickets") as session:
        yield session


def check_in(session, **body):
    return session.post("/api/check-ins", json=body)


# --------------------------------------------------------------------------------- issuing and e-mail
@pytest.mark.skipif(zbarimg() is None, reason="zbarimg (Debian's zbar-tools) is not installed")
def test_paying_issues_tickets_and_emails_them_with_qr_codes_that_open_the_tickets(customer, concert, base_url,
                                                                                   tmp_path):
    delivery = online()
    order = buy(customer, [(concert["id"], "floor", 2), (concert["id"], "balcony", 1)], delivery)
    tickets = tickets_of(customer, order["id"], 3)
    assert sorted(t["levelName"] for t in tickets) == ["Balcony", "Floor", "Floor"]
    assert sorted(t["number"] for t in tickets) == [order["number"] + s for s in ("-01", "-02", "-03")]
    for ticket in tickets:
        assert re.match(CODE_PATTERN, ticket["code"]) and ticket["status"] == "valid"
        assert ticket["delivery"] == "online" and ticket["holder"] == "Cart Tester"
        assert ticket["orderId"] == order["id"] and ticket["concertId"] == concert["id"]

    message = wait_for_message(message_id(order["id"], base_url))
    assert message["To"].addresses[0].addr_spec == delivery["email"]
    assert concert["artist"] in message["Subject"]
    images = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert len(images) == 3
    assert sorted(decode_qr(image.get_content(), tmp_path) for image in images) == sorted(t["code"] for t in tickets)
    html = message.get_body(preferencelist=("html",)).get_content()
    text = message.get_body(preferencelist=("plain",)).get_content()
    for ticket in tickets:
        link = f"{base_url}/tickets/{ticket['id']}"
        assert link in html and link in text
        page = customer.get(link)  # the link, as the buyer follows it
        assert page.status_code == 200 and ticket["number"] in page.text and "<svg" in page.text
        assert "no-store" in page.headers["Cache-Control"]
    wait_until(lambda: delivery_of(customer, order["id"])["status"] == "sent", 30, 0.2, "the delivery to be sent")
    assert [r["messageId"] for r in receipts()].count(message_id(order["id"], base_url)) == 1


def test_tickets_are_the_buyers_own(customer, concert, base_url):
    order = buy(customer, [(concert["id"], "floor", 1)], online())
    [ticket] = tickets_of(customer, order["id"], 1)
    assert customer.get(f"/api/tickets/{ticket['id']}").json()["ticket"]["code"] == ticket["code"]
    with new_customer(base_url, "stranger") as stranger:
        expect_error(stranger.get(f"/api/tickets/{ticket['id']}"), 404, "unknown_ticket")
        assert stranger.get(f"/tickets/{ticket['id']}").status_code == 404
        expect_error(stranger.get(f"/api/orders/{order['id']}/delivery"), 404, "unknown_delivery")
        assert stranger.get("/api/tickets").json()["tickets"] == []
    anonymous = customer.__class__(base_url)
    assert anonymous.get(f"/tickets/{ticket['id']}", allow_redirects=False).status_code == 303
    assert anonymous.get("/api/tickets").status_code == 401


# --------------------------------------------------------------------------------- printed delivery
def test_printed_tickets_wait_in_the_print_queue_then_ship_with_a_tracking_number(customer, organiser, concert,
                                                                                   base_url):
    order = buy(customer, [(concert["id"], "balcony", 2)], PRINTED)
    tickets = tickets_of(customer, order["id"], 2)
    assert all(t["delivery"] == "printed" for t in tickets)
    assert delivery_of(customer, order["id"])["status"] == "prepared"
    queue = organiser.get("/admin/deliveries")
    assert queue.status_code == 200 and order["number"] in queue.text
    batch = organiser.get("/admin/deliveries/print", params={"orderId": order["id"]})
    assert batch.status_code == 200 and batch.text.count("<svg") == 2
    assert all(t["number"] in batch.text for t in tickets) and "Ada Lovelace" in batch.text
    # The customer may not ship it; a bad tracking number is shown on the form.
    assert customer.post(f"/admin/deliveries/{order['id']}/shipped", data={"trackingNumber": "RR1"}).status_code \
        == 403
    bad = organiser.post(f"/admin/deliveries/{order['id']}/shipped", data={"trackingNumber": "<b>x</b>"})
    assert bad.status_code == 422 and "tracking number" in bad.text

    shipped = organiser.post(f"/admin/deliveries/{order['id']}/shipped",
                             data={"trackingNumber": "RR123456785PL", "carrier": "Poczta Polska"},
                             allow_redirects=False)
    assert shipped.status_code == 303, shipped.text
    delivery = delivery_of(customer, order["id"])
    assert delivery["status"] == "shipped" and delivery["trackingNumber"] == "RR123456785PL"
    assert delivery["carrier"] == "Poczta Polska"
    page = customer.get(f"/orders/{order['id']}")
    assert "RR123456785PL" in page.text and "Poczta Polska" in page.text
    assert order["number"] not in organiser.get("/admin/deliveries").text
    assert order["number"] in organiser.get("/admin/deliveries", params={"show": "shipped"}).text
    again = organiser.post(f"/admin/deliveries/{order['id']}/shipped", data={"trackingNumber": "OTHER123"})
    assert again.status_code == 409 and "shipped already" in again.text
    assert not (wait_for_message.__globals__["MAIL_DIR"] / (message_id(order["id"], base_url) + ".eml")).exists()


# --------------------------------------------------------------------------------- check-in
def test_ten_gates_scanning_one_code_at_once_let_one_person_in(customer, organiser, concert):
    order = buy(customer, [(concert["id"], "floor", 1)], online())
    [ticket] = tickets_of(customer, order["id"], 1)
    before = organiser.get(f"/api/concerts/{concert['id']}/check-ins").json()["checkIns"]
    barrier = threading.Barrier(10)
    answers: list = []

    def scan(gate: int):
        barrier.wait(timeout=10)
        answers.append(check_in(organiser, code=ticket["code"], gate=f"gate {gate}"))

    threads = [threading.Thread(target=scan, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {200: 1, 409: 9}, statuses
    [first] = [a.json() for a in answers if a.status_code == 200]
    assert first["ticket"]["id"] == ticket["id"] and first["ticket"]["status"] == "checkedIn"
    for answer in answers:
        if answer.status_code == 409:
            error = expect_error(answer, 409, "already_checked_in")
            assert error["checkedInAt"] == first["checkedInAt"][:len(error["checkedInAt"])] or error["checkedInAt"]
    after = organiser.get(f"/api/concerts/{concert['id']}/check-ins").json()["checkIns"]
    assert after["checkedIn"] == before["checkedIn"] + 1
    assert customer.get(f"/api/tickets/{ticket['id']}").json()["ticket"]["status"] == "checkedIn"


def test_forged_codes_unknown_tickets_and_strangers_are_refused(customer, organiser, concert):
    order = buy(customer, [(concert["id"], "floor", 1)], online())
    [ticket] = tickets_of(customer, order["id"], 1)
    code = ticket["code"]
    forged = code[:10] + ("A" if code[10] != "A" else "B") + code[11:]
    expect_error(check_in(organiser, code=forged), 422, "invalid_code", "code")
    expect_error(check_in(organiser, code="not a code"), 422, "invalid_code", "code")
    expect_error(check_in(organiser, code=code_for("00000000-0000-8000-8000-000000000000")), 404, "unknown_ticket")
    expect_error(check_in(organiser), 422, "missing_field", "code")
    expect_error(check_in(customer, code=code), 403, "forbidden")
    # Door staff type the number when a code cannot be read; lower case is forgiven.
    answer = check_in(organiser, number=ticket["number"].lower())
    assert answer.status_code == 200, answer.text
    expect_error(check_in(organiser, code=code), 409, "already_checked_in")


def test_another_organisers_gate_finds_no_such_ticket_and_an_admins_checks_it_in(customer, concert, base_url):
    order = buy(customer, [(concert["id"], "floor", 1)], online())
    [ticket] = tickets_of(customer, order["id"], 1)
    with new_customer(base_url, "stranger") as stranger, sign_in(base_url, "admin@encore.test") as admin:
        promoted = admin.put(f"/api/users/{stranger.user['id']}/role", json={"role": "organiser"})
        assert promoted.status_code == 200, promoted.text
        expect_error(check_in(stranger, code=ticket["code"]), 404, "unknown_ticket")
        expect_error(check_in(stranger, number=ticket["number"]), 404, "unknown_ticket")
        assert customer.get(f"/api/tickets/{ticket['id']}").json()["ticket"]["status"] == "valid"
        answer = check_in(admin, code=ticket["code"], gate="south")
        assert answer.status_code == 200, answer.text
    # The door's answer shows the ticket as its buyer sees it.
    assert answer.json()["ticket"] == customer.get(f"/api/tickets/{ticket['id']}").json()["ticket"]
    assert answer.json()["ticket"]["status"] == "checkedIn" and answer.json()["gate"] == "south"


def test_a_refunded_orders_tickets_are_void_at_the_door(customer, organiser, concert):
    order = buy(customer, [(concert["id"], "balcony", 2)], online())
    tickets = tickets_of(customer, order["id"], 2)
    assert organiser.post(f"/api/orders/{order['id']}/refund").status_code == 200
    wait_until(lambda: all(customer.get(f"/api/tickets/{t['id']}").json()["ticket"]["status"] == "void"
                           for t in tickets), 30, 0.2, "the refunded order's tickets to be void")
    error = expect_error(check_in(organiser, code=tickets[0]["code"]), 409, "ticket_void")
    assert error["reason"] == "refunded"
    assert "Void" in customer.get(f"/tickets/{tickets[0]['id']}").text


def test_a_cancelled_concerts_tickets_are_void(customer, organiser, db):
    concert = create_concert(organiser, db, [level("floor", 5, 20_000)])
    order = buy(customer, [(concert["id"], "floor", 1)], online())
    [ticket] = tickets_of(customer, order["id"], 1)
    assert organiser.post(f"/api/concerts/{concert['id']}/cancel", json={}).status_code == 200
    wait_until(lambda: customer.get(f"/api/tickets/{ticket['id']}").json()["ticket"]["status"] == "void", 60, 0.2,
               "the cancelled concert's ticket to be void")
    expect_error(check_in(organiser, code=ticket["code"]), 409, "ticket_void")


# --------------------------------------------------------------------------------- mail failures
def test_an_address_the_server_refuses_is_shown_to_the_organiser(customer, organiser, concert):
    order = buy(customer, [(concert["id"], "floor", 1)], online("bounce"))
    wait_until(lambda: delivery_of(customer, order["id"])["status"] == "failed", 60, 0.2, "the refusal recorded")
    delivery = delivery_of(organiser, order["id"])
    assert "550" in delivery["failure"]
    page = organiser.get("/admin/deliveries", params={"show": "failed"})
    assert order["number"] in page.text and "550" in page.text
    # The tickets are still the customer's, on the site.
    assert len(tickets_of(customer, order["id"], 1)) == 1


def test_with_the_mail_server_down_for_30_seconds_every_email_arrives_after_once(customer, concert, pool, base_url):
    with pool.settings(mail_retry_max_seconds="4"):
        stop_mail_sink()
        try:
            orders = [buy(customer, [(concert["id"], "floor", 1)], online("outage")) for _ in range(4)]
            ids = [message_id(order["id"], base_url) for order in orders]
            for order in orders:
                tickets_of(customer, order["id"], 1)
            time.sleep(30)
            assert all(delivery_of(customer, o["id"])["status"] == "prepared" for o in orders)
            assert not set(ids) & {r["messageId"] for r in receipts()}
        finally:
            restart_mail_sink()
        wait_until(lambda: all(delivery_of(customer, o["id"])["status"] == "sent" for o in orders), 60, 0.5,
                   "every e-mail sent after the server returned")
        counts = Counter(r["messageId"] for r in receipts())
        assert [counts[i] for i in ids] == [1, 1, 1, 1]
