"""A case-status CSV from a case-management system, pasted by a practitioner: the preview
reports the bad row, the good rows are applied, the bad one is not written."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from locmap.db import Database
from locmap.models import Person
from tests.browser.conftest import login

pytestmark = pytest.mark.browser

CSV = """case_reference,case_status,last_risk_assessment_on
EB-CS-83531,Child protection,2025-09-01
EB-CS-00000,open_case,2025-09-01
EB-CS-33481,,2025-09-02
"""


def _state(demo_db: Database) -> dict[str, tuple[Any, Any]]:
    with demo_db.session() as s:
        return {p.pseudonym: (p.case_status, p.last_risk_assessment_on)
                for p in s.scalars(select(Person).where(
                    Person.pseudonym.in_(("YP-001", "YP-002"))))}


def test_case_status_csv_with_one_bad_row(page: Any, demo_db: Database) -> None:
    before = _state(demo_db)
    try:
        login(page, "practitioner@demo.locmap.invalid")
        page.wait_for_selector("#pilot-list .card")
        page.click("text=Eastbrook Town Centre")
        page.click("#case-records-link")
        page.wait_for_selector("#case-form")
        page.fill("#case-text", CSV)
        page.click("#preview-case-records")
        page.wait_for_selector("#case-report")
        assert "3 rows: 2 would change" in page.inner_text("#preview-summary")
        bad = page.locator("#case-report tr[data-line='3']").inner_text()
        assert "Not written" in bad and "No young person" in bad
        # Nothing is written by the preview.
        assert _state(demo_db) == before
        page.click("#apply-case-records")
        page.wait_for_selector("#applied-summary")
        assert page.inner_text("#applied-summary").startswith("2 updated")
        after = _state(demo_db)
        assert after["YP-001"] == ("child_protection", dt.date(2025, 9, 1))
        assert after["YP-002"] == (before["YP-002"][0], dt.date(2025, 9, 2))
    finally:  # the demo town is shared with the other browser tests
        with demo_db.session() as s:
            for p in s.scalars(select(Person).where(Person.pseudonym.in_(tuple(before)))):
                p.case_status, p.last_risk_assessment_on = before[p.pseudonym]
