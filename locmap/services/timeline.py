"""The pilot's timeline: review points, what changed between them, the board overview and
what is waiting for each user.

A review point's page assembles the period since the previous point (or the pilot's
start): KPI movement, actions done / due / overdue, new incidents and safety factors at
the pilot's places, and versions awaiting review. Partners see the incident counts by
place and their total through :func:`locmap.assessment.disclosure.protect` (rounded to
base 5, small counts withheld as "[c]" with complements, checked by linear programming;
places listed by name, not by count). Only coordinators record a review point
(held on, attendees, minutes, decisions). The "current" plan of a place is its newest
version that is not superseded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from locmap import clock
from locmap.assessment.disclosure import MARK, WITHHELD, TableSpec, partner_value, protect
from locmap.assessment.review_rules import (
    action_is_mine,
    action_overdue,
    kpi_trend,
    review_point_status,
)
from locmap.errors import InvalidData, NotFound
from locmap.models import (
    KPI,
    Action,
    Assessment,
    Pilot,
    Place,
    Plan,
    ReviewPoint,
    SafetyFactor,
    User,
)
from locmap.queries import at_place
from locmap.services import audit, lifecycle
from locmap.services.permissions import Actor, can, require
from locmap.services.pilot_scope import scoped
from locmap.services.reviews import (
    my_agency,
    place_of,
    status_label,
    undecided_requests_for,
)

__all__ = [
    "list_review_points", "review_point_detail", "record_review_point",
    "pilot_overview", "waiting_for", "partner_counts_by_place",
    "current_plans", "kpi_rows",
]

_TEXT_MAX = 20000


def partner_counts_by_place(rows: list[tuple[str, int]], threshold: int,
                            ) -> tuple[int | str, list[dict[str, Any]]]:
    """Counts by place and their total as partners see them: protected together.

    Only places with at least one count are listed, so a reader knows each is at least 1
    (``floor=1``); the list is in name order, since an order by count would rank the
    withheld ones.
    """
    rows = sorted(rows)
    if not rows:
        return 0, []
    release = protect([TableSpec("by_place", [[c] for _, c in rows], row_totals=False,
                                 floor=1)], threshold=threshold)
    t = release.tables["by_place"]

    def shown(i: int) -> int | str:
        value = t.values[i][0]
        return MARK if t.flags[i][0] == WITHHELD or value is None else value

    return shown(len(rows)), [{"place": n, "count": shown(i)} for i, (n, _) in enumerate(rows)]


def _pilot(session: Session, actor: Actor, pilot_id: int, permission: str) -> Pilot:
    require(actor, pilot_id, permission)
    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound("No such pilot, or you are not a member of it.")
    return pilot


def list_review_points(session: Session, actor: Actor, pilot_id: int, *,
                       today: dt.date | None = None) -> list[dict[str, Any]]:
    """The pilot's review points in date order, each flagged held/overdue/due/upcoming."""
    pilot = _pilot(session, actor, pilot_id, "pilot.view")
    today = today or clock.today()
    return [{"id": r.id, "number": r.number, "due_on": r.due_on, "held_on": r.held_on,
             "status": review_point_status(r.due_on, r.held_on, today)}
            for r in pilot.review_points]


def _current_plans(session: Session, pilot_id: int) -> dict[int, Plan]:
    """Place id → its newest plan version that is not superseded, with its actions (read
    in one query for all the plans: every caller goes through them).
    """
    rows = session.execute(
        select(Plan, Assessment.place_id).join(Assessment, Assessment.id == Plan.assessment_id)
        .join(Place, Place.id == Assessment.place_id)
        .where(Place.pilot_id == pilot_id, Plan.status != lifecycle.SUPERSEDED)
        .options(selectinload(Plan.actions))
        .order_by(Plan.id)).all()
    return {place_id: plan for plan, place_id in rows}


def _kpi_rows(session: Session, plans: list[Plan], start: dt.date | None,
              end: dt.date, suppress: bool, threshold: int) -> list[dict[str, Any]]:
    out = []
    for plan in plans:
        for k in session.scalars(select(KPI).where(KPI.plan_id == plan.id).order_by(KPI.id)):
            values = [(m.period_end, m.value) for m in k.measurements if m.period_end <= end]
            before = [v for d, v in values if start is not None and d <= start]
            series = ([before[-1]] if before else []) + [
                v for d, v in values if start is None or d > start]
            def shown(v: float | None, kind: str = k.kind) -> Any:
                return partner_value(v, threshold) if suppress and kind in ("a", "b") else v

            out.append({"id": k.id, "name": k.name, "kind": k.kind, "unit": k.unit,
                        "baseline": shown(k.baseline), "target": shown(k.target),
                        "direction": k.direction,
                        "values": [shown(v) for _, v in values],
                        "latest": shown(values[-1][1]) if values else None,
                        "trend": kpi_trend(series, k.direction)})
    return out


# The board's pack (services/board_pack.py) reads plans and KPIs by the same rules.
current_plans = _current_plans
kpi_rows = _kpi_rows


