"""Phones and keyboards, in a real browser (Debian's Chromium): at 360 px wide the header keeps
to one row, nothing scrolls sideways, and the links are in a menu that opens without
JavaScript; the keyboard's focus is visible; the first Tab reaches a link that skips to the
content. (axe-core checks every page the browser tests open: conftest.check_accessibility.)
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from conftest import wait_until

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

PASSWORD = "encore-demo-2026"


@pytest.fixture
def phone(browser):
    browser.set_window_size(360, 740)
    yield browser
    browser.set_window_size(1280, 900)


def header_fits(browser) -> None:
    header = browser.find_element(By.CSS_SELECTOR, ".site-header")
    assert header.size["height"] <= 80, f"the header wraps: {header.size['height']} px tall"
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 360, "the page scrolls sideways"
    menu = browser.find_element(By.CSS_SELECTOR, ".site-menu > summary")
    assert menu.is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, ".site-nav--wide").is_displayed()
    menu.click()
    links = [a for a in browser.find_elements(By.CSS_SELECTOR, ".site-menu__list a") if a.is_displayed()]
    assert links and all(link.location["x"] + link.size["width"] <= 360 for link in links)
    return links


def test_the_header_fits_a_360_px_phone_signed_out_and_in(phone, base_url):
    phone.get(base_url + "/robots.txt")
    phone.delete_all_cookies()
    phone.get(base_url + "/")
    links = header_fits(phone)
    assert {a.text for a in links} >= {"Concerts", "Sign in", "Create account"}
    next(a for a in links if a.text == "Sign in").click()
    wait_until(lambda: urlsplit(phone.current_url).path == "/signin", 15, 0.05, "the sign-in page")
    phone.find_element(By.ID, "email").send_keys("customer@encore.test")
    phone.find_element(By.ID, "password").send_keys(PASSWORD)
    phone.find_element(By.CSS_SELECTOR, "form[action='/signin'] button[type=submit]").click()
    wait_until(lambda: urlsplit(phone.current_url).path == "/", 15, 0.05, "home, signed in")
    links = header_fits(phone)
    assert {a.text for a in links} >= {"Concerts", "Cart", "Orders", "Tickets"}


def test_the_keyboard_skips_to_the_content_and_its_focus_is_visible(browser, base_url):
    browser.get(base_url + "/robots.txt")
    browser.delete_all_cookies()
    browser.get(base_url + "/signin")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.get_attribute("class") == "skip-link" and focused.is_displayed()
    assert focused.value_of_css_property("outline-style") != "none"
    focused.send_keys(Keys.ENTER)
    assert urlsplit(browser.current_url).fragment == "main"
    email = browser.find_element(By.ID, "email")
    email.click()
    assert browser.switch_to.active_element == email
    shadow = email.value_of_css_property("box-shadow")
    assert shadow != "none" or email.value_of_css_property("outline-style") != "none"
