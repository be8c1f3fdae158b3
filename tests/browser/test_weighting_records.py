"""Issue 19, context weighting across kinds in the browser: on a place's draft assessment
the practitioner picks a peer group of the pilot in the weighting form, follows the link
to the peer group's page, and finds the assessment listed there with the group's share —
as a partner reviewer does too. Names carry a timestamp (the demo town is per file)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from locmap.db import Database
from tests.browser.conftest import login
from tests.browser.test_review import _api, _ids

pytestmark = pytest.mark.browser


def test_pick_a_peer_group_in_the_weighting_and_follow_the_link(
        page: Any, browser: Any, live_server: str, demo_db: Database) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    pilot_id, _ = _ids(demo_db)
    stamp = str(int(time.time() * 1000))[-7:]
    base = f"/api/v1/pilots/{pilot_id}"
    login(page, "practitioner@demo.locmap.invalid")

    # A peer group from the network, and a place whose assessment weights it.
    page.goto(f"/pilots/{pilot_id}/contexts")
    page.fill("#peer-name", f"Bus station friends {stamp}")
    page.click("#new-peer-group button[type=submit]")
    page.wait_for_selector("#context-form")
    place = _api(page, "POST", f"{base}/places", {
        "name": f"Bus station {stamp}", "kind": "transport_hub",
        "geometry": {"type": "Point", "coordinates": [-1.4902, 52.5052]}})
    draft = _api(page, "POST", f"{base}/places/{place['id']}/assessments")

    page.goto(f"/pilots/{pilot_id}/assessments/{draft['id']}#weighting")
    page.select_option("#add-context-record", label=f"Bus station friends {stamp}")
    page.fill("#add-context input[name=share]", "35")
    page.fill("#add-context input[name=reason]", "Waits here after school")
    page.click("#add-context button[type=submit]")
    link = page.locator(f"#weighting a.context-record:text-is('Bus station friends {stamp}')")
    link.wait_for()
    row = page.locator(f"#weighting tr[data-context='Bus station friends {stamp}']")
    assert row.locator(".share").inner_text() == "35"
    assert "Peer group" in row.inner_text()
    link.click()
    page.wait_for_selector("#weighted-in-table")
    assert page.locator("#place-name").inner_text().strip() == f"Bus station friends {stamp}"
    listed = page.locator("#weighted-in-table tr", has_text=f"Bus station {stamp} · v1")
    assert listed.locator(".share").inner_text() == "35"
    listed.locator("a").click()
    page.wait_for_selector(f"#weighting a.context-record:text-is('Bus station friends {stamp}')")

    # A partner reviewer sees the same link and listing (place names, no pseudonyms).
    ctx = browser.new_context(base_url=live_server)
    rp = ctx.new_page()
    rp.on("pageerror", lambda e: errors.append(str(e)))
    login(rp, "reviewer.police@demo.locmap.invalid")
    rp.goto(f"/pilots/{pilot_id}/assessments/{draft['id']}")
    rp.locator(f"a.context-record:text-is('Bus station friends {stamp}')").click()
    rp.wait_for_selector("#weighted-in-table")
    assert rp.locator("#weighted-in-table tr",
                      has_text=f"Bus station {stamp} · v1").locator(".share").inner_text() == "35"
    assert "YP-" not in rp.content()
    ctx.close()
    assert not errors, errors
