"""Tickets in a real browser (Debian's Chromium): the e-ticket page shows a QR code that
decodes (zbarimg, from a screenshot of it) to the ticket's code, on a phone-sized screen; the
organiser's scanner page checks a ticket in by typed code, shows the large green answer and the
count, then red for the same code again. Screenshots go to test-artifacts/tickets/.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from conftest import assert_shows_no_nil, wait_until
from test_cart_api import create_concert, level, sign_in
from tickets_support import buy, decode_qr, online, tickets_of, zbarimg

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "tickets"
PASSWORD = "encore-demo-2026"


def shot(browser, name: str) -> Path:
    assert_shows_no_nil(browser)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def browser_sign_in(browser, base_url: str, email: str, next_path: str) -> None:
    browser.get(base_url + "/robots.txt")
    browser.delete_all_cookies()
    browser.get(base_url + "/signin?next=" + next_path)
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form[action='/signin'] button[type=submit]").click()
    wait_until(lambda: urlsplit(browser.current_url).path == next_path, 15, 0.05, next_path)


@pytest.fixture(scope="module")
def organiser(base_url):
    with sign_in(base_url, "organiser@encore.test") as session:
        yield session


@pytest.fixture
def bought(base_url, organiser, db):
    """A customer with one paid ticket: (email, concert, ticket)."""
    concert = create_concert(organiser, db, [level("floor", 10, 30_000)])
    email = f"holder-{uuid.uuid4().hex[:10]}@example.test"
    assert requests.post(base_url + "/api/users", json={"email": email, "password": PASSWORD, "name": "Hania Holder"},
                         timeout=15).status_code == 201
    with sign_in(base_url, email) as api:
        order = buy(api, [(concert["id"], "floor", 1)], online())
        [ticket] = tickets_of(api, order["id"], 1)
    return email, concert, ticket


@pytest.mark.skipif(zbarimg() is None, reason="zbarimg (Debian's zbar-tools) is not installed")
def test_the_e_ticket_shows_a_qr_code_that_decodes_to_its_code(browser, base_url, bought, tmp_path):
    email, concert, ticket = bought
    browser_sign_in(browser, base_url, email, "/tickets")
    assert ticket["number"] in browser.page_source
    browser.set_window_size(390, 844)  # a phone
    try:
        browser.get(f"{base_url}/tickets/{ticket['id']}")
        assert browser.find_element(By.ID, "ticket-number").text == ticket["number"]
        assert concert["artist"] in browser.page_source and "Hania Holder" in browser.page_source
        qr = browser.find_element(By.ID, "ticket-qr")
        assert qr.size["width"] >= 300  # large on a phone
        png = qr.screenshot_as_png
        shot(browser, "e-ticket-phone")
        assert decode_qr(png, tmp_path) == ticket["code"]
    finally:
        browser.set_window_size(1280, 900)


def test_the_scanner_checks_a_typed_code_in_once(browser, base_url, bought):
    _, concert, ticket = bought
    browser_sign_in(browser, base_url, "organiser@encore.test", f"/admin/concerts/{concert['id']}/check-in")
    count = browser.find_element(By.ID, "count-in")
    assert count.text == "0" and browser.find_element(By.ID, "count-issued").text == "1"
    field = browser.find_element(By.ID, "manual-code")
    field.send_keys(ticket["code"])
    browser.find_element(By.ID, "manual-check").click()
    result = browser.find_element(By.ID, "result")
    wait_until(lambda: "scanner__result--ok" in result.get_attribute("class"), 15, 0.05, "the green answer")
    assert "Welcome in" in result.text and ticket["number"] in result.text
    assert browser.find_element(By.ID, "count-in").text == "1"
    shot(browser, "scanner-in")

    browser.find_element(By.ID, "manual-code").send_keys(ticket["code"])
    browser.find_element(By.ID, "manual-check").click()
    wait_until(lambda: "scanner__result--no" in result.get_attribute("class"), 15, 0.05, "the red answer")
    assert "Already in" in result.text
    shot(browser, "scanner-again")
