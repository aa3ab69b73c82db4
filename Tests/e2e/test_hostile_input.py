"""Hostile input through nginx, one test per defect of issue 20 (each answered wrongly, or
taking a worker down, at commit 2af2b7c).

Bad input gets a clear error (API.md: `{"error": {"code", "message", "field"?}}`, a 4xx; pages
show the form again with the message, under the same status), changes nothing, and never costs
a worker: every test here checks that the pool's workers are the ones it started with.

Other clients are other loopback addresses (127.0.0.2...: `EncoreSession(source=...)`), which
nginx and the sign-in throttle see as other `REMOTE_ADDR`s.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
import uuid

import pytest
import requests

from conftest import Database, EncoreSession, Pool, wait_until
from test_cart_api import ADDRESS, ONLINE, add, cart_of, create_concert, level, new_customer, sign_in

PASSWORD = "encore-demo-2026"
CSRF_INPUT = re.compile(r'<input type="hidden" name="_csrf" value="([^"]+)"')
NUL = "\u0000"


# --------------------------------------------------------------------------------- helpers
def csrf_of(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no _csrf field in the page"
    return match.group(1)


def page_session(base_url: str, email: str, password: str = PASSWORD) -> tuple[EncoreSession, str]:
    """A browser-like session signed in through the form, and its CSRF token."""
    http = EncoreSession(base_url, timeout=30)
    token = csrf_of(http.get("/signin").text)
    response = http.post("/signin", data={"email": email, "password": password, "_csrf": token})
    assert response.status_code == 303, response.text[:300]
    return http, csrf_of(http.get("/account").text)


def register(base_url: str, tag: str) -> tuple[str, str]:
    email, password = f"{tag}-{uuid.uuid4().hex[:12]}@example.test", f"pw-{uuid.uuid4().hex}"
    with EncoreSession(base_url) as http:
        response = http.post("/api/users", json={"email": email, "password": password, "name": "Hostile QA"})
        assert response.status_code == 201, response.text
    return email, password


def expect_json_error(response: requests.Response, statuses: tuple[int, ...], field: str | None = None) -> dict:
    assert response.status_code in statuses, f"{response.status_code} {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/json"), response.text[:200]
    error = response.json()["error"]
    assert error["code"] and error["message"], error
    if field is not None:
        assert error.get("field") == field, error
    return error


def session_cookie_set(response: requests.Response) -> bool:
    return any(c.startswith("encore_session=") and not c.startswith("encore_session=;")
               for c in response.raw.headers.getlist("Set-Cookie"))


@pytest.fixture
def same_workers(pool: Pool):
    """The pool's workers after the test are the ones before it: nothing died."""
    before = pool.status()
    yield
    after = pool.status()
    pids = lambda status: sorted(w["pid"] for w in status["workers"])  # noqa: E731
    assert pids(after) == pids(before), (before, after)
    assert after["restarts"] == before["restarts"]


def events(db: Database) -> int:
    return db.count("SELECT count(*) FROM es_events")


# --------------------------------------------------------------------------------- 1. overflow
def test_a_huge_quantity_for_an_item_already_in_the_cart_is_refused_and_changes_nothing(
        base_url, db, same_workers):
    """quantity=9223372036854775807 (Int64.max) added to an item in the cart overflowed the sum
    and killed the worker (SIGILL)."""
    organiser = sign_in(base_url, "organiser@encore.test")
    concert = create_concert(organiser, db, [level("floor", 50, 10_000)])
    email, password = register(base_url, "overflow")
    http, csrf = page_session(base_url, email, password)
    with http, organiser:
        item = {"concertId": concert["id"], "ticketLevelId": "floor"}
        assert http.post("/cart/items", data={**item, "quantity": "1", "_csrf": csrf}).status_code == 303
        before = events(db)
        huge = str(2**63 - 1)
        for path, fields in (("/cart/items", {**item, "quantity": huge}),
                             (f"/cart/items/{concert['id']}/floor", {"quantity": huge}),
                             ("/cart/items", {**item, "quantity": str(2**64)}),
                             ("/cart/items", {**item, "quantity": "-" + huge})):
            response = http.post(path, data={**fields, "_csrf": csrf})
            assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:300])
            assert "text/html" in response.headers["content-type"]
            assert 'id="cart-error"' in response.text, "the cart page says what is wrong"
        # The JSON API, with the same cookie session and its token.
        for body in ({**item, "quantity": 2**63 - 1}, {**item, "quantity": 2**63}, {**item, "quantity": 2**70}):
            response = http.post("/api/cart/items", json=body, headers={"X-CSRF-Token": csrf})
            expect_json_error(response, (409, 422))
        response = http.patch(f"/api/cart/items/{concert['id']}/floor", json={"quantity": 2**63 - 1},
                              headers={"X-CSRF-Token": csrf})
        expect_json_error(response, (422,), "quantity")
        assert events(db) == before
        [line] = http.get("/api/cart").json()["cart"]["items"]
        assert line["quantity"] == 1


