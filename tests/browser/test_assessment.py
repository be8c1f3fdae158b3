"""A practitioner assesses the demo library: factors, context weighting, submit, charts,
summary, a second version and the diff."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from locmap.db import Database
from locmap.models import Pilot, Place
from tests.browser.conftest import login

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("LOCMAP_SCREENSHOTS")


def _ids(demo_db: Database) -> tuple[int, int]:
    with demo_db.session() as s:
        pilot = s.scalar(select(Pilot.id).where(Pilot.name == "Eastbrook Town Centre"))
        place = s.scalar(select(Place.id).where(Place.name == "Eastbrook Library"))
    assert pilot and place
    return pilot, place


def test_assess_the_library_submit_and_compare_versions(page: Any, demo_db: Database) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(r.url) if r.status >= 400 else None)
    pilot_id, place_id = _ids(demo_db)
    login(page, "practitioner@demo.locmap.invalid")
    page.goto(f"/pilots/{pilot_id}/places/{place_id}/assessments/new")
    page.click("#start-assessment")
    page.wait_for_selector("#quadrants")
    # The working set was copied into the draft.
    assert page.locator(".factor").count() >= 1
    for q in ("vulnerability", "risk", "resilience", "resource"):
        if page.locator(f".quadrant[data-quadrant={q}] .factor").count() == 0:
            page.select_option("#add-factor select[name=quadrant]", q)
            page.fill("#add-factor input[name=statement]", f"Test {q} factor")
            page.click("#add-factor button[type=submit]")
    page.select_option("#add-factor select[name=quadrant]", "resource")
    page.fill("#add-factor input[name=statement]", "Library staff trained as bystanders")
    page.select_option("#add-factor select[name=voice]", "child")
    page.click("#add-factor button[type=submit]")
    page.wait_for_selector("text=Library staff trained as bystanders")
    assert page.locator(".flag:has-text('No evidence linked')").count() >= 1
    for q in ("vulnerability", "risk", "resilience", "resource"):
        assert page.locator(f".quadrant[data-quadrant={q}] .factor").count() >= 1

    page.fill("textarea[name=young_people]",
              "Up to 80 young people after school since the WiFi went off")
    page.fill("textarea[name=guardianship]", "Library staff present but untrained")
    page.click("#sides-form button[type=submit]")
    # Context weighting: add a peer group, then nudge it with +.
    page.fill("#add-context input[name=name]", "Group B")
    page.fill("#add-context input[name=share]", "40")
    page.fill("#add-context input[name=reason]", "Moved here from the restaurant")
    page.click("#add-context button[type=submit]")
    page.wait_for_selector("tr[data-context='Group B']")
    page.click("button[aria-label='more Group B']")
    page.wait_for_selector("tr[data-context='Group B'] .share:text-is('45')")
    assert page.locator("#weighting-total").inner_text() == "100"
    assert page.locator("tr[data-context='Eastbrook Library'] .share").inner_text() == "55"
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/assessment_edit.png", full_page=True)

    page.click("#submit-assessment")
    page.wait_for_selector("#send-for-review")  # a submit leads to choosing its reviewers
    page.goto(page.url.split("#")[0].removesuffix("/review"))
    page.wait_for_selector("#summary")
    assert page.locator("#assessment-state").inner_text() == "not yet sent"
    summary = page.locator("#summary").inner_text()
    assert "weightiest context is Eastbrook Library (55 of 100)" in summary
    assert re.search(r"\d+ of \d+ incidents at the place are not linked", summary)
    assert page.locator("#heatmap tr").count() == 25
    # (window.Chart: the page's scripts may still be loading when #summary is there)
    charts = ("!!(window.Chart && Chart.getChart('monthly-chart')"
              " && Chart.getChart('category-chart'))")
    for _ in range(50):  # wait_for_function evals a string, which the CSP forbids
        if page.evaluate(charts):
            break
        page.wait_for_timeout(100)
    assert page.evaluate(charts), errors
    assert page.locator("#risk-terrain .status:text-is('data-derived')").count() == 1
    expect(page.locator("#assessment-map .leaflet-interactive").nth(3)).to_be_attached()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/assessment_result.png", full_page=True)

    page.click("#new-version")
    page.wait_for_selector("#quadrants")
    row = page.locator(".factor:has-text('Library staff trained as bystanders')")
    row.locator("select[name=weight]").select_option("3")
    row.locator("button:text('Set')").click()
    page.click("button[aria-label='remove Group B']")
    page.wait_for_selector("#weighting-total")
    expect(page.locator("tr[data-context='Group B']")).to_have_count(0)
    page.click("#submit-assessment")
    page.wait_for_selector("#send-for-review")
    page.goto(page.url.split("#")[0].removesuffix("/review"))
    page.wait_for_selector("#compare-parent")
    page.click("#compare-parent")
    diff = page.locator("#diff").inner_text()
    assert "Weight 2 → 3: Library staff trained as bystanders" in diff
    assert "Removed Group B (45)" in diff
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/assessment_compare.png", full_page=True)
    assert not errors, errors
