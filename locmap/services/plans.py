"""Plans answering an assessment: make one, edit its actions and gap reasons, version it.

A plan is made from an assessment version that was submitted (in review or approved) and
starts as draft v1 with the four suggested KPIs. Only a draft is edited
(:func:`assert_editable`); the partner review workflow moves it on, and
:func:`new_plan_version` copies a submitted plan into the next draft. Two things continue
after approval because they are delivery, not design: an action's status and progress
notes, and KPI measurements (see :mod:`locmap.services.kpis`). Gaps — weighty factors and
the weightiest context without an action or a written reason — come from the pure
:func:`locmap.assessment.plan_logic.find_gaps`. Every use case checks permissions first,
validates, writes or reads, then audits.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment import plan_logic as pl
from locmap.errors import Conflict, InvalidData, NotFound
from locmap.models import Agency, Assessment, ReviewPoint, SafetyFactor
from locmap.models.plan import KPI, Action, KPIMeasurement, Plan, PlanGapReason, action_factor
from locmap.services import assessments, audit, kpis, lifecycle
from locmap.services.permissions import Actor, can
from locmap.services.plan_access import (
    assert_editable,
    get_plan,
    parse_date,
    plan_pilot,
)
from locmap.services.versioning import check_version
from locmap.vocab import ACTION_STATUSES, FRAMEWORK_DOMAINS, PLAN_CATEGORIES

__all__ = [
    "get_plan", "plan_pilot", "assert_editable", "create_plan", "list_plans", "place_plans",
    "new_plan_version", "plan_detail", "add_action", "update_action", "delete_action",
    "plan_gaps", "write_gap_reason", "parse_date",
]

_PROGRESS = frozenset({"status", "progress_notes"})
_ACTION_FIELDS = ("description", "category", "domain", "context_name", "owner_agency_id",
                  "lead", "due_on", "status", "progress_notes")


def _header(p: Plan) -> dict[str, Any]:
    return {"id": p.id, "assessment_id": p.assessment_id, "version_no": p.version_no,
            "parent_id": p.parent_id, "status": p.status, "version": p.version,
            "starts_on": p.starts_on.isoformat() if p.starts_on else None,
            "submitted_at": p.submitted_at.isoformat() if p.submitted_at else None,
            "approved_at": p.approved_at.isoformat() if p.approved_at else None}


def create_plan(session: Session, actor: Actor, pilot_id: int, assessment_id: int, *,
                starts_on: dt.date | None = None) -> Plan:
    """Draft plan v1 for a submitted assessment version, with the four suggested KPIs."""
    a = assessments.get_assessment(session, actor, pilot_id, assessment_id,
                                   permission="plan.edit")
    if a.status not in (lifecycle.IN_REVIEW, lifecycle.APPROVED):
        raise InvalidData("A plan answers a submitted assessment: submit this draft first.",
                          details={"status": a.status})
    existing = session.scalar(select(Plan.id).where(Plan.assessment_id == a.id)
                              .order_by(Plan.version_no.desc()))
    if existing is not None:
        raise Conflict("This assessment version already has a plan; carry on with it or "
                       "start a new version of it.", details={"plan_id": existing})
    starts_on = starts_on or clock.today()
    plan = Plan(assessment_id=a.id, version_no=1, status=lifecycle.DRAFT, starts_on=starts_on,
                created_by_id=actor.user_id)
    session.add(plan)
    session.flush()
    session.add_all(kpis.suggested_kpis(plan.id))
    session.flush()
    kpis.set_computed_baselines(session, plan)
    audit.record(session, actor, "create", "plan", plan.id, pilot_id=pilot_id,
                 detail={"assessment_id": a.id, "starts_on": starts_on.isoformat()})
    return plan


def list_plans(session: Session, actor: Actor, pilot_id: int,
               assessment_id: int) -> list[dict[str, Any]]:
    """Every version of the plan answering one assessment version, newest first."""
    assessments.get_assessment(session, actor, pilot_id, assessment_id)
    rows = session.scalars(select(Plan).where(Plan.assessment_id == assessment_id)
                           .order_by(Plan.version_no.desc()))
    return [_header(p) for p in rows]


def place_plans(session: Session, actor: Actor, pilot_id: int,
                place_id: int) -> list[dict[str, Any]]:
    """Every plan of every assessment version of a place, newest assessment first."""
    versions = assessments.list_assessments(session, actor, pilot_id, place_id)
    out = []
    for a in versions:
        for p in list_plans(session, actor, pilot_id, a["id"]):
            out.append({**p, "assessment_version_no": a["version_no"],
                        "assessment_status": a["status"]})
    return out


def _factor_links(session: Session, action_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {i: [] for i in action_ids}
    if action_ids:
        for aid, fid in session.execute(select(action_factor.c.action_id,
                                               action_factor.c.factor_id)
                                        .where(action_factor.c.action_id.in_(action_ids))
                                        .order_by(action_factor.c.factor_id)):
            out[aid].append(fid)
    return out


def new_plan_version(session: Session, actor: Actor, plan_id: int) -> Plan:
    """A draft copy (next version, ``parent_id`` set) of a submitted or approved plan:
    actions with their factor links, gap reasons, KPIs and their measurements.
    """
    src = get_plan(session, actor, plan_id, permission="plan.edit")
    if src.status == lifecycle.DRAFT:
        raise Conflict("This version is still a draft: edit it instead.")
    draft = session.scalar(select(Plan.id).where(Plan.assessment_id == src.assessment_id,
                                                 Plan.status == lifecycle.DRAFT))
    if draft is not None:
        raise Conflict("This plan already has a draft version; carry on with it.",
                       details={"plan_id": draft})
    number = (session.scalar(select(func.max(Plan.version_no))
                             .where(Plan.assessment_id == src.assessment_id)) or 0) + 1
    new = Plan(assessment_id=src.assessment_id, version_no=number, parent_id=src.id,
               status=lifecycle.DRAFT, starts_on=src.starts_on, created_by_id=actor.user_id)
    session.add(new)
    session.flush()
    links = _factor_links(session, [x.id for x in src.actions])
    for x in src.actions:
        copy = Action(plan_id=new.id, **{k: getattr(x, k) for k in _ACTION_FIELDS})
        session.add(copy)
        session.flush()
        if links[x.id]:
            session.execute(insert(action_factor), [{"action_id": copy.id, "factor_id": f}
                                                    for f in links[x.id]])
    for r in session.scalars(select(PlanGapReason).where(PlanGapReason.plan_id == src.id)):
        session.add(PlanGapReason(plan_id=new.id, factor_id=r.factor_id,
                                  context_name=r.context_name, reason=r.reason))
    for k in src.kpis:
        session.add(KPI(plan_id=new.id, kind=k.kind, name=k.name, unit=k.unit,
                        baseline=k.baseline, target=k.target, direction=k.direction,
                        measurements=[KPIMeasurement(
                            period_start=m.period_start, period_end=m.period_end,
                            value=m.value, source=m.source, computed=m.computed)
                            for m in k.measurements]))
    session.flush()
    audit.record(session, actor, "create", "plan", new.id, pilot_id=plan_pilot(session, new),
                 detail={"parent_id": src.id, "version_no": number})
    return new


def _assessment_parts(session: Session, plan: Plan) -> tuple[list[SafetyFactor], list[str],
                                                             list[str]]:
    a = session.get_one(Assessment, plan.assessment_id)
    factors = list(session.scalars(select(SafetyFactor).where(
        SafetyFactor.assessment_id == a.id).order_by(SafetyFactor.id)))
    w = assessments.weighting_of(session, a)
    names = [c.name for c in w.contexts]
    weightiest = list(assessments.cw.weightiest(w).names) if w.contexts else []
    return factors, names, weightiest


def _gaps(session: Session, plan: Plan) -> tuple[list[pl.Gap], list[PlanGapReason]]:
    factors, _, weightiest = _assessment_parts(session, plan)
    links = _factor_links(session, [x.id for x in plan.actions])
    reasons = list(session.scalars(select(PlanGapReason).where(PlanGapReason.plan_id
                                                               == plan.id)
                                   .order_by(PlanGapReason.id)))
    gaps = pl.find_gaps(
        [pl.FactorRef(f.id, f.weight, f.statement, f.quadrant) for f in factors], weightiest,
        [pl.ActionRef(tuple(links[x.id]), x.context_name, x.status) for x in plan.actions],
        [pl.ReasonRef(r.factor_id, r.context_name) for r in reasons])
    return gaps, reasons


def plan_gaps(session: Session, actor: Actor, plan_id: int, *,
              pilot_id: int | None = None) -> dict[str, Any]:
    """Open gaps and the reasons written so far."""
    plan = get_plan(session, actor, plan_id, pilot_id=pilot_id)
    gaps, reasons = _gaps(session, plan)
    return {"gaps": [g.to_dict() for g in gaps],
            "reasons": [{"id": r.id, "factor_id": r.factor_id, "context_name": r.context_name,
                         "reason": r.reason} for r in reasons]}


def write_gap_reason(session: Session, actor: Actor, plan_id: int, *, reason: str,
                     factor_id: int | None = None, context_name: str | None = None,
                     pilot_id: int | None = None) -> PlanGapReason:
    """Say why a weighty factor or the weightiest context has no action (replaces an earlier
    reason for the same subject).
    """
    plan = get_plan(session, actor, plan_id, pilot_id=pilot_id, permission="plan.edit")
    assert_editable(plan)
    text = (reason or "").strip()
    if not text:
        raise InvalidData("Write the reason.")
    if (factor_id is None) == (not context_name):
        raise InvalidData("Give either a factor or a context, not both.")
    factors, _, weightiest = _assessment_parts(session, plan)
    weighty = {f.id for f in factors
               if pl.FactorRef(f.id, f.weight, quadrant=f.quadrant).needs_action}
    if factor_id is not None and factor_id not in weighty:
        raise InvalidData("Reasons are for vulnerabilities and risks of weight 2 or 3 in this "
                          "assessment (strengths need no action).")
    if context_name and context_name not in weightiest:
        raise InvalidData("Reasons are for the weightiest context of this assessment.")
    subject = (PlanGapReason.factor_id == factor_id if factor_id is not None
               else PlanGapReason.context_name == context_name)
    session.execute(delete(PlanGapReason).where(PlanGapReason.plan_id == plan.id, subject))
    row = PlanGapReason(plan_id=plan.id, factor_id=factor_id,
                        context_name=context_name or None, reason=text)
    session.add(row)
    session.flush()
    audit.record(session, actor, "create", "plan_gap_reason", row.id,
                 pilot_id=plan_pilot(session, plan),
                 detail={"plan_id": plan.id, "factor_id": factor_id,
                         "context_name": context_name})
    return row


def _check_action(session: Session, plan: Plan, data: dict[str, Any]) -> dict[str, Any]:
    out = {k: data[k] for k in _ACTION_FIELDS if k in data}
    if "description" in out:
        out["description"] = str(out["description"] or "").strip()
        if not out["description"]:
            raise InvalidData("An action needs a description.")
    for key, vocab in (("category", PLAN_CATEGORIES), ("domain", FRAMEWORK_DOMAINS),
                       ("status", ACTION_STATUSES)):
        if key in out and out[key] not in vocab:
            raise InvalidData(f"{key} must be one of {', '.join(vocab)}.")
    if "due_on" in out:
        out["due_on"] = parse_date(out["due_on"], "due_on")
    for key in ("lead", "progress_notes"):
        if key in out:
            out[key] = str(out[key] or "").strip()
    if len(out.get("lead", "")) > 200:
        raise InvalidData("lead is at most 200 characters.")
    if "owner_agency_id" in out:
        out["owner_agency_id"] = out["owner_agency_id"] or None
        if out["owner_agency_id"] and session.get(Agency, out["owner_agency_id"]) is None:
            raise InvalidData("No such owner agency.")
    if "context_name" in out:
        out["context_name"] = out["context_name"] or None
        _, names, _ = _assessment_parts(session, plan)
        if out["context_name"] and out["context_name"] not in names:
            raise InvalidData("context_name must be a context of the assessment's weighting.")
    return out


def _set_factors(session: Session, plan: Plan, action: Action, factor_ids: Any) -> None:
    if not isinstance(factor_ids, list | tuple) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in factor_ids):
        raise InvalidData("factor_ids must be a list of factor ids.")
    own = set(session.scalars(select(SafetyFactor.id).where(
        SafetyFactor.assessment_id == plan.assessment_id)))
    if not set(factor_ids) <= own:
        raise InvalidData("An action links only factors of the plan's assessment version.")
    session.execute(delete(action_factor).where(action_factor.c.action_id == action.id))
    if factor_ids:
        session.execute(insert(action_factor), [{"action_id": action.id, "factor_id": f}
                                                for f in sorted(set(factor_ids))])


def add_action(session: Session, actor: Actor, plan_id: int, data: dict[str, Any], *,
               pilot_id: int | None = None) -> Action:
    """Add an action to a draft plan (``factor_ids`` link it to the assessment's factors)."""
    plan = get_plan(session, actor, plan_id, pilot_id=pilot_id, permission="plan.edit")
    assert_editable(plan)
    for key in ("description", "category"):
        if not data.get(key):
            raise InvalidData(f"An action needs a {key}.")
    action = Action(plan_id=plan.id, **_check_action(session, plan, data))
    session.add(action)
    session.flush()
    _set_factors(session, plan, action, data.get("factor_ids", []))
    audit.record(session, actor, "create", "action", action.id,
                 pilot_id=plan_pilot(session, plan), detail={"plan_id": plan.id})
    return action


def _action(session: Session, actor: Actor, action_id: int,
            pilot_id: int | None) -> tuple[Action, Plan]:
    action = session.get(Action, action_id)
    if action is None:
        raise NotFound("No such action in this pilot.")
    return action, get_plan(session, actor, action.plan_id, pilot_id=pilot_id,
                            permission="plan.edit")


def update_action(session: Session, actor: Actor, action_id: int, changes: dict[str, Any], *,
                  version: int | None, pilot_id: int | None = None) -> Action:
    """Change an action; a stale ``version`` answers :class:`Conflict`. In an approved plan
    only ``status`` and ``progress_notes`` (delivery) may change.
    """
    action, plan = _action(session, actor, action_id, pilot_id)
    keys = set(changes) & {*_ACTION_FIELDS, "factor_ids"}
    if not (plan.status == lifecycle.APPROVED and keys <= _PROGRESS):
        assert_editable(plan)
    check_version(session, "action", action, version)
    for k, v in _check_action(session, plan, changes).items():
        setattr(action, k, v)
    if "factor_ids" in changes:
        _set_factors(session, plan, action, changes["factor_ids"])
    action.updated_at = clock.now()  # bumps the version for link-only edits
    session.flush()
    audit.record(session, actor, "update", "action", action.id,
                 pilot_id=plan_pilot(session, plan),
                 detail={"plan_id": plan.id, "changed": sorted(keys)})
    return action


def delete_action(session: Session, actor: Actor, action_id: int, *,
                  pilot_id: int | None = None) -> None:
    """Remove an action from a draft plan."""
    action, plan = _action(session, actor, action_id, pilot_id)
    assert_editable(plan)
    session.delete(action)
    session.flush()
    audit.record(session, actor, "delete", "action", action_id,
                 pilot_id=plan_pilot(session, plan), detail={"plan_id": plan.id})


def action_dicts(session: Session, plan: Plan, today: dt.date) -> list[dict[str, Any]]:
    """The plan's actions, JSON-ready, with linked factors, owner name and overdue flag."""
    links = _factor_links(session, [x.id for x in plan.actions])
    agencies = dict(session.execute(select(Agency.id, Agency.name)).tuples().all())
    return [{"id": x.id, "version": x.version, "factor_ids": links[x.id],
             **{k: getattr(x, k) for k in _ACTION_FIELDS if k != "due_on"},
             "due_on": x.due_on.isoformat() if x.due_on else None,
             "owner_agency": agencies.get(x.owner_agency_id) if x.owner_agency_id else None,
             "overdue": pl.is_overdue(x.due_on, x.status, today)} for x in plan.actions]


def plan_detail(session: Session, actor: Actor, plan_id: int, *,
                pilot_id: int | None = None, today: dt.date | None = None,
                threshold: int) -> dict[str, Any]:
    """Everything the plan, review and PDF pages show: place, assessment, factors with
    weights, context weighting, actions with overdue flags, gaps, KPIs with measurements,
    the pilot's review points and the plan's versions.
    """
    plan = get_plan(session, actor, plan_id, pilot_id=pilot_id)
    pid = plan_pilot(session, plan)
    today = today or clock.today()
    av = assessments.assessment_view(session, actor, pid, plan.assessment_id,
                                     threshold=threshold)
    gaps, reasons = _gaps(session, plan)
    points = session.scalars(select(ReviewPoint).where(ReviewPoint.pilot_id == pid)
                             .order_by(ReviewPoint.due_on))
    return {
        **_header(plan), "pilot_id": pid, "editable": plan.status == lifecycle.DRAFT,
        "place": av["place"],
        "assessment": {k: av[k] for k in ("id", "version_no", "status", "summary",
                                          "submitted_at")},
        "factors": av["factors"], "context_weighting": av["context_weighting"],
        "weightiest": av["weightiest"],
        "actions": action_dicts(session, plan, today),
        "gaps": [g.to_dict() for g in gaps],
        "gap_reasons": [{"id": r.id, "factor_id": r.factor_id, "context_name": r.context_name,
                         "reason": r.reason} for r in reasons],
        "kpis": kpis.kpi_dicts(plan, partner=not can(actor, pid, "aggregate.unsuppressed"),
                               threshold=threshold),
        "review_points": [{"number": r.number, "due_on": r.due_on.isoformat()}
                          for r in points],
        "versions": list_plans(session, actor, pid, plan.assessment_id),
        "agencies": [{"id": i, "name": n, "kind": k} for i, n, k in session.execute(
            select(Agency.id, Agency.name, Agency.kind).order_by(Agency.name))],
        "today": today.isoformat(),
    }
