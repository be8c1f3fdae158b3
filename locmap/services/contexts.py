"""Every kind of context (issue 19): peer groups, schools and online spaces.

A peer group, a school or an online space is a place of its kind (a peer group and an
online space have no map location), so its assessments, plans, reviews, KPIs and PDFs are
the places' own (:mod:`locmap.services.assessments`, :mod:`locmap.services.plans`, ...).
This module adds what differs by kind:

* a **peer group** is seeded from a group of the pilot's network: the young people in it
  (pseudonyms) and the places they share are copied onto its profile, and its assessment
  answers the toolkit's peer-group prompts;
* a **school** assessment is the self-assessment: its areas rated red/amber/green with
  evidence, and two versions compare area by area;
* an **online space** has a platform, group or channel, moderation contact and reporting
  route, and indicators from the incidents recorded at it.

The context section of an assessment version lives in ``context_answer``; editing it
bumps the assessment's version (a stale form answers 409) and is audited. A new version
starts from its parent's answers.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment import context_kinds as ck
from locmap.assessment.disclosure import partner_value
from locmap.errors import Conflict, InvalidData, NotFound
from locmap.models import (
    Assessment,
    ContextAnswer,
    ContextProfile,
    Incident,
    Person,
    Pilot,
    Place,
)
from locmap.queries.at_place import ids_at_place
from locmap.services import assessments, audit, lifecycle, network, places, reviews
from locmap.services.permissions import Actor, can, require
from locmap.services.versioning import check_version
from locmap.vocab import label

__all__ = [
    "ASSESSED_KINDS", "PEER_GROUP_PROMPTS", "SCHOOL_AREAS", "RAG", "ONLINE_FIELDS",
    "contexts_overview", "seed_peer_group", "start_school", "create_online",
    "seed_from_referral", "section", "section_kind", "update_section", "update_profile",
    "check_ready", "compare_school",
]

ASSESSED_KINDS = ck.ASSESSED_KINDS
PEER_GROUP_PROMPTS = ck.PEER_GROUP_PROMPTS
SCHOOL_AREAS = ck.SCHOOL_AREAS
RAG = ck.RAG
ONLINE_FIELDS = ck.ONLINE_FIELDS
_FIELD_LIMIT = 200


def _place(session: Session, pilot_id: int, place_id: int) -> Place:
    p = session.get(Place, place_id)
    if p is None or p.pilot_id != pilot_id or p.deleted_at is not None:
        raise NotFound("No such place in this pilot.")
    return p


def _latest(session: Session, place_id: int) -> Assessment | None:
    return session.scalar(select(Assessment).where(Assessment.place_id == place_id)
                          .order_by(Assessment.version_no.desc()).limit(1))


def contexts_overview(session: Session, actor: Actor, pilot_id: int, *,
                      as_of: dt.date | None = None) -> dict[str, Any]:
    """The pilot's peer groups, schools and online spaces with their latest assessment, and
    what the forms offer: the network's groups today and the schools among the places.
    """
    require(actor, pilot_id, "assessment.view")
    rows = session.scalars(select(Place).where(
        Place.pilot_id == pilot_id, Place.deleted_at.is_(None),
        Place.kind.in_(ASSESSED_KINDS)).order_by(Place.kind, Place.name)).all()
    contexts = []
    pilot = session.get_one(Pilot, pilot_id)
    for p in rows:
        a = _latest(session, p.id)
        contexts.append({
            "place_id": p.id, "name": p.name, "kind": p.kind, "kind_label": _kind_label(p.kind),
            "assessment": None if a is None else {
                "id": a.id, "version_no": a.version_no, "status": a.status,
                "label": reviews.status_label(session, pilot, "assessment", a)}})
    groups: list[dict[str, Any]] = []
    if can(actor, pilot_id, "assessment.edit"):
        result, _ = network.analysis(session, actor, pilot_id, as_of=as_of or clock.today(),
                                     page="contexts")
        groups = [{"label": g.label, "size": len(g.members)} for g in result.groups.groups]
    schools = [{"id": p.id, "name": p.name} for p in session.scalars(select(Place).where(
        Place.pilot_id == pilot_id, Place.deleted_at.is_(None), Place.kind == "school")
        .order_by(Place.name))]
    return {"contexts": contexts, "groups": groups, "schools": schools}


def _kind_label(kind: str) -> str:
    return ck.KIND_LABELS.get(kind) or label(kind)


def _start(session: Session, actor: Actor, pilot_id: int, place: Place) -> Assessment:
    try:
        a = assessments.start_assessment(session, actor, pilot_id, place.id)
    except Conflict as exc:  # the open draft carries on
        a = session.get_one(Assessment, int(exc.details["assessment_id"]))
    _answers(session, a, place.kind)
    return a


def seed_peer_group(session: Session, actor: Actor, pilot_id: int, group_label: str, *,
                    name: str = "", as_of: dt.date | None = None) -> Assessment:
    """A peer group from a group of the network (as of a date) and its draft assessment."""
    require(actor, pilot_id, "assessment.edit")
    require(actor, pilot_id, "place.edit")
    as_of = as_of or clock.today()
    result, records = network.analysis(session, actor, pilot_id, as_of=as_of)
    group = next((g for g in result.groups.groups if g.label == group_label), None)
    if group is None:
        raise InvalidData(f"No {group_label or 'group'} in this pilot's network on {as_of}.",
                          details={"field": "group"})
    shared = [p.place_id for p in result.places.places
              if any(g.label == group_label for g in p.groups)]
    title = name.strip() or f"Peer group ({group.label}, {as_of.isoformat()})"
    feature = places.create_place(session, actor, pilot_id, {
        "name": title[:_FIELD_LIMIT], "kind": "peer_group",
        "notes": f"Seeded from {group.label} of the peer network on {as_of.isoformat()}."})
    place = session.get_one(Place, int(feature["id"]))
    session.add(ContextProfile(place_id=place.id, pilot_id=pilot_id, kind="peer_group",
                               source_group=f"{group.label} on {as_of.isoformat()}",
                               member_ids=[int(m) for m in group.members],
                               shared_place_ids=[int(s) for s in shared], details={}))
    session.flush()
    audit.record(session, actor, "create", "context_profile", place.id, pilot_id=pilot_id,
                 personal_data=True,
                 detail={"kind": "peer_group", "group": group.label, "as_of": str(as_of),
                         "young_people": len(group.members), "places": len(shared)})
    return _start(session, actor, pilot_id, place)


def seed_from_referral(session: Session, actor: Actor, pilot_id: int, place_id: int,
                       person_ids: list[int]) -> None:
    """A peer group created by a Level 2 screening: the referral's children are its young
    people (the profile can be reseeded from the network later).
    """
    place = _place(session, pilot_id, place_id)
    if session.get(ContextProfile, place.id) is None:
        session.add(ContextProfile(place_id=place.id, pilot_id=pilot_id, kind=place.kind,
                                   member_ids=sorted(person_ids), shared_place_ids=[],
                                   details={}, source_group="context referral"))
        session.flush()


def start_school(session: Session, actor: Actor, pilot_id: int, place_id: int) -> Assessment:
    """The school's self-assessment: a draft (or the open one) of a place of kind school."""
    require(actor, pilot_id, "assessment.edit")
    if not place_id:
        raise InvalidData("Choose a school.", details={"field": "place_id"})
    place = _place(session, pilot_id, place_id)
    if place.kind != "school":
        raise InvalidData(f"{place.name} is not a school: choose a school.",
                          details={"field": "place_id"})
    if session.get(ContextProfile, place.id) is None:
        session.add(ContextProfile(place_id=place.id, pilot_id=pilot_id, kind="school",
                                   member_ids=[], shared_place_ids=[], details={}))
        session.flush()
    return _start(session, actor, pilot_id, place)


