"""The shopping cart and reservations JSON API through nginx (issue 6, API.md "Shopping cart",
"Reservations").

Every cart rule answers its status and error code and changes nothing it should not; confirm
reserves all or nothing (a level that falls short is named, and the availability of every
level is what it was); a cancelled reservation gives its tickets back; another customer's
reservation does not exist for you; a cancelled concert leaves the carts that had it (once the
projection daemon ran) and refuses new items; a held reservation expires when the stack's hold
time is short (the pool reloaded with `hold_seconds = 2`).

Runs against the stack bin/test starts (demo organiser from `encore seed`); every test makes
its own customers and concerts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests

from conftest import Database, EncoreSession, wait_until

PASSWORD = "encore-demo-2026"
CSRF_INPUT = re.compile(r'<input type="hidden" name="_csrf" value="([^"]+)"')


# --------------------------------------------------------------------------------- helpers
def future(days: float = 30) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


_signin_lock = threading.Lock()
_last_signin = [0.0]


def pace_signin() -> None:
    """Sign-in POSTs at most ~6 a second from here: below nginx's limit (10 a second per client)."""
    with _signin_lock:
        wait = _last_signin[0] + 0.15 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        _last_signin[0] = time.monotonic()


def sign_in(base_url: str, email: str, password: str = PASSWORD) -> EncoreSession:
    """A Bearer session. Sign-ins are paced and a 429 is waited out, so many customers can be
    signed in from one test run."""
    session = EncoreSession(base_url, timeout=30)
    for _ in range(40):
        pace_signin()
        response = session.post("/api/sessions", json={"email": email, "password": password})
        if response.status_code != 429:
            break
        time.sleep(float(response.headers.get("Retry-After", "1") or 1))
    assert response.status_code == 201, response.text
    session.headers["Authorization"] = f"Bearer {response.json()['token']}"
    session.user = response.json()["user"]  # type: ignore[attr-defined]
    return session


def new_customer(base_url: str, tag: str = "cart") -> EncoreSession:
    """A customer registered through the API and signed in."""
    email = f"{tag}-{uuid.uuid4().hex[:12]}@example.test"
    with EncoreSession(base_url, timeout=30) as anonymous:
        response = anonymous.post("/api/users", json={"email": email, "password": PASSWORD, "name": "Cart Tester"})
        assert response.status_code == 201, response.text
    return sign_in(base_url, email)


def error_of(response: requests.Response) -> dict:
    assert response.headers["content-type"].startswith("application/json"), response.text[:200]
    return response.json()["error"]


