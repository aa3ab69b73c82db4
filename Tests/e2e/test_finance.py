"""Finance end to end, through nginx, with localstripe as the gateway: customers' and sellers'
financial details (bad ones are 422 naming the field, and nothing is stored), an invoice per
paid order with the details as they were and a gapless number per seller, series and year
(also for payments made at once, and after `encore projections rebuild`), the concert's VAT
rate, a credit note per refund and the register net of it (JSON and CSV), the PDF (its text,
by pdftotext, holds the number, the parties and the totals), the pages, and the OpenAPI
document's word for every response.

Every test module makes its own organiser (a seller's numbers start at 1) and customers.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import LEAKED_NIL, EncoreSession, wait_until
from payments_support import GOOD_CARD
from test_cart_api import CSRF_INPUT, PASSWORD, create_concert, expect_error, level, new_customer, sign_in
from test_openapi import Contract, assemble
from test_payments import checkout_of, pay

SELLER = {"legalName": "Koncerty Testowe sp. z o.o.", "address": {"line1": "ul. Mokotowska 5", "postalCode": "00-640",
                                                                  "city": "Warszawa", "country": "PL"},
          "taxId": "PL 123-456-32-18"}
BUYER = {"legalName": "Anna Kowalska", "address": {"line1": "ul. Długa 1", "line2": "m. 2", "postalCode": "00-950",
                                                   "city": "Warszawa", "country": "pl"}, "taxId": "123-456-32-18"}


def this_year() -> int:
    return datetime.now(ZoneInfo("Europe/Warsaw")).year


def new_organiser(base_url: str, tag: str) -> EncoreSession:
    """A customer made organiser by the demo admin, signed in again, with seller details."""
    with new_customer(base_url, tag) as customer:
        user = customer.get("/api/me").json()["user"]
    with sign_in(base_url, "admin@encore.test") as admin:
        response = admin.put(f"/api/users/{user['id']}/role", json={"role": "organiser"})
        assert response.status_code == 200, response.text
    organiser = sign_in(base_url, user["email"], PASSWORD)
    response = organiser.put("/api/me/financial-info", json=SELLER)
    assert response.status_code == 200, response.text
    return organiser


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract(assemble())


@pytest.fixture(scope="module")
def seller(base_url):
    with new_organiser(base_url, "seller") as session:
        yield session


@pytest.fixture(scope="module")
def concert(seller, db) -> dict:
    return create_concert(seller, db, [level("floor", 200, 45_000), level("vip", 50, 89_900)])


@pytest.fixture
def customer(base_url):
    with new_customer(base_url, "fin") as session:
        yield session


def invoices_of(session, kind: str = "invoice") -> list[dict]:
    response = session.get("/api/invoices")
    assert response.status_code == 200, response.text
    return [d for d in response.json()["invoices"] if d["kind"] == kind]


def paid_order(customer, concert: dict, items: list[tuple[str, int]]) -> dict:
    """Buys and pays; returns the order."""
    checkout = checkout_of(customer, [(concert["id"], level_id, quantity) for level_id, quantity in items])
    response = pay(customer, checkout, GOOD_CARD)
    assert response.status_code == 200, response.text
    return response.json()["checkout"]["orders"][0]


def invoice_for(session, order_id: str, kind: str = "invoice", timeout: float = 30) -> dict:
    """The order's invoice (or credit note), once the process manager issued it."""
    def find():
        return next((d for d in invoices_of(session, kind) if d["orderId"] == order_id), None)
    return wait_until(find, timeout, 0.2, f"the {kind} of order {order_id}")


def sequence(number: str) -> int:
    series, year, digits = number.split("/")
    assert len(digits) == 6 and year == str(this_year()), number
    return int(digits)


def assert_adds_up(document: dict) -> None:
    for line in document["lines"]:
        assert line["net"] + line["tax"] == line["gross"], line
        assert line["gross"] == line["quantity"] * line["unitGross"], line
    for field in ("net", "tax", "gross"):
        assert document["totals"][field] == sum(line[field] for line in document["lines"]), field
    assert document["totals"]["net"] + document["totals"]["tax"] == document["totals"]["gross"]


