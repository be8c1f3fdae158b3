"""Context referrals and their screening (issue 19, the Contextual Safeguarding pathway).

Any member refers a **context** — an existing place, a new place, a peer group of the
network, a school or an online space — with the concern, the harm types, the children
affected (pseudonyms of the pilot's network, or a count when the referrer does not know
them), who referred it from which agency and how urgent it is. The owning team screens it
against the pilot's **context thresholds** (universal / targeted / specialist, the criteria
written per pilot) and decides: no further action, a Level 1 response (an action on an
existing draft plan, made by :func:`locmap.services.plans.add_action`) or a Level 2
assessment (the place is created if it is new, then a draft assessment started by
:func:`locmap.services.assessments.start_assessment` is linked to the referral).

The concern is free text about children: the owning team reads it (and the member who
wrote it); everyone else sees that there is one. Reads of a referral by the owning team
are audited as personal-data reads. The measures (by agency and kind, days to decision and
to a submitted assessment, outcomes) are exact for the owning team and, for partners,
counted at the last completed quarter end and protected jointly by
:func:`locmap.assessment.disclosure.protect`.
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment.dashboard import partner_quarter_end
from locmap.assessment.disclosure import MARK, TableSpec, partner_value, protect
from locmap.errors import Conflict, InvalidData, NotFound
from locmap.models import Agency, Assessment, Person, Place, Plan, User
from locmap.models.pathway import ContextReferral, ContextThreshold, ReferralPerson
from locmap.services import assessments, audit, contexts, lifecycle, places, plans
from locmap.services.network import person_ids_named
from locmap.services.permissions import Actor, can, require
from locmap.services.versioning import check_version
from locmap.vocab import (
    CONTEXT_KIND_LABELS,
    CONTEXT_KINDS,
    HARM_CATEGORIES,
    NO_LOCATION_KINDS,
    PLACE_KINDS,
    REFERRAL_URGENCIES,
    SCREENING_OUTCOMES,
    THRESHOLD_LEVELS,
    label,
)

__all__ = [
    "DEFAULT_CRITERIA", "thresholds", "set_threshold", "create_referral", "list_referrals",
    "referral_view", "screen_referral", "referral_measures", "form_options", "text_field",
]

# What a pilot's thresholds say until its coordinator writes its own.
DEFAULT_CRITERIA = {
    "universal": "Concerns that the services already working in the context can meet: "
                 "information shared, no extra multi-agency response needed.",
    "targeted": "A known plan or partner can respond: a Level 1 action on an existing plan "
                "for the context.",
    "specialist": "Significant or repeated harm in the context, or several children "
                  "affected: a Level 2 context assessment.",
}
# Level 2 of these kinds creates a place of this kind (an online space has no location).
_PLACE_KIND_OF = {"school": "school", "online": "online", "peer_group": "peer_group"}
_MAX_TEXT = 10_000


def _pilot_place(session: Session, pilot_id: int, place_id: Any) -> Place:
    place = session.get(Place, place_id) if isinstance(place_id, int) else None
    if place is None or place.pilot_id != pilot_id or place.deleted_at is not None:
        raise InvalidData("No such place in this pilot.", details={"field": "place_id"})
    return place


def thresholds(session: Session, actor: Actor, pilot_id: int) -> list[dict[str, Any]]:
    """The three levels with their criteria (the defaults until the pilot writes its own)."""
    require(actor, pilot_id, "referral.view")
    rows = {t.level: t for t in session.scalars(
        select(ContextThreshold).where(ContextThreshold.pilot_id == pilot_id))}
    return [{"level": level, "label": label(level),
             "criteria": rows[level].criteria if level in rows else DEFAULT_CRITERIA[level],
             "version": rows[level].version if level in rows else 0}
            for level in THRESHOLD_LEVELS]


def set_threshold(session: Session, actor: Actor, pilot_id: int, level: str, criteria: str,
                  *, version: int | None) -> ContextThreshold:
    """Write a level's criteria (``version`` 0 for one still at the default)."""
    require(actor, pilot_id, "threshold.edit")
    if level not in THRESHOLD_LEVELS:
        raise InvalidData(f"level must be one of {', '.join(THRESHOLD_LEVELS)}.")
    text = (criteria or "").strip()
    if not text or len(text) > _MAX_TEXT:
        raise InvalidData("Write the criteria (at most 10,000 characters).",
                          details={"field": "criteria"})
    row = session.scalar(select(ContextThreshold).where(
        ContextThreshold.pilot_id == pilot_id, ContextThreshold.level == level))
    if row is None:
        if version not in (0, None):
            raise Conflict("These criteria were changed by someone else since you opened "
                           "them. Review them, then apply yours again.")
        row = ContextThreshold(pilot_id=pilot_id, level=level, criteria=text)
        session.add(row)
    else:
        check_version(session, "threshold", row, version)
        row.criteria = text
    session.flush()
    audit.record(session, actor, "update", "context_threshold", row.id, pilot_id=pilot_id,
                 detail={"level": level})
    return row


