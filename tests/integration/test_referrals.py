"""Context referrals and screening on PostGIS: the form's rules, the three outcomes, who
sees the concern, the screening-time measures and their suppression for partners.

The clock is frozen for every screening, so the day counts do not depend on today.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment.disclosure import MARK
from locmap.errors import Conflict, Forbidden, InvalidData, NotFound
from locmap.models import Action, Agency, Assessment, AuditEvent, Person, Place
from locmap.services import assessments, contexts, plans, referrals
from locmap.services.accounts import actor_for
from tests.factories import World

POINT = {"type": "Point", "coordinates": [-1.488, 52.506]}


def _actors(session: Session, world: World) -> dict[str, Any]:
    return {k: actor_for(session, u) for k, u in world.users.items()}


def _refer(session: Session, actor: Any, world: World, **kw: Any) -> Any:
    data = {"context_kind": "place", "place_id": world.places["park"].id,
            "concern": "Older men gather by the skate ramp after dark.",
            "harm_types": ["cce"], "referrer_name": "A. Teacher", "urgency": "routine",
            **kw}
    return referrals.create_referral(session, actor, world.pilot.id, data)


def _screen(session: Session, actor: Any, world: World, r: Any, outcome: str,
            **kw: Any) -> Any:
    return referrals.screen_referral(session, actor, world.pilot.id, r.id, {
        "version": r.version, "threshold_level": "specialist", "outcome": outcome,
        "reason": "Repeated reports from two agencies.", **kw})


def test_any_member_refers_and_only_the_team_reads_the_concern(session: Session,
                                                               world: World) -> None:
    a = _actors(session, world)
    r = _refer(session, a["partner_reviewer"], world, children=["YP-001"])
    session.commit()
    own = referrals.referral_view(session, a["partner_reviewer"], world.pilot.id, r.id)
    assert own["concern"].startswith("Older men") and own["children"] == ["YP-001"]
    team = referrals.referral_view(session, a["practitioner"], world.pilot.id, r.id)
    assert team["concern"] == own["concern"]
    other = _refer(session, a["practitioner"], world, children_count=3)
    partner_view = referrals.referral_view(session, a["partner_reviewer"], world.pilot.id,
                                           other.id)
    assert partner_view["concern"] is None and partner_view["children_count"] == 3
    reads = session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "context_referral", AuditEvent.action == "read")).all()
    assert reads and all(e.personal_data for e in reads)
    with pytest.raises(NotFound):
        referrals.referral_view(session, a["outsider"], world.pilot.id, r.id)
    with pytest.raises(Forbidden):
        _screen(session, a["partner_reviewer"], world, r, "no_further_action")


@pytest.mark.parametrize("change, field", [
    ({"harm_types": []}, "harm_types"),
    ({"harm_types": ["gang_activity"]}, "harm_types"),
    ({"children": ["YP-999"]}, "children"),
    ({"children": ["YP-001"], "children_count": 2}, "children_count"),
    ({"context_kind": "new_place", "place_id": None, "context_name": "Bus shelter"},
     "geometry"),
    ({"context_kind": "online", "place_id": None}, "context_name"),
    ({"place_id": 10**8}, "place_id"),
    ({"urgency": "yesterday"}, "urgency"),
    ({"concern": "  "}, "concern"),
])
def test_bad_referrals_are_refused_with_the_field(session: Session, world: World,
                                                  change: dict[str, Any], field: str) -> None:
    a = _actors(session, world)
    with pytest.raises(InvalidData) as exc:
        _refer(session, a["practitioner"], world, **change)
    assert exc.value.details["field"] == field


def test_adult_pseudonyms_are_not_children(session: Session, world: World) -> None:
    session.add(Person(pilot_id=world.pilot.id, pseudonym="AD-001", kind="adult_of_concern",
                       age_band="25+"))
    session.commit()
    with pytest.raises(InvalidData, match="young people"):
        _refer(session, _actors(session, world)["practitioner"], world, children=["AD-001"])


def test_level_2_of_a_new_place_creates_it_and_links_a_draft_assessment(
        session: Session, world: World) -> None:
    a = _actors(session, world)
    r = _refer(session, a["peer_assessor"], world, context_kind="new_place", place_id=None,
               context_name="Underpass by the station", new_place_kind="street",
               geometry={"type": "LineString",
                         "coordinates": [[-1.489, 52.504], [-1.487, 52.505]]})
    _screen(session, a["practitioner"], world, r, "level_2")
    session.commit()
    place = session.get(Place, r.place_id)
    assert place is not None and place.name == "Underpass by the station"
    assert place.kind == "street" and place.pilot_id == world.pilot.id
    draft = session.get(Assessment, r.assessment_id)
    assert draft is not None and draft.status == "draft" and draft.place_id == place.id
    view = referrals.referral_view(session, a["coordinator"], world.pilot.id, r.id)
    assert view["outcome"] == "level_2" and view["days_to_decision"] == 0
    with pytest.raises(Conflict, match="screened already"):
        _screen(session, a["practitioner"], world, r, "no_further_action")


def test_level_2_of_a_place_with_an_open_draft_links_that_draft(session: Session,
                                                                world: World) -> None:
    a = _actors(session, world)
    open_draft = assessments.start_assessment(session, a["practitioner"], world.pilot.id,
                                              world.places["park"].id)
    r = _refer(session, a["practitioner"], world)
    _screen(session, a["coordinator"], world, r, "level_2")
    assert r.assessment_id == open_draft.id


def test_level_2_online_space_and_peer_group(session: Session, world: World) -> None:
    a = _actors(session, world)
    online = _refer(session, a["practitioner"], world, context_kind="online", place_id=None,
                    context_name="Year 10 group chat")
    _screen(session, a["practitioner"], world, online, "level_2")
    assert session.get(Place, online.place_id).kind == "online"
    group = _refer(session, a["practitioner"], world, context_kind="peer_group",
                   place_id=None, context_name="Group A", children=["YP-001"])
    _screen(session, a["practitioner"], world, group, "level_2")
    place = session.get(Place, group.place_id)
    assert place.kind == "peer_group" and place.geom is None
    assert session.get(Assessment, group.assessment_id).place_id == place.id
    section = contexts.section(session, a["practitioner"], world.pilot.id,
                               group.assessment_id, threshold=5)
    assert section["kind"] == "peer_group" and section["young_people"] == ["YP-001"]


def test_level_1_adds_the_action_to_a_draft_plan_only(session: Session, world: World) -> None:
    a = _actors(session, world)
    pr = a["practitioner"]
    cafe = world.places["cafe"].id
    draft = assessments.start_assessment(session, pr, world.pilot.id, cafe)
    assessments.update_assessment(session, pr, world.pilot.id, draft.id, {"add_factor": {
        "quadrant": "risk", "statement": "No staff after 21:00", "weight": 2}},
        version=draft.version)
    assessments.submit_assessment(session, pr, world.pilot.id, draft.id)
    plan = plans.create_plan(session, pr, world.pilot.id, draft.id)
    agency = session.scalar(select(Agency.id))
    r = _refer(session, pr, world, place_id=cafe)
    _screen(session, pr, world, r, "level_1", plan_id=plan.id, action={
        "description": "Staff briefing on closing time", "category": "do_things_differently",
        "owner_agency_id": agency, "due_on": "2025-08-01"})
    action = session.get(Action, r.action_id)
    assert action is not None and action.plan_id == plan.id
    assert action.due_on == dt.date(2025, 8, 1) and "context referral" in action.description
    plan.status = "approved"
    session.flush()
    later = _refer(session, pr, world, place_id=cafe)
    with pytest.raises(Conflict, match="draft plan"):
        _screen(session, pr, world, later, "level_1", plan_id=plan.id,
                action={"description": "x", "category": "do_things_differently"})
    with pytest.raises(InvalidData, match="choose the plan"):
        _screen(session, pr, world, later, "level_1")


def test_stale_screening_is_a_conflict(session: Session, world: World) -> None:
    a = _actors(session, world)
    r = _refer(session, a["practitioner"], world)
    session.commit()
    with pytest.raises(Conflict):
        referrals.screen_referral(session, a["practitioner"], world.pilot.id, r.id, {
            "version": r.version + 1, "threshold_level": "universal",
            "outcome": "no_further_action", "reason": "Known already."})


def test_thresholds_default_then_written_by_the_coordinator(session: Session,
                                                            world: World) -> None:
    a = _actors(session, world)
    rows = referrals.thresholds(session, a["partner_reviewer"], world.pilot.id)
    assert [t["level"] for t in rows] == ["universal", "targeted", "specialist"]
    assert all(t["version"] == 0 for t in rows)
    referrals.set_threshold(session, a["coordinator"], world.pilot.id, "targeted",
                            "Two reports in a month.", version=0)
    assert referrals.thresholds(session, a["practitioner"], world.pilot.id)[1] == {
        "level": "targeted", "label": "Targeted", "criteria": "Two reports in a month.",
        "version": 1}
    with pytest.raises(Conflict):
        referrals.set_threshold(session, a["coordinator"], world.pilot.id, "targeted",
                                "Three.", version=0)
    with pytest.raises(Forbidden):
        referrals.set_threshold(session, a["practitioner"], world.pilot.id, "targeted",
                                "Mine.", version=1)


# --- measures -----------------------------------------------------------------------------

REFERRED = dt.date(2025, 4, 1)


def _planted(session: Session, world: World) -> dict[str, Any]:
    """Six police referrals of places (screened 2, 4, 6, 8, 10 and 12 days on, three of
    them Level 2 with one assessment submitted 30 days on) and two school referrals from
    nowhere, one unscreened.
    """
    a = _actors(session, world)
    pr = a["practitioner"]
    police = Agency(name="Test Police", kind="police")
    session.add(police)
    session.flush()
    screened = []
    for i in range(6):
        place = world.places["park" if i % 2 else "cafe"]
        r = _refer(session, pr, world, place_id=place.id, referrer_agency_id=police.id,
                   referred_on=REFERRED)
        with clock.frozen(dt.datetime(2025, 4, 1 + 2 * (i + 1), 10, tzinfo=clock.LOCAL_TZ)):
            _screen(session, pr, world, r, "level_2" if i < 2 else "no_further_action")
        screened.append(r)
    for i in range(2):
        r = _refer(session, pr, world, context_kind="school", place_id=None,
                   context_name=f"Test School {i}", referred_on=REFERRED)
        if i == 0:
            with clock.frozen(dt.datetime(2025, 4, 4, 10, tzinfo=clock.LOCAL_TZ)):
                _screen(session, pr, world, r, "no_further_action")
    cafe_draft = session.get(Assessment, screened[0].assessment_id)
    assessments.update_assessment(session, pr, world.pilot.id, cafe_draft.id, {"add_factor": {
        "quadrant": "risk", "statement": "Dark corner", "weight": 2}},
        version=cafe_draft.version)
    with clock.frozen(dt.datetime(2025, 5, 1, 10, tzinfo=clock.LOCAL_TZ)):
        assessments.submit_assessment(session, pr, world.pilot.id, cafe_draft.id)
    session.commit()
    return a


def test_owning_team_measures_are_exact(session: Session, world: World) -> None:
    a = _planted(session, world)
    m = referrals.referral_measures(session, a["coordinator"], world.pilot.id,
                                    today=dt.date(2025, 7, 15), threshold=5)
    assert m["partner_version"] is False and m["referrals"] == 8 and m["awaiting"] == 1
    assert m["by_agency"] == {"rows": ["No agency given", "Test Police"],
                              "columns": ["Existing place", "School"],
                              "cells": [[0, 2], [6, 0]]}
    assert m["outcomes"] == {"No further action": 5, "Level 1: an action on a plan": 0,
                             "Level 2: a context assessment": 2}
    # decisions 2, 4, 6, 8, 10, 12 days on and the school's 3: median of 7 is 6
    assert m["days_to_decision"] == {"n": 7, "median": 6.0}
    assert m["days_to_assessment"] == {"n": 1, "median": 30.0}


def test_partner_measures_wait_for_the_quarter_end_and_are_suppressed(
        session: Session, world: World) -> None:
    a = _planted(session, world)
    partner = a["partner_reviewer"]
    # 2025-06-20: the last completed quarter end is 31 March, before every referral.
    early = referrals.referral_measures(session, partner, world.pilot.id,
                                        today=dt.date(2025, 6, 20), threshold=5)
    assert early["as_of"] == "2025-03-31" and early["referrals"] == 0
    assert early["by_agency"]["rows"] == []
    m = referrals.referral_measures(session, partner, world.pilot.id,
                                    today=dt.date(2025, 7, 15), threshold=5)
    assert m["partner_version"] is True and m["as_of"] == "2025-06-30"
    # 6 police referrals of places round to 5; the 2 schools are withheld, and so is
    # every cell that would give them away (row and column totals of the small cells).
    cells = m["by_agency"]["cells"]
    assert cells[0][1] == MARK and cells[1][0] in (5, "5")
    assert MARK in m["by_agency"]["row_totals"] or MARK in m["by_agency"]["column_totals"]
    # The 2 Level 2 outcomes are withheld, and complements with them: with the others
    # published, the total (the screened referrals) would give the 2 away.
    assert m["outcomes"]["Level 2: a context assessment"] == MARK
    assert m["outcomes"]["No further action"] == MARK
    assert m["awaiting"] == MARK
    assert m["days_to_decision"] == {"n": 5, "median": 6.0}
    assert m["days_to_assessment"] == {"n": MARK, "median": MARK}
    exact = referrals.referral_measures(session, a["coordinator"], world.pilot.id,
                                        today=dt.date(2025, 7, 15), threshold=5)
    assert "[c]" not in str(exact)


def test_measures_and_pages_over_http(client: Any, auth: Any, session: Session,
                                      world: World) -> None:
    _planted(session, world)
    auth.login("partner_reviewer@test.invalid")
    r = client.get(f"/api/v1/pilots/{world.pilot.id}/referral-measures")
    assert r.status_code == 200 and r.get_json()["partner_version"] is True
    page = client.get(f"/pilots/{world.pilot.id}/overview").get_data(as_text=True)
    assert 'id="referral-measures"' in page and "Partner version" in page
    listing = client.get(f"/pilots/{world.pilot.id}/referrals").get_data(as_text=True)
    assert "Test School 1" in listing and "awaiting screening" in listing
    assert "Older men" not in listing


def test_api_refer_and_screen_round_trip(client: Any, auth: Any, session: Session,
                                         world: World) -> None:
    auth.login("practitioner@test.invalid")
    token = auth.csrf_token("/")
    h = {"X-CSRFToken": token}
    base = f"/api/v1/pilots/{world.pilot.id}"
    bad = client.post(f"{base}/referrals", json={"context_kind": "place"}, headers=h)
    assert bad.status_code == 422
    r = client.post(f"{base}/referrals", headers=h, json={
        "context_kind": "place", "place_id": world.places["chat"].id,
        "concern": "Requests for photos.", "harm_types": ["online_harm", "cse"],
        "children": ["YP-001"], "referrer_name": "School nurse", "urgency": "urgent"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    screen = client.post(f"{base}/referrals/{body['id']}/screen", headers=h, json={
        "version": body["version"], "threshold_level": "specialist", "outcome": "level_2",
        "reason": "Several children."})
    assert screen.status_code == 200, screen.get_json()
    assert screen.get_json()["assessment_id"]
    again = client.post(f"{base}/referrals/{body['id']}/screen", headers=h, json={
        "version": screen.get_json()["version"], "threshold_level": "specialist",
        "outcome": "level_2", "reason": "Again."})
    assert again.status_code == 409
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/pilots/{pilot_id}/referrals/{referral_id}/screen" in spec["paths"]
