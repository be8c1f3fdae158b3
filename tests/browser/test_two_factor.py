"""A user sets up two-factor sign-in from the account page and logs in with a code."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest

from locmap import clock
from locmap.db import Database
from locmap.services import accounts
from tests.browser.conftest import login

pytestmark = pytest.mark.browser

EMAIL = "two-factor@demo.locmap.invalid"
PASSWORD = "a browser passphrase"


def _code(secret: str, steps_ahead: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(clock.real_now()) + steps_ahead)


def test_enrol_from_the_account_page_then_log_in_with_a_code(
        page: Any, demo_db: Database) -> None:
    with demo_db.session() as s:  # an account of its own: the demo's are shared
        accounts.create_user(s, None, email=EMAIL, name="Tess Twofactor", password=PASSWORD)
        s.commit()
    login(page, EMAIL, PASSWORD)
    page.click("header a.who-name")
    page.wait_for_selector("h1:has-text('Your account')")
    assert page.locator("#sessions tbody tr").count() == 1
    page.click("text=Set up two-factor sign-in")
    page.wait_for_selector(".qr svg")
    secret = page.locator("#totp-secret").inner_text().strip()
    page.fill("input[name=code]", _code(secret))
    page.click("button:has-text('Turn on two-factor sign-in')")
    page.wait_for_selector("#recovery-codes li")
    assert page.locator("#recovery-codes li").count() == 10
    page.click("text=Continue to locmap")
    page.click("button:has-text('Log out')")
    page.wait_for_selector("text=You are logged out.")

    login(page, EMAIL, PASSWORD)
    page.wait_for_selector("h1:has-text('Enter your code')")
    page.fill("input[name=code]", _code(secret, 1))  # the enrolment used this step's code
    page.click("button:has-text('Continue')")
    page.wait_for_selector("header a.who-name:has-text('Tess Twofactor')")
    page.click("header a.who-name")
    assert "On." in page.locator("#two-factor").inner_text()
