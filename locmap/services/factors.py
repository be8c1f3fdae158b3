"""Safety factors at a place: vulnerability, risk, resilience and resource, with evidence.

A factor is a statement with the practitioner's weight (0 none … 3 high), a confidence,
whose voice it carries, and links to the evidence behind it — incidents, site visits and
engagement records of the same pilot (ids from another pilot are refused, never silently
dropped). A factor with no evidence is allowed; the page flags it. Factors whose
``assessment_id`` is NULL are the place's working set; those copied into an assessment
version belong to that version and are not changed here (409).

Partners read the incidents linked to a factor as one count under the partners' rule
(:func:`~locmap.assessment.disclosure.partner_value`), never the incidents themselves.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from locmap.assessment.disclosure import partner_value
from locmap.errors import Conflict, InvalidData, NotFound
from locmap.models import EngagementRecord, Incident, Observation, Place, SafetyFactor
from locmap.models.base import utcnow
from locmap.services import audit
from locmap.services.evidence import check_text, check_vocab, iso, live_place
from locmap.services.permissions import Actor, can, require
from locmap.services.versioning import check_version
from locmap.vocab import CONFIDENCE, QUADRANTS, VOICES

__all__ = ["list_factors", "get_factor", "create_factor", "update_factor", "delete_factor",
           "EVIDENCE_KINDS"]

# The evidence a factor can link to, as the API names the id lists.
EVIDENCE_KINDS = ("incident_ids", "observation_ids", "engagement_ids")
STATEMENT_MAX = 2000


def _dict(f: SafetyFactor) -> dict[str, Any]:
    evidence = {
        "incident_ids": sorted(i.id for i in f.incidents),
        "observation_ids": sorted(o.id for o in f.observations),
        "engagement_ids": sorted(e.id for e in f.engagements),
    }
    counts = {"incidents": len(evidence["incident_ids"]),
              "observations": len(evidence["observation_ids"]),
              "engagements": len(evidence["engagement_ids"])}
    return {
        "id": f.id, "place_id": f.place_id, "assessment_id": f.assessment_id,
        "quadrant": f.quadrant, "statement": f.statement, "weight": f.weight,
        "confidence": f.confidence, "voice": f.voice, **evidence,
        "evidence_counts": counts, "has_evidence": any(counts.values()),
        "updated_at": iso(f.updated_at), "version": f.version,
    }


def _as_read_by(actor: Actor, pilot_id: int, factor: dict[str, Any], threshold: int
                ) -> dict[str, Any]:
    """A factor as ``actor`` may read it: a partner gets the number of linked incidents
    under the partners' rule and no incident ids (each would point at one record).
    """
    if can(actor, pilot_id, "evidence.records"):
        return factor
    counts = factor["evidence_counts"]
    return {**factor, "incident_ids": None,
            "evidence_counts": {**counts,
                                "incidents": partner_value(counts["incidents"], threshold)}}


def _ids(field: str, value: Any) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list | tuple | set) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in value
    ):
        raise InvalidData(f"{field}: a list of ids is required.", details={field: ["List of ids."]})
    return sorted(set(value))


def _load_evidence(session: Session, pilot_id: int, field: str, ids: list[int]) -> list[Any]:
    """The pilot's records with these ids; any id outside the pilot is refused (422)."""
    if not ids:
        return []
    stmt: Any
    if field == "incident_ids":
        stmt = select(Incident).where(Incident.id.in_(ids), Incident.pilot_id == pilot_id)
    elif field == "observation_ids":
        stmt = (select(Observation).join(Place, Place.id == Observation.place_id)
                .where(Observation.id.in_(ids), Place.pilot_id == pilot_id))
    else:
        stmt = select(EngagementRecord).where(EngagementRecord.id.in_(ids),
                                              EngagementRecord.pilot_id == pilot_id)
    rows = list(session.scalars(stmt))
    missing = sorted(set(ids) - {r.id for r in rows})
    if missing:
        raise InvalidData(
            f"{field}: {', '.join(map(str, missing))} are not records of this pilot.",
            details={field: [f"Not in this pilot: {missing}"]},
        )
    return rows


