"""The workflow of issue 16 in the browser: start an assessment from the place page →
submit → choose the reviewer → the reviewer finds it in the inbox → changes requested →
the author finds that in the inbox → new version → approved (in the author's inbox) →
a plan."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import select

from locmap.db import Database
from locmap.models import Assessment, Pilot, Place
from tests.browser.conftest import login

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("LOCMAP_SCREENSHOTS")
REVIEWER = "Chris Fictonby"


def _place_without_assessment(demo_db: Database) -> tuple[int, int]:
    with demo_db.session() as s:
        pilot = s.scalar(select(Pilot.id).where(Pilot.name == "Eastbrook Town Centre"))
        assessed = select(Assessment.place_id)
        place = s.scalar(select(Place.id).where(Place.pilot_id == pilot,
                                                Place.deleted_at.is_(None),
                                                Place.id.not_in(assessed))
                         .order_by(Place.id.desc()))
    assert pilot and place, "the demo has a place without an assessment"
    return pilot, place


def _send_to_reviewer(page: Any) -> int:
    """On the review page a submit leads to: send to the police reviewer."""
    page.wait_for_selector("#send-for-review")
    page.check(f"#request-review label:has-text('{REVIEWER}') input")
    page.click("#send-for-review")
    page.wait_for_selector("#version-state:text-is('awaiting review')")
    return int(page.url.split("#")[0].rstrip("/").split("/")[-2])


def _open_from_inbox(p: Any, key: str) -> None:
    p.click("#nav-inbox")
    item = p.locator(f"#inbox-items li[data-key='{key}']")
    assert "unread" in (item.get_attribute("class") or "")
    item.locator(".inbox-title").click()


def test_assessment_review_through_the_inbox_to_a_plan(page: Any, browser: Any,
                                                       live_server: str,
                                                       demo_db: Database) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    pilot_id, place_id = _place_without_assessment(demo_db)
    login(page, "practitioner@demo.locmap.invalid")
    page.goto(f"/pilots/{pilot_id}/places/{place_id}")
    page.click("#start-assessment-link")
    page.click("#start-assessment")
    page.fill("#add-factor input[name=statement]", "Older youths gather at the back gate")
    page.click("#add-factor button[type=submit]")
    page.wait_for_selector("text=Older youths gather at the back gate")
    page.click("#submit-assessment")
    v1 = _send_to_reviewer(page)

    reviewer_ctx = browser.new_context(base_url=live_server,
                                       viewport={"width": 1280, "height": 800})
    rp = reviewer_ctx.new_page()
    rp.on("pageerror", lambda e: errors.append(str(e)))
    login(rp, "reviewer.police@demo.locmap.invalid")
    rp.goto("/")
    assert int(rp.locator("#nav-inbox .unread-count").inner_text()) >= 1
    if SHOTS:
        rp.goto("/inbox")
        rp.screenshot(path=f"{SHOTS}/inbox_reviewer.png", full_page=True)
    _open_from_inbox(rp, f"review:assessment:{v1}")
    rp.wait_for_selector("#give-review")
    rp.check("input[name=decision][value=request_changes]")
    rp.fill("#review-comment", "Say when they gather: the site visits have the times.")
    rp.click("#submit-review")
    rp.wait_for_selector("#version-state:text-is('changes requested')")

    # The author sees the request in the inbox and makes a new version.
    page.goto("/inbox")
    changes = page.locator("#inbox-items li.inbox-changes.unread").first
    assert "Say when they gather" in changes.inner_text()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/inbox_author.png", full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=f"{SHOTS}/inbox_author_390.png", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 800})
    changes.locator(".inbox-title").click()
    page.wait_for_selector("#version-state:text-is('changes requested')")
    page.goto(f"/pilots/{pilot_id}/assessments/{v1}")
    page.click("#new-version")
    page.wait_for_selector("#submit-assessment")
    page.click("#submit-assessment")
    v2 = _send_to_reviewer(page)
    assert v2 != v1

    _open_from_inbox(rp, f"review:assessment:{v2}")
    rp.check("input[name=decision][value=approve]")
    rp.click("#submit-review")
    rp.wait_for_selector("#version-state:text-is('approved')")
    reviewer_ctx.close()

    # The author reads "approved" in the inbox and makes the plan.
    _open_from_inbox(page, f"approved:assessment:{v2}")
    page.wait_for_selector("#version-state:text-is('approved')")
    page.goto(f"/pilots/{pilot_id}/assessments/{v2}")
    assert page.locator("#assessment-state").inner_text() == "approved"
    page.click("#make-plan-link")
    page.click("#make-plan button[type=submit]")
    page.wait_for_selector("#plan-state")
    assert "/plans/" in page.url
    assert not errors, errors
