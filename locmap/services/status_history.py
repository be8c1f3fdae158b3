"""Each place's latest assessment and current plan, and the high-risk log's latest
decisions, as they stood at the end of a past day.

The board's pack reports statuses at its period end, not when it is made: a plan approved
the week after the quarter was still awaiting review at the quarter end. The places that
existed then (created before, not yet deleted), the versions that existed then, and their
statuses from the lifecycle's own dates (:mod:`locmap.assessment.status_history`); each
label is the one every page shows (:func:`locmap.services.reviews.status_label`) with only
the review requests and reviews made by then.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment import status_history as sh
from locmap.models import AgendaItem, Assessment, ContextMeeting, Pilot, Place, Plan
from locmap.services import reviews
from locmap.services.permissions import Actor, require

__all__ = ["end_of", "statuses_at", "log_decisions_at"]


def end_of(day: dt.date) -> dt.datetime:
    """The first moment after ``day`` in the partnership's time zone."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), clock.LOCAL_TZ)


def _dates(v: Assessment | Plan) -> sh.VersionDates:
    return sh.VersionDates(v.id, v.version_no, v.parent_id, v.created_at, v.submitted_at,
                           v.approved_at)


def _shown(session: Session, pilot: Pilot, kind: str, chain: list[Any],
           pick: Any, at: dt.datetime) -> dict[str, Any] | None:
    by_id = {v.id: v for v in chain}
    dates = [_dates(v) for v in chain]
    chosen = pick(dates, at)
    if chosen is None:
        return None
    status = sh.status_at(dates, at)[chosen.id]
    v = by_id[chosen.id]
    return {"id": v.id, "version_no": v.version_no, "status": status,
            "label": reviews.status_label(session, pilot, kind, v, status=status, at=at)}


def statuses_at(session: Session, actor: Actor, pilot_id: int,
                day: dt.date) -> list[dict[str, Any]]:
    """Each place of the pilot at the end of ``day`` (by name) with its latest assessment
    and current plan then (id, version, status and label), or None.
    """
    require(actor, pilot_id, "assessment.view")
    pilot = session.get_one(Pilot, pilot_id)
    at = end_of(day)
    assessments: dict[int, list[Assessment]] = defaultdict(list)
    for a in session.scalars(select(Assessment).join(Place).where(
            Place.pilot_id == pilot_id).order_by(Assessment.id)):
        assessments[a.place_id].append(a)
    plans: dict[int, list[Plan]] = defaultdict(list)
    for p, place_id in session.execute(
            select(Plan, Assessment.place_id).join(Assessment, Assessment.id == Plan.assessment_id)
            .join(Place, Place.id == Assessment.place_id)
            .where(Place.pilot_id == pilot_id).order_by(Plan.id)).tuples():
        plans[place_id].append(p)
    rows = []
    for place in session.scalars(select(Place).where(
            Place.pilot_id == pilot_id, Place.created_at < at,
            or_(Place.deleted_at.is_(None), Place.deleted_at >= at)).order_by(Place.name)):
        rows.append({
            "place_id": place.id, "name": place.name, "kind": place.kind,
            "assessment": _shown(session, pilot, "assessment", assessments[place.id],
                                 sh.latest_at, at),
            "plan": _shown(session, pilot, "plan", plans[place.id], sh.current_at, at)})
    return rows


def log_decisions_at(session: Session, actor: Actor, pilot_id: int,
                     day: dt.date) -> dict[int, str]:
    """High-risk log entry id → its latest decision as it stood at the end of ``day``: the
    decision of the entry's last agenda item at a meeting held by then (later meetings'
    decisions replace the entry's ``latest_decision``; this is the one before them).
    """
    require(actor, pilot_id, "meeting.view")
    rows = session.execute(
        select(AgendaItem.log_entry_id, AgendaItem.decision)
        .join(ContextMeeting, ContextMeeting.id == AgendaItem.meeting_id)
        .where(AgendaItem.pilot_id == pilot_id, AgendaItem.log_entry_id.is_not(None),
               AgendaItem.decision != "", ContextMeeting.held_on <= day)
        .order_by(ContextMeeting.held_on, AgendaItem.position, AgendaItem.id)).tuples()
    return {int(entry): decision for entry, decision in rows if entry is not None}
