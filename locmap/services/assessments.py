"""Assessments of a place: start, edit the draft, submit, version and compare.

A draft copies the place's working set of safety factors (``assessment_id IS NULL``) with
their evidence links, so each version owns its factors and later edits to the working set
do not rewrite what was agreed. Submitting computes and stores the indicators snapshot
and a plain-language summary, then freezes the version: every later edit answers
:class:`Conflict` and "new version" makes a draft copy whose ``parent_id`` points back.
Every use case checks permissions first, validates, reads or writes, then audits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment import context_weighting as cw
from locmap.errors import Conflict, InvalidData, NotFound
from locmap.models import Assessment, ContextLink, ContextWeight, Pilot, SafetyFactor
from locmap.queries import assessment as q
from locmap.services import audit, lifecycle, weighting_records
from locmap.services.assessment_snapshot import compute_indicators
from locmap.services.assessment_summary import write_summary
from locmap.services.permissions import Actor, can, require
from locmap.services.snapshot_view import key_figure_changes, partner_factors, snapshot_view
from locmap.services.versioning import check_version
from locmap.vocab import CONFIDENCE, QUADRANTS, VOICES

__all__ = [
    "list_assessments", "start_assessment", "get_assessment", "assessment_view",
    "update_assessment", "submit_assessment", "new_version", "compare_assessments",
    "live_indicators", "weighting_of", "place_header",
]

SIDES = ("young_people", "guardianship", "environment")
_FACTOR_FIELDS = ("quadrant", "statement", "weight", "confidence", "voice")


def _place(session: Session, pilot_id: int, place_id: int) -> q.PlaceRow:
    place = q.place_row(session, place_id)
    if place is None or place.pilot_id != pilot_id:
        raise NotFound("No such place in this pilot.")
    return place


def place_header(session: Session, actor: Actor, pilot_id: int, place_id: int) -> q.PlaceRow:
    """The place a page is about (name, kind, GeoJSON geometry): in this pilot, or NotFound.

    Pages load it before anything that may fail on their arguments, so an error page can
    never show a place of another pilot.
    """
    require(actor, pilot_id, "place.view")
    return _place(session, pilot_id, place_id)


def get_assessment(session: Session, actor: Actor, pilot_id: int, assessment_id: int,
                   *, permission: str = "assessment.view") -> Assessment:
    """The assessment if it belongs to a place of the pilot and the actor may see it."""
    require(actor, pilot_id, permission)
    a = session.get(Assessment, assessment_id)
    if a is None:
        raise NotFound("No such assessment in this pilot.")
    _place(session, pilot_id, a.place_id)
    return a


def _editable(session: Session, actor: Actor, pilot_id: int, assessment_id: int,
              version: int | None, *, submitting: bool = False) -> Assessment:
    a = get_assessment(session, actor, pilot_id, assessment_id, permission="assessment.edit")
    lifecycle.assert_draft(a)
    if version is not None or not submitting:  # a change needs it; a submit may omit it
        check_version(session, "assessment", a, version, current=_header)
    return a


def list_assessments(session: Session, actor: Actor, pilot_id: int,
                     place_id: int) -> list[dict[str, Any]]:
    """Every version of the place's assessment, newest first."""
    require(actor, pilot_id, "assessment.view")
    _place(session, pilot_id, place_id)
    rows = session.scalars(select(Assessment).where(Assessment.place_id == place_id)
                           .order_by(Assessment.version_no.desc())).all()
    return [_header(a) for a in rows]


def _header(a: Assessment) -> dict[str, Any]:
    return {"id": a.id, "place_id": a.place_id, "version_no": a.version_no,
            "parent_id": a.parent_id, "status": a.status, "version": a.version,
            "submitted_at": a.submitted_at.isoformat() if a.submitted_at else None}


def _copy_factor(f: SafetyFactor, assessment: Assessment, actor: Actor) -> SafetyFactor:
    return SafetyFactor(
        place_id=f.place_id, assessment_id=assessment.id, quadrant=f.quadrant,
        statement=f.statement, weight=f.weight, confidence=f.confidence, voice=f.voice,
        created_by_id=actor.user_id, incidents=list(f.incidents),
        observations=list(f.observations), engagements=list(f.engagements))