# --------------------------------------------------------------------------------- financial details
@pytest.mark.parametrize("body, field", [
    (dict(BUYER, taxId="PL1234563219"), "taxId"),            # NIP checksum
    (dict(BUYER, taxId="1234563210"), "taxId"),              # a bare NIP, wrong checksum
    (dict(BUYER, taxId="DE12345"), "taxId"),                 # Germany: nine digits
    (dict(BUYER, taxId="FR123"), "taxId"),
    (dict(BUYER, address={**BUYER["address"], "country": "DE", "postalCode": "10115"}, taxId="123456789"), "taxId"),
    (dict(BUYER, address={k: v for k, v in BUYER["address"].items() if k != "country"}), "address.country"),
    (dict(BUYER, address={**BUYER["address"], "country": ""}), "address.country"),
    (dict(BUYER, address={**BUYER["address"], "country": "XX"}), "address.country"),
    (dict(BUYER, legalName="x" * 10_000), "legalName"),
    ({k: v for k, v in BUYER.items() if k != "legalName"}, "legalName"),
])
def test_bad_financial_details_are_422_naming_the_field_and_nothing_is_stored(customer, db, contract, body, field):
    response = customer.put("/api/me/financial-info", json=body)
    error = contract.check(response, "PUT", "/api/me/financial-info", 422)["error"]
    assert error["code"] == "invalid_field" and error["field"] == field, error
    contract.check(customer.get("/api/me/financial-info"), "GET", "/api/me/financial-info", 404)
    user_id = customer.get("/api/me").json()["user"]["id"]
    assert db.count("SELECT count(*) FROM es_events WHERE stream_id = :'s'", s=f"financial-info-{user_id}") == 0


def test_financial_details_are_saved_normalised_and_need_a_session(customer, http, contract):
    expect_error(http.put("/api/me/financial-info", json=BUYER), 401, "not_signed_in")
    saved = contract.check(customer.put("/api/me/financial-info", json=BUYER), "PUT", "/api/me/financial-info",
                           200)["financialInfo"]
    assert saved["address"]["country"] == "PL" and saved["taxId"] == "1234563218"
    assert saved["address"]["line2"] == "m. 2"
    again = contract.check(customer.get("/api/me/financial-info"), "GET", "/api/me/financial-info", 200)
    assert again["financialInfo"] == saved


# --------------------------------------------------------------------------------- invoices
def test_a_paid_order_gets_an_invoice_with_the_details_as_they_were(customer, seller, concert, contract):
    assert customer.put("/api/me/financial-info", json=BUYER).status_code == 200
    order = paid_order(customer, concert, [("floor", 2), ("vip", 1)])
    invoice = invoice_for(customer, order["id"])
    document = contract.check(customer.get(f"/api/invoices/{invoice['id']}"), "GET", "/api/invoices/{id}",
                              200)["invoice"]
    assert document["kind"] == "invoice" and document["orderNumber"] == order["number"]
    assert document["buyer"]["legalName"] == "Anna Kowalska" and document["buyer"]["taxId"] == "1234563218"
    assert document["seller"]["legalName"] == SELLER["legalName"] and document["seller"]["taxId"] == "PL1234563218"
    assert document["currency"] == "PLN" and document["totals"]["gross"] == 2 * 45_000 + 89_900
    assert {line["vatRate"] for line in document["lines"]} == {8}
    assert_adds_up(document)
    assert document["creditNotes"] == []
    sequence(document["number"])
    # The seller sees it too; the list matches the document.
    assert any(d["id"] == invoice["id"] for d in invoices_of(seller))
    contract.check(customer.get("/api/invoices"), "GET", "/api/invoices", 200)

    # Details changed afterwards: that invoice stays as it was, the next order's uses them.
    changed = dict(BUYER, legalName="Kowalska Events", taxId=None)
    assert customer.put("/api/me/financial-info", json=changed).status_code == 200
    assert customer.get(f"/api/invoices/{invoice['id']}").json()["invoice"] == document
    second = invoice_for(customer, paid_order(customer, concert, [("floor", 1)])["id"])
    assert second["buyer"]["legalName"] == "Kowalska Events" and "taxId" not in second["buyer"]
    assert sequence(second["number"]) > sequence(document["number"])


def test_a_buyer_without_details_is_named_as_the_order_names_them(customer, concert):
    invoice = invoice_for(customer, paid_order(customer, concert, [("floor", 1)])["id"])
    me = customer.get("/api/me").json()["user"]
    assert invoice["buyer"] == {"legalName": me["name"], "email": me["email"]}


def test_another_users_invoice_does_not_exist_for_them(customer, base_url, concert):
    invoice = invoice_for(customer, paid_order(customer, concert, [("floor", 1)])["id"])
    with new_customer(base_url, "stranger") as stranger:
        expect_error(stranger.get(f"/api/invoices/{invoice['id']}"), 404, "unknown_invoice")
        expect_error(stranger.get(f"/api/invoices/{invoice['id']}.pdf"), 404, "unknown_invoice")
        assert invoices_of(stranger) == []
        expect_error(stranger.get("/api/finance/register"), 403, "forbidden")
    expect_error(customer.get("/api/invoices/no-such-invoice"), 404, "unknown_invoice")


