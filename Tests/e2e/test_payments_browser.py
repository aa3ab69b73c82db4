"""Paying in a real browser (Debian's Chromium): a customer with two concerts in one cart
confirms it, types a card into the checkout page's card element (localstripe's Stripe.js mock),
pays, and sees both orders completed, on the checkout page and under "Your orders". The
checkout page's Content-Security-Policy lets Stripe.js's origin in, and nothing else.
Screenshots go to test-artifacts/payments/.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from conftest import assert_shows_no_nil, wait_until
from payments_support import STRIPE_API_BASE
from test_cart_api import ONLINE, create_concert, level, sign_in

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "payments"
PASSWORD = "encore-demo-2026"


def shot(browser, name: str) -> None:
    assert_shows_no_nil(browser)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))


@pytest.fixture(scope="module")
def organiser(base_url):
    with sign_in(base_url, "organiser@encore.test") as session:
        yield session


def test_a_customer_pays_two_concerts_by_card_and_sees_both_orders_completed(browser, base_url, organiser, db):
    first = create_concert(organiser, db, [level("floor", 10, 30_000)])
    second = create_concert(organiser, db, [level("balcony", 10, 15_000)])
    email = f"payer-{uuid.uuid4().hex[:10]}@example.test"
    assert requests.post(base_url + "/api/users", json={"email": email, "password": PASSWORD, "name": "Paula Payer"},
                         timeout=15).status_code == 201
    with sign_in(base_url, email) as api:
        for concert, level_id, quantity in ((first, "floor", 2), (second, "balcony", 1)):
            assert api.post("/api/cart/items", json={"concertId": concert["id"], "ticketLevelId": level_id,
                                                     "quantity": quantity}).status_code == 201
        assert api.put("/api/cart/delivery", json=ONLINE).status_code == 200

    browser.get(base_url + "/robots.txt")
    browser.delete_all_cookies()
    browser.get(base_url + "/signin?next=/cart")
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form[action='/signin'] button[type=submit]").click()
    wait_until(lambda: urlsplit(browser.current_url).path == "/cart", 15, 0.05, "the cart page")
    browser.find_element(By.ID, "confirm-cart").click()
    wait_until(lambda: urlsplit(browser.current_url).path.startswith("/checkout/"), 15, 0.05, "the checkout page")
    checkout_id = urlsplit(browser.current_url).path.rsplit("/", 1)[1]

    # The page's policy allows Stripe.js's origin, and no other.
    policy = requests.get(browser.current_url, cookies={c["name"]: c["value"] for c in browser.get_cookies()},
                          timeout=15).headers["Content-Security-Policy"]
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(STRIPE_API_BASE))
    assert f"script-src 'self' {origin};" in policy and f"frame-src {origin};" in policy
    assert re.findall(r"https?://[^ ;]+", policy) == [origin] * 3

    wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, "#card-element input"), 15, 0.1, "the card element")
    inputs = {el.get_attribute("placeholder"): el for el in browser.find_elements(By.CSS_SELECTOR, "#card-element input")}
    for field, value in (("number", "4242424242424242"), ("exp_month", "12"), ("exp_year", "34"), ("cvc", "123"),
                         ("postal_code", "00950")):
        inputs[field].send_keys(value)
    shot(browser, "01-checkout-card")
    browser.find_element(By.ID, "pay-button").click()
    wait_until(lambda: browser.find_elements(By.ID, "checkout-paid") and not browser.find_elements(
        By.CSS_SELECTOR, ".badge.status-pending"), 60, 0.2, "the checkout to show both orders paid")
    badges = [el.text.lower() for el in browser.find_elements(By.CSS_SELECTOR, "article.card .badge")]
    assert badges == ["completed", "completed"], badges
    shot(browser, "02-checkout-paid")

    browser.get(base_url + "/orders")
    rows = browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
    assert len(rows) == 2 and all("completed" in row.text.lower() for row in rows)
    shot(browser, "03-my-orders")
    browser.find_element(By.CSS_SELECTOR, "table tbody tr a").click()
    wait_until(lambda: browser.find_elements(By.ID, "order-status"), 15, 0.05, "an order's page")
    assert browser.find_element(By.ID, "order-status").text.lower() == "completed"
    assert "pending" in browser.find_element(By.CSS_SELECTOR, "ol.history").text.lower()
    shot(browser, "04-one-order")
    assert checkout_id
