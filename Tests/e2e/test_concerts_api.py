"""The Concerts JSON API through nginx (issue 5, API.md "Concerts").

Organisers create, update, re-price and cancel concerts; every invalid request answers 422
`invalid_field` naming the field and appends nothing (the concert's history and the
event store are unchanged, no concert appears); customers get 403, anonymous callers 401,
and another organiser 404 on every organiser endpoint.

Runs against the stack bin/test starts (demo accounts from `encore seed`).
"""

from __future__ import annotations

import re
import subprocess
import uuid
from urllib.parse import quote
from datetime import datetime, timedelta, timezone

import pytest

from conftest import EncoreSession, wait_until

PASSWORD = "encore-demo-2026"
DEMO_CONCERT = "beyonce-warsaw-2027"


# --------------------------------------------------------------------------------- helpers
def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def future(days: float = 30) -> str:
    return rfc3339(datetime.now(timezone.utc) + timedelta(days=days))


def concert_body(**overrides) -> dict:
    """A valid POST /api/concerts body with a unique artist."""
    body = {
        "artist": f"QA Artist {uuid.uuid4().hex[:10]}",
        "title": "Test Tour",
        "venue": "Hala Stulecia",
        "city": "Wrocław",
        "startsAt": future(0.1),
        "currency": "PLN",
        "ticketLevels": [
            {"id": "golden-circle", "name": "Golden circle", "capacity": 500, "price": 89_900},
            {"id": "regular", "name": "Regular", "capacity": 4_000, "price": 45_000},
        ],
    }
    body.update(overrides)
    return body


