"""Finding concerts and reading their local time (issue 25, parts 1 and 2), through nginx.

Search (`q`) looks in artist, title, venue and city, without regard to accents or case, and
finds parts of words; `city`, `from`/`to` (a day on the venue's calendar, or a moment) and
`hasTickets` filter; the list is in keyset order (scheduled concerts first, each group by
start), in pages that never repeat or skip a concert while others are added between requests,
in the API (`limit`, `cursor`, `next` and a `Link` header) and on the home page ("Next page").

A concert has its venue's IANA time zone: the API keeps `startsAt` in UTC and adds `timeZone`;
the pages show the venue's clock with the zone's abbreviation ("19:00 CEST, Warsaw time"),
across daylight-saving changes; the organiser's form takes the venue's local time (a time that
happens twice is the first; one the clocks skip is refused, naming the jump).

Every test makes its own concerts, with a word of its own in their names, and searches for it,
so that the concerts of other tests do not matter.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from html import unescape
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from conftest import EncoreSession, wait_until
from test_cart_api import ONLINE, add, create_concert, level, new_customer, sign_in

CSRF_INPUT = re.compile(r'<input type="hidden" name="_csrf" value="([^"]+)"')
CARD = re.compile(r'<li class="concert-card[^"]*" id="concert-([^"]+)"')
NEXT_LINK = re.compile(r'<a href="([^"]+)" rel="next"')
PASSWORD = "encore-demo-2026"


# --------------------------------------------------------------------------------- helpers
def word() -> str:
    """A word no other concert has: letters only, so it is one search word."""
    return "qz" + "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:10])


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def local(zone: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone))


def last_sunday(year: int, month: int) -> int:
    day = datetime(year, month + 1, 1) - timedelta(days=1)
    return (day - timedelta(days=(day.weekday() + 1) % 7)).day


def body(artist: str, starts: datetime, **more) -> dict:
    result = {"artist": artist, "title": "", "venue": "Hala Stulecia", "city": "Wrocław", "startsAt": rfc3339(starts),
              "currency": "PLN", "ticketLevels": [level("floor", 100, 10_000)]}
    result.update(more)
    return result


def create(organiser, artist: str, starts: datetime, **more) -> dict:
    response = organiser.post("/api/concerts", json=body(artist, starts, **more))
    assert response.status_code == 201, response.text
    return response.json()["concert"]


def listed(http, **params) -> dict:
    response = http.get("/api/concerts", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def found(http, **params) -> list[str]:
    return [c["id"] for c in listed(http, **params)["concerts"]]


def cards(html: str) -> list[str]:
    return CARD.findall(html)


def page_session(base_url: str, email: str) -> tuple[EncoreSession, str]:
    """A browser-like session signed in through the form, and its CSRF token."""
    http = EncoreSession(base_url, timeout=30)
    token = CSRF_INPUT.search(http.get("/signin").text).group(1)
    response = http.post("/signin", data={"email": email, "password": PASSWORD, "_csrf": token})
    assert response.status_code == 303, response.text[:300]
    return http, CSRF_INPUT.search(http.get("/account").text).group(1)


SOON = datetime.now(timezone.utc) + timedelta(days=20)


@pytest.fixture(scope="module")
def organiser(base_url):
    with sign_in(base_url, "organiser@encore.test") as session:
        yield session


# --------------------------------------------------------------------------------- search
def test_search_ignores_accents_and_case_and_finds_parts_of_words_in_artist_title_venue_and_city(organiser, http):
    w = word()
    beyonce = create(organiser, f"Beyoncé {w}", SOON, title="Cowboy Carter Tour", venue="PGE Narodowy",
                     city="Warszawa")
    lona = create(organiser, f"Łona i Webber {w}", SOON + timedelta(days=1), venue="Klub Wytwórnia", city="Łódź")
    dua = create(organiser, f"Dua Lipa {w}", SOON + timedelta(days=2), venue="Tauron Arena", city="Kraków")
    b, l, d = beyonce["id"], lona["id"], dua["id"]

    cases = {
        f"beyonce {w}": [b], f"BEYONCÉ {w}": [b], f"Beyon {w}": [b], f"yoncé {w}": [b], f"{w} beyonce": [b],
        f"cowboy {w}": [b], f"narodowy {w}": [b], f"warszawa {w}": [b],
        f"lodz {w}": [l], f"ŁÓDŹ {w}": [l], f"lona {w}": [l], f"wytworn {w}": [l],
        f"krakow {w}": [d], f"Tauron {w}": [d], f"lipa, {w}!": [d],
        w: [b, l, d], w.upper(): [b, l, d], f"madonna {w}": [], f"beyonce lodz {w}": [],
    }
    for q, expected in cases.items():
        assert found(http, q=q) == expected, q

    # The home page finds the same, and shows what was asked.
    page = http.get("/", params={"q": f"beyonce {w}"})
    assert page.status_code == 200
    assert cards(page.text) == [b]
    assert f'value="beyonce {w}"' in page.text
    assert "Concerts found" in page.text
    empty = http.get("/", params={"q": f"madonna {w}"})
    assert cards(empty.text) == [] and "No concerts match this search." in empty.text


def test_wildcards_in_a_search_are_plain_characters(organiser, http):
    w = word()
    hundred = create(organiser, f"100% Hits {w}", SOON)
    create(organiser, f"1000 Hits {w}", SOON + timedelta(hours=1))
    assert found(http, q=f"100% {w}") == [hundred["id"]]
    assert found(http, q=f"_ {w}") == []


# --------------------------------------------------------------------------------- filters
def test_city_filter_matches_the_whole_city_without_regard_to_accents(organiser, http):
    w = word()
    krakow = create(organiser, f"City {w}", SOON, city="Kraków")
    create(organiser, f"City {w}", SOON + timedelta(hours=1), city="Katowice")
    assert found(http, q=w, city="krakow") == [krakow["id"]]
    assert found(http, q=w, city=" KRAKÓW ") == [krakow["id"]]
    assert found(http, q=w, city="Krak") == []
    page = http.get("/", params={"q": w, "city": "krakow"})
    assert cards(page.text) == [krakow["id"]]


def test_date_filters_take_the_venues_calendar_day_or_a_moment(organiser, http):
    w = word()
    # 00:30 on 6 June in Warsaw is still 5 June in UTC; 22:00 on 5 June is 20:00 UTC.
    after_midnight = create(organiser, f"Dates {w}", local("Europe/Warsaw", 2031, 6, 6, 0, 30),
                            timeZone="Europe/Warsaw")
    late_evening = create(organiser, f"Dates {w}", local("Europe/Warsaw", 2031, 6, 5, 22, 0),
                          timeZone="Europe/Warsaw")
    next_week = create(organiser, f"Dates {w}", local("America/New_York", 2031, 6, 12, 20, 0),
                       timeZone="America/New_York")
    a, e, n = after_midnight["id"], late_evening["id"], next_week["id"]
    assert after_midnight["startsAt"] == "2031-06-05T22:30:00Z"

    assert found(http, q=w) == [e, a, n]
    assert found(http, q=w, **{"from": "2031-06-06"}) == [a, n]
    assert found(http, q=w, to="2031-06-05") == [e]
    assert found(http, q=w, **{"from": "2031-06-05", "to": "2031-06-06"}) == [e, a]
    assert found(http, q=w, **{"from": "2031-06-05T21:00:00Z"}) == [a, n]
    assert found(http, q=w, to="2031-06-05T21:00:00Z") == [e]
    assert found(http, q=w, **{"from": "2031-06-13"}) == []
    # A date far back brings concerts that started long ago back; none of these here.
    assert found(http, q=w, **{"from": "2001-01-01"}) == [e, a, n]
    page = http.get("/", params={"q": w, "from": "2031-06-06", "to": "2031-06-06"})
    assert cards(page.text) == [a]
    assert 'value="2031-06-06"' in page.text


def test_has_tickets_leaves_out_sold_out_and_cancelled_concerts(base_url, organiser, http, db):
    w = word()
    # `create_concert` waits for the availability shards, so that the one ticket can be held.
    tiny = create_concert(organiser, db, [level("floor", 1, 5_000)])
    organiser.patch(f"/api/concerts/{tiny['id']}", json={"artist": f"Tickets {w}", "startsAt": rfc3339(SOON)})
    open_one = create(organiser, f"Tickets {w}", SOON + timedelta(hours=1))
    cancelled = create(organiser, f"Tickets {w}", SOON - timedelta(hours=1))
    assert organiser.post(f"/api/concerts/{cancelled['id']}/cancel").status_code == 200
    with new_customer(base_url, "discovery") as customer:
        assert add(customer, tiny["id"], "floor", 1).status_code == 201
        assert customer.put("/api/cart/delivery", json=ONLINE).status_code == 200
        assert customer.post("/api/cart/confirm").status_code == 201  # the one ticket is held

    # Scheduled first, cancelled after them; with hasTickets, only the one with tickets left.
    assert found(http, q=w) == [tiny["id"], open_one["id"], cancelled["id"]]
    assert found(http, q=w, hasTickets="true") == [open_one["id"]]
    page = http.get("/", params={"q": w})
    assert cards(page.text) == [tiny["id"], open_one["id"], cancelled["id"]]
    tiny_card = page.text.split(f'id="concert-{tiny["id"]}"', 1)[1].split("</li>", 1)[0]
    assert "Sold out" in tiny_card
    assert cards(http.get("/", params={"q": w, "hasTickets": "true"}).text) == [open_one["id"]]


def test_invalid_parameters_are_422_naming_them(http):
    for params, field in [({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "x"}, "limit"),
                          ({"cursor": "not-ours"}, "cursor"), ({"from": "next week"}, "from"),
                          ({"to": "2031-02-30"}, "to"), ({"hasTickets": "perhaps"}, "hasTickets"),
                          ({"q": "x" * 201}, "q"), ({"city": "c" * 101}, "city")]:
        response = http.get("/api/concerts", params=params)
        assert response.status_code == 422, (params, response.text)
        error = response.json()["error"]
        assert (error["code"], error["field"]) == ("invalid_field", field), params
    page = http.get("/", params={"from": "next week"})
    assert page.status_code == 422
    assert 'id="from-error"' in page.text and 'aria-invalid="true"' in page.text
    page = http.get("/", params={"cursor": "not-ours"})
    assert page.status_code == 422 and "start again from the first page" in page.text


# --------------------------------------------------------------------------------- pages
def test_api_pages_neither_repeat_nor_skip_while_concerts_are_added(organiser, http):
    w = word()
    start = SOON + timedelta(days=30)
    original = [create(organiser, f"Pages {w}", start + timedelta(days=i))["id"] for i in range(11)]
    # Two at the same moment: the id breaks the tie.
    twins = sorted(create(organiser, f"Pages {w}", start + timedelta(days=5, hours=12))["id"] for _ in range(2))
    original = original[:6] + twins + original[6:]

    seen: list[str] = []
    added_after: list[str] = []
    answer = listed(http, q=w, limit=4)
    response = http.get("/api/concerts", params={"q": w, "limit": 4})
    assert f"limit=4" in response.headers["Link"] and 'rel="next"' in response.headers["Link"]
    pages = 0
    while True:
        pages += 1
        seen += [c["id"] for c in answer["concerts"]]
        starts = [c["startsAt"] for c in answer["concerts"]]
        assert starts == sorted(starts)
        # Between two requests: one concert before what was seen (not to come), one after it.
        create(organiser, f"Pages {w}", start - timedelta(days=pages))
        added_after.append(create(organiser, f"Pages {w}", start + timedelta(days=20 + pages))["id"])
        if answer["next"] is None:
            break
        answer = listed(http, q=w, limit=4, cursor=answer["next"])
        assert pages < 20
    assert len(seen) == len(set(seen)), "a concert came twice"
    assert set(seen) <= set(original) | set(added_after), "a concert added behind the cursor came"
    assert [i for i in seen if i in original] == original, "a concert present from the start was skipped"
    # Those added ahead of the cursor came, in order, all but the one added after the last page.
    assert [i for i in seen if i in added_after] == added_after[:-1]


def test_the_home_page_pages_with_next_links_without_repeats_or_gaps(organiser, http):
    w = word()
    start = SOON + timedelta(days=60)
    original = [create(organiser, f"Home pages {w}", start + timedelta(hours=i))["id"] for i in range(27)]
    path = "/?q=" + quote(w)
    seen: list[str] = []
    for round_ in range(10):
        page = http.get(path)
        assert page.status_code == 200
        shown = cards(page.text)
        assert 1 <= len(shown) <= 12
        seen += shown
        create(organiser, f"Home pages {w}", start - timedelta(hours=round_ + 1))  # before: never shown
        nxt = NEXT_LINK.search(page.text)
        if not nxt:
            break
        path = unescape(nxt.group(1))
        assert path.startswith("/?q=") and "cursor=" in path
    assert seen == original


def test_the_home_page_is_bounded_whatever_the_number_of_concerts(http):
    page = http.get("/")
    assert page.status_code == 200
    assert len(cards(page.text)) <= 12
    listed_page = listed(http)
    assert len(listed_page["concerts"]) <= 24
    assert len(listed(http, limit=100)["concerts"]) <= 100


# --------------------------------------------------------------------------------- time zones
def test_the_api_keeps_utc_adds_the_zone_and_the_pages_show_the_venues_clock_across_a_dst_change(organiser, http):
    w = word()
    year = 2031
    change = last_sunday(year, 3)  # Europe goes to summer time at 01:00 UTC that Sunday
    before = create(organiser, f"Clock {w}", local("Europe/Warsaw", year, 3, change - 1, 19, 0),
                    timeZone="Europe/Warsaw", city="Warsaw")
    after = create(organiser, f"Clock {w}", local("Europe/Warsaw", year, 3, change, 19, 0),
                   timeZone="Europe/Warsaw", city="Warsaw")
    assert before["startsAt"] == f"{year}-03-{change - 1:02d}T18:00:00Z"
    assert after["startsAt"] == f"{year}-03-{change:02d}T17:00:00Z"
    assert before["timeZone"] == after["timeZone"] == "Europe/Warsaw"
    assert http.get(f"/api/concerts/{after['id']}").json()["concert"]["timeZone"] == "Europe/Warsaw"

    page = http.get(f"/concerts/{before['id']}").text
    assert f"Sat {change - 1} Mar {year}, 19:00 CET, Warsaw time" in page
    assert f'datetime="{year}-03-{change - 1:02d}T19:00:00+01:00"' in page
    page = http.get(f"/concerts/{after['id']}").text
    assert f"Sun {change} Mar {year}, 19:00 CEST, Warsaw time" in page
    assert f"17:00 UTC" in page  # the same moment in UTC, for those far away
    home = http.get("/", params={"q": w}).text
    assert home.count("19:00 CET, Warsaw time") == 1 and home.count("19:00 CEST, Warsaw time") == 1

    # New York changes on another day: the second Sunday of March.
    ny = create(organiser, f"Clock {w}", local("America/New_York", year, 3, 9, 20, 30), timeZone="America/New_York",
                city="New York")
    assert ny["startsAt"] == f"{year}-03-10T00:30:00Z"
    assert "20:30 EDT, New York time" in http.get(f"/concerts/{ny['id']}").text


def test_a_concert_without_a_zone_is_in_utc_and_setting_the_zone_keeps_its_moment(organiser, http):
    w = word()
    concert = create(organiser, f"Zone {w}", datetime(2031, 7, 1, 18, 0, tzinfo=timezone.utc))
    assert concert["timeZone"] == "UTC"
    # Signed in (the bearer token): nginx's microcache answers anonymous visitors a second later.
    assert "18:00 UTC" in organiser.get(f"/concerts/{concert['id']}").text
    response = organiser.patch(f"/api/concerts/{concert['id']}", json={"timeZone": "Europe/Lisbon"})
    assert response.status_code == 200, response.text
    moved = response.json()["concert"]
    assert (moved["startsAt"], moved["timeZone"]) == ("2031-07-01T18:00:00Z", "Europe/Lisbon")
    assert "19:00 WEST, Lisbon time" in organiser.get(f"/concerts/{concert['id']}").text


@pytest.mark.parametrize("zone", ["Europe/Nowhere", "europe/warsaw", "GMT+2", "", "../../etc/passwd", "Warsaw"])
def test_an_unknown_time_zone_is_422_and_changes_nothing(organiser, http, zone):
    w = word()
    response = organiser.post("/api/concerts", json=body(f"Bad zone {w}", SOON, timeZone=zone))
    assert response.status_code == 422, response.text
    assert (response.json()["error"]["code"], response.json()["error"]["field"]) == ("invalid_field", "timeZone")
    assert found(http, q=w) == []
    concert = create(organiser, f"Bad zone {w}", SOON)
    response = organiser.patch(f"/api/concerts/{concert['id']}", json={"timeZone": zone})
    assert response.status_code == 422 and response.json()["error"]["field"] == "timeZone"
    assert http.get(f"/api/concerts/{concert['id']}").json()["concert"]["timeZone"] == "UTC"


def test_the_organisers_form_takes_the_venues_local_time_and_says_what_dst_does(base_url, http):
    w = word()
    year = 2031
    back = last_sunday(year, 10)      # 03:00 CEST -> 02:00 CET: 02:30 happens twice
    forward = last_sunday(year, 3)    # 02:00 CET -> 03:00 CEST: 02:30 never happens
    browser, csrf = page_session(base_url, "organiser@encore.test")
    with browser:
        new = browser.get("/admin/concerts/new").text
        assert 'name="timeZone" value="Europe/Warsaw"' in new and '<option value="America/New_York">' in new
        assert "local time at the venue" in new and "happens twice is the first one" in new
        form = {"artist": f"Form clock {w}", "title": "", "venue": "Spodek", "city": "Katowice",
                "timeZone": "Europe/Warsaw", "currency": "PLN", "levels[0].name": "Floor",
                "levels[0].capacity": "10", "levels[0].price": "100", "_csrf": csrf}

        gap = browser.post("/admin/concerts/new", data=dict(form, startsAt=f"{year}-03-{forward:02d}T02:30"))
        assert gap.status_code == 422
        text = unescape(gap.text)
        assert f"There is no 02:30 on {forward} Mar {year} in Europe/Warsaw" in text
        assert "from 02:00 to 03:00" in text
        assert f'value="{year}-03-{forward:02d}T02:30"' in gap.text  # kept as typed
        assert found(http, q=w) == []

        bad_zone = browser.post("/admin/concerts/new", data=dict(form, startsAt=f"{year}-06-01T20:00",
                                                                 timeZone="Mars/Olympus"))
        assert bad_zone.status_code == 422 and "IANA time zone" in unescape(bad_zone.text)

        twice = browser.post("/admin/concerts/new", data=dict(form, startsAt=f"{year}-10-{back:02d}T02:30"))
        assert twice.status_code == 303, twice.text[:300]
        concert_id = re.search(r"#concert-(.+)$", twice.headers["location"]).group(1)
        concert = http.get(f"/api/concerts/{concert_id}").json()["concert"]
        assert concert["startsAt"] == f"{year}-10-{back:02d}T00:30:00Z"  # the first 02:30, in summer time
        assert concert["timeZone"] == "Europe/Warsaw"
        assert f"Sun {back} Oct {year}, 02:30 CEST, Warsaw time" in http.get(f"/concerts/{concert_id}").text

        # The edit form shows the venue's clock; the same local time in another zone is another moment.
        edit = browser.get(f"/admin/concerts/{concert_id}/edit").text
        assert f'value="{year}-10-{back:02d}T02:30"' in edit and 'value="Europe/Warsaw"' in edit
        moved = browser.post(f"/admin/concerts/{concert_id}/edit", data={
            "artist": f"Form clock {w}", "title": "", "venue": "Spodek", "city": "Katowice",
            "startsAt": f"{year}-11-01T20:00", "timeZone": "Europe/London", "_csrf": csrf})
        assert moved.status_code == 303, moved.text[:300]
        concert = http.get(f"/api/concerts/{concert_id}").json()["concert"]
        assert (concert["startsAt"], concert["timeZone"]) == (f"{year}-11-01T20:00:00Z", "Europe/London")
        admin = browser.get("/admin/concerts").text
        assert f"Sat 1 Nov {year}, 20:00 GMT, London time" in admin
