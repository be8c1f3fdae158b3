"""A practitioner makes a plan for the demo library: an action for a weight-3 factor shrinks
the gap list, and every KPI has a chart."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import select

from locmap.db import Database
from locmap.models import Pilot, Place
from tests.browser.conftest import login

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("LOCMAP_SCREENSHOTS")
STATEMENT = "Plan test: adults selling drugs at the library entrance"


def _ids(demo_db: Database) -> tuple[int, int]:
    with demo_db.session() as s:
        pilot = s.scalar(select(Pilot.id).where(Pilot.name == "Eastbrook Town Centre"))
        place = s.scalar(select(Place.id).where(Place.name == "Eastbrook Library"))
    assert pilot and place
    return pilot, place


def _submitted_assessment(page: Any, pilot_id: int, place_id: int) -> int:
    """A submitted assessment of the library of this test's own, with a weight-3 factor."""
    page.goto(f"/pilots/{pilot_id}/places/{place_id}/assessments/new")
    headers = {"X-CSRFToken": page.locator("meta[name=csrf-token]").get_attribute("content")}
    base = f"/api/v1/pilots/{pilot_id}"
    r = page.request.post(f"{base}/places/{place_id}/assessments", headers=headers)
    body = r.json()
    aid = body["id"] if r.status == 201 else body["details"]["assessment_id"]
    version = page.request.get(f"{base}/assessments/{aid}").json()["version"]
    r = page.request.patch(f"{base}/assessments/{aid}", headers=headers, data={
        "version": version, "add_factor": {"quadrant": "risk", "statement": STATEMENT,
                                           "weight": 3}})
    assert r.ok, r.text()
    r = page.request.post(f"{base}/assessments/{aid}/submit", headers=headers, data={})
    assert r.ok, r.text()
    return int(aid)


def _gap_count(page: Any) -> int:
    text = page.locator("#gap-count").inner_text()
    return 0 if text.startswith("No gaps") else int(text.split()[0])


def test_make_a_plan_for_the_library(page: Any, demo_db: Database) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(r.url) if r.status >= 400 else None)
    pilot_id, place_id = _ids(demo_db)
    login(page, "practitioner@demo.locmap.invalid")
    aid = _submitted_assessment(page, pilot_id, place_id)

    page.goto(f"/pilots/{pilot_id}/assessments/{aid}")
    page.click("#make-plan-link")
    page.fill("#make-plan input[name=starts_on]", "2025-03-01")
    page.click("#make-plan button[type=submit]")
    page.wait_for_selector("#gaps")
    before = _gap_count(page)
    assert page.locator(f".gap:has-text('{STATEMENT}')").count() == 1
    assert before >= 2  # our weight-3 factor and the weightiest context at least

    option = page.locator(f"#add-action select[name=factor_ids] option:has-text('{STATEMENT}')")
    page.select_option("#add-action select[name=factor_ids]",
                       value=[option.get_attribute("value")])
    page.fill("#add-action textarea[name=description]",
              "Bystander training for library staff with the youth service")
    page.select_option("#add-action select[name=category]", "build_resilience")
    page.select_option("#add-action select[name=domain]", "partnerships")
    page.fill("#add-action input[name=lead]", "Library manager")
    page.click("#add-action button[type=submit]")
    page.wait_for_selector("#action-table")
    assert _gap_count(page) == before - 1
    assert page.locator(f".gap:has-text('{STATEMENT}')").count() == 0
    assert page.locator("#action-table").inner_text().count("Bystander training") == 1
    if SHOTS:
        page.locator("#gaps").scroll_into_view_if_needed()
        page.screenshot(path=f"{SHOTS}/plan_gaps.png")

    page.click("#compute-kpis")
    page.wait_for_selector("#kpis")
    ids = [c.get_attribute("id") for c in page.locator("canvas[id^=kpi-chart-]").all()]
    assert len(ids) == 4
    # Chart.js may still be loading when the page's KPI section is there.
    check = "typeof Chart !== 'undefined' && !!(" + " && ".join(
        f"Chart.getChart('{i}')" for i in ids) + ")"
    for _ in range(50):  # wait_for_function evals a string, which the CSP forbids
        if page.evaluate(check):
            break
        page.wait_for_timeout(100)
    assert page.evaluate(check), errors
    b = page.locator(".kpi:has-text('Known incidents')")
    assert b.locator("td:has-text('Computed from')").count() >= 3  # complete quarters
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/plan.png", full_page=True)
    assert not errors, errors