def review_point_detail(session: Session, actor: Actor, pilot_id: int, point_id: int, *,
                        today: dt.date | None = None, threshold: int) -> dict[str, Any]:
    """Everything that changed in the period ending at this review point."""
    pilot = _pilot(session, actor, pilot_id, "pilot.view")
    today = today or clock.today()
    points = list(pilot.review_points)
    rp = next((r for r in points if r.id == point_id), None)
    if rp is None:
        raise NotFound("No such review point in this pilot.")
    i = points.index(rp)
    start = points[i - 1].due_on if i else pilot.start_date
    end = rp.due_on
    suppress = not can(actor, pilot_id, "aggregate.unsuppressed")
    # Periods do not overlap: after the first, a period starts the day after the last due
    # date. Days are the partnership's (Europe/London), as on every page.
    t0 = dt.datetime.combine(start + dt.timedelta(days=1 if i else 0), dt.time(),
                             clock.LOCAL_TZ)
    t1 = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), clock.LOCAL_TZ)
    names = dict(session.execute(select(Place.id, Place.name).where(
        Place.pilot_id == pilot_id, Place.deleted_at.is_(None))).tuples().all())
    counted = at_place.place_counts(session, pilot_id, since=t0, until=t1)
    incidents = sorted(((names[k], n) for k, n in counted.items() if n and k in names),
                       key=lambda x: (-x[1], x[0]))
    factors = session.execute(
        select(Place.name, SafetyFactor.quadrant, SafetyFactor.statement, SafetyFactor.weight)
        .join(Place, Place.id == SafetyFactor.place_id)
        .where(Place.pilot_id == pilot_id, SafetyFactor.assessment_id.is_(None),
               SafetyFactor.created_at >= t0, SafetyFactor.created_at < t1)
        .order_by(Place.name, SafetyFactor.id)).all()
    plans = _current_plans(session, pilot_id)
    actions = [a for p in plans.values() for a in p.actions]
    awaiting = _awaiting(session, pilot_id, t1)
    total = sum(n for _, n in incidents)
    if suppress:
        shown_total, by_place = partner_counts_by_place([(n, int(c)) for n, c in incidents],
                                                         threshold)
    else:
        shown_total, by_place = total, [{"place": n, "count": c} for n, c in incidents]
    return {
        "id": rp.id, "number": rp.number, "due_on": rp.due_on, "held_on": rp.held_on,
        "status": review_point_status(rp.due_on, rp.held_on, today),
        "attendees": rp.attendees, "minutes": rp.minutes, "decisions": rp.decisions,
        "period": {"start": start, "end": end}, "pilot": {"id": pilot.id, "name": pilot.name},
        "previous_id": points[i - 1].id if i else None,
        "next_id": points[i + 1].id if i + 1 < len(points) else None,
        "suppressed": suppress,
        "incidents": {"total": shown_total, "by_place": by_place},
        "factors": [{"place": n, "quadrant": q, "statement": s, "weight": w}
                    for n, q, s, w in factors],
        "actions": {
            "done": [_action(a, today) for a in actions if a.status == "done"
                     and t0 <= a.updated_at.replace(tzinfo=dt.UTC) < t1],
            "due": [_action(a, today) for a in actions
                    if a.due_on is not None and start < a.due_on <= end],
            "overdue": [_action(a, today) for a in actions if action_overdue(
                a.status, a.due_on, min(today, end + dt.timedelta(days=1)))]},
        "kpis": _kpi_rows(session, list(plans.values()), start, end, suppress, threshold),
        "awaiting_review": awaiting,
    }


def _awaiting(session: Session, pilot_id: int, t1: dt.datetime) -> list[dict[str, Any]]:
    """Versions that were awaiting review when the period ended (``t1``): submitted before
    it, and not approved before it. A version submitted after the period is not the
    period's business, however long it has waited since.
    """
    out: list[dict[str, Any]] = []
    for kind, model in (("assessment", Assessment), ("plan", Plan)):
        stmt = (select(model, Place.name).where(Place.pilot_id == pilot_id,
                                                model.submitted_at < t1)
                .order_by(model.submitted_at, model.id))
        stmt = (stmt.join(Place, Place.id == Assessment.place_id) if model is Assessment
                else stmt.join(Assessment, Assessment.id == Plan.assessment_id)
                .join(Place, Place.id == Assessment.place_id))
        for v, name in session.execute(stmt):
            if v.status == lifecycle.IN_REVIEW or (v.approved_at is not None
                                                   and v.approved_at >= t1):
                out.append({"kind": kind, "id": v.id, "version_no": v.version_no,
                            "place": name})
    return out


def _action(a: Action, today: dt.date) -> dict[str, Any]:
    return {"id": a.id, "plan_id": a.plan_id, "description": a.description, "lead": a.lead,
            "owner_agency_id": a.owner_agency_id, "due_on": a.due_on, "status": a.status,
            "overdue": action_overdue(a.status, a.due_on, today)}