def text_field(data: dict[str, Any], key: str, *, required: str | None = None,
               limit: int = _MAX_TEXT) -> str:
    """``data[key]`` stripped; refused (with the field) unless text within ``limit``, or
    when ``required`` (the message) and empty.
    """
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidData(f"{key} must be text.", details={"field": key})
    text = (value or "").strip()
    if required and not text:
        raise InvalidData(required, details={"field": key})
    if len(text) > limit:
        raise InvalidData(f"{key} is at most {limit:,} characters.", details={"field": key})
    return text


def _children(session: Session, pilot_id: int, data: dict[str, Any]) -> tuple[list[int],
                                                                               int | None]:
    raw = data.get("children") or []
    if isinstance(raw, str):
        raw = [p for p in raw.replace(",", " ").split() if p]
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise InvalidData("children must be a list of pseudonyms.", details={"field": "children"})
    names = list(dict.fromkeys(p.strip() for p in raw if p.strip()))
    found = person_ids_named(session, pilot_id, names)
    unknown = [n for n in names if n not in found]
    if unknown:
        raise InvalidData(f"No young person with the pseudonym {', '.join(unknown)} in this "
                          "pilot's network.", details={"field": "children"})
    kinds = {k: v for k, v in session.execute(select(Person.id, Person.kind)
                                 .where(Person.id.in_(found.values())))}
    if any(k != "young_person" for k in kinds.values()):
        raise InvalidData("Children affected are young people of the network.",
                          details={"field": "children"})
    count = data.get("children_count")
    if count in ("", None):
        count = None
    else:
        try:
            count = int(count)
        except (TypeError, ValueError) as exc:
            raise InvalidData("children_count must be a whole number.",
                              details={"field": "children_count"}) from exc
        if isinstance(data.get("children_count"), bool) or not 0 <= count <= 10_000:
            raise InvalidData("children_count must be a whole number from 0.",
                              details={"field": "children_count"})
    if names and count is not None:
        raise InvalidData("Give the children as pseudonyms or as a count, not both.",
                          details={"field": "children_count"})
    return [found[n] for n in names], count


def _context(session: Session, pilot_id: int, data: dict[str, Any]) -> dict[str, Any]:
    kind = data.get("context_kind")
    if kind not in CONTEXT_KINDS:
        raise InvalidData(f"context_kind must be one of {', '.join(CONTEXT_KINDS)}.",
                          details={"field": "context_kind"})
    out: dict[str, Any] = {"context_kind": kind, "place_id": None, "context_name": "",
                           "new_place_kind": None, "new_place_geometry": None}
    if kind == "place":
        place = _pilot_place(session, pilot_id, data.get("place_id"))
        out["place_id"] = place.id
        return out
    out["context_name"] = text_field(data, "context_name", limit=200,
                                required="Say what identifies the context (its name, the "
                                         "group, the school, the platform and channel).")
    if kind in ("new_place", "school"):
        place_kind = "school" if kind == "school" else data.get("new_place_kind") or "other"
        if place_kind not in PLACE_KINDS or place_kind in NO_LOCATION_KINDS:
            raise InvalidData("new_place_kind must be a kind of place with a location.",
                              details={"field": "new_place_kind"})
        geometry = data.get("geometry")
        if geometry is not None and not isinstance(geometry, dict):
            raise InvalidData("geometry must be a GeoJSON geometry.",
                              details={"field": "geometry"})
        if kind == "new_place" and geometry is None:
            raise InvalidData("A new place needs its location on the map.",
                              details={"field": "geometry"})
        if geometry is not None:
            places.check_geometry_fits_kind(place_kind, places._parse_geometry(geometry))
        out["new_place_kind"] = place_kind
        out["new_place_geometry"] = geometry
    return out


