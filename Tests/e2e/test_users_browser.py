"""A new user in a real browser (headless Chromium from Debian, driven by Selenium): register,
sign out, sign in, change the name, sign out everywhere; and a form error that keeps what
was typed and shows the message next to its field. Screenshots go to test-artifacts/users/.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import assert_shows_no_nil

pytest.importorskip("selenium")
from selenium.common.exceptions import NoSuchElementException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "users"


@pytest.fixture
def page(browser, base_url):
    """The shared browser with no cookies from earlier tests."""
    browser.get(base_url + "/robots.txt")
    browser.delete_all_cookies()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return browser


def shot(browser, name: str) -> None:
    """A screenshot of a step; every step's page is also checked for a leaked "nil"."""
    assert_shows_no_nil(browser)
    browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def wait(browser, condition, timeout: float = 15):
    return WebDriverWait(browser, timeout).until(condition)


def fill(browser, field_id: str, value: str) -> None:
    element = browser.find_element(By.ID, field_id)
    element.clear()
    element.send_keys(value)


def path_of(browser, base_url: str) -> str:
    return browser.current_url.removeprefix(base_url)


def header_name(browser) -> str:
    return browser.find_element(By.CSS_SELECTOR, "header a.who").text.strip()


def signed_out_header(browser) -> bool:
    links = browser.find_elements(By.CSS_SELECTOR, "header a[href='/signin']")
    return bool(links) and not browser.find_elements(By.CSS_SELECTOR, "header a.who")


def test_a_new_user_registers_signs_out_and_in_renames_and_signs_out_everywhere(page, base_url):
    browser = page
    name = "Wanda Newcomer"
    email = f"wanda-{uuid.uuid4().hex[:10]}@example.test"
    password = f"browser pass {uuid.uuid4().hex[:8]}"

    # Register: the account page opens, and the header shows who is signed in.
    browser.get(base_url + "/register")
    assert signed_out_header(browser)
    fill(browser, "name", name)
    fill(browser, "email", email)
    fill(browser, "password", password)
    shot(browser, "01-register-form")
    browser.find_element(By.CSS_SELECTOR, "form[action='/register'] button[type=submit]").click()
    wait(browser, lambda b: path_of(b, base_url).startswith("/account"))
    assert header_name(browser) == name
    assert email in browser.find_element(By.TAG_NAME, "main").text
    assert password not in browser.page_source
    shot(browser, "02-account-after-register")

    # Sign out with the header's button.
    browser.find_element(By.CSS_SELECTOR, "header form[action='/signout'] button").click()
    wait(browser, lambda b: signed_out_header(b))
    browser.get(base_url + "/account")
    wait(browser, lambda b: path_of(b, base_url).startswith("/signin"))
    shot(browser, "03-signed-out")

    # Sign in: back to the account page it came from.
    fill(browser, "email", email.upper())
    fill(browser, "password", password)
    browser.find_element(By.CSS_SELECTOR, "form[action='/signin'] button[type=submit]").click()
    wait(browser, lambda b: path_of(b, base_url) == "/account")
    assert header_name(browser) == name
    shot(browser, "04-signed-in")

    # Another device signs in too (through the API).
    time.sleep(0.2)  # pace sign-ins: nginx lets a client sign in about ten times a second
    other = requests.post(base_url + "/api/sessions", json={"email": email, "password": password}, timeout=15)
    assert other.status_code == 201, other.text
    other_token = other.json()["token"]
    browser.refresh()
    sessions = browser.find_elements(By.CSS_SELECTOR, "ul.sessions li")
    assert len(sessions) == 2

    # Change the name: the header shows the new one.
    new_name = "Wanda Renamed"
    fill(browser, "name", new_name)
    browser.find_element(By.CSS_SELECTOR, "form[action='/account/name'] button[type=submit]").click()
    wait(browser, lambda b: "done=name" in b.current_url)
    assert header_name(browser) == new_name
    assert browser.find_element(By.ID, "name").get_attribute("value") == new_name
    assert "saved" in browser.find_element(By.CSS_SELECTOR, "[role=status]").text.lower()
    shot(browser, "05-name-changed")

    # Sign out everywhere: this browser and the other device are signed out.
    browser.find_element(By.ID, "signout-everywhere").click()
    wait(browser, lambda b: path_of(b, base_url).startswith("/signin"))
    assert signed_out_header(browser)
    browser.get(base_url + "/account")
    wait(browser, lambda b: path_of(b, base_url).startswith("/signin"))
    assert path_of(browser, base_url) == "/signin?next=/account"
    shot(browser, "06-signed-out-everywhere")
    me = requests.get(base_url + "/api/me", headers={"Authorization": f"Bearer {other_token}"}, timeout=15)
    assert me.status_code == 401


