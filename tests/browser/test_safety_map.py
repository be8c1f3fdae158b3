"""A practitioner draws a safety map with a group on the tablet page — one area drawn on
the map, one whole place chosen with the keyboard — and sees the combined surface and the
plan's KPI (d) change."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from locmap.db import Database
from locmap.models import Pilot
from tests.browser.conftest import login

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("LOCMAP_SCREENSHOTS")
DRAWN_ON = "2025-04-15"  # in the plan's first quarter (1 Mar – 31 May 2025)


def _pilot(demo_db: Database) -> int:
    with demo_db.session() as s:
        pilot = s.scalar(select(Pilot.id).where(Pilot.name == "Eastbrook Town Centre"))
    assert pilot
    return int(pilot)


def _place_with_plan(page: Any, pilot_id: int, name: str) -> tuple[int, int]:
    """A place of this test's own (away from the demo's maps) with a plan from 1 Mar 2025."""
    page.goto(f"/pilots/{pilot_id}/safety-maps")
    headers = {"X-CSRFToken": page.locator("meta[name=csrf-token]").get_attribute("content")}
    base = f"/api/v1/pilots/{pilot_id}"
    r = page.request.post(f"{base}/places", headers=headers, data={
        "name": name, "kind": "park", "geometry": {"type": "Polygon", "coordinates": [[
            [-1.4010, 52.5500], [-1.3990, 52.5500], [-1.3990, 52.5510], [-1.4010, 52.5510],
            [-1.4010, 52.5500]]]}})
    assert r.status == 201, r.text()
    place_id = r.json()["id"]
    aid = page.request.post(f"{base}/places/{place_id}/assessments", headers=headers).json()["id"]
    version = page.request.get(f"{base}/assessments/{aid}").json()["version"]
    r = page.request.patch(f"{base}/assessments/{aid}", headers=headers, data={
        "version": version, "add_factor": {"quadrant": "risk", "statement": "Fights at dusk",
                                           "weight": 3}})
    assert r.ok, r.text()
    assert page.request.post(f"{base}/assessments/{aid}/submit", headers=headers, data={}).ok
    r = page.request.post(f"{base}/assessments/{aid}/plans", headers=headers,
                          data={"starts_on": "2025-03-01"})
    assert r.status == 201, r.text()
    return int(place_id), int(r.json()["id"])


def _kpi_d_first_quarter(page: Any, pilot_id: int, plan_id: int) -> str:
    page.goto(f"/pilots/{pilot_id}/plans/{plan_id}")
    page.click("#compute-kpis")
    page.wait_for_selector("#kpis")
    row = page.locator(".kpi:has-text('Community perception of safety') tr",
                       has_text="Computed from")
    return row.first.inner_text() if row.count() else ""


def test_draw_a_safety_map_with_a_group(page: Any, demo_db: Database) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(r.url) if r.status >= 500 else None)
    pilot_id = _pilot(demo_db)
    name = f"Safety test rec {uuid.uuid4().hex[:6]}"
    login(page, "practitioner@demo.locmap.invalid")
    place_id, plan_id = _place_with_plan(page, pilot_id, name)
    assert _kpi_d_first_quarter(page, pilot_id, plan_id) == ""  # nothing rated yet

    page.goto(f"/pilots/{pilot_id}/safety-maps")
    page.click("#new-safety-map")
    page.wait_for_selector("#safety-draw-map[data-ready]")
    page.fill("#drawn-on", DRAWN_ON)
    page.check("#kind-group")
    group = f"Year 9 group {name[-6:]}"
    page.fill("#respondent-group", group)
    # An area drawn on the map (a rectangle, two taps) ...
    box = page.locator("#safety-draw-map").bounding_box()
    x0, y0 = box["x"] + box["width"] / 2 - 60, box["y"] + box["height"] / 2 - 40
    page.click(".leaflet-draw-draw-rectangle")
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 60, y0 + 40, steps=5)
    page.mouse.up()
    page.wait_for_selector("#safety-draw-map[data-areas='1']")
    first = page.locator("#area-list .area-row").nth(0)
    first.locator(".rate-green").click()
    first.locator(".area-reason").fill("Lots of people about")
    # ... and the whole of our place, chosen without the mouse.
    page.select_option("#pick-place", label=name)
    page.focus("#add-place-area")
    page.keyboard.press("Enter")
    page.wait_for_selector("#safety-draw-map[data-areas='2']")
    second = page.locator("#area-list .area-row").nth(1)
    assert second.locator(".area-label").inner_text() == f"The whole of {name}"
    page.keyboard.press("ArrowRight")  # focus is on "Red": the arrow moves it to amber …
    page.keyboard.press("ArrowLeft")   # … and back: red is chosen
    second.locator(".area-reason").fill("Older boys wait by the gate")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/safety_map_form.png", full_page=True)
    page.click("#save-map")
    page.wait_for_selector("text=Safety map saved.")

    # The combined surface of the map's period lists our place: one map, all red.
    # (The demo's dates move with the clock: ask which period the map fell in.)
    saved = page.request.get(f"/api/v1/pilots/{pilot_id}/safety-maps").json()
    period = next(m["period"] for m in saved if m["respondent"] == group)
    page.select_option("#surface-period", value=period)
    page.click("#surface-form button[type=submit]")
    page.wait_for_selector("#surface-map[data-rendered]")
    row = page.locator("#surface-places tr", has_text=name)
    assert row.locator("td").nth(1).inner_text() == "1"
    assert row.locator("td").nth(2).inner_text() == "100%"
    assert row.locator(".score").inner_text() == "-100"
    assert int(page.locator("#surface-map").get_attribute("data-cells") or 0) >= 2
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/safety_surface.png", full_page=True)

    # KPI (d) of the place's plan now has a value for the quarter the map was drawn in.
    text = _kpi_d_first_quarter(page, pilot_id, plan_id)
    assert "Computed from 1 safety-map area over" in text and "-100" in text, text

    # The place page shows the same figure, and its map draws the surface's cells (the
    # latest period with maps), a layer the checkbox under the map hides and shows.
    page.goto(f"/pilots/{pilot_id}/places/{place_id}")
    assert "-100" in page.locator("#place-perceived").inner_text()
    page.wait_for_selector("#place-map[data-rendered]")
    assert int(page.locator("#place-map").get_attribute("data-perceived-cells") or 0) >= 1
    assert page.locator("#place-map path.leaflet-interactive").count() >= 2  # cells, place
    assert page.locator("#perceived-legend").is_visible()
    page.uncheck("#perceived-toggle")
    page.wait_for_selector("#place-map[data-perceived-shown='0']")
    page.check("#perceived-toggle")
    page.wait_for_selector("#place-map[data-perceived-shown='1']")
    if SHOTS:  # the phone-sized view of both pages
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"/pilots/{pilot_id}/safety-maps/new")
        page.wait_for_selector("#safety-draw-map[data-ready]")
        page.screenshot(path=f"{SHOTS}/safety_map_form_phone.png", full_page=True)
        page.goto(f"/pilots/{pilot_id}/safety-maps?period={period}")
        page.wait_for_selector("#surface-map[data-rendered]")
        page.screenshot(path=f"{SHOTS}/safety_surface_phone.png", full_page=True)
    assert not errors, errors