def test_a_price_too_large_for_the_concert_forms_is_422_naming_the_field(base_url, db, same_workers):
    """price=99999999999999999 overflowed `whole * 100 + cents` in the organiser's forms."""
    http, csrf = page_session(base_url, "organiser@encore.test")
    artist = f"Overflow {uuid.uuid4().hex[:8]}"
    with http:
        form = {"artist": artist, "title": "", "venue": "Hala", "city": "Łódź", "startsAt": "2031-05-01T20:00",
                "currency": "PLN", "levels[0].name": "Floor", "levels[0].capacity": "10",
                "levels[0].price": "99999999999999999", "_csrf": csrf}
        response = http.post("/admin/concerts/new", data=form)
        assert response.status_code == 422, response.text[:300]
        assert "Enter the price like 450 or 450.50." in response.text
        assert 'name="levels[0].price" value="99999999999999999"' in response.text, "the typed value is shown again"
        assert db.count("SELECT count(*) FROM concerts WHERE artist = :'a'", a=artist) == 0

        # The levels form of an existing concert, and the API (which names the field).
        organiser = sign_in(base_url, "organiser@encore.test")
        with organiser:
            concert = create_concert(organiser, db, [level("floor", 10, 1_000)])
            before = events(db)
            response = http.post(f"/admin/concerts/{concert['id']}/levels", data={
                "levels[0].id": "floor", "levels[0].name": "Floor", "levels[0].capacity": "10",
                "levels[0].price": "99999999999999999", "_csrf": csrf})
            assert response.status_code == 422, response.text[:300]
            assert "Enter the price like 450 or 450.50." in response.text
            response = organiser.put(f"/api/concerts/{concert['id']}/ticket-levels", json={
                "ticketLevels": [level("floor", 10, 99999999999999999)]})
            expect_json_error(response, (422,), "ticketLevels[0].price")
            assert events(db) == before


# --------------------------------------------------------------------------------- 2. NUL
ADDRESS_FIELDS = ["name", "line1", "line2", "postalCode", "city", "country"]


@pytest.mark.parametrize("where", ["registration email", "delivery email", "concertId"]
                         + [f"address.{f}" for f in ADDRESS_FIELDS])
def test_nul_in_a_json_field_is_4xx_naming_it_and_changes_nothing(base_url, db, where, same_workers):
    customer = new_customer(base_url, "nul")
    with customer:
        before = events(db)
        if where == "registration email":
            email = f"nul-{uuid.uuid4().hex[:8]}{NUL}@example.test"
            response = EncoreSession(base_url).post("/api/users", json={
                "email": email, "password": "long enough password", "name": "Nul"})
            expect_json_error(response, (400, 422), "email")
        elif where == "delivery email":
            response = customer.put("/api/cart/delivery", json={"method": "online", "email": f"a{NUL}@example.test"})
            expect_json_error(response, (400, 422), "email")
        elif where == "concertId":
            response = add(customer, f"concert{NUL}x", "floor", 1)
            expect_json_error(response, (400, 404, 422), "concertId")
        else:
            name = where.split(".")[1]
            response = customer.put("/api/cart/delivery", json={
                "method": "printed", "address": {**ADDRESS, name: f"x{NUL}y"}})
            expect_json_error(response, (400, 422), where)
        assert events(db) == before
        assert cart_of(customer).get("delivery") is None


