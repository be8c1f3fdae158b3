"""Issue 19's "every kind of context" in the browser: a peer-group assessment created from
a network group and a school's self-assessment, each written on its page, submitted, and
given a plan that the police reviewer (a partner, own login) approves; the peer group's
PDF carries its section. Names carry a timestamp: the demo database is shared by the
browser tests."""

from __future__ import annotations

import time
from typing import Any

import pytest

from locmap.db import Database
from tests.browser.conftest import login
from tests.browser.test_review import _api, _ids
from tests.integration.test_pathway_words import FORBIDDEN

pytestmark = pytest.mark.browser
REVIEWER = "Chris Fictonby"


def _write_factor_and_submit(page: Any) -> int:
    page.fill("#add-factor input[name=statement]", "A youth worker they trust on Fridays")
    page.click("#add-factor button[type=submit]")
    page.wait_for_selector("text=A youth worker they trust on Fridays")
    page.click("#submit-assessment")
    page.wait_for_url("**/review")
    return int(page.url.split("/assessments/")[1].split("/")[0])


def _approved_by_partner(page: Any, rp: Any, pilot_id: int, kind: str, sid: int) -> None:
    page.goto(f"/pilots/{pilot_id}/{kind}/{sid}/review")
    page.check(f"#request-review label:has-text('{REVIEWER}') input")
    page.click("#send-for-review")
    page.wait_for_selector("#version-state:text-is('awaiting review')")
    rp.goto(f"/pilots/{pilot_id}/{kind}/{sid}/review")
    rp.check("input[name=decision][value=approve]")
    rp.click("#submit-review")
    rp.wait_for_selector("#version-state:text-is('approved')")


def _plan_approved(page: Any, rp: Any, pilot_id: int, aid: int, action: str) -> None:
    base = f"/api/v1/pilots/{pilot_id}"
    _approved_by_partner(page, rp, pilot_id, "assessments", aid)
    plan = _api(page, "POST", f"{base}/assessments/{aid}/plans", {})
    _api(page, "POST", f"{base}/plans/{plan['id']}/actions", {
        "description": action, "category": "enhance_safe_behaviours_and_locations",
        "domain": "target", "status": "planned", "lead": "Youth service manager"})
    page.goto(f"/pilots/{pilot_id}/plans/{plan['id']}")
    page.click("#submit-plan")
    page.wait_for_url(f"**/plans/{plan['id']}/review")
    _approved_by_partner(page, rp, pilot_id, "plans", plan["id"])


def _no_labels(page: Any) -> None:
    text = page.content().lower()
    assert not [w for w in FORBIDDEN if w in text], page.url


def test_peer_group_and_school_assessments_with_plans_approved_by_a_partner(
        page: Any, browser: Any, live_server: str, demo_db: Database) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    pilot_id, _ = _ids(demo_db)
    stamp = str(int(time.time() * 1000))[-7:]
    login(page, "practitioner@demo.locmap.invalid")
    reviewer_ctx = browser.new_context(base_url=live_server)
    rp = reviewer_ctx.new_page()
    rp.on("pageerror", lambda e: errors.append(str(e)))
    login(rp, "reviewer.police@demo.locmap.invalid")

    # A peer group from the network's first group: its young people come with it.
    page.goto(f"/pilots/{pilot_id}")
    page.click("#contexts-link")
    page.wait_for_selector("#new-peer-group")
    _no_labels(page)
    page.fill("#peer-name", f"Precinct friends {stamp}")
    page.click("#new-peer-group button[type=submit]")
    page.wait_for_selector("#context-form")
    assert page.locator("#context-young-people li").count() >= 2
    for key, text in (("within_group", "Look out for each other; two are new."),
                      ("other_groups", "Tension with a group from the estate."),
                      ("adults", "An older man offers lifts."),
                      ("spaces", "The precinct benches and a group chat."),
                      ("keeps_safe", "The youth club's Friday session.")):
        page.fill(f"#prompt-{key}", text)
    page.click("#context-save")
    page.wait_for_selector("text=Context section saved.")
    assert page.input_value("#prompt-adults") == "An older man offers lifts."
    _no_labels(page)
    peer = _write_factor_and_submit(page)
    page.goto(f"/pilots/{pilot_id}/assessments/{peer}")
    page.wait_for_selector("#context-answers")
    _no_labels(page)
    _plan_approved(page, rp, pilot_id, peer, f"Detached youth work at the precinct {stamp}")

    # A school drawn as a place, then its self-assessment rated area by area.
    _api(page, "POST", f"/api/v1/pilots/{pilot_id}/places", {
        "name": f"Eastbrook Academy {stamp}", "kind": "school",
        "geometry": {"type": "Point", "coordinates": [-1.4905, 52.5045]}})
    page.goto(f"/pilots/{pilot_id}/contexts")
    page.select_option("#school-place", label=f"Eastbrook Academy {stamp}")
    page.click("#new-school button[type=submit]")
    page.wait_for_selector("#school-areas")
    for i, key in enumerate(("structures", "policy", "prevention", "identification",
                             "response", "intervention", "partnership")):
        page.select_option(f"#rating-{key}", ("red", "amber", "green")[i % 3])
        page.fill(f"#evidence-{key}", f"Evidence for {key} from the staff survey")
    page.click("#context-save")
    page.wait_for_selector("text=Context section saved.")
    school = _write_factor_and_submit(page)
    _plan_approved(page, rp, pilot_id, school, f"Staff briefing on the bus stop {stamp}")
    rp.goto(f"/pilots/{pilot_id}/assessments/{school}")
    assert rp.locator("#school-areas .rag-red").count() >= 1
    _no_labels(rp)

    # The peer group's PDF (partner version) carries the section.
    pdf = rp.request.get(f"/pilots/{pilot_id}/assessments/{peer}/report.pdf")
    assert pdf.ok and pdf.body()[:5] == b"%PDF-"
    reviewer_ctx.close()
    assert not errors, errors


def test_context_pages_have_no_serious_accessibility_violation(browser: Any,
                                                               live_server: str,
                                                               demo_db: Database) -> None:
    from tests.browser.test_accessibility import _violations

    pilot_id, _ = _ids(demo_db)
    stamp = str(int(time.time() * 1000))[-7:]
    context = browser.new_context(base_url=live_server, bypass_csp=True,
                                  viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login(page, "practitioner@demo.locmap.invalid")
    page.goto(f"/pilots/{pilot_id}/contexts")
    base = f"/api/v1/pilots/{pilot_id}"
    online = _api(page, "POST", f"{base}/contexts/online", {
        "platform": f"A video app {stamp}", "reporting_route": "In-app report"})
    school = _api(page, "POST", f"{base}/places", {
        "name": f"Westbrook School {stamp}", "kind": "school",
        "geometry": {"type": "Point", "coordinates": [-1.4902, 52.5041]}})
    draft = _api(page, "POST", f"{base}/contexts/schools", {"place_id": school["id"]})
    problems = {url: found for url in (
        f"{live_server}/pilots/{pilot_id}/contexts",
        f"{live_server}/pilots/{pilot_id}/assessments/{online['id']}",
        f"{live_server}/pilots/{pilot_id}/assessments/{draft['id']}")
        if (found := _violations(page, url))}
    context.close()
    assert problems == {}, problems
