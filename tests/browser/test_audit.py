"""The auditor in the browser: a practitioner reads a young person's identity; the auditor
finds that read through the Audit link, asks who has seen the person, downloads nothing
with a name in it, and verifies the hash chain."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import select

from locmap.db import Database
from locmap.models import Identity, Person, Pilot
from tests.browser.conftest import login

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("LOCMAP_SCREENSHOTS")


def test_auditor_searches_who_has_seen_and_verifies(page: Any, demo_db: Database) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    with demo_db.session() as s:
        pilot_id, person_id, pseudonym, name = s.execute(
            select(Pilot.id, Person.id, Person.pseudonym, Identity.name)
            .join(Person, Person.pilot_id == Pilot.id)
            .join(Identity, Identity.person_id == Person.id)
            .where(Pilot.name == "Eastbrook Town Centre").order_by(Person.id).limit(1)).one()

    login(page, "practitioner@demo.locmap.invalid")
    page.goto("/")
    assert page.locator(".nav-audit").count() == 0  # practitioners have no Audit link
    r = page.request.get(f"/api/v1/pilots/{pilot_id}/people/{person_id}?identity=true")
    assert r.ok and name in r.text()
    page.click("button:has-text('Log out')")
    page.wait_for_selector("text=You are logged out.")  # the form posts after the queue is emptied

    login(page, "auditor@demo.locmap.invalid")
    page.click(".nav-audit")
    page.select_option("select[name=action]", "read_identity")
    page.fill("input[name=entity_id]", str(person_id))
    page.click("#audit-search button[type=submit]")
    row = page.locator(".audit-table tbody tr").first
    assert "practitioner@demo.locmap.invalid" in row.inner_text()
    assert "read identity" in row.inner_text()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/audit-search.png", full_page=True)

    page.click("#who-link")
    page.fill("input[name=pilot_id]", str(pilot_id))
    page.fill("input[name=pseudonym]", pseudonym)
    page.click("#who-search button[type=submit]")
    summary = page.locator("#who-summary").inner_text()
    assert "practitioner@demo.locmap.invalid" in summary and "read of the identity" in summary
    assert name not in page.content()  # pseudonyms and ids, never the identity
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/audit-who.png", full_page=True)

    page.click("a:has-text('Audit trail')")
    page.click("#verify-chain")
    result = page.locator("#chain-result").inner_text()
    assert "The audit chain is intact" in result, result
    if SHOTS:
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=f"{SHOTS}/audit-verify-phone.png", full_page=True)
    assert errors == []
