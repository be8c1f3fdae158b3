"""Partner review in the browser: the practitioner sends the demo library assessment to the
police reviewer, who requests a change on one factor; a new version is approved and its
PDF report downloads."""

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


def _ids(demo_db: Database) -> tuple[int, int]:
    with demo_db.session() as s:
        pilot = s.scalar(select(Pilot.id).where(Pilot.name == "Eastbrook Town Centre"))
        place = s.scalar(select(Place.id).where(Place.name == "Eastbrook Library"))
    assert pilot and place
    return pilot, place


def _api(page: Any, method: str, url: str, data: Any = None) -> Any:
    token = page.get_attribute("meta[name=csrf-token]", "content")
    r = page.request.fetch(url, method=method, data=data,
                           headers={"X-CSRFToken": token, "Content-Type": "application/json"})
    assert r.ok, (url, r.status, r.text())
    return r.json()


def _submitted_library_assessment(page: Any, pilot_id: int, place_id: int) -> int:
    """A fresh in-review version of the library assessment, whatever other tests left."""
    base = f"/api/v1/pilots/{pilot_id}"
    versions = _api(page, "GET", f"{base}/places/{place_id}/assessments")
    draft = next((v for v in versions if v["status"] == "draft"), None)
    if draft is None and versions:
        draft = _api(page, "POST", f"{base}/assessments/{versions[0]['id']}/new-version")
    elif draft is None:
        draft = _api(page, "POST", f"{base}/places/{place_id}/assessments")
    return int(_api(page, "POST", f"{base}/assessments/{draft['id']}/submit", {})["id"])


def test_review_request_changes_then_approve_and_pdf(page: Any, browser: Any,
                                                     live_server: str,
                                                     demo_db: Database) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    pilot_id, place_id = _ids(demo_db)
    login(page, "practitioner@demo.locmap.invalid")
    page.goto("/")
    v1 = _submitted_library_assessment(page, pilot_id, place_id)
    page.goto(f"/pilots/{pilot_id}/assessments/{v1}/review")
    page.check("#request-review label:has-text('Chris Fictonby') input")
    page.click("#send-for-review")
    page.wait_for_selector("#version-state:text-is('awaiting review')")

    reviewer_ctx = browser.new_context(base_url=live_server,
                                       viewport={"width": 1280, "height": 900})
    rp = reviewer_ctx.new_page()
    rp.on("pageerror", lambda e: errors.append(str(e)))
    login(rp, "reviewer.police@demo.locmap.invalid")
    rp.click("a.nav-waiting")
    rp.click(f"#inbox-items li[data-key='review:assessment:{v1}'] .inbox-title")
    factor = rp.locator("#review-item option").nth(1)
    factor_label = factor.inner_text()
    rp.select_option("#review-item", value=factor.get_attribute("value"))
    rp.check("input[name=decision][value=request_changes]")
    assert "new version" in rp.locator("#review-hint").inner_text()
    rp.fill("#review-comment", "Please evidence this factor with the site visits.")
    rp.click("#submit-review")
    rp.wait_for_selector("#version-state:text-is('changes requested')")
    assert rp.locator(".review.decision-request_changes .item").first.inner_text() in (
        factor_label.replace("…", "").strip(), factor_label)
    if SHOTS:
        rp.screenshot(path=f"{SHOTS}/review_changes_requested.png", full_page=True)

    # The practitioner makes a new version on the assessment page and resubmits it.
    page.goto(f"/pilots/{pilot_id}/assessments/{v1}")
    page.click("#new-version")
    page.wait_for_selector("#quadrants")
    page.click("#submit-assessment")
    page.wait_for_selector("#send-for-review")  # a submit leads to choosing reviewers
    v2 = int(page.url.split("#")[0].rstrip("/").split("/")[-2])
    assert v2 != v1
    page.check("#request-review label:has-text('Chris Fictonby') input")
    page.click("#send-for-review")
    page.wait_for_selector("#version-state:text-is('awaiting review')")
    assert page.locator(".version-card[data-version] >> text=changes requested").count() >= 1

    rp.goto(f"/pilots/{pilot_id}/assessments/{v2}/review")
    rp.check("input[name=decision][value=approve]")
    rp.click("#submit-review")
    rp.wait_for_selector("#version-state:text-is('approved')")
    if SHOTS:
        rp.screenshot(path=f"{SHOTS}/review_approved.png", full_page=True)
    href = rp.get_attribute("#report-link", "href")
    pdf = rp.request.get(href)
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body()[:5] == b"%PDF-"
    if SHOTS:
        with open(f"{SHOTS}/library_report.pdf", "wb") as fh:
            fh.write(pdf.body())
        rp.goto(f"/pilots/{pilot_id}/overview")
        rp.screenshot(path=f"{SHOTS}/overview.png", full_page=True)
        rp.click(".rp-list li:first-child a")
        rp.screenshot(path=f"{SHOTS}/review_point.png", full_page=True)
    reviewer_ctx.close()
    assert not errors, errors
