"""A MACE meeting with two agenda items whose decisions create plan actions and a high-risk
log entry; the next meeting's agenda is prefilled with them; the partner minutes leave out
what was shared."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from locmap.db import Database
from locmap.models import Action, Pilot, Place
from locmap.models.pathway import MeetingAction
from tests.browser.conftest import login
from tests.integration.test_pathway_words import FORBIDDEN

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("LOCMAP_SCREENSHOTS")
PLACES = ("Kingsgate Shopping Centre", "Millfield Park")


def _draft_plan(page: Any, pilot_id: int, place_id: int) -> int:
    """A submitted assessment of the place and a draft plan answering it (API)."""
    page.goto(f"/pilots/{pilot_id}/places/{place_id}/assessments/new")
    headers = {"X-CSRFToken": page.locator("meta[name=csrf-token]").get_attribute("content")}
    base = f"/api/v1/pilots/{pilot_id}"
    r = page.request.post(f"{base}/places/{place_id}/assessments", headers=headers)
    assert r.status == 201, r.text()
    aid, version = r.json()["id"], r.json()["version"]
    r = page.request.patch(f"{base}/assessments/{aid}", headers=headers, data={
        "version": version, "add_factor": {"quadrant": "risk", "statement": "Unlit exit",
                                           "weight": 2}})
    assert r.ok, r.text()
    assert page.request.post(f"{base}/assessments/{aid}/submit", headers=headers,
                             data={}).ok
    r = page.request.post(f"{base}/assessments/{aid}/plans", headers=headers,
                          data={"starts_on": "2026-01-01"})
    assert r.status == 201, r.text()
    return int(r.json()["id"])


def _item(page: Any, name: str) -> Any:
    return page.locator(f".agenda-item[data-context='{name}']")


def test_mace_meeting_actions_log_and_the_next_agenda(page: Any, demo_db: Database,
                                                      tmp_path: Path) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(r.url) if r.status >= 400 else None)
    with demo_db.session() as s:
        pilot_id = s.scalar(select(Pilot.id).where(Pilot.name == "Eastbrook Town Centre"))
        place_ids = {n: s.scalar(select(Place.id).where(Place.name == n)) for n in PLACES}
    login(page, "practitioner@demo.locmap.invalid")
    plan_ids = {n: _draft_plan(page, pilot_id, place_ids[n]) for n in PLACES}

    page.goto(f"/pilots/{pilot_id}")
    page.click("#meetings-link")
    page.fill("#new-meeting input[name=held_on]", "2026-01-12")
    page.fill("#new-meeting input[name=chair]", "Head of Early Help")
    first_agency = page.locator("#new-meeting input[type=number]").first
    first_agency.fill("2")
    page.click("#create-meeting")
    page.wait_for_selector("#attendance")
    for name in PLACES:
        page.select_option("#add-item select[name=place_id]", str(place_ids[name]))
        with page.expect_navigation():
            page.click("#add-item button[type=submit]")
        _item(page, name).wait_for()

    decisions = {PLACES[0]: "Ask centre security to patrol the east exit.",
                 PLACES[1]: "Youth outreach on Friday evenings."}
    for name in PLACES:
        item = _item(page, name)
        item.locator("textarea[name=victim]").fill("YP-003, YP-007")
        item.locator("textarea[name=theme]").fill("Phones handed out after school")
        item.locator("textarea[name=shared]").fill(f"Police shared a note about {name}.")
        item.locator("textarea[name=decision]").fill(decisions[name])
        with page.expect_navigation():
            item.locator(".item-form button[type=submit]").click()
        item = _item(page, name)
        item.locator("details:has(.action-form) summary").click()
        item.locator(".action-form input[name=description]").fill(decisions[name])
        item.locator(".action-form input[name=due_on]").fill("2026-01-31")
        with page.expect_navigation():
            item.locator(".action-form button[type=submit]").click()
        _item(page, name).locator(".item-actions").wait_for()
    item = _item(page, PLACES[0])
    item.locator("details:has(.log-form) summary").click()
    item.locator(".log-form input[name=reason]").fill("Repeated reports at the east exit.")
    with page.expect_navigation():
        item.locator(".log-form button[type=submit]").click()
    _item(page, PLACES[0]).locator("text=high-risk log since").wait_for()
    text = page.inner_text("main").lower()
    assert [w for w in FORBIDDEN if w in text] == []
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/meeting.png", full_page=True)
    meeting_url = page.url.split("#")[0]

    # The decisions' actions are on the places' draft plans.
    with demo_db.session() as s:
        rows = s.execute(select(MeetingAction.description, Action.plan_id).join(
            Action, Action.id == MeetingAction.action_id)).all()
    assert {(d, p) for d, p in rows} >= {(decisions[n], plan_ids[n]) for n in PLACES}

    # The high-risk log lists the first place.
    page.goto(f"/pilots/{pilot_id}/high-risk-log")
    assert PLACES[0] in page.inner_text("#high-risk-log")

    # The partner minutes: pseudonyms and decisions, not what was shared.
    pdf = page.request.get(meeting_url + "/minutes.pdf?version=partner")
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        (tmp_path / "m.pdf").write_bytes(pdf.body())
        subprocess.run(["pdftotext", str(tmp_path / "m.pdf")], check=True)
        minutes = (tmp_path / "m.txt").read_text()
        assert "YP-003" in minutes and decisions[PLACES[1]] in minutes
        assert "Police shared a note" not in minutes

    # The next meeting is prefilled: the log entry and the overdue actions.
    page.goto(f"/pilots/{pilot_id}/meetings")
    page.fill("#new-meeting input[name=held_on]", "2026-02-09")
    page.click("#create-meeting")
    page.wait_for_selector("#attendance")
    log_item, overdue_item = _item(page, PLACES[0]), _item(page, PLACES[1])
    assert "on the high-risk log" in log_item.inner_text()
    assert "overdue actions" in overdue_item.inner_text()
    assert decisions[PLACES[1]] in overdue_item.locator(".item-actions").inner_text()
    assert "overdue" in overdue_item.locator(".item-actions").inner_text()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/meeting-next.png", full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=f"{SHOTS}/meeting-next-390.png", full_page=True)
        page.goto(f"/pilots/{pilot_id}/high-risk-log")
        page.screenshot(path=f"{SHOTS}/log-390.png", full_page=True)
    assert errors == []
