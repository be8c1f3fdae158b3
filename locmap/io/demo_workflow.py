"""Replay the demo partnership's work (``geodata/demo/workflow.json``) through the services.

Review points held with minutes, the library's assessment submitted and approved, and its
plan sent for review are written by the same service functions a user's clicks call, each
with the clock stopped at the (moved) moment it happened, so the records carry the same
fields, snapshots, timestamps and audit events as real work would.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.io.demo_shift import DemoShift
from locmap.models import Agency, Pilot, Place, ReviewPoint, User
from locmap.services import assessments, plans, reviews, timeline
from locmap.services.accounts import actor_for

__all__ = ["replay_workflow"]


def _wall(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M")


def replay_workflow(session: Session, pilot: Pilot, places: dict[str, Place],
                    users: dict[str, User], coordinator: User, work: dict[str, Any],
                    shift: DemoShift) -> dict[str, int]:
    """Write what ``work`` describes into ``pilot``; returns counts for the report.

    ``users`` are the demo's accounts by email and ``coordinator`` the one who records
    the review points.
    """
    agencies = {a.name: a.id for a in session.scalars(select(Agency))}

    def actor(email: str) -> Any:
        return actor_for(session, users[email])

    points = {r.number: r for r in session.scalars(
        select(ReviewPoint).where(ReviewPoint.pilot_id == pilot.id))}
    for rp in work["review_points"]:
        held = shift.date(dt.date.fromisoformat(rp["held_on"]))
        with clock.frozen(shift.instant(dt.datetime.combine(held, dt.time(17)))):
            timeline.record_review_point(
                session, actor_for(session, coordinator), pilot.id, points[rp["number"]].id,
                {"held_on": held, "attendees": rp["attendees"], "minutes": rp["minutes"],
                 "decisions": rp["decisions"]})

    a_spec, p_spec = work["assessment"], work["plan"]
    author = actor(a_spec["author"])
    place = places[a_spec["place_key"]]
    with clock.frozen(shift.instant(_wall(a_spec["started_at"]))):
        a = assessments.start_assessment(session, author, pilot.id, place.id)
        assessments.update_assessment(session, author, pilot.id, a.id, {
            "young_people": a_spec["young_people"], "guardianship": a_spec["guardianship"],
            "environment": a_spec["environment"], "contexts": a_spec["contexts"]})
    with clock.frozen(shift.instant(_wall(a_spec["submitted_at"]))):
        assessments.submit_assessment(session, author, pilot.id, a.id)
        reviews.request_review(session, author, pilot.id, "assessment", a.id,
                               reviewer_ids=[users[e].id for e in a_spec["reviewers"]])
    for d in a_spec["decisions"]:
        with clock.frozen(shift.instant(_wall(d["at"]))):
            reviews.give_review(session, actor(d["reviewer"]), pilot.id, "assessment", a.id,
                                decision=d["decision"], comment=d["comment"])

    with clock.frozen(shift.instant(_wall(p_spec["created_at"]))):
        plan = plans.create_plan(session, author, pilot.id, a.id, starts_on=shift.date(
            dt.date.fromisoformat(p_spec["starts_on"])))
        for act in p_spec["actions"]:
            plans.add_action(session, author, plan.id, {
                "description": act["description"], "category": act["category"],
                "owner_agency_id": agencies[act["owner_agency"]], "lead": act["lead"],
                "due_on": shift.date(dt.date.fromisoformat(act["due_on"])),
                "status": act["status"]}, pilot_id=pilot.id)
    with clock.frozen(shift.instant(_wall(p_spec["submitted_at"]))):
        reviews.submit_plan(session, author, pilot.id, plan.id)
        reviews.request_review(session, author, pilot.id, "plan", plan.id,
                               reviewer_ids=[users[e].id for e in p_spec["reviewers"]])
    for c in p_spec["comments"]:
        with clock.frozen(shift.instant(_wall(c["at"]))):
            reviews.give_review(session, actor(c["reviewer"]), pilot.id, "plan", plan.id,
                                decision="comment", comment=c["comment"])
    session.flush()
    return {"review points held": len(work["review_points"]), "assessments": 1, "plans": 1,
            "actions": len(p_spec["actions"])}
