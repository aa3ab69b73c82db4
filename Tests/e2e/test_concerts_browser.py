"""An organiser in a real browser (headless Chromium driven by Selenium), issue 5:

signs in, creates a concert with two ticket levels through the form (after a field error
that keeps what was typed), sees it on `/` and on its page, edits its city, edits a price in
the levels editor, cancels it through the confirmation step, and sees it marked cancelled on `/`, on
its page and in the admin list. `/`, `/concerts/{id}` and `/admin/concerts` are captured at
desktop width and on a 375-pixel-wide phone screen, where no page may scroll sideways.
Screenshots go to test-artifacts/concerts/.
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import requests

from conftest import assert_shows_no_nil, wait_until

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "concerts"
PHONE_WIDTH = 375


@pytest.fixture
def page(browser, base_url):
    """The shared browser with no cookies from earlier tests, at desktop size again afterwards."""
    browser.get(base_url + "/robots.txt")
    browser.delete_all_cookies()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield browser
    desktop(browser)


def wait(browser, condition, timeout: float = 15):
    return WebDriverWait(browser, timeout).until(condition)


def path_of(browser, base_url: str) -> str:
    return browser.current_url.removeprefix(base_url)


def fill(browser, name: str, value: str) -> None:
    element = browser.find_element(By.NAME, name)
    element.clear()
    element.send_keys(value)


def submit(browser, form_action: str) -> None:
    browser.find_element(By.CSS_SELECTOR, f"form[action='{form_action}'] button[type=submit]").click()


def phone(browser) -> None:
    """A 375 px wide phone screen (device metrics, so the viewport meta tag applies)."""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": PHONE_WIDTH, "height": 812, "deviceScaleFactor": 1, "mobile": True})


def desktop(browser) -> None:
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


MAX_SHOT_HEIGHT = 6000  # CSS pixels; Chromium refuses much taller captures


def shot(browser, name: str, around: WebElement | None = None) -> Path:
    """A screenshot of the whole page beyond the viewport, at most MAX_SHOT_HEIGHT tall: from
    the top, or from a little above `around` (in long lists, the concert under test). Every
    step's page is also checked for a leaked "nil"."""
    assert_shows_no_nil(browser)
    width, height = browser.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    top = 0
    if around is not None:
        top = max(0, browser.execute_script(
            "return arguments[0].getBoundingClientRect().top + window.scrollY", around) - 300)
    clip = {"x": 0, "y": top, "width": width, "height": min(height - top, MAX_SHOT_HEIGHT), "scale": 1}
    data = browser.execute_cdp_cmd("Page.captureScreenshot",
                                   {"format": "png", "captureBeyondViewport": True, "clip": clip})
    path = ARTIFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(data["data"]))
    assert path.stat().st_size > 1000
    return path


def assert_fits_phone(browser, what: str, controls: list[WebElement] = ()) -> None:
    """No horizontal scroll at 375 px, and the given controls lie inside the screen."""
    inner = browser.execute_script("return window.innerWidth")
    assert inner == PHONE_WIDTH, f"the phone emulation did not apply ({inner} px)"
    scroll = browser.execute_script("return document.documentElement.scrollWidth")
    if scroll > PHONE_WIDTH:
        wide = browser.execute_script("""
            const out = [];
            for (const el of document.querySelectorAll('body *')) {
                const r = el.getBoundingClientRect();
                if (r.right > window.innerWidth + 0.5 && out.length < 8)
                    out.push(el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') + ' ' + Math.round(r.right));
            }
            return out;""")
        raise AssertionError(f"{what} scrolls sideways at {PHONE_WIDTH} px: scrollWidth {scroll}; too wide: {wide}")
    for control in controls:
        rect = control.rect
        assert control.is_displayed(), f"{what}: {control.tag_name} is hidden"
        assert rect["x"] >= 0 and rect["x"] + rect["width"] <= PHONE_WIDTH + 0.5, \
            f"{what}: {control.tag_name} '{control.text}' is outside the screen ({rect})"


