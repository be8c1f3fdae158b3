"""With no base map built, the map's note speaks plainly to everyone and links admins to
Administration → Base map (issue 17): no developer wording (commands, settings)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from locmap.db import Database
from tests.browser.conftest import login

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def _no_basemap(demo_db: Database) -> Iterator[None]:
    """This file's copy of the demo town without its base map."""
    with demo_db.session() as s:
        for table in ("basemap_tile", "basemap_feature", "basemap_build"):
            s.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - constants
        s.commit()
    yield


def _note(page: Any) -> Any:
    note = page.locator("#map-note")
    note.wait_for(state="visible")
    return note


def test_users_read_a_plain_sentence_and_admins_get_a_link(page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, "practitioner@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    page.click("text=Eastbrook Town Centre")
    page.wait_for_selector("#map[data-basemap='none']")
    text_seen = _note(page).inner_text()
    assert "No base map yet" in text_seen and "plain background" in text_seen
    for developer in ("locmap basemap", "LOCMAP_TILE_URL", "extract"):
        assert developer not in text_seen, text_seen
    assert page.locator("#map-note a").count() == 0
    page.context.clear_cookies()
    login(page, "admin@demo.locmap.invalid")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto("/admin/pilots/new", wait_until="domcontentloaded")
    link = _note(page).locator("a.basemap-admin-link")
    assert link.get_attribute("href") == "/admin/basemap"
    assert "LOCMAP_TILE_URL" not in _note(page).inner_text()
    link.click()
    page.wait_for_url("**/admin/basemap")
    expect(page.locator("#basemap-size")).to_be_visible()
    assert not errors, errors