def _details(data: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, heading in ONLINE_FIELDS:
        value = data.get(key, "")
        if not isinstance(value, str) or len(value.strip()) > _FIELD_LIMIT:
            raise InvalidData(f"{heading}: text of at most {_FIELD_LIMIT} characters.",
                              details={"field": key})
        out[key] = value.strip()
    if not out["platform"]:
        raise InvalidData("Say which platform the online space is on.",
                          details={"field": "platform"})
    return out


def create_online(session: Session, actor: Actor, pilot_id: int,
                  data: dict[str, Any]) -> Assessment:
    """An online space (its platform, channel, moderation contact, reporting route) and its
    draft assessment.
    """
    require(actor, pilot_id, "assessment.edit")
    details = _details(data)
    name = (data.get("name") or "").strip() or " · ".join(
        v for v in (details["platform"], details["channel"]) if v)
    feature = places.create_place(session, actor, pilot_id, {
        "name": name[:_FIELD_LIMIT], "kind": "online"})
    place = session.get_one(Place, int(feature["id"]))
    session.add(ContextProfile(place_id=place.id, pilot_id=pilot_id, kind="online",
                               member_ids=[], shared_place_ids=[], details=details))
    session.flush()
    audit.record(session, actor, "create", "context_profile", place.id, pilot_id=pilot_id,
                 detail={"kind": "online"})
    return _start(session, actor, pilot_id, place)


def update_profile(session: Session, actor: Actor, pilot_id: int, place_id: int,
                   data: dict[str, Any]) -> ContextProfile:
    """Change an online space's platform, channel, moderation contact or reporting route."""
    require(actor, pilot_id, "place.edit")
    place = _place(session, pilot_id, place_id)
    if place.kind != "online":
        raise InvalidData("This place is not an online space.", details={"field": "place_id"})
    profile = session.get(ContextProfile, place.id)
    if profile is None:  # an online space created by a referral's screening
        profile = ContextProfile(place_id=place.id, pilot_id=pilot_id, kind="online",
                                 member_ids=[], shared_place_ids=[], details={})
        session.add(profile)
        session.flush()
    check_version(session, "online space", profile, data.get("version"))
    profile.details = _details(data)
    session.flush()
    audit.record(session, actor, "update", "context_profile", place.id, pilot_id=pilot_id,
                 detail={"kind": "online"})
    return profile


def _answers(session: Session, a: Assessment, kind: str) -> ContextAnswer:
    row = session.get(ContextAnswer, a.id)
    if row is None:
        parent = session.get(ContextAnswer, a.parent_id) if a.parent_id else None
        row = ContextAnswer(assessment_id=a.id, kind=kind,
                            answers=dict(parent.answers) if parent else {})
        session.add(row)
        session.flush()
    return row


def _stored_answers(session: Session, a: Assessment) -> dict[str, Any]:
    stored = session.get(ContextAnswer, a.id)
    if stored is None and a.parent_id is not None:  # a new version starts from its parent's
        stored = session.get(ContextAnswer, a.parent_id)
    return dict(stored.answers) if stored else {}


def _online_indicators(session: Session, pilot_id: int, place_id: int) -> dict[str, Any]:
    rows = session.execute(select(Incident.category, Incident.occurred_at).where(
        Incident.pilot_id == pilot_id, Incident.id.in_(ids_at_place(pilot_id, place_id)))
    ).all()
    today = clock.today()
    since = dt.date(today.year - 1, today.month, 1)
    # Months of the partnership's calendar (an incident at 00:30 on 1 May BST is May's).
    local_days = [r.occurred_at.astimezone(clock.LOCAL_TZ).date() for r in rows]
    months = Counter(d.replace(day=1).isoformat() for d in local_days if d >= since)
    return {"incidents": len(rows),
            "by_category": [{"category": c, "label": label(c), "n": n}
                            for c, n in Counter(r.category for r in rows).most_common()],
            "last_12_months": [{"month": m, "n": months[m]} for m in sorted(months)],
            "since": since.isoformat()}


def section_kind(session: Session, actor: Actor, pilot_id: int,
                 assessment_id: int) -> str | None:
    """The kind of context section an assessment has, from its stored context (None for a
    neighbourhood place): a form's own word for the kind is never trusted.
    """
    a = assessments.get_assessment(session, actor, pilot_id, assessment_id)
    kind = _place(session, pilot_id, a.place_id).kind
    return kind if kind in ASSESSED_KINDS else None


def section(session: Session, actor: Actor, pilot_id: int,
            assessment_id: int, *, threshold: int) -> dict[str, Any] | None:
    """The context section of an assessment page (None for a neighbourhood place)."""
    a = assessments.get_assessment(session, actor, pilot_id, assessment_id)
    place = _place(session, pilot_id, a.place_id)
    if place.kind not in ASSESSED_KINDS:
        return None
    answers = _stored_answers(session, a)
    profile = session.get(ContextProfile, place.id)
    out: dict[str, Any] = {
        "kind": place.kind, "kind_label": _kind_label(place.kind), "place_id": place.id,
        "name": place.name, "assessment_id": a.id, "version": a.version,
        "status": a.status, "missing": ck.missing_answers(place.kind, answers),
        "profile_version": profile.version if profile else None,
        "source_group": profile.source_group if profile else "",
    }
    if place.kind == "peer_group":
        ids = profile.member_ids if profile else []
        out["young_people"] = sorted(session.scalars(select(Person.pseudonym).where(
            Person.pilot_id == pilot_id, Person.id.in_(ids))).all())
        shared = profile.shared_place_ids if profile else []
        out["places"] = [{"id": pid, "name": nm} for pid, nm in session.execute(
            select(Place.id, Place.name).where(Place.pilot_id == pilot_id,
                                               Place.id.in_(shared),
                                               Place.deleted_at.is_(None))
            .order_by(Place.name))]
        out["prompts"] = [{"key": k, "heading": h, "hint": hint, "text": answers.get(k, "")}
                          for k, h, hint in PEER_GROUP_PROMPTS]
        audit.record(session, actor, "read", "peer_group_people", place.id,
                     pilot_id=pilot_id, personal_data=True,
                     detail={"assessment_id": a.id})
    elif place.kind == "school":
        out["areas"] = [{"key": k, "heading": h, "hint": hint,
                         "rating": (answers.get(k) or {}).get("rating"),
                         "evidence": (answers.get(k) or {}).get("evidence", "")}
                        for k, h, hint in SCHOOL_AREAS]
        pilot = session.get_one(Pilot, pilot_id)
        out["others"] = [{"id": x.id, "version_no": x.version_no, "status": x.status,
                          "label": reviews.status_label(session, pilot, "assessment", x)}
                         for x in session.scalars(select(Assessment).where(
                             Assessment.place_id == place.id, Assessment.id != a.id)
                             .order_by(Assessment.version_no))]
    else:
        details = profile.details if profile else {}
        out["fields"] = [{"key": k, "label": lab, "value": details.get(k, "")}
                         for k, lab in ONLINE_FIELDS]
        ind = _online_indicators(session, pilot_id, place.id)
        if not can(actor, pilot_id, "aggregate.unsuppressed"):
            # Partners: the total alone, rounded and small counts withheld (a breakdown
            # would need the tables' joint protection, so it stays with the owning team).
            ind = {"incidents": partner_value(ind["incidents"], threshold), "by_category": [],
                   "last_12_months": [], "since": ind["since"], "suppressed": True}
        out["indicators"] = ind
    return out


def update_section(session: Session, actor: Actor, pilot_id: int, assessment_id: int,
                   answers: dict[str, Any], *, version: int | None) -> Assessment:
    """Write a draft's context section (a stale version answers 409)."""
    a = assessments.get_assessment(session, actor, pilot_id, assessment_id,
                                   permission="assessment.edit")
    lifecycle.assert_draft(a)
    check_version(session, "assessment", a, version)
    place = _place(session, pilot_id, a.place_id)
    if place.kind not in ASSESSED_KINDS or place.kind == "online":
        raise InvalidData("This assessment has no context section to write.")
    try:
        clean = ck.clean_answers(place.kind, answers)
    except ValueError as exc:
        raise InvalidData(str(exc), details={"field": "answers"}) from exc
    row = _answers(session, a, place.kind)
    row.answers = clean
    a.updated_at = clock.now()  # bumps the assessment's version
    session.flush()
    audit.record(session, actor, "update", "assessment", a.id, pilot_id=pilot_id,
                 detail={"changed": ["context_section"], "kind": place.kind})
    return a


def check_ready(session: Session, a: Assessment) -> None:
    """Refuse to submit a context assessment whose section is not written."""
    place = session.get(Place, a.place_id)
    if place is None or place.kind not in ASSESSED_KINDS:
        return
    missing = ck.missing_answers(place.kind, _stored_answers(session, a))
    if missing:
        raise InvalidData("Write the context section before submitting: "
                          + ", ".join(missing) + ".", details={"missing": missing})


def compare_school(session: Session, actor: Actor, pilot_id: int, a_id: int,
                   b_id: int) -> dict[str, Any]:
    """Two self-assessments of the same school, area by area."""
    a = assessments.get_assessment(session, actor, pilot_id, a_id)
    b = assessments.get_assessment(session, actor, pilot_id, b_id)
    if a.place_id != b.place_id:
        raise InvalidData("Only two assessments of the same school can be compared.")
    place = _place(session, pilot_id, a.place_id)
    if place.kind != "school":
        raise InvalidData("This is not a school's self-assessment.")
    rows = ck.compare_school(_stored_answers(session, a), _stored_answers(session, b))
    return {"school": {"id": place.id, "name": place.name},
            "a": {"id": a.id, "version_no": a.version_no, "status": a.status},
            "b": {"id": b.id, "version_no": b.version_no, "status": b.status},
            "areas": rows,
            "better": sum(r["change"] == "better" for r in rows),
            "worse": sum(r["change"] == "worse" for r in rows)}
