"""The board's pack reports statuses as they stood at its period end, not when it is made:
records whose status changed after the end (an assessment approved, a plan submitted, a
place added, a log entry's decision replaced at a later meeting) are shown as they were.

Every step runs under a frozen clock, so nothing depends on today.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from locmap import clock
from locmap.models import AgendaItem, HighRiskContext, Place
from locmap.services import (
    assessments,
    board_pack,
    meetings,
    plans,
    reviews,
    status_history,
    timeline,
)
from locmap.services.accounts import actor_for
from tests.factories import World

END = dt.date(2025, 6, 30)


def _at(day: str) -> Any:
    return clock.frozen(dt.datetime.fromisoformat(f"{day}T10:00").replace(tzinfo=clock.LOCAL_TZ))


def _table(pack: dict[str, Any], key: str) -> dict[str, Any]:
    [p] = pack["pilots"]
    return next(t for s in p["sections"] for t in s["tables"] if t["key"] == key)


def test_statuses_and_log_decisions_as_at_the_period_end(session: Session,
                                                          world: World) -> None:
    pid = world.pilot.id
    pr = actor_for(session, world.users["practitioner"])
    coordinator = actor_for(session, world.users["coordinator"])
    partner = actor_for(session, world.users["partner_reviewer"])
    cafe, park = world.places["cafe"], world.places["park"]
    for p in world.places.values():  # the places existed all year
        p.created_at = dt.datetime(2025, 1, 2, tzinfo=dt.UTC)
    session.commit()
    with _at("2025-03-10"):
        a = assessments.start_assessment(session, pr, pid, cafe.id)
        assessments.update_assessment(session, pr, pid, a.id, {"add_factor": {
            "quadrant": "risk", "statement": "Dealing at the door", "weight": 2}},
            version=a.version)
        assessments.submit_assessment(session, pr, pid, a.id)
        reviews.request_review(session, pr, pid, "assessment", a.id,
                               reviewer_ids=[world.users["partner_reviewer"].id])
        plan = plans.create_plan(session, pr, pid, a.id)
        plans.add_action(session, pr, plan.id, {
            "description": "Ask the owner to light the door",
            "category": "do_things_differently", "due_on": "2025-09-01"}, pilot_id=pid)
        m = meetings.create_meeting(session, pr, pid, {"held_on": "2025-03-10"})
        item = meetings.add_item(session, pr, pid, m.id, {"place_id": cafe.id})
        meetings.update_item(session, pr, pid, item.id, {"version": item.version,
                                                          "decision": "Watch the door."})
        entry = meetings.open_log_entry(session, pr, pid, item.id, "Dealing reported.")
    session.commit()
    # After the period end: approved, submitted, a new place, a new decision on the log.
    with _at("2025-07-05"):
        reviews.give_review(session, partner, pid, "assessment", a.id, decision="approve")
        reviews.submit_plan(session, pr, pid, plan.id)
        session.add(Place(pilot_id=pid, name="Test New Shop", kind="other",
                          geom=park.geom))
        later = meetings.create_meeting(session, pr, pid, {"held_on": "2025-07-05"})
        [again] = [i for i in meetings.meeting_view(session, pr, pid, later.id)["items"]
                   if i["source"] == "log"]
        row = session.get_one(AgendaItem, again["id"])
        meetings.update_item(session, pr, pid, row.id, {"version": row.version,
                                                        "decision": "Close at the next one."})
    session.commit()

    with _at("2025-07-15"):
        now = timeline.pilot_overview(session, coordinator, pid, threshold=5)
        rows = status_history.statuses_at(session, coordinator, pid, END)
        pack = board_pack.pack_data(session, coordinator, pid, "quarter", END, threshold=5)
        march = status_history.statuses_at(session, coordinator, pid, dt.date(2025, 3, 9))
    shown = {r["name"]: r for r in now["places"]}["Test Cafe"]
    assert shown["assessment"]["label"] == "approved" and shown["plan"]["status"] == "in_review"
    then = {r["name"]: r for r in rows}
    assert "Test New Shop" not in then and "Test New Shop" in {r["name"] for r in now["places"]}
    assert (then["Test Cafe"]["assessment"]["status"], then["Test Cafe"]["assessment"]["label"]
            ) == ("in_review", "awaiting review")
    assert (then["Test Cafe"]["plan"]["status"], then["Test Cafe"]["plan"]["label"]) == (
        "draft", "draft")
    assert then["Test Park"]["assessment"] is None and then["Test Park"]["plan"] is None
    # Before the assessment was started: nothing yet.
    assert {r["name"]: r for r in march}["Test Cafe"]["assessment"] is None
    counts = {r[0]: r[1:] for r in _table(pack, "status")["rows"]}
    assert counts["awaiting review"] == [1, 0] and counts["draft"] == [0, 1]
    assert "approved" not in counts
    assert counts["All places"] == [len(then), len(then)]
    # The log: the decision at the period end, though the entry's latest is newer now.
    assert session.get_one(HighRiskContext, entry.id).latest_decision == \
        "Close at the next one."
    open_rows = _table(pack, "high_risk_open")["rows"]
    assert [r[3] for r in open_rows] == ["Watch the door."]
