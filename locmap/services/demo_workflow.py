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
from locmap.timeline import add_months

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

    points = {r.number: r for r in session.scalars(
        select(ReviewPoint).where(ReviewPoint.pilot_id == pilot.id))}
    for rp in work["review_points"]:
        # Held as many days after its due date as in the files: moved by whole weeks, the
        # calendar-month due dates can drift by a day or two against the held dates.
        row = points[rp["number"]]
        file_due = add_months(pilot.start_date - dt.timedelta(weeks=shift.weeks),
                              pilot.review_interval_months * rp["number"])
        held = row.due_on + (dt.date.fromisoformat(rp["held_on"]) - file_due)
        with clock.frozen(shift.instant(dt.datetime.combine(held, dt.time(17)))):
            timeline.record_review_point(
                session, actor_for(session, coordinator), pilot.id, row.id,
                {"held_on": held, "attendees": rp["attendees"], "minutes": rp["minutes"],
                 "decisions": rp["decisions"]})

    n_actions = 0
    for a_spec in work["assessments"]:
        n_actions += _assessment_and_plan(session, pilot, places[a_spec["place_key"]], users,
                                          agencies, a_spec, shift)
    session.flush()
    return {"review points held": len(work["review_points"]),
            "assessments": len(work["assessments"]), "plans": len(work["assessments"]),
            "actions": n_actions}


def _assessment_and_plan(session: Session, pilot: Pilot, place: Place, users: dict[str, User],
                         agencies: dict[str, int], a_spec: dict[str, Any],
                         shift: DemoShift) -> int:
    """One place's assessment and its plan, taken through review as far as the spec says."""
    author = actor_for(session, users[a_spec["author"]])
    p_spec = a_spec["plan"]
    with clock.frozen(shift.instant(_wall(a_spec["started_at"]))):
        a = assessments.start_assessment(session, author, pilot.id, place.id)
        assessments.update_assessment(session, author, pilot.id, a.id, {
            "young_people": a_spec["young_people"], "guardianship": a_spec["guardianship"],
            "environment": a_spec["environment"], "contexts": a_spec["contexts"]},
            version=a.version)
    with clock.frozen(shift.instant(_wall(a_spec["submitted_at"]))):
        assessments.submit_assessment(session, author, pilot.id, a.id)
        reviews.request_review(session, author, pilot.id, "assessment", a.id,
                               reviewer_ids=[users[e].id for e in a_spec["reviewers"]])
    _decide(session, pilot, users, "assessment", a.id, a_spec["decisions"], shift)

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
    _decide(session, pilot, users, "plan", plan.id, p_spec["decisions"], shift)
    return len(p_spec["actions"])


def _decide(session: Session, pilot: Pilot, users: dict[str, User], kind: str, subject_id: int,
            decisions: list[dict[str, Any]], shift: DemoShift) -> None:
    for d in decisions:
        with clock.frozen(shift.instant(_wall(d["at"]))):
            reviews.give_review(session, actor_for(session, users[d["reviewer"]]), pilot.id,
                                kind, subject_id, decision=d["decision"], comment=d["comment"])
