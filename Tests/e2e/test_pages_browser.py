"""Every page a visitor, a customer, an organiser and an admin can reach by following links,
in a real browser: none shows a missing value as "nil" or "Optional(" (pages render from typed
view models, so a value that is absent is left out). The customer has a cart and a
reservation, so the cart, checkout and reservations pages have something to show.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from conftest import assert_shows_no_nil, wait_until

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402

DEMO_PASSWORD = "encore-demo-2026"
CSRF_INPUT = re.compile(r'<input type="hidden" name="_csrf" value="([^"]+)"')
# Links whose GET changes nothing but that lead far (every concert's history) or nowhere new.
SKIP = re.compile(r"^/(css|js|img|fonts|favicon|robots|api/)")


def sign_in(browser, base_url: str, email: str, password: str = DEMO_PASSWORD) -> None:
    browser.get(base_url + "/signin")
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "form[action='/signin'] button[type=submit]").click()
    wait_until(lambda: urlsplit(browser.current_url).path != "/signin", 15, 0.05, "the sign-in to finish")


def crawl(browser, base_url: str, start: list[str], limit: int = 60) -> list[str]:
    """Visits the pages reachable by same-site links from `start` (at most `limit`), checking
    each; returns the paths visited."""
    seen: list[str] = []
    queue = list(start)
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        browser.get(base_url + path)
        seen.append(path)
        assert_shows_no_nil(browser)
        for link in browser.find_elements(By.CSS_SELECTOR, "a[href]"):
            href = link.get_attribute("href") or ""
            parts = urlsplit(urljoin(base_url + path, href))
            if parts.netloc != urlsplit(base_url).netloc or SKIP.match(parts.path):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in seen and target not in queue:
                queue.append(target)
    return seen


@pytest.fixture
def fresh_browser(browser, base_url):
    browser.get(base_url + "/robots.txt")
    browser.delete_all_cookies()
    return browser


def test_a_visitor_sees_no_nil(fresh_browser, base_url):
    visited = crawl(fresh_browser, base_url, ["/", "/signin", "/register"])
    assert "/" in visited and any(p.startswith("/concerts/") for p in visited)


def test_a_customer_with_a_cart_and_a_reservation_sees_no_nil(fresh_browser, base_url):
    email = f"pages-{uuid.uuid4().hex[:10]}@example.test"
    password = f"pages pass {uuid.uuid4().hex[:8]}"
    api = requests.Session()
    assert api.post(base_url + "/api/users", json={"email": email, "password": password, "name": "Pia Pages"},
                    timeout=15).status_code == 201
    token = api.post(base_url + "/api/sessions", json={"email": email, "password": password},
                     timeout=15).json()["token"]
    api.cookies.clear()
    api.headers["Authorization"] = f"Bearer {token}"
    # The demo data's Dua Lipa (encore seed): thousands of tickets, in PLN.
    concert = api.get(base_url + "/api/concerts/dua-lipa-krakow-2027", timeout=15).json()["concert"]
    level = next(level for level in concert["ticketLevels"] if level["available"] >= 2)
    assert api.post(base_url + "/api/cart/items", json={"concertId": concert["id"], "ticketLevelId": level["id"],
                                                        "quantity": 1}, timeout=15).status_code == 201
    assert api.put(base_url + "/api/cart/delivery", json={"method": "online", "email": email},
                   timeout=15).status_code == 200
    confirmed = api.post(base_url + "/api/cart/confirm", timeout=30)
    assert confirmed.status_code == 201, confirmed.text
    checkout = confirmed.json()["checkout"]
    assert api.post(base_url + "/api/cart/items", json={"concertId": concert["id"], "ticketLevelId": level["id"],
                                                        "quantity": 1}, timeout=15).status_code == 201

    sign_in(fresh_browser, base_url, email, password)
    visited = crawl(fresh_browser, base_url, ["/cart", f"/checkout/{checkout['id']}", "/reservations", "/orders", "/account"])
    assert {"/cart", "/reservations", "/account"} <= set(visited)
    # A form shown again with an error (a quantity the cart refuses) shows no nil either.
    fresh_browser.get(base_url + "/cart")
    field = fresh_browser.find_element(By.CSS_SELECTOR, "form[action^='/cart/items/'] input[name=quantity]")
    fresh_browser.execute_script("arguments[0].removeAttribute('max'); arguments[0].value = '99'", field)
    field.find_element(By.XPATH, "./following-sibling::button").click()
    # The cart page comes back with the error: wait for it, not for the page being left.
    wait_until(lambda: fresh_browser.find_elements(By.ID, "cart-error"), 15, 0.1, "the cart page with its error")
    assert_shows_no_nil(fresh_browser)
    for reservation in checkout["reservations"]:
        api.post(base_url + f"/api/reservations/{reservation['id']}/cancel", timeout=15)


@pytest.mark.parametrize("email", ["organiser@encore.test", "admin@encore.test"])
def test_organisers_and_admins_see_no_nil(fresh_browser, base_url, email):
    sign_in(fresh_browser, base_url, email)
    visited = crawl(fresh_browser, base_url, ["/admin/concerts", "/admin/concerts/new", "/account"]
                    + (["/admin/users"] if email.startswith("admin") else []))
    assert "/admin/concerts" in visited
