"""The OpenAPI document against the code that serves it.

The document is assembled at start-up from the root's part (Sources/Encore/Resources/openapi.json)
and each context's (Sources/<Context>/Resources/openapi.json); this test assembles the same parts.

- The document is valid OpenAPI 3.1 (openapi-spec-validator) and every component schema is a
  valid JSON Schema 2020-12; no two parts define the same path or component.
- GET /api/openapi.json through nginx returns exactly the parts in the repository, assembled.
- Every route the Swift sources register (router.get/post/put/patch/delete, test routes
  aside) is documented, and nothing else is: the JSON API and operations paths with every
  method, the HTML pages with their GET and their form POSTs (tagged `pages`, an
  `application/x-www-form-urlencoded` body with the `_csrf` field).
- Real requests (register, sign in, GET /api/me, /api/concerts, /api/concerts/{id},
  /api/cart, a few errors, and a whole checkout when the demo organiser exists) answer a
  documented status, and their bodies validate against the documented response schema
  (jsonschema, `$ref`s resolved within the document, RFC 3339 UTC times checked). A field
  the code adds, drops or renames fails here, since the response schemas are closed
  (`additionalProperties: false`).

Runs against the stack of ENCORE_BASE_URL (bin/test's, or bin/up's with
ENCORE_BASE_URL=http://127.0.0.1:8080). Every test makes its own users.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import EncoreSession

openapi_spec_validator = pytest.importorskip(
    "openapi_spec_validator", reason="pip install openapi-spec-validator (not in requirements-test.txt yet)")
jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")
import referencing.jsonschema  # noqa: E402  (after the importorskip above)

ROOT = Path(__file__).resolve().parents[2]
ROOT_PART = ROOT / "Sources" / "Encore" / "Resources" / "openapi.json"
DOCUMENT_URI = "urn:encore:openapi"
METHODS = ("get", "post", "put", "patch", "delete")
DEMO_PASSWORD = "encore-demo-2026"

RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")


# --------------------------------------------------------------------------------- the contract
def _format_checker() -> "jsonschema.FormatChecker":
    checker = jsonschema.FormatChecker()

    # jsonschema checks date-time only when rfc3339-validator is installed; check it here,
    # and that it is UTC as API.md promises.
    @checker.checks("date-time", raises=ValueError)
    def date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not RFC3339_UTC.fullmatch(value):
            return False
        datetime.fromisoformat(value.replace("Z", "+00:00"))  # a real date and time
        return True

    return checker


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


class Contract:
    """The document, with its operations and a validator for each documented response."""

    def __init__(self, document: dict):
        self.document = document
        resource = referencing.Resource.from_contents(
            document, default_specification=referencing.jsonschema.DRAFT202012)
        self.registry = referencing.Registry().with_resource(DOCUMENT_URI, resource)
        self.format_checker = _format_checker()

    def operation(self, method: str, template: str) -> dict:
        path_item = self.document["paths"].get(template)
        assert path_item is not None, f"{template} is not documented"
        operation = path_item.get(method.lower())
        assert operation is not None, f"{method} {template} is not documented"
        return operation

    def response_pointer(self, method: str, template: str, status: int) -> str:
        """JSON pointer of the documented response for this status (following a
        components/responses $ref), or of `default`."""
        responses = self.operation(method, template)["responses"]
        key = str(status) if str(status) in responses else "default"
        assert key in responses, f"{method} {template} answered {status}, which is not documented"
        response = responses[key]
        if "$ref" in response:
            assert response["$ref"].startswith("#/"), response["$ref"]
            return response["$ref"][1:]
        return f"/paths/{_escape(template)}/{method.lower()}/responses/{key}"

    def resolve(self, pointer: str) -> dict:
        node: object = self.document
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]  # type: ignore[index]
        return node  # type: ignore[return-value]

    def validator(self, schema_pointer: str):
        schema = {"$ref": f"{DOCUMENT_URI}#{schema_pointer}"}
        return jsonschema.Draft202012Validator(
            schema, registry=self.registry, format_checker=self.format_checker)

    def check(self, response, method: str, template: str, status: int | None = None):
        """Asserts the response is documented (status, content type, body schema) and
        returns its JSON body (None when it has none)."""
        if status is not None:
            assert response.status_code == status, f"{method} {template}: {response.status_code} {response.text[:300]}"
        pointer = self.response_pointer(method, template, response.status_code)
        documented = self.resolve(pointer)
        content = documented.get("content")
        if not content:
            assert response.content == b"", f"{method} {template}: undocumented body {response.text[:200]}"
            return None
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        assert media_type in content, f"{method} {template}: {media_type} is not documented ({list(content)})"
        if media_type != "application/json":
            return response.text
        body = response.json()
        schema_pointer = f"{pointer}/content/{_escape(media_type)}/schema"
        errors = sorted(self.validator(schema_pointer).iter_errors(body), key=lambda e: list(e.path))
        assert not errors, (
            f"{method} {template} {response.status_code}: the body does not match the document:\n"
            + "\n".join(f"  at {'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:10])
            + f"\nbody: {json.dumps(body)[:1500]}")
        return body


def assemble() -> dict:
    """The root's part and every context's, merged as the server merges them; a path or
    component defined twice fails."""
    document = json.loads(ROOT_PART.read_text())
    for part in sorted((ROOT / "Sources").glob("*/Resources/openapi.json")):
        if part == ROOT_PART:
            continue
        fragment = json.loads(part.read_text())
        document["tags"] = document.get("tags", []) + fragment.get("tags", [])
        for path, item in fragment.get("paths", {}).items():
            assert path not in document["paths"], f"{part} documents {path} again"
            document["paths"][path] = item
        for section, entries in fragment.get("components", {}).items():
            existing = document["components"].setdefault(section, {})
            for name, value in entries.items():
                assert name not in existing, f"{part} defines components/{section}/{name} again"
                existing[name] = value
    return document


@pytest.fixture(scope="module")
def document() -> dict:
    return assemble()


@pytest.fixture(scope="module")
def contract(document) -> Contract:
    return Contract(document)


# --------------------------------------------------------------------------------- helpers
def unique_email(tag: str) -> str:
    return f"openapi-{tag}-{uuid.uuid4().hex[:12]}@example.test"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register_and_sign_in(http, contract: Contract, tag: str = "user") -> tuple[dict, str]:
    """A new customer through the API, both responses checked; returns (user, token)."""
    email, password = unique_email(tag), f"pw-{uuid.uuid4().hex}"
    response = http.post("/api/users", json={"email": email, "password": password, "name": "Olga OpenAPI"})
    user = contract.check(response, "POST", "/api/users", 201)["user"]
    assert user["email"] == email and user["role"] == "customer"
    response = http.post("/api/sessions", json={"email": email, "password": password})
    created = contract.check(response, "POST", "/api/sessions", 201)
    assert created["user"]["id"] == user["id"]
    assert "encore_session=" in response.headers.get("set-cookie", "")
    return user, created["token"]


def demo_session(base_url: str, email: str) -> EncoreSession | None:
    """A bearer session of a demo account (`encore seed`), or None when there is none."""
    session = EncoreSession(base_url)
    response = session.post("/api/sessions", json={"email": email, "password": DEMO_PASSWORD})
    if response.status_code != 201:
        session.close()
        return None
    session.headers["Authorization"] = f"Bearer {response.json()['token']}"
    session.cookies.clear()
    return session


def routes_in_sources() -> set[tuple[str, str]]:
    """(METHOD, path with {} for every parameter) of every route the Swift sources register,
    the test-only routes aside."""
    pattern = re.compile(r'router\.(get|post|put|patch|delete)\(\s*"([^"]+)"')  # with a closure or a named handler
    routes = set()
    for source in (ROOT / "Sources").rglob("*.swift"):
        if source.name == "TestRoutes.swift":
            continue
        for method, path in pattern.findall(source.read_text()):
            routes.add((method.upper(), re.sub(r":[A-Za-z_]+", "{}", path)))
    return routes


# --------------------------------------------------------------------------------- the document
def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1.")
    validate = getattr(openapi_spec_validator, "validate", None) or openapi_spec_validator.validate_spec
    validate(document)
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_every_ref_resolves(document, contract):
    refs: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        contract.resolve(ref[1:])


def test_the_served_document_is_the_parts_in_the_repository(http, document):
    response = http.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    served = response.json()
    assert sorted(t["name"] for t in served["tags"]) == sorted(t["name"] for t in document["tags"])
    served["tags"], expected = None, dict(document, tags=None)
    assert served == expected, (
        "GET /api/openapi.json differs from the parts in Sources/*/Resources/openapi.json: rebuild and restart the pool")


def test_every_route_in_the_code_is_documented_and_nothing_else(document):
    in_code = routes_in_sources()
    documented = set()
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                documented.add((method.upper(), re.sub(r"\{[^}]+\}", "{}", path)))
    api = {(m, p) for m, p in in_code
           if p.startswith(("/api/", "/webhooks/")) or p in ("/healthz", "/status", "/metrics")}
    pages = {(m, p) for m, p in in_code if (m, p) not in api and m == "GET"}
    assert api, "no API routes found in Sources/"
    assert sorted(api - documented) == [], "routes in the code that the document lacks"
    forms = {(m, p) for m, p in in_code if (m, p) not in api | pages}
    assert forms and {m for m, _ in forms} == {"POST"}, "a page's forms post"
    assert sorted(documented - api - pages - forms) == [], "documented operations the code does not serve"
    assert sorted(pages - documented) == [], "GET pages in the code that the document lacks"
    assert sorted(forms - documented) == [], "page forms (POST) in the code that the document lacks"


def test_pages_are_tagged_and_html_and_api_operations_are_json(document, contract):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            assert "security" in operation, f"{method} {path}: no security"
            assert "Who:" in operation.get("description", ""), f"{method} {path}: the role is not named"
            if "pages" in operation["tags"]:
                assert method in ("get", "post"), path
                if method == "post":
                    content = operation["requestBody"]["content"]
                    assert list(content) == ["application/x-www-form-urlencoded"], f"POST {path}: a form body"
                    schema = content["application/x-www-form-urlencoded"]["schema"]
                    if "$ref" in schema:
                        schema = contract.resolve(schema["$ref"][1:])
                    assert "_csrf" in schema["properties"] and "_csrf" in schema["required"], f"POST {path}: _csrf"
                    assert "303" in operation["responses"] and "403" in operation["responses"], f"POST {path}"
                continue
            for status, response in operation["responses"].items():
                if "$ref" in response or not response.get("content"):
                    continue
                if path not in ("/metrics",):
                    assert list(response["content"]) == ["application/json"], f"{method} {path} {status}"


# --------------------------------------------------------------------------------- real responses
def test_users_responses_match_the_document(http, base_url, contract):
    user, token = register_and_sign_in(http, contract, "users")

    with EncoreSession(base_url) as api:
        me = contract.check(api.get("/api/me", headers=bearer(token)), "GET", "/api/me", 200)["user"]
        assert me == {k: v for k, v in user.items() if k != "registeredAt"}

        # Errors have the documented shape and codes too.
        error = contract.check(api.get("/api/me"), "GET", "/api/me", 401)["error"]
        assert error["code"] == "not_signed_in"
        error = contract.check(api.get("/api/me", headers=bearer("not-a-token")), "GET", "/api/me", 401)["error"]
        assert error["code"] == "invalid_token"
        taken = api.post("/api/users", json={"email": user["email"], "password": "another-password", "name": "X"})
        assert contract.check(taken, "POST", "/api/users", 409)["error"]["code"] == "email_taken"
        invalid = api.post("/api/users", json={"email": "no-at-sign", "password": "long enough", "name": "X"})
        error = contract.check(invalid, "POST", "/api/users", 422)["error"]
        assert (error["code"], error["field"]) == ("invalid_field", "email")
        wrong = api.post("/api/sessions", json={"email": user["email"], "password": "wrong-password"})
        assert contract.check(wrong, "POST", "/api/sessions", 401)["error"]["code"] == "invalid_credentials"

        sessions = contract.check(api.get("/api/me/sessions", headers=bearer(token)),
                                  "GET", "/api/me/sessions", 200)["sessions"]
        assert [s["current"] for s in sessions] == [True]
        forbidden = api.get("/api/users", headers=bearer(token))
        assert contract.check(forbidden, "GET", "/api/users", 403)["error"]["code"] == "forbidden"
        contract.check(api.delete("/api/sessions/current", headers=bearer(token)),
                       "DELETE", "/api/sessions/current", 204)


def test_concerts_and_cart_responses_match_the_document(http, base_url, contract):
    concerts = contract.check(http.get("/api/concerts"), "GET", "/api/concerts", 200)["concerts"]
    if concerts:
        first = concerts[0]
        concert = contract.check(http.get(f"/api/concerts/{first['id']}"),
                                 "GET", "/api/concerts/{id}", 200)["concert"]
        assert concert["id"] == first["id"]
    missing = http.get(f"/api/concerts/no-such-{uuid.uuid4().hex}")
    assert contract.check(missing, "GET", "/api/concerts/{id}", 404)["error"]["code"] == "unknown_concert"

    _, token = register_and_sign_in(http, contract, "cart")
    with EncoreSession(base_url) as api:
        cart = contract.check(api.get("/api/cart", headers=bearer(token)), "GET", "/api/cart", 200)["cart"]
        assert cart["items"] == [] and cart["totals"] == [] and "id" not in cart
        anonymous = api.get("/api/cart")
        assert contract.check(anonymous, "GET", "/api/cart", 401)["error"]["code"] == "not_signed_in"
        unknown = api.post("/api/cart/items", headers=bearer(token),
                           json={"concertId": f"no-such-{uuid.uuid4().hex}", "ticketLevelId": "x", "quantity": 1})
        error = contract.check(unknown, "POST", "/api/cart/items", 404)["error"]
        assert (error["code"], error["field"]) == ("unknown_concert", "concertId")
        not_json = api.post("/api/cart/items", headers=bearer(token), data="{}")
        assert contract.check(not_json, "POST", "/api/cart/items", 415)["error"]["code"] == "unsupported_media_type"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_whole_checkout_matches_the_document(http, base_url, contract):
    """An organiser's own concert, a customer's cart, delivery, confirmation, reservations,
    and the cancellations that put everything back."""
    organiser = demo_session(base_url, "organiser@encore.test")
    if organiser is None:
        pytest.skip("no demo organiser (encore seed) on this stack")
    with organiser:
        body = {
            "artist": f"OpenAPI Artist {uuid.uuid4().hex[:8]}", "venue": "Spodek", "city": "Katowice",
            "startsAt": rfc3339(datetime.now(timezone.utc) + timedelta(days=40)), "currency": "PLN",
            "ticketLevels": [{"name": "Standing", "capacity": 50, "price": 19_900},
                             {"id": "vip", "name": "VIP", "capacity": 5, "price": 59_900}],
        }
        key = {"Idempotency-Key": uuid.uuid4().hex}
        created = contract.check(organiser.post("/api/concerts", json=body, headers=key),
                                 "POST", "/api/concerts", 201)["concert"]
        again = contract.check(organiser.post("/api/concerts", json=body, headers=key),
                               "POST", "/api/concerts", 201)["concert"]
        assert again["id"] == created["id"]
        concert_id = created["id"]
        assert [level["id"] for level in created["ticketLevels"]] == ["standing", "vip"]
        invalid = organiser.post("/api/concerts", json=dict(body, currency="zloty"))
        error = contract.check(invalid, "POST", "/api/concerts", 422)["error"]
        assert (error["code"], error["field"]) == ("invalid_field", "currency")
        contract.check(organiser.patch(f"/api/concerts/{concert_id}", json={"title": "Checked Tour"}),
                       "PATCH", "/api/concerts/{id}", 200)
        history = contract.check(organiser.get(f"/api/concerts/{concert_id}/history"),
                                 "GET", "/api/concerts/{id}/history", 200)["events"]
        assert [e["type"] for e in history][:1] == ["ConcertCreated"]

        _, token = register_and_sign_in(http, contract, "checkout")
        with EncoreSession(base_url) as customer:
            customer.headers.update(bearer(token))
            added = contract.check(
                customer.post("/api/cart/items", json={"concertId": concert_id, "ticketLevelId": "vip", "quantity": 2}),
                "POST", "/api/cart/items", 201)["cart"]
            assert added["totals"] == [{"amount": 119_800, "currency": "PLN"}]
            twice = customer.post("/api/cart/items", json={"concertId": concert_id, "ticketLevelId": "vip", "quantity": 1})
            assert contract.check(twice, "POST", "/api/cart/items", 409)["error"]["code"] == "item_already_in_cart"
            zero = customer.patch(f"/api/cart/items/{concert_id}/vip", json={"quantity": 0})
            error = contract.check(zero, "PATCH", "/api/cart/items/{concertId}/{ticketLevelId}", 422)["error"]
            assert error["field"] == "quantity"
            contract.check(customer.patch(f"/api/cart/items/{concert_id}/vip", json={"quantity": 1}),
                           "PATCH", "/api/cart/items/{concertId}/{ticketLevelId}", 200)
            no_delivery = customer.post("/api/cart/confirm")
            assert contract.check(no_delivery, "POST", "/api/cart/confirm", 409)["error"]["code"] == "delivery_missing"
            printed = {"method": "printed", "address": {"name": "Olga", "line1": "Ul. Długa 1", "postalCode": "00-950",
                                                        "city": "Warszawa", "country": "pl"}}
            cart = contract.check(customer.put("/api/cart/delivery", json=printed),
                                  "PUT", "/api/cart/delivery", 200)["cart"]
            assert cart["delivery"]["address"]["country"] == "PL"
            cart = contract.check(customer.put("/api/cart/delivery", json={"method": "online", "email": "Olga@Example.test"}),
                                  "PUT", "/api/cart/delivery", 200)["cart"]
            assert cart["delivery"] == {"method": "online", "email": "olga@example.test"}

            checkout = contract.check(customer.post("/api/cart/confirm"), "POST", "/api/cart/confirm", 201)["checkout"]
            [reservation] = checkout["reservations"]
            assert reservation["status"] == "held" and reservation["concertId"] == concert_id
            listed = contract.check(customer.get("/api/reservations"), "GET", "/api/reservations", 200)["reservations"]
            assert [r["id"] for r in listed] == [reservation["id"]]
            contract.check(customer.get(f"/api/reservations/{reservation['id']}"), "GET", "/api/reservations/{id}", 200)
            cancelled = contract.check(customer.post(f"/api/reservations/{reservation['id']}/cancel"),
                                       "POST", "/api/reservations/{id}/cancel", 200)["reservation"]
            assert cancelled["status"] == "cancelled"
            again = customer.post(f"/api/reservations/{reservation['id']}/cancel")
            assert contract.check(again, "POST", "/api/reservations/{id}/cancel", 409)["error"]["code"] == "already_cancelled"
            emptied = contract.check(customer.post("/api/cart/cancel"), "POST", "/api/cart/cancel", 200)["cart"]
            assert emptied["items"] == []

        cancelled = contract.check(organiser.post(f"/api/concerts/{concert_id}/cancel", json={"reason": "test"}),
                                   "POST", "/api/concerts/{id}/cancel", 200)["concert"]
        assert cancelled["status"] == "cancelled"
        twice = organiser.post(f"/api/concerts/{concert_id}/cancel")
        assert contract.check(twice, "POST", "/api/concerts/{id}/cancel", 409)["error"]["code"] == "already_cancelled"


def test_operations_and_pages_match_the_document(http, contract):
    contract.check(http.get("/healthz"), "GET", "/healthz", 200)
    contract.check(http.get("/status"), "GET", "/status", 200)
    contract.check(http.get("/metrics"), "GET", "/metrics", 200)
    contract.check(http.get("/"), "GET", "/", 200)
    contract.check(http.get("/signin"), "GET", "/signin", 200)
    redirect = http.get("/cart", allow_redirects=False)
    contract.check(redirect, "GET", "/cart", 303)
    assert redirect.headers["location"].startswith("/signin?next=")


def test_page_forms_answer_as_documented(base_url, contract):
    """The forms' documented answers: the redirect, the form again with its error, 403."""
    csrf_input = re.compile(r'<input type="hidden" name="_csrf" value="([^"]+)"')
    email, password = unique_email("forms"), f"pw-{uuid.uuid4().hex}"
    with EncoreSession(base_url) as browser:
        token = csrf_input.search(browser.get("/register").text).group(1)
        contract.check(browser.post("/register", data={"email": email, "password": "short", "name": "F",
                                                       "_csrf": token}), "POST", "/register", 422)
        contract.check(browser.post("/register", data={"email": email, "password": password, "name": "F"}),
                       "POST", "/register", 403)
        done = contract.check(browser.post("/register", data={"email": email, "password": password, "name": "F",
                                                              "_csrf": token}), "POST", "/register", 303)
        assert done is None
        token = csrf_input.search(browser.get("/account").text).group(1)
        contract.check(browser.post("/account/name", data={"name": "", "_csrf": token}), "POST", "/account/name", 422)
        contract.check(browser.post("/account/name", data={"name": "Forms", "_csrf": token}),
                       "POST", "/account/name", 303)
        contract.check(browser.post("/cart/items", data={"concertId": "no-such", "ticketLevelId": "x",
                                                         "quantity": "1", "_csrf": token}), "POST", "/cart/items", 404)
        contract.check(browser.post("/cart/confirm", data={"_csrf": token}), "POST", "/cart/confirm", 409)
        contract.check(browser.post("/cart/confirm", data={"_csrf": token}, headers={"Accept": "application/json"}),
                       "POST", "/cart/confirm", 409)
        contract.check(browser.post("/admin/concerts/new", data={"_csrf": token}), "POST", "/admin/concerts/new", 403)
        contract.check(browser.post("/signout", data={"_csrf": token}), "POST", "/signout", 303)
    with EncoreSession(base_url) as visitor:
        token = csrf_input.search(visitor.get("/signin").text).group(1)
        contract.check(visitor.post("/signin", data={"email": email, "password": "wrong password", "_csrf": token}),
                       "POST", "/signin", 401)
        contract.check(visitor.post("/signin", data={"email": email, "password": password, "_csrf": token}),
                       "POST", "/signin", 303)
