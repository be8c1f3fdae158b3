"""Wording never labels a child: every page and API answer of the pathway (context
referrals, screening, thresholds, the overview's measures, meetings, the high-risk log and
the minutes) is scanned for the words that
do (DESIGN.md: "never turns a link into a label"; the network's own check is in
tests/unit/network/test_change_ego_analysis.py). The browser test of the referral flow
scans the rendered pages with the same list.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from locmap.io.report_pdf import render_html
from locmap.services import meetings, referrals
from locmap.services.accounts import actor_for
from tests.factories import World

# Labels put on children (gang language, blame for their own exploitation).
FORBIDDEN = (
    "gang member", "gang-member", "gang nominal", "nominal", "perpetrator", "promiscuous",
    "prostitut", "child sex worker", "putting themselves at risk", "putting herself at risk",
    "putting himself at risk", "lifestyle choice", "risk-taking behaviour", "sexually active",
    "drug runner", "runner", "consented", "troublemaker", "feral", "youths", "hoodie",
)


def test_no_page_or_answer_of_the_pathway_labels_a_child(client: Any, auth: Any,
                                                         session: Session,
                                                         world: World) -> None:
    pr = actor_for(session, world.users["practitioner"])
    r = referrals.create_referral(session, pr, world.pilot.id, {
        "context_kind": "place", "place_id": world.places["park"].id,
        "concern": "Adults seen near the ramp.", "harm_types": ["cce"],
        "children": ["YP-001"], "referrer_name": "A. Teacher"})
    other = referrals.create_referral(session, pr, world.pilot.id, {
        "context_kind": "peer_group", "context_name": "Group A",
        "concern": "Group seen at the station late.", "harm_types": ["peer_on_peer"],
        "children_count": 6, "referrer_name": "Youth worker"})
    referrals.screen_referral(session, pr, world.pilot.id, other.id, {
        "version": other.version, "threshold_level": "universal",
        "outcome": "no_further_action", "reason": "Known to the youth service."})
    m = meetings.create_meeting(session, pr, world.pilot.id, {"held_on": "2025-03-10"})
    item = meetings.add_item(session, pr, world.pilot.id, m.id, {
        "place_id": world.places["park"].id, "victim": "YP-001", "theme": "Phones"})
    meetings.add_action(session, pr, world.pilot.id, item.id, {"description": "Outreach"})
    meetings.open_log_entry(session, pr, world.pilot.id, item.id, "Repeated harm.")
    session.commit()
    p = world.pilot.id
    pages = [f"/pilots/{p}/referrals", f"/pilots/{p}/referrals/new",
             f"/pilots/{p}/referrals/{r.id}", f"/pilots/{p}/referrals/{other.id}",
             f"/pilots/{p}/referrals/thresholds", f"/pilots/{p}/overview",
             f"/api/v1/pilots/{p}/referrals", f"/api/v1/pilots/{p}/referral-thresholds",
             f"/api/v1/pilots/{p}/referral-measures", f"/pilots/{p}/meetings",
             f"/pilots/{p}/meetings/{m.id}", f"/pilots/{p}/high-risk-log",
             f"/api/v1/pilots/{p}/meetings", f"/api/v1/pilots/{p}/meetings/{m.id}",
             f"/api/v1/pilots/{p}/high-risk-log"]
    for who in ("practitioner", "partner_reviewer"):
        auth.login(f"{who}@test.invalid")
        for url in pages:
            resp = client.get(url)
            assert resp.status_code == 200, (who, url, resp.status_code)
            text = resp.get_data(as_text=True).lower()
            assert [w for w in FORBIDDEN if w in text] == [], (who, url)
        auth.logout()
    for partner in (False, True):
        text = render_html(meetings.minutes_data(session, pr, p, m.id, partner=partner),
                           "minutes.html").lower()
        assert [w for w in FORBIDDEN if w in text] == [], partner
