"""Waiting lists end to end, through nginx: a customer joins a sold-out level's list (once, and
only when too few tickets are left); when the holder lets tickets go, the first in line whose
number fits is offered them, held, with an e-mail in the SMTP sink that links to the checkout
and to leaving; paying completes the order and the entry; a customer leaves by the e-mail's link
without signing in; the concert page offers the list on a sold-out level.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from conftest import EncoreSession, wait_until
from payments_support import GOOD_CARD, payment_method
from test_cart_api import create_concert, expect_error, level, new_customer, sign_in
from tickets_support import receipts, tickets_of, wait_for_message


@pytest.fixture(scope="module")
def organiser(base_url):
    with sign_in(base_url, "organiser@encore.test") as session:
        yield session


def hold_all(customer, concert_id: str, level_id: str, quantity: int) -> dict:
    """The customer holds every ticket of the level (a confirmed cart): the level is sold out."""
    assert customer.post("/api/cart/items", json={"concertId": concert_id, "ticketLevelId": level_id,
                                                  "quantity": quantity}).status_code == 201
    assert customer.put("/api/cart/delivery", json={"method": "online", "email": "whale@example.test"}).status_code \
        == 200
    response = customer.post("/api/cart/confirm")
    assert response.status_code == 201, response.text
    return response.json()["checkout"]


def join(customer, concert_id: str, level_id: str, quantity: int):
    return customer.post("/api/waiting-list", json={"concertId": concert_id, "ticketLevelId": level_id,
                                                    "quantity": quantity})


def entry_of(customer, entry_id: str) -> dict:
    return next(e for e in customer.get("/api/waiting-list").json()["entries"] if e["id"] == entry_id)


def offer_mail(entry: dict, base_url: str):
    host = urlparse(base_url).hostname
    return wait_for_message(f"offer-{entry['checkoutId']}@{host}")


def test_joining_once_and_only_when_sold_out(organiser, db, base_url):
    concert = create_concert(organiser, db, [level("floor", 2, 10_000), level("balcony", 5, 5_000)])
    with new_customer(base_url, "whale") as whale, new_customer(base_url, "waiter") as waiter:
        hold_all(whale, concert["id"], "floor", 2)
        expect_error(join(waiter, concert["id"], "balcony", 2), 409, "tickets_left")
        response = join(waiter, concert["id"], "floor", 2)
        assert response.status_code == 201, response.text
        entry = response.json()["entry"]
        assert entry["status"] == "waiting" and entry["quantity"] == 2 and entry["ahead"] == 0
        expect_error(join(waiter, concert["id"], "floor", 1), 409, "already_waiting")
        expect_error(join(waiter, concert["id"], "floor", 11), 422, "invalid_field", "quantity")
        expect_error(join(waiter, concert["id"], "nowhere", 1), 404, "unknown_ticket_level")
        page = waiter.get(f"/concerts/{concert['id']}")
        assert "Join the waiting list" in page.text
        with new_customer(base_url, "stranger") as stranger:
            expect_error(stranger.delete(f"/api/waiting-list/{entry['id']}"), 404, "unknown_entry")
        assert waiter.delete(f"/api/waiting-list/{entry['id']}").json()["entry"]["status"] == "left"
        assert waiter.delete(f"/api/waiting-list/{entry['id']}").status_code == 200  # again: nothing changes


def test_returned_tickets_are_offered_held_emailed_and_paid(organiser, db, base_url):
    concert = create_concert(organiser, db, [level("floor", 3, 10_000)])
    with new_customer(base_url, "whale") as whale, new_customer(base_url, "big") as big, \
            new_customer(base_url, "small") as small:
        checkout = hold_all(whale, concert["id"], "floor", 3)
        big_entry = join(big, concert["id"], "floor", 3).json()["entry"]
        small_entry = join(small, concert["id"], "floor", 1).json()["entry"]
        assert entry_of(small, small_entry["id"])["ahead"] == 1
        reservation = checkout["reservations"][0]["id"]
        assert whale.post(f"/api/reservations/{reservation}/cancel").status_code == 200
        offered = wait_until(lambda: (e := entry_of(big, big_entry["id"]))["status"] == "offered" and e, 30, 0.2,
                             "the offer to the first in line")
        # Three came back, Big wants three: Big gets them all, Small keeps waiting.
        assert entry_of(small, small_entry["id"])["status"] == "waiting"
        assert whale.get(f"/api/concerts/{concert['id']}").json()["concert"]["ticketLevels"][0]["available"] == 0

        message = offer_mail(offered, base_url)
        assert message["To"].addresses[0].addr_spec == big.user["email"]
        text = message.get_body(preferencelist=("plain",)).get_content()
        assert f"{base_url}/checkout/{offered['checkoutId']}" in text
        assert re.search(re.escape(base_url) + r"/waiting-list/leave\?entry=[^&\s]+&token=\S+", text)

        paid = big.post(f"/api/checkouts/{offered['checkoutId']}/pay",
                        json={"paymentMethod": payment_method(GOOD_CARD)})
        assert paid.status_code == 200 and paid.json()["outcome"]["status"] == "paid", paid.text
        order = paid.json()["checkout"]["orders"][0]
        wait_until(lambda: entry_of(big, big_entry["id"])["status"] == "accepted", 30, 0.2, "the entry taken")
        assert len(tickets_of(big, order["id"], 3)) == 3


def test_leaving_by_the_emails_link_needs_no_sign_in(organiser, db, base_url):
    concert = create_concert(organiser, db, [level("floor", 1, 10_000)])
    with new_customer(base_url, "whale") as whale, new_customer(base_url, "leaver") as leaver:
        checkout = hold_all(whale, concert["id"], "floor", 1)
        entry = join(leaver, concert["id"], "floor", 1).json()["entry"]
        assert whale.post(f"/api/reservations/{checkout['reservations'][0]['id']}/cancel").status_code == 200
        offered = wait_until(lambda: (e := entry_of(leaver, entry["id"]))["status"] == "offered" and e, 30, 0.2,
                             "the offer")
        text = offer_mail(offered, base_url).get_body(preferencelist=("plain",)).get_content()
        link = re.search(re.escape(base_url) + r"(/waiting-list/leave\?\S+)", text).group(1)
        with EncoreSession(base_url) as anonymous:
            expect_error_page = anonymous.get(link.replace("token=", "token=x"))
            assert expect_error_page.status_code == 404
            page = anonymous.get(link)
            assert page.status_code == 200 and "Leave the waiting list" in page.text
            csrf = re.search(r'name="_csrf" value="([^"]+)"', page.text).group(1)
            token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
            left = anonymous.post("/waiting-list/leave", data={"_csrf": csrf, "entry": entry["id"], "token": token})
            assert left.status_code == 303, left.text
            done = anonymous.get(left.headers["Location"])
            assert done.status_code == 200 and "You are off this waiting list" in done.text
        assert entry_of(leaver, entry["id"])["status"] == "left"
        assert [r["messageId"] for r in receipts()].count(f"offer-{offered['checkoutId']}@{urlparse(base_url).hostname}") \
            == 1
