"""The partnership dashboard in a browser: exact for the coordinator, suppressed for police."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.browser.conftest import login

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("LOCMAP_SCREENSHOTS")


def _open_dashboard(page: Any, live_server: str) -> None:
    page.goto(f"{live_server}/")
    page.get_by_role("link", name="Eastbrook", exact=False).first.click()
    page.locator("#dashboard-link").click()
    # As of today (the default): the demo is anchored to the day it is loaded, so its
    # records and risk assessments give the same picture on any day.
    page.wait_for_url("**/dashboard")


def test_coordinator_sees_exact_numbers_and_can_preview_the_partner_version(
        page: Any, live_server: str) -> None:
    login(page, "coordinator@demo.locmap.invalid")
    _open_dashboard(page, live_server)
    board = page.locator("article.dashboard")
    assert board.get_attribute("data-suppressed") == "false"
    assert page.locator("td.flag-withheld").count() == 0
    total = page.locator("#table-by_district tr.total td").last.inner_text()
    assert int(total) >= 35  # the demo's ~40 young people, exact
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/dashboard-coordinator.png", full_page=True)
    page.get_by_label("partner version (suppressed)").check()
    page.get_by_role("button", name="Update").click()
    page.wait_for_url("**view=partner**")
    assert board.get_attribute("data-suppressed") == "true"
    assert page.locator("td.flag-withheld").count() > 0
    assert page.locator("#dash-quarter").count() == 1  # the preview is at a quarter end too


def test_police_reviewer_sees_small_numbers_withheld(page: Any, live_server: str) -> None:
    login(page, "reviewer.police@demo.locmap.invalid")
    _open_dashboard(page, live_server)
    assert page.locator("article.dashboard").get_attribute("data-suppressed") == "true"
    withheld = page.locator("#table-by_district td.flag-withheld")
    assert withheld.count() > 0 and withheld.first.inner_text() == "[c]"
    version = page.locator("#dash-version").inner_text()
    assert "figures at quarter ends, rounded to the nearest 5, small numbers withheld" in version
    assert "withheld" in page.locator("#table-by_district p.rule").inner_text()
    # a quarter picker, not a free date: choosing an earlier quarter shows that quarter
    picker = page.locator("#dash-quarter")
    options = picker.locator("option")
    if options.count() > 1:
        earlier = options.nth(1).get_attribute("value")
        picker.select_option(earlier)
        page.get_by_role("button", name="Update").click()
        page.wait_for_url(f"**as_of={earlier}**")
        assert earlier in page.locator(".dash-asof").inner_text()
    assert page.get_by_label("exact numbers").count() == 0  # no toggle for partners
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/dashboard-reviewer.png", full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=f"{SHOTS}/dashboard-reviewer-phone.png", full_page=False)
        page.set_viewport_size({"width": 1280, "height": 800})
    page.locator("#printable").click()
    page.wait_for_selector("body.printable")  # the printable page, not the one it left
    assert not page.locator(".dash-controls").is_visible()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/dashboard-print.png", full_page=True)
