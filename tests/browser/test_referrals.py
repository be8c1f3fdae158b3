"""A police reviewer refers a demo place; the practitioner screens it as Level 2 and the
draft assessment opens, linked to the referral. The pages carry no labelling words."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import select

from locmap.db import Database
from locmap.models import Pilot, Place
from locmap.models.pathway import ContextReferral
from tests.browser.conftest import login
from tests.integration.test_pathway_words import FORBIDDEN

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("LOCMAP_SCREENSHOTS")


def _ids(demo_db: Database) -> tuple[int, int]:
    with demo_db.session() as s:
        pilot = s.scalar(select(Pilot.id).where(Pilot.name == "Eastbrook Town Centre"))
        place = s.scalar(select(Place.id).where(Place.name == "Orchard Estate"))
    assert pilot and place
    return pilot, place


def _no_labels(page: Any) -> None:
    text = page.inner_text("main").lower()
    assert [w for w in FORBIDDEN if w in text] == []


def test_refer_a_place_screen_level_2_and_open_the_draft(page: Any, browser: Any,
                                                         demo_db: Database) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(r.url) if r.status >= 400 else None)
    pilot_id, place_id = _ids(demo_db)

    login(page, "reviewer.police@demo.locmap.invalid")
    page.goto(f"/pilots/{pilot_id}")
    page.click("#referrals-link")
    page.click("#new-referral")
    page.check("input[name=context_kind][value=place]")
    page.select_option("#place_id", str(place_id))
    page.fill("textarea[name=concern]", "Young people say adults hand out phones in the "
              "stairwell of block C.")
    page.check("input[name=harm_types][value=cce]")
    page.check("input[name=harm_types][value=drugs]")
    page.fill("input[name=children_count]", "4")
    page.fill("input[name=referrer_name]", "PC Test")
    page.select_option("select[name=urgency]", "urgent")
    _no_labels(page)
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/referral-new.png", full_page=True)
    page.click("#submit-referral")
    page.wait_for_selector("#referral-facts")
    assert "awaiting screening" in page.inner_text("#screening")
    assert page.locator("#screen-form").count() == 0  # partners do not screen
    referral_url = page.url
    with demo_db.session() as s:
        referral_id = s.scalar(select(ContextReferral.id).where(
            ContextReferral.place_id == place_id).order_by(ContextReferral.id.desc()))
    assert referral_id and referral_url.endswith(f"/referrals/{referral_id}")

    page.context.clear_cookies()
    login(page, "practitioner@demo.locmap.invalid")
    page.goto(f"/pilots/{pilot_id}/referrals?status=awaiting")
    page.click(f"tr[data-referral='{referral_id}'] a")
    page.wait_for_selector("#screen-form")
    assert "adults hand out phones" in page.inner_text("#concern")
    page.select_option("select[name=threshold_level]", "specialist")
    page.select_option("#outcome", "level_2")
    page.fill("textarea[name=reason]", "Several children and two agencies' reports.")
    _no_labels(page)
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/referral-screen.png", full_page=True)
    page.click("#screen-submit")
    # The draft assessment of Orchard Estate opens.
    page.wait_for_selector("#quadrants")
    assert "Orchard Estate" in page.inner_text("h1")
    with demo_db.session() as s:
        r = s.get(ContextReferral, referral_id)
        assert r is not None and r.outcome == "level_2" and r.assessment_id
        assessment_id = r.assessment_id
    assert page.url.endswith(f"/assessments/{assessment_id}")

    # The referral links to it, and the overview counts it.
    page.goto(referral_url)
    assert "Level 2" in page.inner_text("#screening")
    page.click("#linked-assessment")
    page.wait_for_selector("#quadrants")
    assert page.url.endswith(f"/assessments/{assessment_id}")
    page.goto(f"/pilots/{pilot_id}/overview")
    assert "Level 2: a context assessment" in page.inner_text("#referral-measures")
    _no_labels(page)
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/overview-referrals.png", full_page=True)
        small = browser.new_context(viewport={"width": 390, "height": 844},
                                    storage_state=page.context.storage_state())
        p2 = small.new_page()
        p2.goto(page.url.replace("/overview", f"/referrals/{referral_id}"))
        p2.screenshot(path=f"{SHOTS}/referral-390.png", full_page=True)
        p2.goto(page.url.replace("/overview", "/referrals/new"))
        p2.screenshot(path=f"{SHOTS}/referral-new-390.png", full_page=True)
        small.close()
    assert errors == []