def _factors(session: Session, place_id: int, assessment_id: int | None) -> list[SafetyFactor]:
    cond = (SafetyFactor.assessment_id.is_(None) if assessment_id is None
            else SafetyFactor.assessment_id == assessment_id)
    return list(session.scalars(select(SafetyFactor).where(
        SafetyFactor.place_id == place_id, cond).order_by(SafetyFactor.id)))


def start_assessment(session: Session, actor: Actor, pilot_id: int,
                     place_id: int) -> Assessment:
    """A new draft (next version number) owning copies of the working-set factors."""
    require(actor, pilot_id, "assessment.edit")
    place = _place(session, pilot_id, place_id)
    draft = session.scalar(select(Assessment.id).where(
        Assessment.place_id == place_id, Assessment.status == lifecycle.DRAFT))
    if draft is not None:
        raise Conflict("This place already has a draft assessment; carry on with it.",
                       details={"assessment_id": draft})
    number = (session.scalar(select(func.max(Assessment.version_no))
                             .where(Assessment.place_id == place_id)) or 0) + 1
    a = Assessment(place_id=place_id, version_no=number, status=lifecycle.DRAFT,
                   created_by_id=actor.user_id)
    a.contexts = [ContextWeight(name=place.name, share=cw.TOTAL, position=0,
                                reason="The place being assessed", place_id=place.id,
                                kind=cw.kind_of_place(place.kind))]
    session.add(a)
    session.flush()
    session.add_all(_copy_factor(f, a, actor) for f in _factors(session, place_id, None))
    session.flush()
    audit.record(session, actor, "create", "assessment", a.id, pilot_id=pilot_id,
                 detail={"place_id": place_id, "version_no": number})
    return a


def weighting_of(session: Session, a: Assessment) -> cw.ContextWeighting:
    """The stored context weighting as the pure :class:`ContextWeighting`."""
    links = session.scalars(select(ContextLink).where(ContextLink.assessment_id == a.id)
                            .order_by(ContextLink.id)).all()
    return cw.ContextWeighting(
        tuple(cw.Context(c.name, c.share, c.reason, c.kind, c.place_id) for c in a.contexts),
        tuple(cw.ContextLink(link.context_a, link.context_b, link.note) for link in links))


def _store_weighting(session: Session, a: Assessment, w: cw.ContextWeighting) -> None:
    try:
        cw.validate_weighting(w)
    except ValueError as exc:
        raise InvalidData(f"Context weighting: {exc}") from exc
    a.contexts.clear()
    session.flush()  # the unique (assessment, name) must free up before re-adding
    a.contexts.extend(ContextWeight(name=c.name, share=c.share, reason=c.reason, position=i,
                                    kind=c.kind, place_id=c.place_id)
                      for i, c in enumerate(w.contexts))
    for link in session.scalars(select(ContextLink).where(ContextLink.assessment_id == a.id)):
        session.delete(link)
    session.add_all(ContextLink(assessment_id=a.id, context_a=x.a, context_b=x.b, note=x.note)
                    for x in w.links)


def _context(c: dict[str, Any], pilot_id: int, session: Session,
             kept: frozenset[int]) -> cw.Context:
    """One context as sent: a record's name and kind are the record's (checked here)."""
    one = cw.Context(str(c.get("name") or "").strip(), c["share"], str(c.get("reason", "")),
                     str(c.get("kind") or "other"), c.get("place_id"))
    w = weighting_records.resolve(session, pilot_id, cw.ContextWeighting((one,)), kept=kept)
    return w.contexts[0]


def _weighting_change(session: Session, a: Assessment, pilot_id: int,
                      changes: dict[str, Any]) -> cw.ContextWeighting | None:
    w = weighting_of(session, a)
    kept = frozenset(c.place_id for c in w.contexts if c.place_id is not None)
    try:
        if "contexts" in changes:
            w = cw.ContextWeighting(
                tuple(_context(c, pilot_id, session, kept) for c in changes["contexts"]),
                tuple(cw.ContextLink(x["a"], x["b"], x.get("note", ""))
                      for x in changes.get("links", [(link.to_dict()) for link in w.links])))
        elif "set_share" in changes:
            s = changes["set_share"]
            w = cw.set_share(w, s["name"], s["share"])
        elif "add_context" in changes:
            c = _context({**changes["add_context"], "share": 0}, pilot_id, session, kept)
            w = cw.add_context(w, c.name, changes["add_context"]["share"],
                               str(changes["add_context"]["reason"]), c.kind, c.place_id)
        elif "remove_context" in changes:
            w = cw.remove_context(w, changes["remove_context"])
        elif "links" in changes:
            w = cw.ContextWeighting(w.contexts, tuple(
                cw.ContextLink(x["a"], x["b"], x.get("note", "")) for x in changes["links"]))
        else:
            return None
    except KeyError as exc:
        raise InvalidData(f"Context weighting: unknown context or missing field {exc}.") from exc
    except (ValueError, TypeError) as exc:
        raise InvalidData(f"Context weighting: {exc}") from exc
    return w