def create_referral(session: Session, actor: Actor, pilot_id: int,
                    data: dict[str, Any]) -> ContextReferral:
    """Record a referral of a context (any member of the pilot)."""
    require(actor, pilot_id, "referral.make")
    context = _context(session, pilot_id, data)
    concern = text_field(data, "concern", required="Describe the concern about the context.")
    harms = data.get("harm_types") or []
    if not isinstance(harms, list) or not harms or any(h not in HARM_CATEGORIES for h in harms):
        raise InvalidData("Choose at least one harm type from the list.",
                          details={"field": "harm_types"})
    people, count = _children(session, pilot_id, data)
    referrer = text_field(data, "referrer_name", limit=200, required="Who referred it?")
    agency_id = data.get("referrer_agency_id") or None
    if agency_id is not None and (not isinstance(agency_id, int)
                                  or session.get(Agency, agency_id) is None):
        raise InvalidData("No such agency.", details={"field": "referrer_agency_id"})
    urgency = data.get("urgency") or "routine"
    if urgency not in REFERRAL_URGENCIES:
        raise InvalidData(f"urgency must be one of {', '.join(REFERRAL_URGENCIES)}.",
                          details={"field": "urgency"})
    referred_on = plans.parse_date(data.get("referred_on"), "referred_on") or clock.today()
    if referred_on > clock.today():
        raise InvalidData("referred_on cannot be in the future.",
                          details={"field": "referred_on"})
    r = ContextReferral(pilot_id=pilot_id, concern=concern,
                        harm_types=list(dict.fromkeys(harms)), children_count=count,
                        referrer_name=referrer, referrer_agency_id=agency_id, urgency=urgency,
                        referred_on=referred_on, created_by_id=actor.user_id, **context)
    session.add(r)
    session.flush()
    session.add_all(ReferralPerson(referral_id=r.id, person_id=p, pilot_id=pilot_id)
                    for p in people)
    session.flush()
    audit.record(session, actor, "create", "context_referral", r.id, pilot_id=pilot_id,
                 personal_data=bool(people),
                 detail={"context_kind": context["context_kind"], "urgency": urgency})
    return r


def _get(session: Session, actor: Actor, pilot_id: int, referral_id: int,
         permission: str = "referral.view") -> ContextReferral:
    require(actor, pilot_id, permission)
    r = session.get(ContextReferral, referral_id)
    if r is None or r.pilot_id != pilot_id:
        raise NotFound("No such referral in this pilot.")
    return r


def _context_label(r: ContextReferral, place_names: dict[int, str]) -> str:
    if r.place_id is not None and r.place_id in place_names:
        return place_names[r.place_id]
    return r.context_name or "(no name)"


def _days(r: ContextReferral, submitted: dt.datetime | None) -> dict[str, int | None]:
    def since(at: dt.datetime | None) -> int | None:
        return None if at is None else (at.astimezone(clock.LOCAL_TZ).date()
                                        - r.referred_on).days
    return {"days_to_decision": since(r.screened_at), "days_to_assessment": since(submitted)}