def test_payments_made_at_once_are_numbered_without_gaps_also_after_a_rebuild(base_url, db, stack):
    with new_organiser(base_url, "rush") as organiser:
        concert = create_concert(organiser, db, [level("floor", 100, 12_300)])
        customers = [new_customer(base_url, "rush") for _ in range(16)]
        errors: list[str] = []

        def buy(session) -> None:
            try:
                paid_order(session, concert, [("floor", 1)])
            except AssertionError as error:  # noqa: PERF203 - collected for the report below
                errors.append(str(error))
        threads = [threading.Thread(target=buy, args=(c,)) for c in customers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        wait_until(lambda: len(invoices_of(organiser)) == 16, 60, 0.3, "16 invoices")
        numbers = sorted(sequence(d["number"]) for d in invoices_of(organiser))
        assert numbers == list(range(1, 17))
        before = {d["id"]: d["number"] for d in invoices_of(organiser)}
        rebuilt = subprocess.run([str(stack.binary), "projections", "rebuild", "finance_documents",
                                  "--database-url", stack.database_url], capture_output=True, text=True, timeout=300)
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert {d["id"]: d["number"] for d in invoices_of(organiser)} == before
        for session in customers:
            session.close()


def test_the_concerts_vat_rate_is_set_by_its_organiser_and_used_from_then_on(seller, customer, base_url, db, contract):
    concert = create_concert(seller, db, [level("floor", 20, 12_300)])
    path = f"/api/concerts/{concert['id']}/vat-rate"
    rate = contract.check(seller.get(path), "GET", "/api/concerts/{id}/vat-rate", 200)["vatRate"]
    assert rate == {"concertId": concert["id"], "vatRate": 8, "isDefault": True}
    for bad in (-1, 100.5, 8.125, "8"):
        error = contract.check(seller.put(path, json={"vatRate": bad}), "PUT", "/api/concerts/{id}/vat-rate", 422)
        assert error["error"]["field"] == "vatRate"
    expect_error(customer.put(path, json={"vatRate": 23}), 403, "forbidden")
    with sign_in(base_url, "organiser@encore.test") as other:
        expect_error(other.put(path, json={"vatRate": 23}), 404, "unknown_concert")
    set_rate = contract.check(seller.put(path, json={"vatRate": 23}), "PUT", "/api/concerts/{id}/vat-rate", 200)
    assert set_rate["vatRate"]["vatRate"] == 23
    invoice = invoice_for(customer, paid_order(customer, concert, [("floor", 2)])["id"])
    assert invoice["lines"][0]["vatRate"] == 23 and invoice["totals"] == {"net": 20_000, "tax": 4_600, "gross": 24_600}


# --------------------------------------------------------------------------------- refunds and the register
def test_a_refund_gives_a_credit_note_and_the_register_is_net_of_it(customer, seller, concert, contract, base_url):
    kept = invoice_for(customer, paid_order(customer, concert, [("floor", 1)])["id"])
    order = paid_order(customer, concert, [("vip", 2)])
    invoice = invoice_for(customer, order["id"])
    response = seller.post(f"/api/orders/{order['id']}/refund")
    assert response.status_code == 200, response.text
    note = invoice_for(customer, order["id"], kind="creditNote")
    assert note["corrects"] == {"id": invoice["id"], "number": invoice["number"]}
    assert note["number"].startswith(f"CN/{this_year()}/")
    assert note["totals"] == {k: -v for k, v in invoice["totals"].items()}
    assert_adds_up(note)
    assert [line["quantity"] for line in note["lines"]] == [-2]
    detail = customer.get(f"/api/invoices/{invoice['id']}").json()["invoice"]
    assert detail["creditNotes"] == [{"id": note["id"], "number": note["number"]}]

    register = contract.check(seller.get("/api/finance/register"), "GET", "/api/finance/register", 200)["register"]
    numbers = [d["number"] for d in register["documents"]]
    assert invoice["number"] in numbers and note["number"] in numbers and kept["number"] in numbers
    documents = register["documents"]
    for field in ("net", "tax", "gross"):
        assert sum(t[field] for t in register["totals"]) == sum(d[field] for d in documents), field
    assert register["creditNotes"] >= 1
    # The refunded order adds nothing to the month's totals.
    without = sum(d["gross"] for d in documents if d["number"] not in (invoice["number"], note["number"]))
    assert sum(t["gross"] for t in register["totals"]) == without

    with sign_in(base_url, "admin@encore.test") as admin:
        theirs = contract.check(admin.get(f"/api/finance/register?sellerId={seller.user['id']}"), "GET",
                                "/api/finance/register", 200)["register"]
        assert theirs["documents"] == register["documents"] and theirs["totals"] == register["totals"]
        everyone = admin.get("/api/finance/register").json()["register"]
        assert "sellerId" not in everyone and len(everyone["documents"]) >= len(documents)

    csv = seller.get("/api/finance/register.csv")
    contract.check(csv, "GET", "/api/finance/register.csv", 200)
    assert csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    rows = csv.text.strip().split("\r\n")
    assert rows[0].startswith("number,kind,issue_date,corrects")
    credit_rows = [row for row in rows if row.startswith(note["number"])]
    assert credit_rows and f"creditNote,{note['issueDate']},{invoice['number']}" in credit_rows[0]
    assert credit_rows[0].endswith(",-1664.81,-133.19,-1798.00")
    expect_error(seller.get("/api/finance/register?month=2026-13"), 422, "invalid_field", "month")


# --------------------------------------------------------------------------------- documents
def test_the_pdf_holds_the_number_the_parties_and_the_totals(customer, concert, contract):
    if not shutil.which("pdftotext"):
        pytest.fail("pdftotext is not installed (poppler-utils; bin/test installs it)")
    assert customer.put("/api/me/financial-info", json=BUYER).status_code == 200
    invoice = invoice_for(customer, paid_order(customer, concert, [("floor", 2)])["id"])
    response = customer.get(f"/api/invoices/{invoice['id']}.pdf", timeout=60)
    contract.check(response, "GET", "/api/invoices/{id}.pdf", 200)
    assert response.headers["content-type"] == "application/pdf" and response.content.startswith(b"%PDF")
    assert invoice["number"].replace("/", "-") in response.headers["content-disposition"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "invoice.pdf"
        path.write_bytes(response.content)
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                              timeout=30, check=True).stdout
    for expected in (invoice["number"], "Anna Kowalska", "1234563218", SELLER["legalName"], "PL1234563218",
                     "900.00 PLN", "833.33 PLN", "66.67 PLN", "Invoice"):
        assert expected in text, f"{expected!r} not in the PDF's text:\n{text}"
    again = customer.get(f"/api/invoices/{invoice['id']}.pdf", timeout=60)
    assert again.content == response.content, "kept, not rendered again"


def test_the_invoice_page_is_printable_and_allows_only_its_own_style(customer, concert, base_url):
    invoice = invoice_for(customer, paid_order(customer, concert, [("floor", 1)])["id"])
    response = customer.get(f"/invoices/{invoice['id']}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert re.search(r"style-src 'sha256-[A-Za-z0-9+/=]+'", policy) and "default-src 'none'" in policy
    assert invoice["number"] in response.text and "@media print" in response.text
    assert f'href="/api/invoices/{invoice["id"]}.pdf"' in response.text
    with EncoreSession(base_url) as anonymous:
        assert anonymous.get(f"/invoices/{invoice['id']}", allow_redirects=False).status_code == 303


def assert_page(response) -> str:
    """A page that rendered, showing no missing value as "nil"."""
    assert response.status_code == 200, response.text[:300]
    assert not LEAKED_NIL.search(response.text) and "Optional(" not in response.text, response.text[:2000]
    return response.text


def test_the_pages_with_a_session_cookie(base_url, concert, seller):
    """The account's financial details form (CSRF, PRG, errors next to the field), the invoices
    list, the register page and the VAT rate form, as a browser uses them."""
    email = f"pages-{uuid.uuid4().hex[:10]}@example.test"
    with EncoreSession(base_url) as browser:
        assert browser.post("/api/users", json={"email": email, "password": PASSWORD, "name": "Page Tester"}
                            ).status_code == 201
        assert browser.post("/api/sessions", json={"email": email, "password": PASSWORD}).status_code == 201
        page = assert_page(browser.get("/account/financial-info"))
        token = CSRF_INPUT.search(page).group(1)
        form = {"_csrf": token, "legalName": "Page Tester", "line1": "ul. Krótka 2", "line2": "", "postalCode": "30-001",
                "city": "Kraków", "country": "PL", "taxId": "1234563219"}
        wrong = browser.post("/account/financial-info", data=form)
        assert wrong.status_code == 422 and "field-error" in wrong.text and "NIP" in wrong.text
        assert 'value="Page Tester"' in wrong.text
        saved = browser.post("/account/financial-info", data=dict(form, taxId="1234563218"))
        assert saved.status_code == 303 and saved.headers["location"] == "/account/financial-info?done=saved"
        assert "1234563218" in assert_page(browser.get("/account/financial-info?done=saved"))
        assert "no invoices yet" in assert_page(browser.get("/invoices"))

    with EncoreSession(base_url) as organiser_browser:
        organiser_browser.headers.update(seller.headers)
        assert 'id="register-csv"' in assert_page(organiser_browser.get("/admin/finance/register"))
        assert 'name="vatRate"' in assert_page(organiser_browser.get(f"/admin/concerts/{concert['id']}/vat"))
        assert "Invoice" in assert_page(organiser_browser.get("/invoices"))