def expect_error(response: requests.Response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, f"{response.status_code} {response.text}"
    error = error_of(response)
    assert error["code"] == code, error
    assert error["message"]
    if field is not None:
        assert error.get("field") == field, error
    return error


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def level(level_id: str, capacity: int, price: int) -> dict:
    return {"id": level_id, "name": level_id.replace("-", " ").title(), "capacity": capacity, "price": price}


def create_concert(organiser: EncoreSession, db: Database, levels: list[dict], currency: str = "PLN") -> dict:
    """A concert whose availability shards exist (the reactor in the projection daemon makes
    them a moment after the concert)."""
    body = {
        "artist": f"Cart QA {uuid.uuid4().hex[:10]}", "title": "Cart Tour", "venue": "Tauron Arena",
        "city": "Kraków", "startsAt": future(), "currency": currency, "ticketLevels": levels,
    }
    response = organiser.post("/api/concerts", json=body)
    assert response.status_code == 201, response.text
    concert = response.json()["concert"]
    wait_until(lambda: int(db.value(
        f"SELECT count(DISTINCT level_id) FROM availability_shards WHERE concert_id = {sql_text(concert['id'])}"))
        == len(levels), timeout=30, message=f"availability shards of {concert['id']}")
    return concert


def available(http, concert_id: str) -> dict[str, int]:
    response = http.get(f"/api/concerts/{concert_id}")
    assert response.status_code == 200, response.text
    return {lvl["id"]: lvl["available"] for lvl in response.json()["concert"]["ticketLevels"]}


def add(customer, concert_id: str, level_id: str, quantity) -> requests.Response:
    return customer.post("/api/cart/items", json={"concertId": concert_id, "ticketLevelId": level_id,
                                                  "quantity": quantity})


def cart_of(customer) -> dict:
    response = customer.get("/api/cart")
    assert response.status_code == 200, response.text
    return response.json()["cart"]


ONLINE = {"method": "online", "email": "tickets@example.test"}
ADDRESS = {"name": "Ada Lovelace", "line1": "ul. Marszałkowska 1", "line2": "m. 4", "postalCode": "00-950",
           "city": "Warszawa", "country": "PL"}


def ready_to_confirm(customer, items: list[tuple[str, str, int]]) -> None:
    for concert_id, level_id, quantity in items:
        response = add(customer, concert_id, level_id, quantity)
        assert response.status_code == 201, response.text
    response = customer.put("/api/cart/delivery", json=ONLINE)
    assert response.status_code == 200, response.text


def confirm(customer) -> dict:
    response = customer.post("/api/cart/confirm")
    assert response.status_code == 201, response.text
    return response.json()["checkout"]


# --------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def organiser(base_url):
    with sign_in(base_url, "organiser@encore.test") as session:
        yield session


@pytest.fixture
def customer(base_url):
    with new_customer(base_url) as session:
        yield session


@pytest.fixture
def concert(organiser, db) -> dict:
    """Floor 10 tickets at 300 PLN, balcony 50 at 150 PLN, VIP 3 at 900 PLN."""
    return create_concert(organiser, db, [level("floor", 10, 30_000), level("balcony", 50, 15_000),
                                          level("vip", 3, 90_000)])


@pytest.fixture
def other_concert(organiser, db) -> dict:
    """Another concert, in the same currency: standing 20 tickets at 80 PLN."""
    return create_concert(organiser, db, [level("standing", 20, 8_000)])


@pytest.fixture
def euro_concert(organiser, db) -> dict:
    """A concert priced in euros: standing 20 tickets at 80 EUR."""
    return create_concert(organiser, db, [level("standing", 20, 8_000)], currency="EUR")


# --------------------------------------------------------------------------------- sign-in
def test_the_cart_needs_a_signed_in_user(http, concert):
    assert http.get("/api/cart").status_code == 401
    assert add(http, concert["id"], "floor", 1).status_code == 401
    for method, path in [("PATCH", f"/api/cart/items/{concert['id']}/floor"),
                         ("DELETE", f"/api/cart/items/{concert['id']}/floor"), ("PUT", "/api/cart/delivery"),
                         ("POST", "/api/cart/confirm"), ("POST", "/api/cart/cancel"), ("GET", "/api/reservations"),
                         ("GET", "/api/reservations/x"), ("POST", "/api/reservations/x/cancel")]:
        response = http.request(method, path, json={"quantity": 1})
        assert response.status_code == 401, f"{method} {path}: {response.status_code}"


# --------------------------------------------------------------------------------- the cart
def test_a_new_customer_has_an_empty_cart(customer):
    cart = cart_of(customer)
    assert cart["items"] == [] and cart["totals"] == [] and cart.get("delivery") is None
    assert cart.get("dropped", []) == []


def test_items_of_several_concerts_and_levels_in_one_currency_with_their_total(customer, concert, other_concert,
                                                                               euro_concert):
    response = add(customer, concert["id"], "floor", 2)
    assert response.status_code == 201, response.text
    assert response.json()["cart"]["items"] == [
        {"concertId": concert["id"], "ticketLevelId": "floor", "quantity": 2, "unitPrice": 30_000,
         "currency": "PLN"}]
    assert add(customer, concert["id"], "balcony", 3).status_code == 201
    assert add(customer, other_concert["id"], "standing", 4).status_code == 201
    cart = cart_of(customer)
    assert [(i["concertId"], i["ticketLevelId"], i["quantity"], i["unitPrice"], i["currency"]) for i in cart["items"]] \
        == [(concert["id"], "floor", 2, 30_000, "PLN"), (concert["id"], "balcony", 3, 15_000, "PLN"),
            (other_concert["id"], "standing", 4, 8_000, "PLN")]
    assert [(t["currency"], t["amount"]) for t in cart["totals"]] == [("PLN", 137_000)]
    # One payment, one currency: a concert priced in euros is refused, and nothing changes.
    expect_error(add(customer, euro_concert["id"], "standing", 1), 409, "currency_mismatch", "concertId")
    assert len(cart_of(customer)["items"]) == 3
    # adding to a cart holds nothing
    assert available(customer, concert["id"]) == {"floor": 10, "balcony": 50, "vip": 3}


def test_the_same_concert_and_level_twice_is_409(customer, concert):
    assert add(customer, concert["id"], "floor", 2).status_code == 201
    expect_error(add(customer, concert["id"], "floor", 1), 409, "item_already_in_cart")
    assert [i["quantity"] for i in cart_of(customer)["items"]] == [2]


@pytest.mark.parametrize("quantity", [0, -1, 11, 100])
def test_a_quantity_below_one_or_above_ten_is_422(customer, other_concert, quantity):
    expect_error(add(customer, other_concert["id"], "standing", quantity), 422, "invalid_field", "quantity")
    assert cart_of(customer)["items"] == []


def test_a_quantity_of_the_wrong_type_is_422(customer, concert):
    expect_error(add(customer, concert["id"], "floor", "two"), 422, "invalid_field", "quantity")
    expect_error(customer.post("/api/cart/items", json={"concertId": concert["id"], "ticketLevelId": "floor"}),
                 422, "missing_field", "quantity")
    assert cart_of(customer)["items"] == []


def test_more_than_available_is_409(customer, concert):
    expect_error(add(customer, concert["id"], "vip", 4), 409, "not_enough_tickets")
    assert add(customer, concert["id"], "vip", 3).status_code == 201


def test_unknown_concert_or_level_is_404(customer, concert):
    expect_error(add(customer, "no-such-concert", "floor", 1), 404, "unknown_concert", "concertId")
    expect_error(add(customer, concert["id"], "no-such-level", 1), 404, "unknown_ticket_level", "ticketLevelId")
    assert cart_of(customer)["items"] == []


def test_changing_the_quantity(customer, concert):
    path = f"/api/cart/items/{concert['id']}/balcony"
    expect_error(customer.patch(path, json={"quantity": 2}), 404, "item_not_in_cart")  # no cart yet
    assert add(customer, concert["id"], "floor", 1).status_code == 201
    expect_error(customer.patch(path, json={"quantity": 2}), 404, "item_not_in_cart")  # not in this cart
    assert add(customer, concert["id"], "balcony", 1).status_code == 201
    response = customer.patch(path, json={"quantity": 7})
    assert response.status_code == 200, response.text
    assert [(i["ticketLevelId"], i["quantity"]) for i in response.json()["cart"]["items"]] == [("floor", 1),
                                                                                              ("balcony", 7)]
    expect_error(customer.patch(path, json={"quantity": 0}), 422, "invalid_field", "quantity")
    expect_error(customer.patch(path, json={"quantity": 11}), 422, "invalid_field", "quantity")
    expect_error(customer.patch(f"/api/cart/items/{concert['id']}/vip", json={"quantity": 1}), 404,
                 "item_not_in_cart")
    assert add(customer, concert["id"], "vip", 1).status_code == 201
    expect_error(customer.patch(f"/api/cart/items/{concert['id']}/vip", json={"quantity": 4}), 409,
                 "not_enough_tickets")
    expect_error(customer.patch(f"/api/cart/items/no-such-concert/vip", json={"quantity": 1}), 404,
                 "unknown_concert")
    assert [(i["ticketLevelId"], i["quantity"]) for i in cart_of(customer)["items"]] == [
        ("floor", 1), ("balcony", 7), ("vip", 1)]


def test_removing_an_item(customer, concert):
    path = f"/api/cart/items/{concert['id']}/floor"
    expect_error(customer.delete(path), 404, "item_not_in_cart")  # no cart yet
    assert add(customer, concert["id"], "floor", 2).status_code == 201
    assert add(customer, concert["id"], "balcony", 1).status_code == 201
    response = customer.delete(path)
    assert response.status_code == 200, response.text
    assert [i["ticketLevelId"] for i in response.json()["cart"]["items"]] == ["balcony"]
    expect_error(customer.delete(path), 404, "item_not_in_cart")
    # removed, it can be added again
    assert add(customer, concert["id"], "floor", 1).status_code == 201


# --------------------------------------------------------------------------------- delivery
def test_online_delivery(customer):
    response = customer.put("/api/cart/delivery", json={"method": "online", "email": "  Tickets@Example.TEST "})
    assert response.status_code == 200, response.text
    assert response.json()["cart"]["delivery"]["method"] == "online"
    assert response.json()["cart"]["delivery"]["email"] == "tickets@example.test"


def test_printed_delivery(customer):
    response = customer.put("/api/cart/delivery", json={"method": "printed", "address": dict(ADDRESS, country="pl")})
    assert response.status_code == 200, response.text
    delivery = cart_of(customer)["delivery"]
    assert delivery["method"] == "printed"
    assert delivery["address"] == dict(ADDRESS, country="PL")


@pytest.mark.parametrize("body,field", [
    ({"method": "online", "email": "not-an-address"}, "email"),
    ({"method": "online"}, "email"),
    ({"method": "printed"}, "address"),
    ({"method": "printed", "address": dict(ADDRESS, postalCode="00950")}, "address.postalCode"),
    ({"method": "printed", "address": dict(ADDRESS, postalCode="00950", country=" pl")}, "address.postalCode"),
    ({"method": "printed", "address": dict(ADDRESS, name=" ")}, "address.name"),
    ({"method": "printed", "address": dict(ADDRESS, line1="")}, "address.line1"),
    ({"method": "printed", "address": dict(ADDRESS, city="")}, "address.city"),
    ({"method": "printed", "address": dict(ADDRESS, country="Poland")}, "address.country"),
    ({"method": "pigeon"}, "method"),
])
def test_invalid_delivery_is_422_naming_the_field(customer, body, field):
    assert customer.put("/api/cart/delivery", json=ONLINE).status_code == 200
    expect_error(customer.put("/api/cart/delivery", json=body), 422, "invalid_field", field)
    delivery = cart_of(customer)["delivery"]
    assert (delivery["method"], delivery["email"]) == ("online", "tickets@example.test")


# --------------------------------------------------------------------------------- confirm
def test_confirming_without_items_or_delivery_is_409(customer, concert):
    expect_error(customer.post("/api/cart/confirm"), 409, "cart_empty")  # no cart at all
    assert customer.put("/api/cart/delivery", json=ONLINE).status_code == 200
    expect_error(customer.post("/api/cart/confirm"), 409, "cart_empty")  # a cart with delivery only
    with new_customer(customer.base_url) as other:
        assert add(other, concert["id"], "floor", 1).status_code == 201
        expect_error(other.post("/api/cart/confirm"), 409, "delivery_missing")
        assert len(cart_of(other)["items"]) == 1
    assert available(customer, concert["id"])["floor"] == 10


def test_confirm_reserves_every_item_and_starts_a_fresh_cart(customer, concert, other_concert):
    ready_to_confirm(customer, [(concert["id"], "floor", 2), (concert["id"], "vip", 1),
                                (other_concert["id"], "standing", 3)])
    old_cart = cart_of(customer)
    before = time.time()
    response = customer.post("/api/cart/confirm")
    assert response.status_code == 201, response.text
    checkout = response.json()["checkout"]
    # (`payment` comes with the payments issue; until then it is null or absent)
    assert set(checkout) >= {"id", "reservations", "orders", "expiresAt"}
    assert checkout["id"]
    reservations = {r["concertId"]: r for r in checkout["reservations"]}
    assert set(reservations) == {concert["id"], other_concert["id"]}  # one per concert
    for r in reservations.values():
        assert r["status"] == "held" and r["checkoutId"] == checkout["id"]
        assert r["expiresAt"] == checkout["expiresAt"]
    assert sorted((i["ticketLevelId"], i["quantity"], i["unitPrice"], i["currency"])
                  for i in reservations[concert["id"]]["items"]) == [("floor", 2, 30_000, "PLN"),
                                                                     ("vip", 1, 90_000, "PLN")]
    assert [(i["ticketLevelId"], i["quantity"]) for i in reservations[other_concert["id"]]["items"]] == \
        [("standing", 3)]
    assert parse_time(checkout["expiresAt"]).timestamp() > before

    # the tickets are held
    assert available(customer, concert["id"]) == {"floor": 8, "balcony": 50, "vip": 2}
    assert available(customer, other_concert["id"]) == {"standing": 17}
    # the customer's reservations
    mine = customer.get("/api/reservations")
    assert mine.status_code == 200
    assert {r["id"] for r in mine.json()["reservations"]} == {r["id"] for r in checkout["reservations"]}
    for r in checkout["reservations"]:
        one = customer.get(f"/api/reservations/{r['id']}")
        assert one.status_code == 200, one.text
        assert one.json()["reservation"]["status"] == "held"
    # a fresh cart: empty, another id, and confirming it again reserves nothing
    cart = cart_of(customer)
    assert cart["items"] == [] and cart.get("id") != old_cart.get("id")
    expect_error(customer.post("/api/cart/confirm"), 409, "cart_empty")
    assert available(customer, concert["id"]) == {"floor": 8, "balcony": 50, "vip": 2}
    # the checkout page shows the hold
    page = customer.get(f"/checkout/{checkout['id']}")
    assert page.status_code == 200 and concert["artist"] in page.text


def test_not_enough_tickets_names_the_level_and_reserves_nothing(base_url, customer, concert, other_concert, db):
    # Both carts take the last 3 VIP tickets while they are there; the first to confirm gets them.
    ready_to_confirm(customer, [(concert["id"], "vip", 3)])
    with new_customer(base_url) as late:
        ready_to_confirm(late, [(other_concert["id"], "standing", 2), (concert["id"], "floor", 4),
                                (concert["id"], "vip", 2)])
        confirm(customer)
        before = (available(late, concert["id"]), available(late, other_concert["id"]))
        # the events of both concerts' shards and of the late customer's reservations
        theirs = (f"SELECT count(*) FROM es_events WHERE stream_id LIKE {sql_text('availability-' + concert['id'] + '-%')}"
                  f" OR stream_id LIKE {sql_text('availability-' + other_concert['id'] + '-%')}"
                  f" OR (stream_type = 'reservation' AND data->>'userId' = {sql_text(late.user['id'])})")
        events_before = db.value(theirs)
        error = expect_error(late.post("/api/cart/confirm"), 409, "not_enough_tickets")
        assert error["concertId"] == concert["id"]
        assert error["ticketLevelId"] == "vip"
        assert int(error["available"]) == 0
        assert "Vip" in error["message"] or "vip" in error["message"].lower()
        # nothing reserved, in either concert: availability, reservations and the log unchanged
        assert (available(late, concert["id"]), available(late, other_concert["id"])) == before
        assert before == ({"floor": 10, "balcony": 50, "vip": 0}, {"standing": 20})
        assert late.get("/api/reservations").json()["reservations"] == []
        assert db.value(theirs) == events_before
        # the cart is still open, as it was: the customer can change it and try again
        assert [(i["ticketLevelId"], i["quantity"]) for i in cart_of(late)["items"]] == \
            [("standing", 2), ("floor", 4), ("vip", 2)]
        assert late.delete(f"/api/cart/items/{concert['id']}/vip").status_code == 200
        checkout = confirm(late)
        assert len(checkout["reservations"]) == 2
        assert available(late, concert["id"]) == {"floor": 6, "balcony": 50, "vip": 0}
        assert available(late, other_concert["id"]) == {"standing": 18}


def test_a_repeated_confirm_with_the_same_idempotency_key_reserves_once(customer, concert):
    ready_to_confirm(customer, [(concert["id"], "balcony", 4)])
    key = uuid.uuid4().hex
    first = customer.post("/api/cart/confirm", headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    again = customer.post("/api/cart/confirm", headers={"Idempotency-Key": key})
    assert again.status_code == 201, again.text
    assert again.json()["checkout"]["id"] == first.json()["checkout"]["id"]
    assert available(customer, concert["id"])["balcony"] == 46
    assert len(customer.get("/api/reservations").json()["reservations"]) == 1


def test_cancelling_the_cart_empties_it(customer, concert):
    ready_to_confirm(customer, [(concert["id"], "floor", 2)])
    old = cart_of(customer)
    response = customer.post("/api/cart/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["cart"]["items"] == []
    assert add(customer, concert["id"], "floor", 1).status_code == 201
    cart = cart_of(customer)
    assert cart.get("id") != old.get("id") and [i["quantity"] for i in cart["items"]] == [1]
    assert cart.get("delivery") is None
    assert available(customer, concert["id"])["floor"] == 10
    # cancelling when there is no cart is harmless
    with new_customer(customer.base_url) as other:
        assert other.post("/api/cart/cancel").status_code == 200


# --------------------------------------------------------------------------------- reservations
def test_cancelling_a_reservation_returns_its_tickets(customer, concert):
    ready_to_confirm(customer, [(concert["id"], "floor", 3), (concert["id"], "vip", 3)])
    checkout = confirm(customer)
    assert available(customer, concert["id"]) == {"floor": 7, "balcony": 50, "vip": 0}
    reservation = checkout["reservations"][0]["id"]
    response = customer.post(f"/api/reservations/{reservation}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["reservation"]["status"] == "cancelled"
    assert available(customer, concert["id"]) == {"floor": 10, "balcony": 50, "vip": 3}
    assert customer.get(f"/api/reservations/{reservation}").json()["reservation"]["status"] == "cancelled"
    expect_error(customer.post(f"/api/reservations/{reservation}/cancel"), 409, "already_cancelled")
    assert available(customer, concert["id"]) == {"floor": 10, "balcony": 50, "vip": 3}
    # the tickets are for sale again
    with new_customer(customer.base_url) as next_one:
        ready_to_confirm(next_one, [(concert["id"], "vip", 3)])
        confirm(next_one)


def test_another_customers_reservation_is_not_found(base_url, customer, concert):
    ready_to_confirm(customer, [(concert["id"], "balcony", 2)])
    reservation = confirm(customer)["reservations"][0]["id"]
    with new_customer(base_url) as stranger:
        expect_error(stranger.get(f"/api/reservations/{reservation}"), 404, "unknown_reservation")
        expect_error(stranger.post(f"/api/reservations/{reservation}/cancel"), 404, "unknown_reservation")
        assert stranger.get("/api/reservations").json()["reservations"] == []
    expect_error(customer.get("/api/reservations/no-such-reservation"), 404, "unknown_reservation")
    expect_error(customer.post("/api/reservations/no-such-reservation/cancel"), 404, "unknown_reservation")
    # the stranger's attempt changed nothing
    assert customer.get(f"/api/reservations/{reservation}").json()["reservation"]["status"] == "held"
    assert available(customer, concert["id"])["balcony"] == 48


# --------------------------------------------------------------------------------- a cancelled concert
def test_a_cancelled_concert_leaves_the_carts_and_refuses_new_items(base_url, organiser, customer, concert,
                                                                     other_concert):
    assert add(customer, concert["id"], "floor", 2).status_code == 201
    assert add(customer, concert["id"], "balcony", 1).status_code == 201
    assert add(customer, other_concert["id"], "standing", 1).status_code == 201
    response = organiser.post(f"/api/concerts/{concert['id']}/cancel", json={"reason": "QA"})
    assert response.status_code == 200, response.text

    def dropped() -> dict | None:
        cart = cart_of(customer)
        return cart if len(cart.get("dropped", [])) == 2 else None
    cart = wait_until(dropped, timeout=30, interval=0.2, message="the cart to drop the cancelled concert")
    assert sorted((d["concertId"], d["ticketLevelId"]) for d in cart["dropped"]) == [
        (concert["id"], "balcony"), (concert["id"], "floor")]
    assert all(d["reason"] for d in cart["dropped"])
    assert [(i["concertId"], i["ticketLevelId"]) for i in cart["items"]] == [(other_concert["id"], "standing")]
    assert [(t["currency"], t["amount"]) for t in cart["totals"]] == [("PLN", 8_000)]

    expect_error(add(customer, concert["id"], "vip", 1), 409, "concert_cancelled")
    with new_customer(base_url) as other:
        expect_error(add(other, concert["id"], "floor", 1), 409, "concert_cancelled")
        assert cart_of(other)["items"] == []
    # the rest of the cart still confirms
    assert customer.put("/api/cart/delivery", json=ONLINE).status_code == 200
    checkout = confirm(customer)
    assert [r["concertId"] for r in checkout["reservations"]] == [other_concert["id"]]


# --------------------------------------------------------------------------------- expiry
def test_a_held_reservation_expires_and_returns_its_tickets(customer, concert, pool):
    """With the pool reconfigured to hold tickets for 2 seconds (`hold_seconds`, reloaded by
    SIGHUP), an unpaid reservation expires once, and its tickets return to sale once."""
    ready_to_confirm(customer, [(concert["id"], "vip", 2)])
    with pool.settings(hold_seconds="2"):
        checkout = confirm(customer)
    reservation = checkout["reservations"][0]
    hold = (parse_time(reservation["expiresAt"]) - parse_time(reservation["heldAt"])).total_seconds()
    assert hold == pytest.approx(2, abs=0.01)
    assert available(customer, concert["id"])["vip"] in (1, 3)  # 3 once it has expired

    def expired() -> bool:
        return customer.get(f"/api/reservations/{reservation['id']}").json()["reservation"]["status"] == "expired"
    wait_until(expired, timeout=30, interval=0.1, message="the expiry job to expire the reservation")
    assert time.time() >= parse_time(reservation["expiresAt"]).timestamp() - 1
    assert available(customer, concert["id"])["vip"] == 3
    expect_error(customer.post(f"/api/reservations/{reservation['id']}/cancel"), 409, "already_expired")
    assert available(customer, concert["id"])["vip"] == 3


# --------------------------------------------------------------------------------- pages
def test_add_to_cart_works_without_javascript(base_url, concert):
    """The concert page's form posts to /cart/items with the session cookie and its CSRF
    token, and the browser lands on the cart."""
    with new_customer(base_url, "form") as api_user:
        email = api_user.user["email"]
    with EncoreSession(base_url, timeout=30) as browser:
        page = browser.get("/signin")
        pace_signin()
        browser.post("/signin", data={"email": email, "password": PASSWORD, "next": "/cart",
                                      "_csrf": CSRF_INPUT.search(page.text).group(1)})
        page = browser.get(f"/concerts/{concert['id']}")
        assert page.status_code == 200
        assert 'action="/cart/items"' in page.text
        token = CSRF_INPUT.search(page.text).group(1)
        response = browser.post("/cart/items", data={"_csrf": token, "concertId": concert["id"],
                                                     "ticketLevelId": "balcony", "quantity": "2"})
        assert response.status_code in (302, 303), response.text[:300]
        assert response.headers["Location"].startswith("/cart")
        cart_page = browser.get(response.headers["Location"])
        assert cart_page.status_code == 200
        assert concert["artist"] in cart_page.text and "Balcony" in cart_page.text
        # without the CSRF token nothing is added
        refused = browser.post("/cart/items", data={"concertId": concert["id"], "ticketLevelId": "floor",
                                                    "quantity": "1"})
        assert refused.status_code == 403
        assert "Floor" not in browser.get("/cart").text