def _dicts(session: Session, actor: Actor, pilot_id: int,
           rows: list[ContextReferral]) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    place_names = {k: v for k, v in session.execute(select(Place.id, Place.name)
                                       .where(Place.pilot_id == pilot_id))}
    agencies = {k: v for k, v in session.execute(select(Agency.id, Agency.name))}
    users = {k: v for k, v in session.execute(select(User.id, User.name).where(User.id.in_(
        {r.screened_by_id for r in rows if r.screened_by_id})))}
    children: dict[int, list[str]] = {i: [] for i in ids}
    for rid, pseudonym in session.execute(
            select(ReferralPerson.referral_id, Person.pseudonym)
            .join(Person, Person.id == ReferralPerson.person_id)
            .where(ReferralPerson.referral_id.in_(ids)).order_by(Person.pseudonym)):
        children[rid].append(pseudonym)
    submitted = {k: v for k, v in session.execute(
        select(Assessment.id, Assessment.submitted_at).where(
            Assessment.id.in_({r.assessment_id for r in rows if r.assessment_id})))}
    team = can(actor, pilot_id, "evidence.restricted_text")
    out = []
    for r in rows:
        mine = r.created_by_id is not None and r.created_by_id == actor.user_id
        out.append({
            "id": r.id, "pilot_id": pilot_id, "context_kind": r.context_kind,
            "context_kind_label": CONTEXT_KIND_LABELS[r.context_kind],
            "context": _context_label(r, place_names), "place_id": r.place_id,
            "context_name": r.context_name, "new_place_kind": r.new_place_kind,
            "concern": r.concern if team or mine else None,
            "harm_types": list(r.harm_types),
            "children": children[r.id], "children_count": r.children_count,
            "referrer_name": r.referrer_name, "referrer_agency_id": r.referrer_agency_id,
            "referrer_agency": agencies.get(r.referrer_agency_id or 0),
            "urgency": r.urgency, "referred_on": r.referred_on.isoformat(),
            "status": "screened" if r.outcome else "awaiting screening",
            "threshold_level": r.threshold_level, "outcome": r.outcome,
            "decision_reason": (r.decision_reason if team or mine else None)
            if r.outcome else None,
            "screened_by": users.get(r.screened_by_id or 0),
            "screened_at": r.screened_at.isoformat() if r.screened_at else None,
            "action_id": r.action_id, "assessment_id": r.assessment_id,
            "version": r.version,
            **_days(r, submitted.get(r.assessment_id or 0)),
        })
    return out


def list_referrals(session: Session, actor: Actor, pilot_id: int, *,
                   status: str | None = None) -> list[dict[str, Any]]:
    """The pilot's referrals, newest first (``status``: awaiting or screened)."""
    require(actor, pilot_id, "referral.view")
    q = select(ContextReferral).where(ContextReferral.pilot_id == pilot_id)
    if status == "awaiting":
        q = q.where(ContextReferral.outcome.is_(None))
    elif status == "screened":
        q = q.where(ContextReferral.outcome.is_not(None))
    elif status:
        raise InvalidData("status must be awaiting or screened.")
    rows = list(session.scalars(q.order_by(ContextReferral.referred_on.desc(),
                                           ContextReferral.id.desc())))
    return _dicts(session, actor, pilot_id, rows)


def referral_view(session: Session, actor: Actor, pilot_id: int,
                  referral_id: int) -> dict[str, Any]:
    """One referral; the owning team's read of its concern is audited."""
    r = _get(session, actor, pilot_id, referral_id)
    out = _dicts(session, actor, pilot_id, [r])[0]
    if out["concern"] is not None:
        audit.record(session, actor, "read", "context_referral", r.id, pilot_id=pilot_id,
                     personal_data=True)
    return out


def _level_1(session: Session, actor: Actor, pilot_id: int, r: ContextReferral,
             data: dict[str, Any]) -> int:
    plan_id = data.get("plan_id")
    if not isinstance(plan_id, int) or isinstance(plan_id, bool):
        raise InvalidData("A Level 1 response is an action on an existing plan: choose the "
                          "plan.", details={"field": "plan_id"})
    plan = plans.get_plan(session, actor, plan_id, pilot_id=pilot_id, permission="plan.edit")
    if plan.status != lifecycle.DRAFT:
        raise Conflict("Actions are added to a draft plan: start a new version of this plan "
                       "first, then screen the referral.", details={"plan_id": plan.id})
    action = data.get("action") or {}
    if not isinstance(action, dict):
        raise InvalidData("action must be an object.", details={"field": "action"})
    fields = {k: action[k] for k in ("description", "category", "owner_agency_id", "lead",
                                     "due_on") if k in action}
    fields.setdefault("description", "")
    fields["description"] = (f"{fields['description']} (context referral "
                             f"{r.id})").strip() if fields["description"] else ""
    return plans.add_action(session, actor, plan.id, fields, pilot_id=pilot_id).id


