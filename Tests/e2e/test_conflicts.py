"""Every route that appends events answers 409 `conflict` (never 500) when its append keeps
meeting a newer version of its stream, and changes nothing.

The conflict is real, injected in PostgreSQL: a trigger on `es_events` raises the same unique
violation on (stream_id, stream_version) that a concurrent writer's row would, for every
append while the test runs. The command handlers retry, as they do for a real race, and then
the router answers. Pages answer the form again with the message, under 409.
"""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager

import pytest

from conftest import Database, EncoreSession
from test_cart_api import ONLINE, add, create_concert, level, new_customer, sign_in

CSRF_INPUT = re.compile(r'<input type="hidden" name="_csrf" value="([^"]+)"')


@contextmanager
def every_append_conflicts(db: Database):
    db.execute("""
        CREATE OR REPLACE FUNCTION encore_test_conflict() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE unique_violation USING
                CONSTRAINT = 'es_events_stream_id_stream_version_key',
                MESSAGE = 'duplicate key value violates unique constraint "es_events_stream_id_stream_version_key"',
                DETAIL = format('Key (stream_id, stream_version)=(%s, %s) already exists.',
                                NEW.stream_id, NEW.stream_version);
        END $$;
        DROP TRIGGER IF EXISTS encore_test_conflict ON es_events;
        CREATE TRIGGER encore_test_conflict BEFORE INSERT ON es_events
            FOR EACH ROW EXECUTE FUNCTION encore_test_conflict();
    """)
    try:
        yield
    finally:
        db.execute("DROP TRIGGER IF EXISTS encore_test_conflict ON es_events")


def events(db: Database) -> int:
    return db.count("SELECT count(*) FROM es_events")


def expect_conflict(response, what: str) -> None:
    assert response.status_code == 409, f"{what}: {response.status_code} {response.text[:300]}"
    if response.headers.get("content-type", "").startswith("application/json"):
        assert response.json()["error"]["code"] in ("conflict", "cart_changed"), f"{what}: {response.text}"


def form_token(session: EncoreSession, path: str) -> str:
    page = session.get(path)
    assert page.status_code == 200, f"{path}: {page.status_code}"
    return CSRF_INPUT.search(page.text).group(1)


@pytest.fixture
def world(base_url, db):
    """A customer with a cart (an item, delivery chosen) and a held reservation, a concert of
    the demo organiser, and a browser-like session of the customer, all made before the
    conflicts start."""
    organiser = sign_in(base_url, "organiser@encore.test")
    admin = sign_in(base_url, "admin@encore.test")
    concert = create_concert(organiser, db, [level("floor", 20, 10_000), level("balcony", 20, 5_000)])
    customer = new_customer(base_url, "conflict")
    assert add(customer, concert["id"], "floor", 1).status_code == 201
    assert customer.put("/api/cart/delivery", json=ONLINE).status_code == 200
    held = customer.post("/api/cart/confirm")
    assert held.status_code == 201, held.text
    assert add(customer, concert["id"], "floor", 2).status_code == 201
    assert customer.put("/api/cart/delivery", json=ONLINE).status_code == 200
    browser = EncoreSession(base_url, timeout=30)
    token = form_token(browser, "/signin")
    email = customer.user["email"]  # type: ignore[attr-defined]
    signed_in = browser.post("/signin", data={"email": email, "password": "encore-demo-2026", "_csrf": token},
                             allow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text[:300]
    yield {"organiser": organiser, "admin": admin, "customer": customer, "browser": browser, "concert": concert,
           "reservation": held.json()["checkout"]["reservations"][0]["id"]}
    for session in (organiser, admin, customer, browser):
        session.close()


def test_every_appending_api_route_answers_409_and_changes_nothing(world, db):
    concert, customer = world["concert"], world["customer"]
    organiser, admin = world["organiser"], world["admin"]
    item = f"/api/cart/items/{concert['id']}/floor"
    calls = [
        ("register", lambda: EncoreSession(customer.base_url).post(
            "/api/users", json={"email": f"c-{uuid.uuid4().hex[:8]}@example.test", "password": "long enough pw",
                                "name": "Cora"})),
        ("rename", lambda: customer.patch("/api/me", json={"name": "Renamed"})),
        ("password", lambda: customer.put("/api/me/password", json={"currentPassword": "encore-demo-2026",
                                                                   "newPassword": "another long one"})),
        ("role", lambda: admin.put(f"/api/users/{customer.user['id']}/role", json={"role": "organiser"})),
        ("create concert", lambda: organiser.post("/api/concerts", json={
            "artist": "Conflicted", "venue": "Hall", "city": "Gdańsk", "startsAt": "2031-01-01T19:00:00Z",
            "currency": "PLN", "ticketLevels": [level("a", 5, 100)]})),
        ("update concert", lambda: organiser.patch(f"/api/concerts/{concert['id']}", json={"city": "Poznań"})),
        ("levels", lambda: organiser.put(f"/api/concerts/{concert['id']}/ticket-levels",
                                         json={"ticketLevels": [level("floor", 30, 10_000),
                                                                level("balcony", 20, 5_000)]})),
        ("cancel concert", lambda: organiser.post(f"/api/concerts/{concert['id']}/cancel", json={})),
        ("add item", lambda: add(customer, concert["id"], "balcony", 1)),
        ("change quantity", lambda: customer.patch(item, json={"quantity": 3})),
        ("remove item", lambda: customer.delete(item)),
        ("delivery", lambda: customer.put("/api/cart/delivery", json={"method": "online",
                                                                      "email": "other@example.test"})),
        ("confirm", lambda: customer.post("/api/cart/confirm")),
        ("empty cart", lambda: customer.post("/api/cart/cancel")),
        ("cancel reservation", lambda: customer.post(f"/api/reservations/{world['reservation']}/cancel")),
        # Finance's appends (issue 23), through the same handlers and error mapping.
        ("financial details", lambda: customer.put("/api/me/financial-info", json={
            "legalName": "Anna Kowalska",
            "address": {"line1": "ul. Długa 1", "postalCode": "00-950", "city": "Warszawa", "country": "PL"}})),
        ("VAT rate", lambda: organiser.put(f"/api/concerts/{concert['id']}/vat-rate", json={"vatRate": 23})),
    ]
    before = events(db)
    with every_append_conflicts(db):
        for what, call in calls:
            expect_conflict(call(), what)
    assert events(db) == before
    assert customer.get("/api/cart").json()["cart"]["items"][0]["quantity"] == 2
    assert customer.get(f"/api/reservations/{world['reservation']}").json()["reservation"]["status"] == "held"


def test_every_appending_page_form_answers_409_with_the_form_and_changes_nothing(world, db):
    concert, browser = world["concert"], world["browser"]
    token = form_token(browser, "/account")
    forms = [
        ("/account/name", {"name": "Renamed"}),
        ("/cart/items", {"concertId": concert["id"], "ticketLevelId": "balcony", "quantity": "1"}),
        (f"/cart/items/{concert['id']}/floor", {"quantity": "3"}),
        ("/cart/delivery", {"method": "online", "email": "else@example.test"}),
        ("/cart/confirm", {}),
    ]
    before = events(db)
    with every_append_conflicts(db):
        for path, fields in forms:
            response = browser.post(path, data={**fields, "_csrf": token}, allow_redirects=False)
            expect_conflict(response, path)
            assert "text/html" in response.headers["content-type"]
    assert events(db) == before