def _check_factor(data: dict[str, Any]) -> None:
    if "quadrant" in data and data["quadrant"] not in QUADRANTS:
        raise InvalidData(f"quadrant must be one of {', '.join(QUADRANTS)}.")
    if "statement" in data and not str(data["statement"]).strip():
        raise InvalidData("A factor needs a statement.")
    # bool is an int in Python but not a number in JSON: ``weight: true`` is refused.
    if "weight" in data and (isinstance(data["weight"], bool)
                             or not isinstance(data["weight"], int)
                             or not 0 <= data["weight"] <= 3):
        raise InvalidData("weight must be a whole number from 0 (none) to 3 (high).",
                          details={"field": "weight"})
    if "confidence" in data and data["confidence"] not in CONFIDENCE:
        raise InvalidData(f"confidence must be one of {', '.join(CONFIDENCE)}.")
    if "voice" in data and data["voice"] not in VOICES:
        raise InvalidData(f"voice must be one of {', '.join(VOICES)}.")


def _factor_change(session: Session, actor: Actor, a: Assessment,
                   changes: dict[str, Any]) -> list[str]:
    done = []
    if "add_factor" in changes:
        data = {k: changes["add_factor"][k] for k in _FACTOR_FIELDS if k in changes["add_factor"]}
        for k in ("quadrant", "statement"):
            if k not in data:
                raise InvalidData(f"A new factor needs a {k}.")
        _check_factor(data)
        session.add(SafetyFactor(place_id=a.place_id, assessment_id=a.id,
                                 created_by_id=actor.user_id, **data))
        done.append("add_factor")
    for key in ("update_factor", "remove_factor"):
        if key not in changes:
            continue
        spec = changes[key]
        fid = spec["id"] if isinstance(spec, dict) else spec
        f = session.get(SafetyFactor, fid)
        if f is None or f.assessment_id != a.id:
            raise NotFound("No such factor in this assessment.")
        if key == "remove_factor":
            session.delete(f)
        else:
            data = {k: spec[k] for k in _FACTOR_FIELDS if k in spec}
            _check_factor(data)
            for k, v in data.items():
                setattr(f, k, v)
        done.append(key)
    return done


def update_assessment(session: Session, actor: Actor, pilot_id: int, assessment_id: int,
                      changes: dict[str, Any], *, version: int | None = None) -> Assessment:
    """Change a draft: the three sides, the context weighting or its factors.

    ``changes`` may hold ``young_people``/``guardianship``/``environment`` text; the
    weighting as a whole (``contexts`` and optional ``links``, validated: shares sum to
    100, a reason per context) or one step of it (``set_share`` {name, share},
    ``add_context`` {name, share, reason}, ``remove_context`` name), where a context may
    name the pilot's record of it (``place_id``: its kind, and a blank name, are the
    record's; another pilot's or an absent id is :class:`NotFound`); and
    ``add_factor``/``update_factor``/``remove_factor``.
    """
    a = _editable(session, actor, pilot_id, assessment_id, version)
    changed = []
    for side in SIDES:
        if side in changes:
            if not isinstance(changes[side], str):
                raise InvalidData(f"{side} must be text.")
            setattr(a, side, changes[side].strip())
            changed.append(side)
    w = _weighting_change(session, a, pilot_id, changes)
    if w is not None:
        _store_weighting(session, a, w)
        changed.append("context_weighting")
    changed += _factor_change(session, actor, a, changes)
    a.updated_at = clock.now()  # bumps the version even for child-only edits
    session.flush()
    audit.record(session, actor, "update", "assessment", a.id, pilot_id=pilot_id,
                 detail={"changed": changed})
    return a