def test_nul_in_forms_queries_and_paths_is_4xx(base_url, db, same_workers):
    email, password = register(base_url, "nulform")
    http, csrf = page_session(base_url, email, password)
    with http:
        before = events(db)
        response = http.post("/cart/delivery", data={"method": "online", "email": f"a{NUL}b@example.test",
                                                     "_csrf": csrf})
        assert 400 <= response.status_code < 500, response.status_code
        response = http.get("/api/concerts", params={"q": f"x{NUL}y"})
        expect_json_error(response, (400, 422), "q")
        response = http.get("/api/concerts/abc%00def")
        expect_json_error(response, (400, 404))
        assert events(db) == before


def test_an_email_cut_short_at_a_nul_does_not_sign_in(base_url, same_workers):
    """libpq took parameters as C strings: `customer@encore.test\\0anything.example` with the
    customer's password signed in as the customer."""
    for email in (f"customer@encore.test{NUL}anything.example", f"customer@encore.test{NUL}"):
        with EncoreSession(base_url, source="127.0.0.5") as api:
            response = api.post("/api/sessions", json={"email": email, "password": PASSWORD})
            expect_json_error(response, (400, 401, 422), "email")
            assert "token" not in response.text
            assert not session_cookie_set(response)
        with EncoreSession(base_url, source="127.0.0.5") as http:
            token = csrf_of(http.get("/signin").text)
            response = http.post("/signin", data={"email": email, "password": PASSWORD, "_csrf": token})
            assert 400 <= response.status_code < 500, response.status_code
            assert not session_cookie_set(response)
            assert http.get("/api/me").status_code == 401


# --------------------------------------------------------------------------------- 3. login CSRF
@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x",
                                          "APPLICATION/X-WWW-FORM-URLENCODED"])
