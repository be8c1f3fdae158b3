"""Issue 8's flow in the browser: a practitioner builds a plan from the demo library's
assessment and submits it; the police reviewer (own login) requests a change on one
action; the practitioner revises it in a new version; the reviewer approves; the PDF
downloads with its sections."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest

from locmap.db import Database
from tests.browser.conftest import login
from tests.browser.test_review import _api, _ids, _submitted_library_assessment

pytestmark = pytest.mark.browser
ACTION = "Pop-up youth club in the library on weekday afternoons"


def _send_to_police_reviewer(page: Any, pilot_id: int, plan_id: int) -> None:
    page.goto(f"/pilots/{pilot_id}/plans/{plan_id}/review")
    page.check("#request-review label:has-text('Chris Fictonby') input")
    page.click("#send-for-review")
    page.wait_for_selector("#version-state:text-is('awaiting review')")


def test_plan_change_requested_on_an_action_then_approved_with_pdf(
        page: Any, browser: Any, live_server: str, demo_db: Database, tmp_path: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    pilot_id, place_id = _ids(demo_db)
    base = f"/api/v1/pilots/{pilot_id}"
    login(page, "practitioner@demo.locmap.invalid")
    page.goto("/")
    aid = _submitted_library_assessment(page, pilot_id, place_id)
    plan = _api(page, "POST", f"{base}/assessments/{aid}/plans", {})
    action = _api(page, "POST", f"{base}/plans/{plan['id']}/actions", {
        "description": ACTION, "category": "enhance_safe_behaviours_and_locations",
        "domain": "target", "status": "planned", "lead": "Youth service manager"})

    # Submit from the plan page: it freezes and leads to the review page.
    page.goto(f"/pilots/{pilot_id}/plans/{plan['id']}")
    page.click("#submit-plan")
    page.wait_for_url(f"**/plans/{plan['id']}/review")
    _send_to_police_reviewer(page, pilot_id, plan["id"])

    reviewer_ctx = browser.new_context(base_url=live_server)
    rp = reviewer_ctx.new_page()
    rp.on("pageerror", lambda e: errors.append(str(e)))
    login(rp, "reviewer.police@demo.locmap.invalid")
    rp.goto(f"/pilots/{pilot_id}/plans/{plan['id']}/review")
    # The plan's review page lists the assessment's factors too: pick the action.
    option = rp.locator("#review-item option[value^='action_id:']", has_text="Pop-up youth club")
    rp.select_option("#review-item", value=option.get_attribute("value"))
    rp.check("input[name=decision][value=request_changes]")
    rp.fill("#review-comment", "Name the agency that owns this action and a due date.")
    rp.click("#submit-review")
    rp.wait_for_selector("#version-state:text-is('changes requested')")
    # A reviewer cannot edit the plan.
    token = rp.get_attribute("meta[name=csrf-token]", "content")
    r = rp.request.patch(f"{base}/actions/{action['id']}", data={"version": 1, "lead": "x"},
                         headers={"X-CSRFToken": token})
    assert r.status == 403

    # The practitioner revises the action in a new version and resubmits.
    page.goto(f"/pilots/{pilot_id}/plans/{plan['id']}")
    page.click("#new-plan-version")
    page.wait_for_selector("#submit-plan")
    v2 = int(page.url.rstrip("/").split("/")[-1].split("#")[0])
    assert v2 != plan["id"]
    revised = next(a for a in _api(page, "GET", f"{base}/plans/{v2}/actions")
                   if a["description"] == ACTION)
    _api(page, "PATCH", f"{base}/actions/{revised['id']}",
         {"version": revised["version"], "due_on": "2026-12-31",
          "progress_notes": "Owner: Eastbrook Youth Service."})
    page.goto(f"/pilots/{pilot_id}/plans/{v2}")
    page.click("#submit-plan")
    page.wait_for_url(f"**/plans/{v2}/review")
    _send_to_police_reviewer(page, pilot_id, v2)
    # The practitioner cannot approve their own plan.
    token = page.get_attribute("meta[name=csrf-token]", "content")
    r = page.request.post(f"{base}/plans/{v2}/reviews", data={"decision": "approve"},
                          headers={"X-CSRFToken": token})
    assert r.status == 403

    rp.goto(f"/pilots/{pilot_id}/plans/{v2}/review")
    rp.check("input[name=decision][value=approve]")
    rp.click("#submit-review")
    # Its assessment is still in review: the approved plan waits for it (issue 16) ...
    rp.wait_for_selector("#version-state:text-is('waiting for its assessment')")
    assert rp.locator("#waits-for-assessment").count() == 1
    page.goto(f"/pilots/{pilot_id}/assessments/{aid}/review")
    page.check("#request-review label:has-text('Chris Fictonby') input")
    page.click("#send-for-review")
    rp.goto(f"/pilots/{pilot_id}/assessments/{aid}/review")
    rp.check("input[name=decision][value=approve]")
    rp.click("#submit-review")
    rp.wait_for_selector("#version-state:text-is('approved')")
    # ... and is approved with it.
    rp.goto(f"/pilots/{pilot_id}/plans/{v2}/review")
    rp.wait_for_selector("#version-state:text-is('approved')")
    pdf = rp.request.get(rp.get_attribute("#report-link", "href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    body = pdf.body()
    assert body[:5] == b"%PDF-"
    reviewer_ctx.close()
    if shutil.which("pdftotext"):
        path = tmp_path / "plan.pdf"
        path.write_bytes(body)
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                              check=True).stdout
        for section in ("The place", "Context weighting", "Actions",
                        "Key performance indicators", "Review history", ACTION[:30]):
            assert section in text, section
    assert not errors, errors