def record_review_point(session: Session, actor: Actor, pilot_id: int, point_id: int,
                        changes: dict[str, Any]) -> ReviewPoint:
    """Record that a review point was held: ``held_on``, attendees, minutes, decisions."""
    pilot = _pilot(session, actor, pilot_id, "review_point.manage")
    rp = session.get(ReviewPoint, point_id)
    if rp is None or rp.pilot_id != pilot_id:
        raise NotFound("No such review point in this pilot.")
    if "held_on" in changes:
        held = changes["held_on"]
        if isinstance(held, str):
            try:
                held = dt.date.fromisoformat(held) if held.strip() else None
            except ValueError as exc:
                raise InvalidData("held_on must be a date (YYYY-MM-DD).") from exc
        if held is not None and (held < pilot.start_date or held > clock.today()):
            raise InvalidData("held_on must be between the pilot's start and today.")
        rp.held_on = held
    for key in ("attendees", "minutes", "decisions"):
        if key in changes:
            text = changes[key]
            if not isinstance(text, str) or len(text) > _TEXT_MAX:
                raise InvalidData(f"{key} must be text of at most {_TEXT_MAX} characters.")
            setattr(rp, key, text.strip())
    session.flush()
    audit.record(session, actor, "update", "review_point", rp.id, pilot_id=pilot_id,
                 detail={"changed": sorted(k for k in changes if k in
                                           ("held_on", "attendees", "minutes", "decisions"))})
    return rp


def pilot_overview(session: Session, actor: Actor, pilot_id: int, *,
                   today: dt.date | None = None, threshold: int) -> dict[str, Any]:
    """For the strategic board: each place's latest assessment, plan progress and KPIs."""
    pilot = _pilot(session, actor, pilot_id, "assessment.view")
    today = today or clock.today()
    suppress = not can(actor, pilot_id, "aggregate.unsuppressed")
    plans = _current_plans(session, pilot_id)
    latest = {a.place_id: a for a in session.scalars(
        select(Assessment).join(Place).where(Place.pilot_id == pilot_id)
        .order_by(Assessment.version_no))}
    rows = []
    for place in session.scalars(select(Place).where(Place.pilot_id == pilot_id,
                                                     Place.deleted_at.is_(None))
                                 .order_by(Place.name)):
        a, p = latest.get(place.id), plans.get(place.id)
        acts = [x for x in (p.actions if p else []) if x.status != "dropped"]
        kpis = _kpi_rows(session, [p], None, today, suppress, threshold) if p else []
        rows.append({
            "place_id": place.id, "name": place.name, "kind": place.kind,
            "assessment": {"id": a.id, "version_no": a.version_no, "status": a.status,
                           "label": status_label(session, pilot, "assessment", a)}
            if a else None,
            "plan": {"id": p.id, "version_no": p.version_no, "status": p.status,
                     "label": status_label(session, pilot, "plan", p)} if p else None,
            "actions_done": sum(x.status == "done" for x in acts), "actions_total": len(acts),
            "actions_overdue": sum(action_overdue(x.status, x.due_on, today) for x in acts),
            "kpis": [{"name": k["name"], "trend": k["trend"], "latest": k["latest"]}
                     for k in kpis]})
    return {"pilot": {"id": pilot.id, "name": pilot.name}, "places": rows,
            "review_points": list_review_points(session, actor, pilot_id, today=today)}


def waiting_for(session: Session, actor: Actor, *,
                today: dt.date | None = None) -> dict[str, list[dict[str, Any]]]:
    """Reviews to give, my overdue actions and review points due, across my pilots."""
    today = today or clock.today()
    out: dict[str, list[dict[str, Any]]] = {"reviews": [], "actions": [], "review_points": []}
    agency = my_agency(session, actor)
    me = session.get(User, actor.user_id) if actor.user_id is not None else None
    name = me.name if me is not None else ""
    for pid in actor.pilot_ids:
        with scoped(session, pid):  # each pilot from its own rows (and worker)
            pilot = session.get(Pilot, pid)
            if pilot is None:
                continue
            if can(actor, pid, "review.give"):
                for asked in undecided_requests_for(session, actor, pid):
                    out["reviews"].append({
                        "pilot_id": pid, "pilot": pilot.name, "kind": asked.kind,
                        "id": asked.subject.id, "place": asked.place.name,
                        "version_no": asked.subject.version_no,
                        "requested_at": asked.request.requested_at,
                        "via_agency": asked.request.agency_id is not None})
            for plan in _current_plans(session, pid).values():
                for a in plan.actions:
                    mine = action_is_mine(a.owner_agency_id, a.lead, agency, name)
                    if mine and action_overdue(a.status, a.due_on, today):
                        out["actions"].append({"pilot_id": pid, "pilot": pilot.name,
                                               "place": place_of(session, plan).name,
                                               **_action(a, today)})
            if can(actor, pid, "review_point.manage"):
                out["review_points"] += [
                    {"pilot_id": pid, "pilot": pilot.name, **r}
                    for r in list_review_points(session, actor, pid, today=today)
                    if r["status"] in ("overdue", "due")]
    return out