def text_of(element: WebElement) -> str:
    """The text as written (badges are upper-cased by CSS)."""
    return element.get_attribute("textContent").strip()


def card_of(browser, artist: str) -> WebElement:
    """The concert's card on `/`."""
    for card in browser.find_elements(By.CSS_SELECTOR, ".concert-card"):
        if artist in card.text:
            return card
    raise AssertionError(f"no card for {artist} on {browser.current_url}")


def api_concert(base_url: str, concert_id: str) -> dict:
    response = requests.get(f"{base_url}/api/concerts/{concert_id}", timeout=15)
    assert response.status_code == 200
    return response.json()["concert"]


def test_an_organiser_creates_reprices_and_cancels_a_concert(page, base_url):
    browser = page
    artist = f"Browser Band {uuid.uuid4().hex[:6]}"
    # The form takes the venue's clock, in the zone it offers (Europe/Warsaw, as the currency is PLN).
    starts = (datetime.now(timezone.utc) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    starts_local = starts.astimezone(ZoneInfo("Europe/Warsaw")).strftime("%Y-%m-%dT%H:%M")
    home_of_artist = "/?q=" + quote(artist)

    # Sign in through the form.
    browser.get(base_url + "/signin")
    fill(browser, "email", "organiser@encore.test")
    fill(browser, "password", "encore-demo-2026")
    submit(browser, "/signin")
    wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "header a.who"))
    browser.find_element(By.CSS_SELECTOR, "header a[href='/admin/concerts']").click()
    wait(browser, lambda b: path_of(b, base_url).startswith("/admin/concerts"))

    # The form: first without an artist, which shows the error next to the field and keeps
    # what was typed, including the level rows.
    browser.find_element(By.CSS_SELECTOR, "a[href='/admin/concerts/new']").click()
    wait(browser, lambda b: path_of(b, base_url) == "/admin/concerts/new")
    fill(browser, "title", "Headless Tour")
    fill(browser, "venue", "Spodek")
    fill(browser, "city", "Katowice")
    browser.execute_script("arguments[0].value = arguments[1]",
                           browser.find_element(By.NAME, "startsAt"), starts_local)
    currency = browser.find_element(By.NAME, "currency")
    assert currency.get_attribute("value") == "PLN"
    assert browser.find_element(By.NAME, "timeZone").get_attribute("value") == "Europe/Warsaw"
    fill(browser, "levels[0].name", "Golden circle")
    fill(browser, "levels[0].capacity", "100")
    fill(browser, "levels[0].price", "899")
    fill(browser, "levels[1].name", "Regular")
    fill(browser, "levels[1].capacity", "1000")
    fill(browser, "levels[1].price", "450.50")
    submit(browser, "/admin/concerts/new")
    wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, ".field-error"))
    artist_input = browser.find_element(By.NAME, "artist")
    assert artist_input.get_attribute("aria-invalid") == "true"
    assert "artist" in browser.find_element(By.CSS_SELECTOR, ".field-error").text.lower()
    assert browser.find_element(By.NAME, "venue").get_attribute("value") == "Spodek"
    assert browser.find_element(By.NAME, "levels[1].price").get_attribute("value") == "450.50"
    shot(browser, "01-new-concert-field-error")

    # Now with the artist: created, and the admin list shows both levels.
    fill(browser, "artist", artist)
    submit(browser, "/admin/concerts/new")
    wait(browser, lambda b: "done=created" in b.current_url)
    match = re.search(r"#concert-(.+)$", browser.current_url)
    assert match, browser.current_url
    concert_id = match.group(1)
    card = browser.find_element(By.ID, f"concert-{concert_id}")
    assert artist in card.text
    assert "899.00 PLN" in card.text and "450.50 PLN" in card.text
    assert "created" in browser.find_element(By.CSS_SELECTOR, "[role=status]").text.lower()
    concert = api_concert(base_url, concert_id)
    assert concert["startsAt"] == starts.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [(lv["id"], lv["capacity"], lv["price"]) for lv in concert["ticketLevels"]] == [
        ("golden-circle", 100, 89_900), ("regular", 1_000, 45_050)]

    # On `/` (searched for: the list has many concerts), with its from-price, and on its own page,
    # at the venue's time.
    browser.get(base_url + home_of_artist)
    home_card = card_of(browser, artist)
    assert "from 450.50 PLN" in home_card.text
    assert not home_card.find_elements(By.CSS_SELECTOR, ".badge")
    home_card.find_element(By.LINK_TEXT, artist).click()
    wait(browser, lambda b: path_of(b, base_url) == f"/concerts/{concert_id}")
    assert browser.find_element(By.CSS_SELECTOR, "article.concert h1").text == artist
    assert browser.find_element(By.CSS_SELECTOR, "article.concert .artist").text == "Headless Tour"
    assert starts_local[11:] + " CE" in browser.find_element(By.CSS_SELECTOR, "article.concert .concert-date").text
    assert "Warsaw time" in browser.find_element(By.CSS_SELECTOR, "article.concert .concert-date").text
    rows = browser.find_elements(By.CSS_SELECTOR, "table.ticket-levels tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, ".price").text for r in rows] == ["899.00 PLN", "450.50 PLN"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "form[action='/cart/items']")) == 2

    # The edit form shows what is stored; saving a new city keeps everything else.
    browser.get(base_url + "/admin/concerts")
    browser.find_element(By.CSS_SELECTOR, f"#concert-{concert_id} a[href$='/edit']").click()
    wait(browser, lambda b: path_of(b, base_url) == f"/admin/concerts/{concert_id}/edit")
    for name, value in (("artist", artist), ("title", "Headless Tour"), ("venue", "Spodek"),
                        ("city", "Katowice"), ("startsAt", starts_local)):
        assert browser.find_element(By.NAME, name).get_attribute("value") == value, name
    fill(browser, "city", "Chorzów")
    submit(browser, f"/admin/concerts/{concert_id}/edit")
    wait(browser, lambda b: "done=updated" in b.current_url)
    concert = api_concert(base_url, concert_id)
    assert (concert["artist"], concert["title"], concert["venue"], concert["city"]) == (
        artist, "Headless Tour", "Spodek", "Chorzów")

    # The levels editor: a new price for the golden circle.
    browser.get(base_url + "/admin/concerts")
    browser.find_element(By.CSS_SELECTOR, f"#concert-{concert_id} a[href$='/levels']").click()
    wait(browser, lambda b: path_of(b, base_url) == f"/admin/concerts/{concert_id}/levels")
    assert browser.find_element(By.NAME, "levels[0].price").get_attribute("value") == "899"
    fill(browser, "levels[0].price", "999.99")
    shot(browser, "02-levels-editor")
    submit(browser, f"/admin/concerts/{concert_id}/levels")
    wait(browser, lambda b: "done=levels" in b.current_url)
    assert "999.99 PLN" in browser.find_element(By.ID, f"concert-{concert_id}").text
    assert [lv["price"] for lv in api_concert(base_url, concert_id)["ticketLevels"]] == [99_999, 45_050]
    browser.get(f"{base_url}/concerts/{concert_id}")
    assert "999.99 PLN" in browser.find_element(By.CSS_SELECTOR, "table.ticket-levels").text

    # Screenshots of the scheduled concert at desktop width and on a phone.
    for name, path in (("home", home_of_artist), ("concert", f"/concerts/{concert_id}"),
                       ("admin-concerts", "/admin/concerts")):
        browser.get(base_url + path)
        around = browser.find_element(By.ID, f"concert-{concert_id}") if name == "admin-concerts" else None
        shot(browser, f"03-{name}-desktop", around)
    phone(browser)
    try:
        browser.get(base_url + home_of_artist)
        assert_fits_phone(browser, "/", [card_of(browser, artist)] + browser.find_elements(
            By.CSS_SELECTOR, "#concert-search input:not([type=hidden]), #concert-search button"))
        shot(browser, "04-home-375")
        browser.get(f"{base_url}/concerts/{concert_id}")
        assert_fits_phone(browser, "/concerts/{id}", browser.find_elements(
            By.CSS_SELECTOR, "table.ticket-levels button[type=submit], table.ticket-levels input[name=quantity]"))
        shot(browser, "04-concert-375")
        browser.get(base_url + "/admin/concerts")
        assert_fits_phone(browser, "/admin/concerts", browser.find_elements(
            By.CSS_SELECTOR, f"#concert-{concert_id} p.cluster a") + [
            browser.find_element(By.CSS_SELECTOR, "a[href='/admin/concerts/new']")])
        shot(browser, "04-admin-concerts-375", browser.find_element(By.ID, f"concert-{concert_id}"))
        for path in ("/admin/concerts/new", f"/admin/concerts/{concert_id}/levels",
                     f"/admin/concerts/{concert_id}/edit", f"/admin/concerts/{concert_id}/cancel"):
            browser.get(base_url + path)
            assert_fits_phone(browser, path, browser.find_elements(By.CSS_SELECTOR, "main button[type=submit]"))
        shot(browser, "04-admin-cancel-375")
    finally:
        desktop(browser)

    # Cancel: the link leads to a confirmation page that changes nothing by itself.
    browser.get(base_url + "/admin/concerts")
    browser.find_element(By.CSS_SELECTOR, f"#concert-{concert_id} a[href$='/cancel']").click()
    wait(browser, lambda b: path_of(b, base_url) == f"/admin/concerts/{concert_id}/cancel")
    assert artist in browser.find_element(By.TAG_NAME, "h1").text
    assert api_concert(base_url, concert_id)["status"] == "scheduled"
    shot(browser, "05-cancel-confirmation")
    browser.find_element(By.ID, "confirm-cancel").click()
    wait(browser, lambda b: "done=cancelled" in b.current_url)
    admin_card = browser.find_element(By.ID, f"concert-{concert_id}")
    assert text_of(admin_card.find_element(By.CSS_SELECTOR, ".badge")) == "Cancelled"
    assert not admin_card.find_elements(By.CSS_SELECTOR, "a[href$='/edit'], a[href$='/levels'], a[href$='/cancel']")
    assert api_concert(base_url, concert_id)["status"] == "cancelled"
    shot(browser, "06-admin-concerts-cancelled", admin_card)

    # Marked cancelled on `/` and on its page, where nothing can be added to the cart.
    browser.get(base_url + home_of_artist)
    home_card = card_of(browser, artist)
    assert "concert-card--cancelled" in home_card.get_attribute("class")
    assert text_of(home_card.find_element(By.CSS_SELECTOR, ".badge")) == "Cancelled"
    assert "from " not in home_card.text
    shot(browser, "07-home-cancelled")
    browser.get(f"{base_url}/concerts/{concert_id}")
    assert "cancelled" in browser.find_element(By.CSS_SELECTOR, "[role=status]").text.lower()
    assert not browser.find_elements(By.CSS_SELECTOR, "form[action='/cart/items']")
    shot(browser, "07-concert-cancelled")

    # An anonymous visitor sees the same, at most a few seconds later (nginx's microcache).
    def anonymous_sees_cancelled() -> bool:
        response = requests.get(f"{base_url}/concerts/{concert_id}", timeout=15)
        return response.status_code == 200 and "This concert is cancelled" in response.text
    wait_until(anonymous_sees_cancelled, 12, 0.2, "the anonymous page to show the cancellation")