@pytest.mark.parametrize("path", ["/signin", "/register"])
@pytest.mark.parametrize("from_where", [{}, {"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}])
def test_login_csrf_a_form_without_the_token_signs_nobody_in(base_url, db, path, content_type, from_where,
                                                             same_workers):
    """A page on another site posts the attacker's credentials to /signin (or registers) in
    the victim's browser, in a type the CSRF check did not read."""
    email, password = register(base_url, "logincsrf")
    fresh = f"xsite-{uuid.uuid4().hex[:12]}@example.test"
    fields = {"/signin": f"email={email}&password={password}",
              "/register": f"email={fresh}&password={password}&name=Mallory"}[path]
    if content_type.startswith("multipart"):
        name_values = [part.split("=", 1) for part in fields.split("&")]
        body = "".join(f'--x\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n{v}\r\n' for n, v in name_values)
        body += "--x--\r\n"
    else:
        body = fields
    with EncoreSession(base_url, source="127.0.0.6") as http:
        response = http.post(path, data=body.encode(), headers={"Content-Type": content_type, **from_where})
    assert response.status_code in (400, 401, 403, 415, 422, 429), (response.status_code, response.text[:300])
    assert not session_cookie_set(response)
    assert db.count("SELECT count(*) FROM user_emails WHERE email = :'e'", e=fresh) == 0


@pytest.mark.parametrize("path", ["/signin", "/register"])
@pytest.mark.parametrize("from_where", [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                                        {"Origin": "null"}])
def test_login_csrf_even_a_valid_double_submit_pair_from_another_site_is_403(base_url, db, path, from_where,
                                                                              same_workers):
    """The browser says the post comes from another site: refused, whatever tokens it carries."""
    email, password = register(base_url, "xsitepair")
    fresh = f"xsite-{uuid.uuid4().hex[:12]}@example.test"
    with EncoreSession(base_url, source="127.0.0.6") as http:
        token = csrf_of(http.get(path).text)
        form = {"/signin": {"email": email, "password": password},
                "/register": {"email": fresh, "password": password, "name": "Mallory"}}[path]
        response = http.post(path, data={**form, "_csrf": token}, headers=from_where)
    assert response.status_code == 403, (response.status_code, response.text[:300])
    assert not session_cookie_set(response)
    assert db.count("SELECT count(*) FROM user_emails WHERE email = :'e'", e=fresh) == 0


def test_a_visitors_form_token_stays_the_same_across_pages(base_url, same_workers):
    """The double-submit token is the visitor's cookie: opening the registration page in a
    second tab (or a form shown again with an error) does not void the first tab's form."""
    email, password = register(base_url, "twotabs")
    with EncoreSession(base_url, source="127.0.0.6") as http:
        first = csrf_of(http.get("/signin").text)
        assert csrf_of(http.get("/register").text) == first
        assert "encore_csrf" not in http.get("/signin").headers.get("Set-Cookie", "")
        wrong = http.post("/signin", data={"email": email, "password": "not the password", "_csrf": first})
        assert wrong.status_code == 401 and csrf_of(wrong.text) == first
        response = http.post("/signin", data={"email": email, "password": password, "_csrf": first})
        assert response.status_code == 303 and session_cookie_set(response)


# --------------------------------------------------------------------------------- 4. idempotency
def effects(db: Database, effect_id: str) -> int:
    return db.count("SELECT count(*) FROM encore_test_effects WHERE id = :'i'", i=effect_id)


def serving_worker(db: Database, timeout: float = 10.0) -> int:
    """The pid of the worker whose request waits in /api/_test/effects (its backend's
    application_name names it)."""
    def find() -> int | None:
        rows = db.rows("SELECT application_name FROM pg_stat_activity "
                       "WHERE application_name LIKE 'encore-test-worker-%' AND state = 'active'")
        return int(rows[0][0].rsplit("-", 1)[1]) if rows else None
    return wait_until(find, timeout, 0.02, "the test request to wait in PostgreSQL")


def post_with_key(http: EncoreSession, path: str, key: str, deadline: float = 60.0) -> requests.Response:
    """What a careful client does: retry with the same Idempotency-Key while the answer is
    `idempotency_in_progress` (or nginx's 502), waiting what Retry-After says."""
    end = time.monotonic() + deadline
    while True:
        response = http.post(path, json={}, headers={"Idempotency-Key": key})
        in_progress = response.status_code == 409 and response.json()["error"]["code"] == "idempotency_in_progress"
        if not (in_progress or response.status_code == 502) or time.monotonic() > end:
            return response
        time.sleep(float(response.headers.get("Retry-After", "0.5")))


def test_an_idempotency_key_whose_worker_was_killed_runs_again_and_takes_effect_once(
        base_url, db, pool, restarts):
    """The claim of a killed worker blocked its key for 24 hours (409 idempotency_in_progress)."""
    effect_id, key = uuid.uuid4().hex, uuid.uuid4().hex
    path = f"/api/_test/effects?id={effect_id}&seconds=3"
    first: dict[str, requests.Response | BaseException] = {}

    def send() -> None:
        try:
            with EncoreSession(base_url, timeout=30) as http:
                first["response"] = http.post(path, json={}, headers={"Idempotency-Key": key})
        except requests.RequestException as error:
            first["response"] = error
    thread = threading.Thread(target=send)
    thread.start()
    victim = serving_worker(db)
    restarts.expect(1, "test_hostile_input: the worker of an idempotent request killed")
    os.kill(victim, signal.SIGKILL)
    thread.join(30)
    answer = first["response"]
    assert isinstance(answer, BaseException) or answer.status_code == 502, answer
    assert effects(db, effect_id) == 0  # it died with its transaction

    with EncoreSession(base_url, timeout=30) as http:
        retried = post_with_key(http, path, key)
        assert retried.status_code == 201, retried.text
        assert retried.json()["pid"] != victim
        again = http.post(path, json={}, headers={"Idempotency-Key": key})
        assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true", again.text
        assert again.json() == retried.json()
    assert effects(db, effect_id) == 1
    wait_until(lambda: len([w for w in pool.status()["workers"] if w["kind"] == "http"
                            and w["state"] == "running"]) == 2, 10, 0.1, "a replacement worker")


# --------------------------------------------------------------------------------- 5. size limits
def test_two_thousand_ticket_levels_are_422_and_create_nothing(base_url, db, same_workers):
    organiser = sign_in(base_url, "organiser@encore.test")
    artist = f"Unbounded {uuid.uuid4().hex[:8]}"
    with organiser:
        before = events(db)
        response = organiser.post("/api/concerts", json={
            "artist": artist, "venue": "Stadion", "city": "Warszawa", "startsAt": "2031-06-01T18:00:00Z",
            "currency": "PLN", "ticketLevels": [level(f"l{i}", 100_000, 1_000) for i in range(2_000)]})
        expect_json_error(response, (413, 422), "ticketLevels")
        assert events(db) == before
    assert db.count("SELECT count(*) FROM concerts WHERE artist = :'a'", a=artist) == 0


def test_a_cart_holds_at_most_twenty_lines(base_url, db, same_workers):
    organiser = sign_in(base_url, "organiser@encore.test")
    with organiser:
        concert = create_concert(organiser, db, [level(f"l{i}", 5, 100) for i in range(20)])
        other = create_concert(organiser, db, [level("extra", 5, 100)])
    customer = new_customer(base_url, "lines")
    with customer:
        for i in range(20):
            assert add(customer, concert["id"], f"l{i}", 1).status_code == 201
        expect_json_error(add(customer, other["id"], "extra", 1), (422,), "ticketLevelId")
        assert len(cart_of(customer)["items"]) == 20


# --------------------------------------------------------------------------------- 6. smaller ones
@pytest.mark.parametrize("method, path, allowed", [
    ("DELETE", "/api/concerts", "GET, HEAD, POST"),
    ("PUT", "/healthz", "GET, HEAD"),
    ("POST", "/api/me", "GET, HEAD, PATCH"),
    ("GET", "/api/cart/confirm", "POST"),
])
def test_405_says_which_methods_are_allowed(http, method, path, allowed, same_workers):
    response = http.request(method, path, headers={"Accept": "application/json"})
    assert expect_json_error(response, (405,))["code"] == "method_not_allowed"
    assert response.headers["Allow"] == allowed


@pytest.mark.parametrize("path", ["/healthz", "/api/concerts", "/api/openapi.json", "/signin"])
def test_head_answers_the_gets_content_length(http, path, same_workers):
    plain = {"Accept-Encoding": "identity"}
    got = http.get(path, headers=plain)
    head = http.head(path, headers=plain)
    assert got.status_code == head.status_code == 200
    assert head.content == b""
    assert int(head.headers["Content-Length"]) == len(got.content) > 0


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_json_body_that_is_not_utf8_is_400(base_url, db, encoding, same_workers):
    email = f"utf16-{uuid.uuid4().hex[:8]}@example.test"
    body = json.dumps({"email": email, "password": "long enough password", "name": "Wide"}).encode(encoding)
    with EncoreSession(base_url) as http:
        response = http.post("/api/users", data=body, headers={"Content-Type": "application/json"})
    error = expect_json_error(response, (400,))
    assert error["code"] == "invalid_text"
    assert db.count("SELECT count(*) FROM user_emails WHERE email = :'e'", e=email) == 0


def test_six_wrong_passwords_slow_that_client_but_never_lock_the_owner_out(base_url, same_workers):
    """Six wrong passwords locked the account for 15 minutes, for its owner too, from anywhere."""
    email, password = register(base_url, "lockout")
    with EncoreSession(base_url, source="127.0.0.7") as attacker, \
            EncoreSession(base_url, source="127.0.0.8") as owner:
        statuses = []
        for attempt in range(6):
            response = attacker.post("/api/sessions", json={"email": email, "password": f"guess-{attempt}"})
            statuses.append(response.status_code)
        assert statuses == [401] * 5 + [429], statuses
        retry_after = int(response.headers["Retry-After"])
        assert response.json()["error"]["code"] == "too_many_attempts" and 0 < retry_after <= 15
        # The owner, from their own address, is not slowed at all.
        response = owner.post("/api/sessions", json={"email": email, "password": password})
        assert response.status_code == 201, response.text
        # The guessing client waits what it was told, no longer, and the right password works.
        time.sleep(retry_after)
        response = attacker.post("/api/sessions", json={"email": email, "password": password})
        assert response.status_code == 201, response.text
