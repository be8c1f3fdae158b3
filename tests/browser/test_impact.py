"""The coordinator reads the impact of Burger Hub's WiFi switch-off and finds the harm at
the library on the displacement watch."""

from __future__ import annotations

import os
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from locmap.db import Database
from locmap.models import Pilot, Place
from tests.browser.conftest import login

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("LOCMAP_SCREENSHOTS")


def test_impact_of_burger_hub_and_displacement_to_the_library(page: Any,
                                                              demo_db: Database) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(r.url) if r.status >= 400 else None)
    with demo_db.session() as s:
        pilot_id = s.scalar(select(Pilot.id).where(Pilot.name == "Eastbrook Town Centre"))
        place_id = s.scalar(select(Place.id).where(Place.name == "Burger Hub"))
    login(page, "coordinator@demo.locmap.invalid")
    page.goto(f"/pilots/{pilot_id}/places/{place_id}")
    page.click("#impact-link")
    page.fill("input[name=intervention]", "2025-01-01")
    page.click("#impact-form button[type=submit]")
    page.wait_for_selector("#impact-chart")
    # Chart.js drew on the canvas (it sets a pixel size), and the WDQ is stated in words.
    page.wait_for_function("document.getElementById('impact-chart').width > 0")
    assert page.locator("#wdq-value").inner_text().startswith("WDQ -0.")
    assert "Some displacement" in page.locator("#wdq-band").inner_text()
    assert page.locator("#impact-limits li").count() >= 3
    # The map's layers are drawn after the chart (their own script): wait for two of them.
    expect(page.locator("#impact-map .leaflet-interactive").nth(1)).to_be_attached()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/impact.png", full_page=True)
        page.locator("#area-table").screenshot(path=f"{SHOTS}/impact_areas.png")
        page.locator(".impact-grid").nth(1).screenshot(path=f"{SHOTS}/impact_chart.png")
        page.locator(".impact-limits").screenshot(path=f"{SHOTS}/impact_limits.png")
    page.click("text=Displacement watch")
    page.wait_for_selector("#flags")
    page.fill("input[name=month]", "2025-01")
    page.click("#watch-form button[type=submit]")
    card = page.locator(".flag-card", has_text="Burger Hub → Eastbrook Library")
    expect(card).to_have_count(1)
    assert "YP-001" in card.locator(".pseudonyms").inner_text()
    page.wait_for_function("document.querySelector('.flag-card canvas').width > 0")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/displacement.png", full_page=True)
        card.screenshot(path=f"{SHOTS}/displacement_flag.png")
    assert errors == []
