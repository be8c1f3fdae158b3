"""People in the browser (issue 16 "done when"): a young person's case fields edited on
their page and counted by the current-picture dashboard; a relationship and a place added
to someone already recorded, ended, then deleted."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import login
from tests.browser.test_network import _record

pytestmark = pytest.mark.browser

CATEGORY, STATUS = "Child criminal exploitation", "Open case"


def _network_page(page: Any) -> int:
    """Log in as the practitioner and open the demo pilot's network page; its id."""
    login(page, "practitioner@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    page.click("text=Eastbrook Town Centre")
    page.wait_for_url(re.compile(r"/pilots/\d+"))
    found = re.search(r"/pilots/(\d+)", page.url)
    assert found
    page.goto(f"/pilots/{found.group(1)}/network")
    page.wait_for_selector("#person-form")
    return int(found.group(1))


def _open_person(page: Any, pilot_id: int, pseudonym: str) -> None:
    page.goto(f"/pilots/{pilot_id}/network/people?q={pseudonym}")
    page.click(f"#people-table a:text-is('{pseudonym}')")
    page.wait_for_selector("#relationships")


def _submit(page: Any, button: Any) -> None:
    """Click a form's button and wait for the page it leads to, with its message."""
    with page.expect_navigation():
        button.click()
    page.wait_for_selector(".flash-info")


def _dashboard_count(page: Any, pilot_id: int) -> int:
    """Young people counted as CCE with an open case on the exact dashboard (0 if no row)."""
    page.goto(f"/pilots/{pilot_id}/dashboard")
    table = page.locator("#table-by_case_status table")
    heads = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    row = table.locator("tbody tr", has=page.locator(f"th:text-is('{CATEGORY}')"))
    if not row.count() or STATUS not in heads:
        return 0
    cell = row.locator("td").nth(heads.index(STATUS) - 1).inner_text().strip()
    return int(cell.replace(",", "")) if cell.isdigit() else 0


def test_case_fields_edited_on_the_page_are_counted_by_the_dashboard(page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    pilot_id = _network_page(page)
    yp = _record(page)
    before = _dashboard_count(page, pilot_id)
    _open_person(page, pilot_id, yp)
    form = page.locator("#case-form")
    form.locator("select[name=exploitation_category]").select_option(label=CATEGORY)
    form.locator("select[name=case_status]").select_option(label=STATUS)
    today = form.locator("input[name=last_risk_assessment_on]").get_attribute("max")
    assert today
    form.locator("input[name=last_risk_assessment_on]").fill(today)
    _submit(page, form.locator("button[type=submit]"))
    assert page.locator("#case-form select[name=case_status]").input_value() == "open_case"
    assert _dashboard_count(page, pilot_id) == before + 1
    assert not errors, errors


def test_add_end_and_delete_a_relationship_and_a_place_of_someone_recorded(page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    pilot_id = _network_page(page)
    first, second = _record(page), _record(page)
    _open_person(page, pilot_id, first)

    # A relationship with someone already recorded: add, end, delete.
    page.click("#relationships summary:text-is('Add a relationship')")
    form = page.locator("#add-relationship")
    other = form.locator("select[name=other_id] option", has_text=f"{second} (")
    form.locator("select[name=other_id]").select_option(other.get_attribute("value"))
    form.locator("select[name=valence]").select_option("protective")
    _submit(page, form.locator("button[type=submit]"))
    card = page.locator("#relationships li.card", has_text=second)
    assert card.count() == 1 and "ended" not in (card.get_attribute("class") or "")
    card.locator("summary").click()
    _submit(page, card.locator("button[name=end]"))
    card = page.locator("#relationships li.card", has_text=second)
    assert "ended" in (card.get_attribute("class") or "") and "ended" in card.inner_text()
    card.locator("summary").click()
    card.locator("input[name=confirm]").check()
    _submit(page, card.locator("button.danger"))
    assert page.locator("#relationships li.card", has_text=second).count() == 0

    # A place: add, end, delete.
    page.click("#places summary:text-is('Add a place')")
    form = page.locator("#add-presence")
    form.locator("select[name=place_id]").select_option(label="Eastbrook Library")
    form.locator("input[name=times]").fill("after school")
    _submit(page, form.locator("button[type=submit]"))
    card = page.locator("#places li.card", has_text="Eastbrook Library")
    assert card.count() == 1 and "after school" in card.inner_text()
    card.locator("summary").click()
    _submit(page, card.locator("button[name=end]"))
    card = page.locator("#places li.card", has_text="Eastbrook Library")
    assert "ended" in (card.get_attribute("class") or "")
    card.locator("summary").click()
    card.locator("input[name=confirm]").check()
    _submit(page, card.locator("button.danger"))
    assert page.locator("#places li.card", has_text="Eastbrook Library").count() == 0
    assert not errors, errors