def test_a_form_error_keeps_what_was_typed_and_shows_the_message_by_the_field(page, base_url):
    browser = page
    taken = f"taken-{uuid.uuid4().hex[:10]}@example.test"
    response = requests.post(base_url + "/api/users",
                             json={"email": taken, "password": "first owner pass", "name": "First"}, timeout=15)
    assert response.status_code == 201

    # A taken address: the name and e-mail stay, the message sits under the e-mail field.
    browser.get(base_url + "/register")
    fill(browser, "name", "Typed Name")
    fill(browser, "email", taken.upper())
    fill(browser, "password", "a good long password")
    browser.find_element(By.CSS_SELECTOR, "form[action='/register'] button[type=submit]").click()
    error = wait(browser, EC.presence_of_element_located((By.ID, "email-error")))
    assert "exists already" in error.text
    assert browser.find_element(By.ID, "name").get_attribute("value") == "Typed Name"
    assert browser.find_element(By.ID, "email").get_attribute("value") == taken.upper()
    assert browser.find_element(By.ID, "password").get_attribute("value") == ""  # never echoed
    email_input = browser.find_element(By.ID, "email")
    assert email_input.get_attribute("aria-invalid") == "true"
    assert email_input.get_attribute("aria-describedby") == "email-error"
    # Next to its field: the element right after the e-mail input.
    following = browser.find_element(By.XPATH, "//input[@id='email']/following-sibling::*[1]")
    assert following.get_attribute("id") == "email-error"
    with pytest.raises(NoSuchElementException):
        browser.find_element(By.ID, "name-error")
    shot(browser, "07-register-email-taken")

    # A short password: the message is by the password field, the rest is kept.
    fresh = f"fresh-{uuid.uuid4().hex[:10]}@example.test"
    fill(browser, "email", fresh)
    fill(browser, "password", "short")
    browser.find_element(By.CSS_SELECTOR, "form[action='/register'] button[type=submit]").click()
    error = wait(browser, EC.presence_of_element_located((By.ID, "password-error")))
    assert "at least 8" in error.text
    assert browser.find_element(By.ID, "name").get_attribute("value") == "Typed Name"
    assert browser.find_element(By.ID, "email").get_attribute("value") == fresh
    assert browser.find_element(By.ID, "password").get_attribute("aria-invalid") == "true"
    assert not browser.find_elements(By.ID, "email-error")
    shot(browser, "08-register-short-password")

    # A wrong password on the sign-in form keeps the e-mail and says why.
    browser.get(base_url + "/signin")
    fill(browser, "email", taken)
    fill(browser, "password", "not the password")
    time.sleep(0.2)  # pace sign-ins: nginx lets a client sign in about ten times a second
    browser.find_element(By.CSS_SELECTOR, "form[action='/signin'] button[type=submit]").click()
    error = wait(browser, EC.presence_of_element_located((By.ID, "signin-error")))
    assert "not right" in error.text
    assert browser.find_element(By.ID, "email").get_attribute("value") == taken
    assert browser.find_element(By.ID, "password").get_attribute("value") == ""
    shot(browser, "09-signin-wrong-password")
