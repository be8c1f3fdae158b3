"""A partner reviewer in a browser: the place page's incident count is the figure the
pilot page's place list shows, a quarter-end figure (issue 14)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.browser.conftest import login

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("LOCMAP_SCREENSHOTS")


def test_partner_sees_the_same_quarter_end_count_on_the_list_and_the_place_page(
        page: Any, live_server: str) -> None:
    login(page, "reviewer.police@demo.locmap.invalid")
    page.goto(f"{live_server}/")
    page.get_by_role("link", name="Eastbrook", exact=False).first.click()
    items = page.locator("#place-list li.place")
    items.first.wait_for()
    # The place with the most incidents (a withheld one reads "<5").
    badges = [(items.nth(i).locator(".badge").inner_text(), i) for i in range(items.count())]
    shown = [(int(b.lstrip("~")), i) for b, i in badges if b.startswith("~")]
    assert shown, badges
    count, index = max(shown)
    item = items.nth(index)
    page.goto(live_server + item.locator("a.place-evidence-link").get_attribute("href"),
              wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_selector("#incident-count", timeout=120_000)
    assert page.locator("#incident-count").inner_text() == str(count)
    assert page.locator("#incident-count-as-of").inner_text().startswith("to ")
    assert page.locator("#incident-list").count() == 0  # no records for partners
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/place-partner.png", full_page=False)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=f"{SHOTS}/place-partner-phone.png", full_page=False)
        page.set_viewport_size({"width": 1280, "height": 800})
