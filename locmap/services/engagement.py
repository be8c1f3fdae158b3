"""Listening (engagement records) and awareness raising (activities and their reach).

An engagement record says who was listened to *as a group* (children, families,
community, businesses, services, with a short description such as "Year 9 girls' group")
— never a named child — when, and what was said; an awareness activity says when, to
whom, how, and how many people it reached (KPI c). Both link to places of the same pilot.
All members read them — partners without the free text of engagement records (what
was said, the group's description), which is the owning team's (``evidence.records``);
coordinators and practitioners record them; writes are audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from locmap import clock
from locmap.errors import InvalidData
from locmap.models import AwarenessActivity, EngagementRecord, Place
from locmap.services import audit
from locmap.services.evidence import check_text, check_vocab, live_place
from locmap.services.permissions import Actor, can, require
from locmap.vocab import ENGAGEMENT_GROUPS

__all__ = ["list_engagement", "create_engagement", "list_awareness", "create_awareness"]

MAX_REACHED = 1_000_000


def _places(session: Session, pilot_id: int, ids: Any) -> list[Place]:
    """Live places of the pilot; an id outside it is refused (422), never dropped."""
    if ids is None:
        ids = []
    if not isinstance(ids, list | tuple | set) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in ids
    ):
        raise InvalidData("place_ids: a list of place ids is required.",
                          details={"place_ids": ["List of ids."]})
    wanted = set(ids)
    if not wanted:
        raise InvalidData("place_ids: link at least one place.",
                          details={"place_ids": ["At least one place."]})
    rows = list(session.scalars(select(Place).where(
        Place.id.in_(wanted), Place.pilot_id == pilot_id, Place.deleted_at.is_(None))))
    missing = sorted(wanted - {p.id for p in rows})
    if missing:
        raise InvalidData(f"place_ids: {', '.join(map(str, missing))} are not places of this "
                          "pilot.", details={"place_ids": [f"Not in this pilot: {missing}"]})
    return sorted(rows, key=lambda p: p.name)


def _date(field: str, value: Any) -> dt.date:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise InvalidData(f"{field}: a date is required.", details={field: ["Required date."]})
    if problem := clock.event_date_problem(value):
        raise InvalidData(f"{field}: record what has happened: {problem}.",
                          details={field: [f"Not accepted: {problem}."]})
    return value


def _place_refs(places: list[Place]) -> list[dict[str, Any]]:
    return [{"id": p.id, "name": p.name} for p in places]


def _engagement_dict(e: EngagementRecord, *, free_text: bool = True) -> dict[str, Any]:
    out = {"id": e.id, "held_on": e.held_on.isoformat(), "with_group": e.with_group,
           "place_ids": sorted(p.id for p in e.places), "places": _place_refs(e.places)}
    if free_text:
        out.update(group_description=e.group_description, summary=e.summary)
    return out


def _awareness_dict(a: AwarenessActivity) -> dict[str, Any]:
    return {"id": a.id, "held_on": a.held_on.isoformat(), "audience": a.audience,
            "method": a.method, "reached": a.reached,
            "place_ids": sorted(p.id for p in a.places), "places": _place_refs(a.places)}


def _linked_to_places(session: Session, actor: Actor, pilot_id: int, model: Any,
                      place_id: int | None) -> list[Any]:
    """Rows of ``model`` in the pilot (only those linked to ``place_id`` if given), newest
    first, with their places loaded.
    """
    require(actor, pilot_id, "evidence.view")
    stmt = (select(model).where(model.pilot_id == pilot_id)
            .options(selectinload(model.places))
            .order_by(model.held_on.desc(), model.id.desc()))
    if place_id is not None:
        live_place(session, pilot_id, place_id)
        stmt = stmt.where(model.places.any(Place.id == place_id))
    return list(session.scalars(stmt))


def list_engagement(session: Session, actor: Actor, pilot_id: int,
                    place_id: int | None = None) -> list[dict[str, Any]]:
    """The pilot's engagement records (only those linked to ``place_id`` if given), newest first."""
    rows = _linked_to_places(session, actor, pilot_id, EngagementRecord, place_id)
    free_text = can(actor, pilot_id, "evidence.records")
    return [_engagement_dict(e, free_text=free_text) for e in rows]


def create_engagement(session: Session, actor: Actor, pilot_id: int,
                      data: dict[str, Any]) -> dict[str, Any]:
    """Record listening to a group, linked to one or more of the pilot's places."""
    require(actor, pilot_id, "evidence.edit")
    rec = EngagementRecord(
        pilot_id=pilot_id, held_on=_date("held_on", data.get("held_on")),
        with_group=check_vocab("with_group", data.get("with_group"), ENGAGEMENT_GROUPS),
        group_description=check_text("group_description", data.get("group_description"), 300),
        summary=check_text("summary", data.get("summary"), 8000, required=True),
        created_by_id=actor.user_id,
    )
    rec.places = _places(session, pilot_id, data.get("place_ids"))
    session.add(rec)
    session.flush()
    audit.record(session, actor, "create", "engagement_record", rec.id, pilot_id=pilot_id,
                 detail={"with_group": rec.with_group, "place_ids": [p.id for p in rec.places]})
    return _engagement_dict(rec)


def list_awareness(session: Session, actor: Actor, pilot_id: int,
                   place_id: int | None = None) -> list[dict[str, Any]]:
    """The pilot's awareness activities (only those linked to ``place_id`` if given)."""
    rows = _linked_to_places(session, actor, pilot_id, AwarenessActivity, place_id)
    return [_awareness_dict(a) for a in rows]


def create_awareness(session: Session, actor: Actor, pilot_id: int,
                     data: dict[str, Any]) -> dict[str, Any]:
    """Record an awareness-raising activity and how many people it reached."""
    require(actor, pilot_id, "evidence.edit")
    reached = data.get("reached", 0)
    if isinstance(reached, bool) or not isinstance(reached, int) \
            or not 0 <= reached <= MAX_REACHED:
        raise InvalidData(f"reached: a count from 0 to {MAX_REACHED:,} is required.",
                          details={"reached": ["A whole number, 0 or more."]})
    act = AwarenessActivity(
        pilot_id=pilot_id, held_on=_date("held_on", data.get("held_on")),
        audience=check_text("audience", data.get("audience"), 200, required=True),
        method=check_text("method", data.get("method"), 200), reached=reached,
        created_by_id=actor.user_id,
    )
    act.places = _places(session, pilot_id, data.get("place_ids"))
    session.add(act)
    session.flush()
    audit.record(session, actor, "create", "awareness_activity", act.id, pilot_id=pilot_id,
                 detail={"reached": reached, "place_ids": [p.id for p in act.places]})
    return _awareness_dict(act)
