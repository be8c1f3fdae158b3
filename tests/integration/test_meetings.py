"""Context conferences / MACE meetings on PostGIS: items under VOLT with pseudonyms only,
actions on the plan or the panel's log, the high-risk log, the next agenda prefilled, and
the minutes in two versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import Conflict, Forbidden, InvalidData, NotFound
from locmap.io.report_pdf import render_html
from locmap.models import Action, Agency
from locmap.services import assessments, meetings, plans, referrals
from locmap.services.accounts import actor_for
from tests.factories import World


def _actors(session: Session, world: World) -> dict[str, Any]:
    return {k: actor_for(session, u) for k, u in world.users.items()}


def _draft_plan(session: Session, pr: Any, world: World, place: str) -> Any:
    a = assessments.start_assessment(session, pr, world.pilot.id, world.places[place].id)
    assessments.update_assessment(session, pr, world.pilot.id, a.id, {"add_factor": {
        "quadrant": "risk", "statement": "Unlit path", "weight": 2}}, version=a.version)
    assessments.submit_assessment(session, pr, world.pilot.id, a.id)
    return plans.create_plan(session, pr, world.pilot.id, a.id)


def test_a_meeting_its_items_actions_log_and_the_next_agenda(session: Session,
                                                             world: World) -> None:
    a = _actors(session, world)
    pr, pid = a["practitioner"], world.pilot.id
    plan = _draft_plan(session, pr, world, "park")
    agency = session.scalar(select(Agency.id))
    m = meetings.create_meeting(session, pr, pid, {
        "held_on": "2025-03-10", "chair": "Head of Service",
        "attendance": [{"agency_id": agency, "attendees": 3}]})
    park = meetings.add_item(session, pr, pid, m.id, {"place_id": world.places["park"].id})
    group = meetings.add_item(session, pr, pid, m.id, {"context_name": "Group A"})
    meetings.update_item(session, pr, pid, park.id, {
        "version": park.version, "victim": "YP-001", "offender": "AD-004",
        "location": "Skate ramp, unlit after 17:00", "theme": "Phones handed out",
        "shared": "Police intelligence on the van.", "decision": "Light the path."})
    on_plan = meetings.add_action(session, pr, pid, park.id, {
        "description": "Ask the council to light the path", "owner_agency_id": agency,
        "due_on": "2025-03-31", "category": "enhance_safe_behaviours_and_locations"})
    logged = meetings.add_action(session, pr, pid, group.id, {
        "description": "Detached youth work on Friday nights", "due_on": "2025-03-20"})
    entry = meetings.open_log_entry(session, pr, pid, park.id, "Repeated harm at night.")
    session.commit()
    assert on_plan.action_id is not None
    assert session.get(Action, on_plan.action_id).plan_id == plan.id
    assert logged.action_id is None  # no plan for a peer group: the panel's action log
    view = meetings.meeting_view(session, pr, pid, m.id)
    assert view["attendance"][0]["attendees"] == 3
    assert [i["context"] for i in view["items"]] == ["Test Park", "Group A"]
    assert view["items"][0]["log_entry"]["latest_decision"] == "Light the path."
    assert view["items"][0]["shared"] == "Police intelligence on the van."
    partner = meetings.meeting_view(session, a["partner_reviewer"], pid, m.id)
    assert partner["items"][0]["shared"] is None and partner["restricted"] is False

    # A Level 2 referral of the cafe after the meeting, then the next meeting.
    r = referrals.create_referral(session, pr, pid, {
        "context_kind": "place", "place_id": world.places["cafe"].id, "concern": "x",
        "harm_types": ["cce"], "referrer_name": "Y", "referred_on": "2025-03-15"})
    with clock.frozen(dt.datetime(2025, 3, 16, 10, tzinfo=clock.LOCAL_TZ)):
        referrals.screen_referral(session, pr, pid, r.id, {
            "version": r.version, "threshold_level": "specialist", "outcome": "level_2",
            "reason": "Many reports."})
    nxt = meetings.create_meeting(session, pr, pid, {"held_on": "2025-04-07"})
    items = meetings.meeting_view(session, pr, pid, nxt.id)["items"]
    assert [(i["context"], i["source"]) for i in items] == [
        ("Test Park", "log"), ("Group A", "overdue"), ("Test Cafe", "referral")]
    assert [x["description"] for x in items[0]["earlier_actions"]] == [
        "Ask the council to light the path"]
    assert items[1]["earlier_actions"][0]["overdue"] is True
    # Done or closed things drop off the meeting after.
    meetings.set_action_status(session, pr, pid, logged.id, "done", version=logged.version)
    meetings.close_log_entry(session, pr, pid, entry.id, {
        "version": entry.version, "reason": "Lit and quiet since.", "closed_on": "2025-04-07"})
    third = meetings.create_meeting(session, pr, pid, {"held_on": "2025-05-05"})
    sources = [(i["context"], i["source"])
               for i in meetings.meeting_view(session, pr, pid, third.id)["items"]]
    assert sources == [("Test Park", "overdue")]  # the plan action is still open, overdue


def test_volt_text_takes_pseudonyms_only(session: Session, world: World) -> None:
    a = _actors(session, world)
    pr, pid = a["practitioner"], world.pilot.id
    m = meetings.create_meeting(session, pr, pid, {"held_on": "2025-03-10"})
    item = meetings.add_item(session, pr, pid, m.id, {"place_id": world.places["park"].id})
    with pytest.raises(InvalidData, match="pseudonyms only") as exc:
        meetings.update_item(session, pr, pid, item.id, {
            "version": item.version, "victim": "testy quillborne was seen there"})
    assert exc.value.details["field"] == "victim"
    with pytest.raises(InvalidData, match="pseudonyms only"):
        meetings.add_item(session, pr, pid, m.id, {"context_name": "Chat",
                                                   "theme": "Testy Quillborne"})


def test_permissions_conflicts_and_bad_input(session: Session, world: World) -> None:
    a = _actors(session, world)
    pr, pid = a["practitioner"], world.pilot.id
    m = meetings.create_meeting(session, pr, pid, {"held_on": "2025-03-10"})
    item = meetings.add_item(session, pr, pid, m.id, {"context_name": "Group B"})
    session.commit()
    with pytest.raises(Forbidden):
        meetings.add_item(session, a["partner_reviewer"], pid, m.id, {"context_name": "X"})
    with pytest.raises(NotFound):
        meetings.meeting_view(session, a["outsider"], pid, m.id)
    with pytest.raises(InvalidData):
        meetings.create_meeting(session, pr, pid, {"held_on": "soon"})
    with pytest.raises(InvalidData):
        meetings.add_item(session, pr, pid, m.id, {})
    meetings.update_item(session, pr, pid, item.id, {"version": item.version,
                                                     "decision": "Watch."})
    with pytest.raises(Conflict):
        meetings.update_item(session, pr, pid, item.id, {"version": 1, "decision": "Old."})
    meetings.open_log_entry(session, pr, pid, item.id, "Why")
    with pytest.raises(Conflict, match="already"):
        meetings.open_log_entry(session, pr, pid, item.id, "Again")


def test_minutes_partner_version_has_no_restricted_text(session: Session,
                                                        world: World) -> None:
    a = _actors(session, world)
    pr, pid = a["practitioner"], world.pilot.id
    m = meetings.create_meeting(session, pr, pid, {"held_on": "2025-03-10", "chair": "Chair X"})
    item = meetings.add_item(session, pr, pid, m.id, {"place_id": world.places["park"].id,
                                                      "victim": "YP-001"})
    meetings.update_item(session, pr, pid, item.id, {
        "version": item.version, "shared": "Health shared a clinic note.",
        "decision": "Refer to the youth service."})
    full = render_html(meetings.minutes_data(session, pr, pid, m.id, partner=False),
                       "minutes.html")
    part = render_html(meetings.minutes_data(session, pr, pid, m.id, partner=True),
                       "minutes.html")
    assert "Health shared a clinic note." in full and "YP-001" in full
    assert "Health shared a clinic note." not in part
    assert "YP-001" in part and "Refer to the youth service." in part
    as_partner = render_html(meetings.minutes_data(session, a["partner_reviewer"], pid, m.id,
                                                   partner=False), "minutes.html")
    assert "Health shared a clinic note." not in as_partner


def test_minutes_pdf_over_http(client: Any, auth: Any, session: Session,
                               world: World) -> None:
    pr = _actors(session, world)["practitioner"]
    m = meetings.create_meeting(session, pr, world.pilot.id, {"held_on": "2025-03-10"})
    session.commit()
    auth.login("partner_reviewer@test.invalid")
    r = client.get(f"/pilots/{world.pilot.id}/meetings/{m.id}/minutes.pdf")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    assert "partner" in r.headers["Content-Disposition"]