def _level_2(session: Session, actor: Actor, pilot_id: int, r: ContextReferral) -> int:
    if r.place_id is None:
        if r.context_kind == "school" and r.new_place_geometry is None:
            raise InvalidData("A Level 2 assessment of a school needs its location: refer it "
                              "again with the school drawn on the map.",
                              details={"field": "outcome"})
        kind = _PLACE_KIND_OF.get(r.context_kind) or r.new_place_kind or "other"
        feature = places.create_place(session, actor, pilot_id, {
            "name": r.context_name, "kind": kind,
            "geometry": None if kind in NO_LOCATION_KINDS else r.new_place_geometry,
            "notes": f"Created from context referral {r.id}."})
        r.place_id = int(feature["id"])
        if kind == "peer_group":  # the children referred are the group's young people
            contexts.seed_from_referral(session, actor, pilot_id, r.place_id, list(
                session.scalars(select(ReferralPerson.person_id).where(
                    ReferralPerson.referral_id == r.id))))
    else:
        _pilot_place(session, pilot_id, r.place_id)
    try:
        return assessments.start_assessment(session, actor, pilot_id, r.place_id).id
    except Conflict as exc:  # the place's open draft answers the referral too
        return int(exc.details["assessment_id"])


def screen_referral(session: Session, actor: Actor, pilot_id: int, referral_id: int,
                    data: dict[str, Any]) -> ContextReferral:
    """Decide a referral against the thresholds: no further action, Level 1 or Level 2.

    ``data``: ``version`` (of the referral read), ``threshold_level``, ``outcome``,
    ``reason``; for Level 1 ``plan_id`` and ``action`` (description, category, owner,
    lead, due date). A referral is screened once (409 after).
    """
    r = _get(session, actor, pilot_id, referral_id, "referral.screen")
    check_version(session, "referral", r, data.get("version"))
    if r.outcome is not None:
        raise Conflict("This referral has been screened already.",
                       details={"outcome": r.outcome})
    level = data.get("threshold_level")
    if level not in THRESHOLD_LEVELS:
        raise InvalidData(f"threshold_level must be one of {', '.join(THRESHOLD_LEVELS)}.",
                          details={"field": "threshold_level"})
    outcome = data.get("outcome")
    if outcome not in SCREENING_OUTCOMES:
        raise InvalidData(f"outcome must be one of {', '.join(SCREENING_OUTCOMES)}.",
                          details={"field": "outcome"})
    reason = text_field(data, "reason", required="Write the reason for the decision.")
    if outcome == "level_1":
        r.action_id = _level_1(session, actor, pilot_id, r, data)
    elif outcome == "level_2":
        r.assessment_id = _level_2(session, actor, pilot_id, r)
    r.threshold_level, r.outcome, r.decision_reason = level, outcome, reason
    r.screened_by_id, r.screened_at = actor.user_id, clock.now()
    session.flush()
    audit.record(session, actor, "screen", "context_referral", r.id, pilot_id=pilot_id,
                 detail={"outcome": outcome, "threshold_level": level,
                         "action_id": r.action_id, "assessment_id": r.assessment_id})
    return r


def form_options(session: Session, actor: Actor, pilot_id: int) -> dict[str, Any]:
    """What the referral and screening forms offer: places, agencies, draft plans, and the
    user's own name and agency (the referral form's defaults).
    """
    require(actor, pilot_id, "referral.view")
    place_rows = session.execute(select(Place.id, Place.name, Place.kind).where(
        Place.pilot_id == pilot_id, Place.deleted_at.is_(None)).order_by(Place.name)).all()
    agencies = session.execute(select(Agency.id, Agency.name).where(Agency.active)
                               .order_by(Agency.name)).all()
    drafts = session.execute(
        select(Plan.id, Plan.version_no, Place.name).join(Assessment,
                                                          Assessment.id == Plan.assessment_id)
        .join(Place, Place.id == Assessment.place_id)
        .where(Place.pilot_id == pilot_id, Plan.status == lifecycle.DRAFT)
        .order_by(Place.name)).all()
    me = session.get(User, actor.user_id) if actor.user_id else None
    return {"me": {"name": me.name if me else "", "agency_id": me.agency_id if me else None},
            "places": [{"id": i, "name": n, "kind": k} for i, n, k in place_rows],
            "agencies": [{"id": i, "name": n} for i, n in agencies],
            "draft_plans": [{"id": i, "label": f"{n} · plan v{v}"} for i, v, n in drafts]}


# --- measures -------------------------------------------------------------------------