def _factor_dicts(session: Session, a: Assessment) -> list[dict[str, Any]]:
    factors = _factors(session, a.place_id, a.id)
    evidence = q.factor_evidence_counts(session, [f.id for f in factors])
    return [{"id": f.id, **{k: getattr(f, k) for k in _FACTOR_FIELDS},
             "evidence": evidence.get(f.id, {"incidents": 0, "observations": 0,
                                             "engagements": 0}),
             "incident_ids": sorted(i.id for i in f.incidents)} for f in factors]


def submit_assessment(session: Session, actor: Actor, pilot_id: int, assessment_id: int,
                      *, version: int | None = None, ring_m: float = q.RING_M,
                      cell_m: float = q.CELL_M) -> Assessment:
    """Freeze the draft for review with its indicators snapshot and summary."""
    a = _editable(session, actor, pilot_id, assessment_id, version, submitting=True)
    place = _place(session, pilot_id, a.place_id)
    factors = _factor_dicts(session, a)
    if not factors:
        raise InvalidData("Add at least one safety factor before submitting.")
    from locmap.services import contexts  # noqa: PLC0415 (contexts builds on this module)
    contexts.check_ready(session, a)
    w = weighting_of(session, a)
    a.indicators = compute_indicators(session, place, ring_m=ring_m, cell_m=cell_m)
    a.summary = write_summary(factors, [c.to_dict() for c in w.contexts], a.indicators,
                              place.name)
    lifecycle.submit(session, a, Assessment)
    audit.record(session, actor, "submit", "assessment", a.id, pilot_id=pilot_id,
                 detail={"version_no": a.version_no, "factors": len(factors)})
    return a


def new_version(session: Session, actor: Actor, pilot_id: int, assessment_id: int) -> Assessment:
    """A draft copy of a submitted version (text, weighting, factors and their evidence)."""
    src = get_assessment(session, actor, pilot_id, assessment_id, permission="assessment.edit")
    if src.status == lifecycle.DRAFT:
        raise Conflict("This version is still a draft: edit it instead.")
    if session.scalar(select(Assessment.id).where(Assessment.place_id == src.place_id,
                                                  Assessment.status == lifecycle.DRAFT)):
        raise Conflict("This place already has a draft assessment; carry on with it.")
    number = (session.scalar(select(func.max(Assessment.version_no))
                             .where(Assessment.place_id == src.place_id)) or 0) + 1
    a = Assessment(place_id=src.place_id, version_no=number, parent_id=src.id,
                   status=lifecycle.DRAFT,
                   created_by_id=actor.user_id, young_people=src.young_people,
                   guardianship=src.guardianship, environment=src.environment)
    session.add(a)
    session.flush()
    _store_weighting(session, a, weighting_of(session, src))
    session.add_all(_copy_factor(f, a, actor) for f in _factors(session, src.place_id, src.id))
    session.flush()
    audit.record(session, actor, "create", "assessment", a.id, pilot_id=pilot_id,
                 detail={"parent_id": src.id, "version_no": number})
    return a


def _snapshot_for(actor: Actor, pilot: Pilot | None, pilot_id: int,
                  snap: dict[str, Any] | None, *, threshold: int) -> dict[str, Any] | None:
    """A stored (or live) indicators snapshot as this actor may read it
    (:func:`locmap.services.snapshot_view.snapshot_view`): the individual safety-map areas
    only for who may see individual safety maps (``evidence.records``), and the partner
    version for who may not see exact aggregates (``aggregate.unsuppressed``).
    """
    return snapshot_view(snap, pilot, individual=can(actor, pilot_id, "evidence.records"),
                         partner=not can(actor, pilot_id, "aggregate.unsuppressed"),
                         threshold=threshold)


def _summary_for(a: Assessment, factors: list[dict[str, Any]], w: cw.ContextWeighting,
                 snap: dict[str, Any] | None, place_name: str) -> str | None:
    """The stored summary for the owning team; a partner's is written again from the
    partner snapshot (no count, rate or single safety map the partner may not see).
    """
    if a.summary is None or snap is None or not snap.get("suppressed"):
        return a.summary
    return write_summary(factors, [c.to_dict() for c in w.contexts], snap, place_name,
                         partner=True)