def signed_in(base_url: str, email: str, password: str = PASSWORD) -> EncoreSession:
    """A session that sends `Authorization: Bearer` (and, like a browser, holds the cookie)."""
    session = EncoreSession(base_url)
    response = session.post("/api/sessions", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    session.headers["Authorization"] = f"Bearer {response.json()['token']}"
    session.user = response.json()["user"]  # type: ignore[attr-defined]
    return session


def error_of(response) -> dict:
    assert response.headers["content-type"].startswith("application/json"), response.text[:200]
    return response.json()["error"]


def history(api, concert_id: str) -> list[dict]:
    response = api.get(f"/api/concerts/{concert_id}/history")
    assert response.status_code == 200, response.text
    return response.json()["events"]


# Anonymous visitors may get `/` and `/concerts/{id}` from nginx's microcache, a few seconds
# old; signed-in callers (cookie or bearer token) always get a fresh page.
PUBLIC_CACHE_SECONDS = 12


def public_page_shows(http, path: str, *texts: str, absent: tuple[str, ...] = ()) -> str:
    """The anonymous page at path, once it shows every text and none of `absent`."""
    def fresh():
        response = http.get(path)
        assert response.status_code == 200, (path, response.status_code)
        ok = all(t in response.text for t in texts) and not any(t in response.text for t in absent)
        return response.text if ok else None
    return wait_until(fresh, PUBLIC_CACHE_SECONDS, 0.2, f"{path} to show {texts}")


def public_concert(http, concert_id: str) -> dict:
    response = http.get(f"/api/concerts/{concert_id}")
    assert response.status_code == 200, response.text
    return response.json()["concert"]


def without_availability(concert: dict) -> dict:
    levels = [{k: v for k, v in level.items() if k != "available"} for level in concert["ticketLevels"]]
    return dict(concert, ticketLevels=levels)


def all_listed(http, **params) -> list[dict]:
    """Every concert of the public list, page after page (`next`), 100 at a time."""
    concerts: list[dict] = []
    cursor = None
    for _ in range(1000):
        response = http.get("/api/concerts", params=dict(params, limit=100, **({"cursor": cursor} if cursor else {})))
        assert response.status_code == 200, response.text
        concerts += response.json()["concerts"]
        cursor = response.json()["next"]
        if cursor is None:
            return concerts
    raise AssertionError("the list did not end")


def concert_ids(http) -> list[str]:
    return [c["id"] for c in all_listed(http)]


def by_artist(http, artist: str) -> list[dict]:
    """The listed concerts of exactly this artist (searched for, then matched whole)."""
    return [c for c in all_listed(http, q=artist[:200]) if c["artist"] == artist]


def store_counts(stack) -> tuple[int, int] | None:
    """(concert events, concert streams) straight from the event store, or None when the
    test database is not known (pytest run by hand without DATABASE_URL)."""
    if not stack.database_url:
        return None
    out = subprocess.run(
        ["psql", stack.database_url, "-XAtq", "-c",
         "SELECT (SELECT count(*) FROM es_events WHERE stream_type = 'concert') || ' ' ||"
         " (SELECT count(*) FROM es_streams WHERE stream_type = 'concert')"],
        capture_output=True, text=True, timeout=30, check=True).stdout.split()
    return int(out[0]), int(out[1])


# --------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def organiser(base_url):
    with signed_in(base_url, "organiser@encore.test") as session:
        yield session


@pytest.fixture(scope="module")
def admin(base_url):
    with signed_in(base_url, "admin@encore.test") as session:
        yield session


@pytest.fixture(scope="module")
def customer(base_url):
    with signed_in(base_url, "customer@encore.test") as session:
        yield session


@pytest.fixture(scope="module")
def other_organiser(base_url, admin):
    """A second organiser: registered through the API, promoted by the admin."""
    email = f"organiser-{uuid.uuid4().hex[:8]}@encore.test"
    with EncoreSession(base_url) as anonymous:
        response = anonymous.post("/api/users", json={"email": email, "password": PASSWORD,
                                                      "name": "Otto Other"})
        assert response.status_code == 201, response.text
        user_id = response.json()["user"]["id"]
    response = admin.put(f"/api/users/{user_id}/role", json={"role": "organiser"})
    assert response.status_code == 200, response.text
    with signed_in(base_url, email) as session:
        assert session.user["role"] == "organiser"
        yield session


@pytest.fixture
def concert(organiser) -> dict:
    """A fresh concert of the demo organiser."""
    response = organiser.post("/api/concerts", json=concert_body())
    assert response.status_code == 201, response.text
    return response.json()["concert"]


# --------------------------------------------------------------------------------- create
def test_an_organiser_creates_a_concert(http, organiser, stack):
    before = store_counts(stack)
    starts = (datetime.now(timezone.utc) + timedelta(hours=5)).replace(minute=30, second=0, microsecond=0)
    body = concert_body(currency="pln", startsAt=rfc3339(starts))
    response = organiser.post("/api/concerts", json=body)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    concert = response.json()["concert"]

    assert concert["id"]
    for key in ("artist", "title", "venue", "city"):
        assert concert[key] == body[key]
    assert concert["startsAt"] == rfc3339(starts)
    assert concert["currency"] == "PLN"  # upper-cased
    assert concert["status"] == "scheduled"
    assert concert["ticketLevels"] == [
        {"id": "golden-circle", "name": "Golden circle", "capacity": 500, "price": 89_900, "available": 500},
        {"id": "regular", "name": "Regular", "capacity": 4_000, "price": 45_000, "available": 4_000},
    ]

    # The read model answers at once (inline projection), to anyone.
    assert public_concert(http, concert["id"]) == concert
    assert concert["id"] in concert_ids(http)
    public_page_shows(http, f"/concerts/{concert['id']}", body["artist"], "899.00 PLN", "450.00 PLN")
    public_page_shows(http, "/?q=" + quote(body["artist"]), body["artist"])

    events = history(organiser, concert["id"])
    assert [(e["version"], e["type"]) for e in events] == [(1, "ConcertCreated")]
    assert events[0]["userId"] == organiser.user["id"]
    if before is not None:
        assert store_counts(stack) == (before[0] + 1, before[1] + 1)


def test_a_level_without_an_id_gets_one_from_its_name(organiser):
    body = concert_body(ticketLevels=[{"name": "Golden Circle (Front)", "capacity": 10, "price": 0},
                                      {"name": "Płyta", "capacity": 5, "price": 100}])
    response = organiser.post("/api/concerts", json=body)
    assert response.status_code == 201, response.text
    levels = response.json()["concert"]["ticketLevels"]
    assert levels[0]["id"] == "golden-circle-front"
    assert levels[0]["price"] == 0 and levels[0]["available"] == 10
    assert levels[1]["id"].isascii() and levels[1]["id"].startswith("p")


def test_an_admin_creates_a_concert(admin):
    response = admin.post("/api/concerts", json=concert_body())
    assert response.status_code == 201, response.text


def test_a_repeated_idempotency_key_creates_one_concert(organiser, http, stack):
    body = concert_body()
    key = uuid.uuid4().hex
    first = organiser.post("/api/concerts", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    before = store_counts(stack)
    second = organiser.post("/api/concerts", json=body, headers={"Idempotency-Key": key})
    assert second.status_code in (200, 201), second.text
    assert second.json()["concert"]["id"] == first.json()["concert"]["id"]
    assert store_counts(stack) == before
    assert len(by_artist(http, body["artist"])) == 1


INVALID_CREATES = [
    ("missing artist", {"artist": ""}, "artist"),
    ("blank artist", {"artist": "   "}, "artist"),
    ("artist of 201 characters", {"artist": "a" * 201}, "artist"),
    ("missing venue", {"venue": ""}, "venue"),
    ("missing city", {"city": " "}, "city"),
    ("title of 201 characters", {"title": "t" * 201}, "title"),
    ("start in the past", {"startsAt": rfc3339(datetime.now(timezone.utc) - timedelta(hours=1))}, "startsAt"),
    ("start not RFC 3339", {"startsAt": "next friday"}, "startsAt"),
    ("start empty", {"startsAt": ""}, "startsAt"),
    ("currency of two letters", {"currency": "PL"}, "currency"),
    ("currency with a digit", {"currency": "PL1"}, "currency"),
    ("currency empty", {"currency": ""}, "currency"),
    ("no ticket levels", {"ticketLevels": []}, "ticketLevels"),
    ("capacity 0", {"ticketLevels": [{"id": "a", "name": "A", "capacity": 0, "price": 100}]},
     "ticketLevels[0].capacity"),
    ("capacity 100,001 on the second level",
     {"ticketLevels": [{"id": "a", "name": "A", "capacity": 100_000, "price": 100},
                       {"id": "b", "name": "B", "capacity": 100_001, "price": 100}]},
     "ticketLevels[1].capacity"),
    ("negative price", {"ticketLevels": [{"id": "a", "name": "A", "capacity": 10, "price": -1}]},
     "ticketLevels[0].price"),
    ("duplicate level ids",
     {"ticketLevels": [{"id": "a", "name": "A", "capacity": 10, "price": 100},
                       {"id": "a", "name": "A again", "capacity": 10, "price": 200}]},
     "ticketLevels[1].id"),
    ("level id with a space", {"ticketLevels": [{"id": "a b", "name": "A", "capacity": 10, "price": 1}]},
     "ticketLevels[0].id"),
    ("level without a name", {"ticketLevels": [{"id": "a", "name": " ", "capacity": 10, "price": 1}]},
     "ticketLevels[0].name"),
]


@pytest.mark.parametrize("overrides,field", [c[1:] for c in INVALID_CREATES],
                         ids=[c[0] for c in INVALID_CREATES])
def test_an_invalid_concert_is_refused_and_nothing_is_appended(organiser, http, stack, overrides, field):
    ids_before = concert_ids(http)
    counts_before = store_counts(stack)
    body = concert_body(**overrides)
    response = organiser.post("/api/concerts", json=body)

    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "invalid_field"
    assert error["field"] == field
    assert error["message"]
    assert concert_ids(http) == ids_before
    assert not by_artist(http, body["artist"])
    if counts_before is not None:
        assert store_counts(stack) == counts_before


def test_a_missing_key_is_422_naming_it(organiser, stack):
    before = store_counts(stack)
    body = concert_body()
    del body["venue"]
    response = organiser.post("/api/concerts", json=body)
    assert response.status_code == 422
    error = error_of(response)
    assert error["field"] == "venue"
    assert error["code"] == "missing_field"  # the Web layer's code for an absent key
    assert store_counts(stack) == before


def test_a_wrongly_typed_level_field_is_422_naming_it_like_the_other_level_errors(organiser):
    body = concert_body(ticketLevels=[{"id": "a", "name": "A", "capacity": "ten", "price": 1}])
    response = organiser.post("/api/concerts", json=body)
    assert response.status_code == 422
    assert error_of(response)["field"] == "ticketLevels[0].capacity"


def test_a_body_that_is_not_json_is_400(organiser, stack):
    before = store_counts(stack)
    response = organiser.post("/api/concerts", data=b"artist=x", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"
    assert store_counts(stack) == before


# --------------------------------------------------------------------------------- update
def test_an_organiser_updates_the_details(organiser, http, concert):
    response = organiser.patch(f"/api/concerts/{concert['id']}",
                               json={"venue": "Stadion Śląski", "city": "Chorzów",
                                     "startsAt": "2031-07-01T18:00:00Z"})
    assert response.status_code == 200, response.text
    updated = response.json()["concert"]
    assert updated["venue"] == "Stadion Śląski" and updated["city"] == "Chorzów"
    assert updated["startsAt"] == "2031-07-01T18:00:00Z"
    assert updated["artist"] == concert["artist"] and updated["title"] == concert["title"]
    assert updated["ticketLevels"] == concert["ticketLevels"]
    assert public_concert(http, concert["id"]) == updated
    assert "Chorzów" in organiser.get(f"/concerts/{concert['id']}").text  # signed in: at once
    public_page_shows(http, f"/concerts/{concert['id']}", "Chorzów")
    assert [e["type"] for e in history(organiser, concert["id"])] == ["ConcertCreated", "ConcertUpdated"]


def test_an_unchanged_update_appends_nothing(organiser, concert):
    response = organiser.patch(f"/api/concerts/{concert['id']}",
                               json={"artist": concert["artist"], "city": concert["city"]})
    assert response.status_code == 200, response.text
    assert response.json()["concert"] == concert
    assert len(history(organiser, concert["id"])) == 1


INVALID_UPDATES = [
    ("empty artist", {"artist": ""}, "artist"),
    ("blank venue", {"venue": "  "}, "venue"),
    ("city of 101 characters", {"city": "c" * 101}, "city"),
    ("start in the past", {"startsAt": "2020-01-01T20:00:00Z"}, "startsAt"),
    ("start not RFC 3339", {"startsAt": "01/06/2031 20:00"}, "startsAt"),
]


@pytest.mark.parametrize("patch,field", [c[1:] for c in INVALID_UPDATES], ids=[c[0] for c in INVALID_UPDATES])
def test_an_invalid_update_is_refused_and_nothing_is_appended(organiser, http, concert, patch, field):
    response = organiser.patch(f"/api/concerts/{concert['id']}", json=patch)
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_field", field)
    assert public_concert(http, concert["id"]) == concert
    assert len(history(organiser, concert["id"])) == 1


# --------------------------------------------------------------------------------- ticket levels
def test_an_organiser_replaces_the_ticket_levels(organiser, http, concert):
    levels = [
        {"id": "golden-circle", "name": "Golden circle", "capacity": 600, "price": 99_900},
        {"id": "regular", "name": "Regular", "capacity": 4_000, "price": 45_000},
        {"id": "balcony", "name": "Balcony", "capacity": 100, "price": 25_050},
    ]
    response = organiser.put(f"/api/concerts/{concert['id']}/ticket-levels", json={"ticketLevels": levels})
    assert response.status_code == 200, response.text
    updated = response.json()["concert"]
    assert without_availability(updated)["ticketLevels"] == levels
    assert updated["currency"] == "PLN" and updated["artist"] == concert["artist"]
    assert without_availability(public_concert(http, concert["id"])) == without_availability(updated)
    # `available` comes from the Reservations context, which follows level changes
    # asynchronously: with nothing sold it settles on the new capacities.
    wait_until(lambda: [lv["available"] for lv in public_concert(http, concert["id"])["ticketLevels"]]
               == [600, 4_000, 100], 15, 0.2, "availability to follow the new capacities")
    page = organiser.get(f"/concerts/{concert['id']}").text  # signed in: at once
    assert "999.00 PLN" in page and "250.50 PLN" in page and "899.00 PLN" not in page
    public_page_shows(http, f"/concerts/{concert['id']}", "999.00 PLN", "250.50 PLN", absent=("899.00 PLN",))
    events = history(organiser, concert["id"])
    assert [e["type"] for e in events] == ["ConcertCreated", "TicketLevelsUpdated"]
    assert events[-1]["userId"] == organiser.user["id"]

    # The same levels again change nothing.
    again = organiser.put(f"/api/concerts/{concert['id']}/ticket-levels", json={"ticketLevels": levels})
    assert again.status_code == 200
    assert len(history(organiser, concert["id"])) == 2


def test_a_cached_public_page_catches_up_within_seconds(organiser, http, concert):
    path = f"/concerts/{concert['id']}"
    assert "899.00 PLN" in http.get(path).text  # an anonymous visit fills the cache
    levels = [dict(level, price=level["price"] + 100) for level in concert["ticketLevels"]]
    for level in levels:
        del level["available"]
    response = organiser.put(f"/api/concerts/{concert['id']}/ticket-levels", json={"ticketLevels": levels})
    assert response.status_code == 200, response.text
    assert "900.00 PLN" in organiser.get(path).text  # the organiser is never served the cached copy
    public_page_shows(http, path, "900.00 PLN", absent=("899.00 PLN",))


INVALID_LEVELS = [
    ("no levels", [], "ticketLevels"),
    ("capacity 0", [{"id": "a", "name": "A", "capacity": 0, "price": 1}], "ticketLevels[0].capacity"),
    ("capacity 100,001", [{"id": "a", "name": "A", "capacity": 1, "price": 1},
                          {"id": "b", "name": "B", "capacity": 100_001, "price": 1}], "ticketLevels[1].capacity"),
    ("negative price", [{"id": "a", "name": "A", "capacity": 1, "price": -100}], "ticketLevels[0].price"),
    ("duplicate ids", [{"id": "regular", "name": "A", "capacity": 1, "price": 1},
                       {"id": "regular", "name": "B", "capacity": 2, "price": 2}], "ticketLevels[1].id"),
]


@pytest.mark.parametrize("levels,field", [c[1:] for c in INVALID_LEVELS], ids=[c[0] for c in INVALID_LEVELS])
def test_invalid_ticket_levels_are_refused_and_nothing_is_appended(organiser, http, concert, levels, field):
    response = organiser.put(f"/api/concerts/{concert['id']}/ticket-levels", json={"ticketLevels": levels})
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert (error["code"], error["field"]) == ("invalid_field", field)
    assert public_concert(http, concert["id"]) == concert
    assert len(history(organiser, concert["id"])) == 1


# --------------------------------------------------------------------------------- cancel
def test_an_organiser_cancels_and_then_nothing_changes(organiser, http, concert, stack):
    cid = concert["id"]
    response = organiser.post(f"/api/concerts/{cid}/cancel", json={"reason": "Illness"})
    assert response.status_code == 200, response.text
    cancelled = response.json()["concert"]
    assert cancelled["status"] == "cancelled"
    assert public_concert(http, cid)["status"] == "cancelled"
    assert [e["type"] for e in history(organiser, cid)] == ["ConcertCreated", "ConcertCancelled"]

    # Cancelled concerts come after every scheduled one in the public list, page after page.
    listed = all_listed(http)
    statuses = [c["status"] for c in listed]
    assert statuses == sorted(statuses, key=lambda s: s == "cancelled")
    assert {c["id"]: c["status"] for c in listed}[cid] == "cancelled"

    before = store_counts(stack)
    again = organiser.post(f"/api/concerts/{cid}/cancel")
    assert again.status_code == 409
    assert error_of(again)["code"] == "already_cancelled"

    patch = organiser.patch(f"/api/concerts/{cid}", json={"city": "Gdańsk"})
    assert patch.status_code == 409
    assert error_of(patch)["code"] == "concert_cancelled"

    levels = organiser.put(f"/api/concerts/{cid}/ticket-levels",
                           json={"ticketLevels": [{"id": "a", "name": "A", "capacity": 1, "price": 1}]})
    assert levels.status_code == 409
    assert error_of(levels)["code"] == "concert_cancelled"

    # Even an unchanged update of a cancelled concert is refused, not silently accepted.
    same = organiser.patch(f"/api/concerts/{cid}", json={"city": concert["city"]})
    assert same.status_code == 409
    assert error_of(same)["code"] == "concert_cancelled"

    # (Availability of a cancelled concert is the Reservations context's to change, later.)
    assert without_availability(public_concert(http, cid)) == without_availability(cancelled)
    assert len(history(organiser, cid)) == 2
    assert store_counts(stack) == before


def test_cancel_without_a_body_works(organiser, concert):
    response = organiser.post(f"/api/concerts/{concert['id']}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["concert"]["status"] == "cancelled"


# --------------------------------------------------------------------------------- who may
def organiser_requests(concert_id: str) -> list[tuple[str, str, dict | None]]:
    levels = {"ticketLevels": [{"id": "a", "name": "A", "capacity": 1, "price": 1}]}
    return [
        ("POST", "/api/concerts", concert_body()),
        ("PATCH", f"/api/concerts/{concert_id}", {"city": "Gdańsk"}),
        ("PUT", f"/api/concerts/{concert_id}/ticket-levels", levels),
        ("POST", f"/api/concerts/{concert_id}/cancel", {}),
        ("GET", f"/api/concerts/{concert_id}/history", None),
    ]


ADMIN_PAGES = ["/admin", "/admin/concerts", "/admin/concerts/new", "/admin/concerts/{id}/edit",
               "/admin/concerts/{id}/levels", "/admin/concerts/{id}/cancel", "/admin/concerts/{id}/history"]


def test_a_customer_gets_403_from_every_organiser_endpoint(customer, organiser, http, concert, stack):
    before = store_counts(stack)
    for method, path, body in organiser_requests(concert["id"]):
        response = customer.request(method, path, json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert error_of(response)["code"] == "forbidden", (method, path)
    assert public_concert(http, concert["id"]) == concert
    assert len(history(organiser, concert["id"])) == 1
    assert store_counts(stack) == before


def test_a_customer_cannot_reach_the_admin_pages(base_url, customer, concert, organiser):
    # Signed in like a browser: with the session cookie only.
    with EncoreSession(base_url) as browser_like:
        response = browser_like.post("/api/sessions",
                                     json={"email": "customer@encore.test", "password": PASSWORD})
        assert response.status_code == 201
        for path in ADMIN_PAGES:
            response = browser_like.get(path.format(id=concert["id"]))
            assert response.status_code == 403, (path, response.status_code)
            assert concert["artist"] not in response.text
        # A form post with a valid CSRF token of the customer's own session is still refused.
        account = browser_like.get("/account")
        assert account.status_code == 200
        csrf = re.search(r'name="_csrf" value="([^"]+)"', account.text).group(1)
        response = browser_like.post(f"/admin/concerts/{concert['id']}/cancel", data={"_csrf": csrf})
        assert response.status_code == 403
    # And with the bearer token.
    assert customer.get("/admin/concerts").status_code == 403
    assert len(history(organiser, concert["id"])) == 1


def test_anonymous_callers_get_401(http, organiser, concert):
    for method, path, body in organiser_requests(concert["id"]):
        response = http.request(method, path, json=body)
        assert response.status_code == 401, (method, path, response.text)
        assert error_of(response)["code"] == "not_signed_in"
    for path in ADMIN_PAGES:
        response = http.get(path.format(id=concert["id"]))
        assert response.status_code == 401, path
    assert len(history(organiser, concert["id"])) == 1


def test_another_organiser_gets_404_and_changes_nothing(other_organiser, organiser, http, concert, stack):
    before = store_counts(stack)
    for method, path, body in organiser_requests(concert["id"])[1:]:
        response = other_organiser.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert error_of(response)["code"] == "unknown_concert"
    for path in ADMIN_PAGES[3:]:
        assert other_organiser.get(path.format(id=concert["id"])).status_code == 404, path
    admin_list = other_organiser.get("/admin/concerts")
    assert admin_list.status_code == 200
    assert concert["artist"] not in admin_list.text
    assert public_concert(http, concert["id"]) == concert
    assert len(history(organiser, concert["id"])) == 1
    assert store_counts(stack) == before


def test_an_admin_manages_any_organisers_concert(admin, organiser, concert):
    response = admin.patch(f"/api/concerts/{concert['id']}", json={"title": "Changed by the admin"})
    assert response.status_code == 200, response.text
    assert response.json()["concert"]["title"] == "Changed by the admin"
    events = history(admin, concert["id"])
    assert [e["type"] for e in events] == ["ConcertCreated", "ConcertUpdated"]
    assert events[-1]["userId"] == admin.user["id"]
    assert admin.get("/admin/concerts").text.count(concert["artist"]) >= 1


def test_unknown_concerts_are_404(organiser, http):
    missing = f"no-such-concert-{uuid.uuid4().hex[:6]}"
    assert http.get(f"/api/concerts/{missing}").status_code == 404
    assert error_of(http.get(f"/api/concerts/{missing}"))["code"] == "unknown_concert"
    assert http.get(f"/concerts/{missing}").status_code == 404
    for method, path, body in organiser_requests(missing)[1:]:
        response = organiser.request(method, path, json=body)
        assert response.status_code == 404, (method, path)
        assert error_of(response)["code"] == "unknown_concert"


def test_the_demo_concert_is_seeded(http):
    concert = public_concert(http, DEMO_CONCERT)
    assert concert["artist"] == "Beyoncé" and concert["currency"] == "PLN"
    prices = {level["id"]: level["price"] for level in concert["ticketLevels"]}
    assert prices == {"golden-circle": 89_900, "regular": 45_000}


def admin_level_rows(session, concert_id: str) -> list[list[str]]:
    """The level rows (name, price, capacity, held or sold, available) of a concert's card in
    the organiser's list."""
    page = session.get("/admin/concerts")
    assert page.status_code == 200
    card = page.text.split(f'id="concert-{concert_id}"', 1)[1].split("</article>", 1)[0]
    body = card.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_the_organisers_list_shows_capacity_held_or_sold_and_available(organiser, concert):
    rows = admin_level_rows(organiser, concert["id"])
    assert rows == [["Golden circle", "899.00 PLN", "500", "0", "500"],
                    ["Regular", "450.00 PLN", "4000", "0", "4000"]]


def test_a_cancelled_concert_with_no_sales_shows_nothing_held_or_sold(organiser, http, concert):
    response = organiser.post(f"/api/concerts/{concert['id']}/cancel")
    assert response.status_code == 200
    # Let the Reservations context close the sales (available drops to 0), if it does.
    try:
        wait_until(lambda: all(lv["available"] == 0 for lv in public_concert(http, concert["id"])["ticketLevels"]),
                   5, 0.2, "sales to close")
    except AssertionError:
        pass
    assert [row[3] for row in admin_level_rows(organiser, concert["id"])] == ["0", "0"]