def _median(values: list[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def referral_measures(session: Session, actor: Actor, pilot_id: int, *,
                      today: dt.date | None = None, threshold: int,
                      since: dt.date | None = None) -> dict[str, Any]:
    """Referrals by source agency and context kind, days to decision and to a submitted
    assessment, and outcomes (of the referrals received from ``since``, when given: the
    board's pack counts a quarter's or a year's).

    The owning team gets exact figures up to today. Partners get the referrals received by
    the last completed quarter end (and what had happened to them by then), every count
    rounded to base 5 with small ones withheld jointly across the two tables
    (:func:`~locmap.assessment.disclosure.protect`), and a median of days only when at
    least ``threshold`` referrals make it.
    """
    require(actor, pilot_id, "dashboard.view")
    today = today or clock.today()
    partner = not can(actor, pilot_id, "aggregate.unsuppressed")
    as_of = partner_quarter_end(None, today) if partner else today
    rows = list(session.scalars(select(ContextReferral).where(
        ContextReferral.pilot_id == pilot_id, ContextReferral.referred_on <= as_of,
        *([ContextReferral.referred_on >= since] if since else []))))
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), clock.LOCAL_TZ)
    submitted = {k: v for k, v in session.execute(
        select(Assessment.id, Assessment.submitted_at).where(
            Assessment.id.in_({r.assessment_id for r in rows if r.assessment_id})))}

    def by_then(at: dt.datetime | None) -> dt.datetime | None:
        return at if at is not None and at < end else None

    outcomes = {o: 0 for o in SCREENING_OUTCOMES}
    to_decision, to_assessment = [], []
    for r in rows:
        decided = by_then(r.screened_at)
        if decided is not None and r.outcome:
            outcomes[r.outcome] += 1
        days = _days(r, by_then(submitted.get(r.assessment_id or 0)))
        if decided is not None and days["days_to_decision"] is not None:
            to_decision.append(days["days_to_decision"])
        if days["days_to_assessment"] is not None:
            to_assessment.append(days["days_to_assessment"])
    agencies = {k: v for k, v in session.execute(select(Agency.id, Agency.name))}
    source = {r.id: agencies.get(r.referrer_agency_id or 0, "No agency given") for r in rows}
    agency_names = sorted(set(source.values()))
    kinds = [k for k in CONTEXT_KINDS if any(r.context_kind == k for r in rows)]
    grid = [[0] * len(kinds) for _ in agency_names]
    for r in rows:
        grid[agency_names.index(source[r.id])][kinds.index(r.context_kind)] += 1
    result: dict[str, Any] = {
        "as_of": as_of.isoformat(), "partner_version": partner,
        "referrals": len(rows), "awaiting": sum(1 for r in rows if not by_then(r.screened_at)),
        "by_agency": {"rows": agency_names, "columns": [label(k) if k != "place" else
                                                         "Existing place" for k in kinds],
                      "cells": grid},
        "outcomes": {label(o): n for o, n in outcomes.items()},
        "days_to_decision": {"n": len(to_decision), "median": _median(to_decision)},
        "days_to_assessment": {"n": len(to_assessment), "median": _median(to_assessment)},
    }
    if not partner:
        return result
    specs = [TableSpec("outcomes", [[outcomes[o] for o in SCREENING_OUTCOMES]],
                       col_totals=False)]
    if grid:
        specs.insert(0, TableSpec("by_agency", grid))
    release = protect(specs, threshold=threshold)
    if grid:
        shown = release.tables["by_agency"].display()
        result["by_agency"]["cells"] = [list(row[:-1]) for row in shown[:-1]]
        result["by_agency"]["row_totals"] = [row[-1] for row in shown[:-1]]
        result["by_agency"]["column_totals"] = list(shown[-1])
        result["referrals"] = shown[-1][-1]
    else:
        result["referrals"] = 0
    shown_outcomes = release.tables["outcomes"].display()[0]
    result["outcomes"] = {label(o): v for o, v in zip(SCREENING_OUTCOMES, shown_outcomes,
                                                      strict=False)}
    result["awaiting"] = partner_value(result["awaiting"], threshold)
    for key in ("days_to_decision", "days_to_assessment"):
        n = result[key]["n"]
        result[key] = {"n": partner_value(n, threshold),
                       "median": result[key]["median"] if n >= threshold else MARK
                       if n else None}
    return result