def assessment_view(session: Session, actor: Actor, pilot_id: int,
                    assessment_id: int, *, threshold: int) -> dict[str, Any]:
    """Everything a page or the API shows about one version (the snapshot as the actor
    may read it: see :func:`_snapshot_for`).
    """
    a = get_assessment(session, actor, pilot_id, assessment_id)
    place = _place(session, pilot_id, a.place_id)
    factors = _factor_dicts(session, a)
    unevidenced = [f["id"] for f in factors if not sum(f["evidence"].values())]
    if not can(actor, pilot_id, "aggregate.unsuppressed"):
        factors = partner_factors(factors, threshold)
    w = weighting_of(session, a)
    quadrants = {k: [f for f in factors if f["quadrant"] == k] for k in QUADRANTS}
    snap = _snapshot_for(actor, session.get(Pilot, pilot_id), pilot_id, a.indicators,
                         threshold=threshold)
    return {
        **_header(a), "pilot_id": pilot_id,
        "place": {"id": place.id, "name": place.name, "kind": place.kind,
                  "geometry": place.geojson},
        **{side: getattr(a, side) for side in SIDES},
        "factors": factors, "quadrants": quadrants,
        "unevidenced": unevidenced,
        "context_weighting": {**w.to_dict(), "contexts": weighting_records.records_of(
            session, pilot_id, w.to_dict()["contexts"])},
        "weightiest": cw.weightiest(w).to_dict(),
        "summary": _summary_for(a, factors, w, snap, place.name),
        "indicators": snap,
        "versions": list_assessments(session, actor, pilot_id, a.place_id),
    }


def compare_assessments(session: Session, actor: Actor, pilot_id: int, a_id: int,
                        b_id: int, *, threshold: int) -> dict[str, Any]:
    """What changed from version ``a`` to ``b`` of the same place's assessment (the key
    figures as the actor may read them: a partner's from the partner snapshots).
    """
    a = get_assessment(session, actor, pilot_id, a_id)
    b = get_assessment(session, actor, pilot_id, b_id)
    if a.place_id != b.place_id:
        raise InvalidData("Only versions of the same place's assessment can be compared.")
    fa = {(f["quadrant"], f["statement"]): f for f in _factor_dicts(session, a)}
    fb = {(f["quadrant"], f["statement"]): f for f in _factor_dicts(session, b)}
    brief = ("quadrant", "statement", "weight", "confidence", "voice")
    return {
        "a": _header(a), "b": _header(b),
        "factors_added": [{k: fb[x][k] for k in brief} for x in fb if x not in fa],
        "factors_removed": [{k: fa[x][k] for k in brief} for x in fa if x not in fb],
        "factors_changed": [
            {"quadrant": x[0], "statement": x[1], "weight_before": fa[x]["weight"],
             "weight_after": fb[x]["weight"], "confidence_before": fa[x]["confidence"],
             "confidence_after": fb[x]["confidence"]}
            for x in fa if x in fb and (fa[x]["weight"], fa[x]["confidence"])
            != (fb[x]["weight"], fb[x]["confidence"])],
        "sides_changed": [s for s in SIDES if getattr(a, s) != getattr(b, s)],
        "context_weighting": cw.diff(weighting_of(session, a), weighting_of(session, b))
        .to_dict(),
        "indicators": key_figure_changes(
            _snapshot_for(actor, None, pilot_id, a.indicators, threshold=threshold),
            _snapshot_for(actor, None, pilot_id, b.indicators, threshold=threshold)),
    }


def live_indicators(session: Session, actor: Actor, pilot_id: int, place_id: int, *,
                    ring_m: float = q.RING_M, cell_m: float = q.CELL_M,
                    threshold: int) -> dict[str, Any]:
    """Indicators of a place computed now (not stored)."""
    require(actor, pilot_id, "assessment.view")
    if not (50 <= ring_m <= 5000 and 25 <= cell_m <= 1000):
        raise InvalidData("ring_m must be 50-5000 and cell_m 25-1000 metres.")
    place = _place(session, pilot_id, place_id)
    out = _snapshot_for(actor, session.get(Pilot, pilot_id), pilot_id,
                        compute_indicators(session, place, ring_m=ring_m, cell_m=cell_m),
                        threshold=threshold)
    assert out is not None
    audit.record(session, actor, "read", "place_indicators", place_id, pilot_id=pilot_id)
    return out