def _clean(data: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    allowed = {"quadrant", "statement", "weight", "confidence", "voice", *EVIDENCE_KINDS}
    unknown = set(data) - allowed
    if unknown:
        raise InvalidData(f"Unknown fields: {', '.join(sorted(unknown))}.")
    v = {**base, **data}
    weight = v.get("weight")
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 3:
        raise InvalidData("weight: 0 (none), 1, 2 or 3 (high).",
                          details={"weight": ["A whole number from 0 to 3."]})
    return {
        "quadrant": check_vocab("quadrant", v.get("quadrant"), QUADRANTS),
        "statement": check_text("statement", v.get("statement"), STATEMENT_MAX, required=True),
        "weight": weight,
        "confidence": check_vocab("confidence", v.get("confidence"), CONFIDENCE),
        "voice": check_vocab("voice", v.get("voice"), VOICES),
    }


def _factor(session: Session, pilot_id: int, factor_id: int) -> SafetyFactor:
    f = session.scalar(
        select(SafetyFactor).join(Place, Place.id == SafetyFactor.place_id)
        .where(SafetyFactor.id == factor_id, Place.pilot_id == pilot_id,
               Place.deleted_at.is_(None))
        .options(selectinload(SafetyFactor.incidents), selectinload(SafetyFactor.observations),
                 selectinload(SafetyFactor.engagements))
    )
    if f is None:
        raise NotFound("No such safety factor in this pilot.")
    return f


def list_factors(session: Session, actor: Actor, pilot_id: int, place_id: int, *,
                 threshold: int) -> list[dict[str, Any]]:
    """The place's working set of factors, by quadrant then weight (heaviest first); a
    partner's linked incidents withheld below ``threshold`` (:func:`_as_read_by`).
    """
    require(actor, pilot_id, "evidence.view")
    live_place(session, pilot_id, place_id)
    order = {q: i for i, q in enumerate(QUADRANTS)}
    rows = session.scalars(
        select(SafetyFactor)
        .where(SafetyFactor.place_id == place_id, SafetyFactor.assessment_id.is_(None))
        .options(selectinload(SafetyFactor.incidents), selectinload(SafetyFactor.observations),
                 selectinload(SafetyFactor.engagements))
        .order_by(SafetyFactor.weight.desc(), SafetyFactor.id)
    ).all()
    return sorted((_as_read_by(actor, pilot_id, _dict(f), threshold) for f in rows),
                  key=lambda d: order[d["quadrant"]])


def get_factor(session: Session, actor: Actor, pilot_id: int, factor_id: int, *,
               threshold: int) -> dict[str, Any]:
    require(actor, pilot_id, "evidence.view")
    return _as_read_by(actor, pilot_id, _dict(_factor(session, pilot_id, factor_id)), threshold)


def _set_evidence(session: Session, pilot_id: int, f: SafetyFactor,
                  data: dict[str, Any]) -> list[str]:
    changed = []
    for field, attr in zip(EVIDENCE_KINDS, ("incidents", "observations", "engagements"),
                           strict=True):
        if field in data:
            rows = _load_evidence(session, pilot_id, field, _ids(field, data[field]))
            if {r.id for r in rows} != {r.id for r in getattr(f, attr)}:
                setattr(f, attr, rows)
                changed.append(field)
    return changed


def create_factor(session: Session, actor: Actor, pilot_id: int, place_id: int,
                  data: dict[str, Any]) -> dict[str, Any]:
    """Add a factor to the place's working set, with its evidence links."""
    require(actor, pilot_id, "evidence.edit")
    live_place(session, pilot_id, place_id)
    values = _clean(data, {"weight": 1, "confidence": "medium", "voice": "professional"})
    f = SafetyFactor(place_id=place_id, created_by_id=actor.user_id, **values)
    _set_evidence(session, pilot_id, f, data)
    session.add(f)
    session.flush()
    out = _dict(f)
    audit.record(session, actor, "create", "safety_factor", f.id, pilot_id=pilot_id,
                 detail={"place_id": place_id, "quadrant": f.quadrant, "weight": f.weight,
                         "evidence": out["evidence_counts"]})
    return out


def update_factor(session: Session, actor: Actor, pilot_id: int, factor_id: int,
                  data: dict[str, Any], version: int | None) -> dict[str, Any]:
    """Change a working-set factor; ``version`` must be the one the client edited (else 409)."""
    require(actor, pilot_id, "evidence.edit")
    f = _factor(session, pilot_id, factor_id)
    if f.assessment_id is not None:
        raise Conflict("This factor belongs to an assessment version and cannot be changed; "
                       "edit the place's working set instead.")
    check_version(session, "safety factor", f, version, current=_dict)
    current = {k: getattr(f, k) for k in ("quadrant", "statement", "weight", "confidence",
                                          "voice")}
    values = _clean(data, current)
    changed = sorted(k for k in values if values[k] != current[k])
    for k in changed:
        setattr(f, k, values[k])
    links = _set_evidence(session, pilot_id, f, data)
    if links and not changed:
        f.updated_at = utcnow()  # link-only edits still bump the version
    session.flush()
    old = {k: current[k] for k in changed if k != "statement"}
    audit.record(session, actor, "update", "safety_factor", f.id, pilot_id=pilot_id,
                 detail={"fields": changed + links, "before": old})
    return _dict(f)


def delete_factor(session: Session, actor: Actor, pilot_id: int, factor_id: int,
                  version: int | None = None) -> None:
    require(actor, pilot_id, "evidence.edit")
    f = _factor(session, pilot_id, factor_id)
    if f.assessment_id is not None:
        raise Conflict("This factor belongs to an assessment version and cannot be deleted.")
    if version is not None:
        check_version(session, "safety factor", f, version, current=_dict)
    place_id = f.place_id
    session.delete(f)
    session.flush()
    audit.record(session, actor, "delete", "safety_factor", factor_id, pilot_id=pilot_id,
                 detail={"place_id": place_id})

