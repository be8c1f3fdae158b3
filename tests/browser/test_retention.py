"""Data protection in the browser (issue 15): the admin sets a retention period and sees
what a run would erase; a practitioner exports one young person for a subject access
request; the coordinator redraws the locality and is warned what would fall outside.

The demo database is shared by the browser tests: nothing here erases or saves a
locality, and the retention rule saved is deleted again at the end.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import delete, select

from locmap.db import Database
from locmap.models import Person, Pilot, RetentionRule
from tests.browser.conftest import login

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("LOCMAP_SCREENSHOTS")
PILOT = "Eastbrook Town Centre"


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_retention_rules_page(page: Any, demo_db: Database) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    with demo_db.session() as s:
        pilot_id = s.scalar(select(Pilot.id).where(Pilot.name == PILOT))
    try:
        login(page, "admin@demo.locmap.invalid")
        page.goto("/admin")
        page.click("#retention-link")
        expect(page.locator("#retention-rules")).to_be_visible()
        row = page.locator(f"#rule-{pilot_id}")
        # Site visits' free text older than 600 months: none in the demo, nothing changes.
        row.locator("input[name=visit_text_months]").fill("600")
        row.locator("button[type=submit]").click()
        expect(page.locator("body")).to_contain_text("Retention rule saved")
        expect(page.locator(f"#rule-{pilot_id} input[name=visit_text_months]")) \
            .to_have_value("600")
        expect(page.locator("#retention-preview-empty")).to_be_visible()
        _shot(page, "retention-rules")
        page.set_viewport_size({"width": 390, "height": 844})
        _shot(page, "retention-rules-phone")
        assert not errors
    finally:
        with demo_db.session() as s:
            s.execute(delete(RetentionRule).where(RetentionRule.pilot_id == pilot_id))


def test_subject_access_download(page: Any, demo_db: Database) -> None:
    with demo_db.session() as s:
        pilot_id, person_id, pseudonym = s.execute(
            select(Pilot.id, Person.id, Person.pseudonym).join(Person)
            .where(Pilot.name == PILOT, Person.kind == "young_person")
            .order_by(Person.id).limit(1)).one()
    login(page, "practitioner@demo.locmap.invalid")
    page.goto(f"/pilots/{pilot_id}/people/{person_id}")
    page.click("#subject-access-link")
    expect(page.locator("#sar-found")).to_be_visible()
    assert pseudonym in page.locator("#sar-found h2").inner_text()
    _shot(page, "subject-access")
    with page.expect_download() as dl:
        page.click("#sar-zip")
    data = open(dl.value.path(), "rb").read()
    z = zipfile.ZipFile(io.BytesIO(data))
    assert {"person.csv", "summary.pdf", "mentions.csv"} <= set(z.namelist())
    assert pseudonym in z.read("person.csv").decode("utf-8-sig")


def test_locality_redraw_warns_before_saving(page: Any, demo_db: Database) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    with demo_db.session() as s:
        pilot = s.scalar(select(Pilot).where(Pilot.name == PILOT))
        assert pilot is not None
        pilot_id, version = pilot.id, pilot.version
    login(page, "coordinator@demo.locmap.invalid")
    page.goto(f"/pilots/{pilot_id}")
    page.click("#locality-link")
    page.wait_for_selector("#locality-map[data-locality-ready='1']")
    _shot(page, "locality")
    # A tiny square somewhere in the locality: most places would fall outside.
    tiny = {"type": "Polygon", "coordinates": [[[-1.4901, 52.5049], [-1.4899, 52.5049],
                                                [-1.4899, 52.5051], [-1.4901, 52.5051],
                                                [-1.4901, 52.5049]]]}
    page.eval_on_selector("#locality-input", "(el, v) => { el.value = v; }", json.dumps(tiny))
    page.click("#save-locality")
    warning = page.locator("#locality-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("outside")
    expect(page.locator("#confirm-locality")).to_be_visible()
    _shot(page, "locality-warning")
    with demo_db.session() as s:  # not saved without the confirmation
        assert s.scalar(select(Pilot.version).where(Pilot.id == pilot_id)) == version
    assert not errors
