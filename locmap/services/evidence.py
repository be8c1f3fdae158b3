"""Evidence at one place: the place itself, its incidents, and the checks every kind shares.

Site visits live in :mod:`locmap.services.observations`, safety factors in
:mod:`locmap.services.factors`, listening and awareness raising in
:mod:`locmap.services.engagement`; this module holds what they have in common — finding a
live place inside a pilot, local time, vocabulary and version checks — and the read-only
overview the place page opens with (header, geometry, incident count, recent incidents).
Incident descriptions are restricted free text: only the owning team sees them, and each
read of them is audited. Incidents one by one are the owning team's too
(``evidence.records``): a partner's place page gets :func:`incident_summary` — counts by
completed quarter and harm category, withheld below the threshold and rounded to base 5 —
and a rounded incident count in the header.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import InvalidData, NotFound
from locmap.geo import to_geojson
from locmap.models import Agency, Incident, Place
from locmap.queries import at_place
from locmap.services import audit
from locmap.services.incidents import partner_count, partner_place_counts
from locmap.services.permissions import Actor, can, require
from locmap.vocab import label

__all__ = [
    "LOCAL_TZ", "live_place", "as_local_aware", "check_vocab", "check_text",
    "iso", "place_overview", "place_incident_lists", "place_incident_choices",
    "incident_summary",
]

LOCAL_TZ = clock.LOCAL_TZ
RECENT_INCIDENTS = 20
INCIDENT_CHOICES = 200
_LIVE_PLACES = "locmap.live_places"


def live_place(session: Session, pilot_id: int, place_id: int) -> Place:
    """The pilot's place ``place_id`` unless deleted; otherwise :class:`NotFound`."""
    # From the session's identity map after the first read: a page asks this of the same
    # place once per section (eight times on the place page).
    # (The identity map holds objects weakly: the session's info keeps the place alive.)
    place = session.get(Place, place_id)
    if place is None or place.pilot_id != pilot_id or place.deleted_at is not None:
        raise NotFound("No such place in this pilot.")
    session.info.setdefault(_LIVE_PLACES, {})[place_id] = place
    return place


def as_local_aware(value: dt.datetime | None) -> dt.datetime | None:
    """A naive time is taken as UK local time (what a practitioner types); aware ones pass."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=LOCAL_TZ)


def iso(value: dt.datetime | dt.date | None) -> str | None:
    """ISO 8601; datetimes in UK local time with their offset."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        # RFC 3339 date-time (seconds included), as the API document declares.
        return value.astimezone(LOCAL_TZ).isoformat(timespec="seconds")
    return value.isoformat()


def check_vocab(field: str, value: Any, words: Iterable[str]) -> str:
    words = tuple(words)
    if value not in words:
        raise InvalidData(f"{field}: {value!r} is not one of {', '.join(words)}.",
                          details={field: [f"Must be one of: {', '.join(words)}."]})
    return str(value)


def check_text(field: str, value: Any, max_len: int | None = None, *,
               required: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise InvalidData(f"{field} is required.", details={field: ["Required."]})
    if max_len is not None and len(text) > max_len:
        raise InvalidData(f"{field} is longer than {max_len} characters.",
                          details={field: [f"At most {max_len} characters."]})
    return text


def _incident_dict(inc: Incident, restricted: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": inc.id,
        "occurred_at": iso(inc.occurred_at),
        "time_precision": inc.time_precision,
        "category": inc.category,
        "category_label": label(inc.category),
        "severity": inc.severity,
        "external_ref": inc.external_ref,
    }
    if restricted:
        out["description"] = inc.description
    return out


def place_overview(session: Session, actor: Actor, pilot_id: int, place_id: int,
                   *, threshold: int) -> dict[str, Any]:
    """The place page's header: name, kind, who manages it, geometry, incident count.

    For a partner the count is the partner figure the map's place list shows too
    (:func:`locmap.services.incidents.partner_place_counts`): up to the last completed
    quarter end (``incidents_as_of``), ``"fewer than 5"`` below the threshold, else
    rounded to base 5 (``incidents_rounded``).
    """
    require(actor, pilot_id, "place.view")
    place = live_place(session, pilot_id, place_id)
    managed_by = session.scalar(select(Agency.name).where(Agency.id == place.managed_by_id)) \
        if place.managed_by_id else None
    records = can(actor, pilot_id, "evidence.records")
    shown: int | str
    as_of = None
    if records:
        shown = at_place.place_count(session, pilot_id, place.id)
    else:
        partner = partner_place_counts(session, pilot_id, threshold=threshold,
                                       place_ids=(place.id,))
        rounded = partner.of(place.id)
        shown = f"fewer than {threshold}" if rounded is None else rounded
        as_of = partner.as_of
    return {
        "id": place.id, "pilot_id": pilot_id, "name": place.name, "kind": place.kind,
        "kind_label": label(place.kind), "managed_by": managed_by, "notes": place.notes,
        "geometry": to_geojson(place.geom), "incidents": shown,
        "incidents_rounded": not records, "incidents_as_of": as_of, "version": place.version,
    }


def _shown(session: Session, actor: Actor, pilot_id: int, place_id: int,
           rows: Sequence[Incident]) -> list[dict[str, Any]]:
    restricted = can(actor, pilot_id, "evidence.restricted_text")
    if restricted and rows:
        audit.record(session, actor, "read", "incident", None, pilot_id=pilot_id,
                     personal_data=True,
                     detail={"place_id": place_id, "restricted_text": len(rows)})
    return [_incident_dict(i, restricted) for i in rows]


def place_incident_lists(session: Session, actor: Actor, pilot_id: int, place_id: int
                         ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The place page's two lists from one search of the place: its latest
    :data:`RECENT_INCIDENTS` incidents, with their descriptions for the owning team only
    (audited), and its evidence choices (:func:`place_incident_choices`, the latest
    :data:`INCIDENT_CHOICES` in the same order, so the recent ones are their first, read
    by id). Nothing for a partner, who sees incidents only as aggregates.
    """
    choices = place_incident_choices(session, actor, pilot_id, place_id)
    if not can(actor, pilot_id, "evidence.records"):
        return [], choices
    ids = [c["id"] for c in choices[:RECENT_INCIDENTS]]
    rows = session.scalars(
        select(Incident).where(Incident.pilot_id == pilot_id, Incident.id.in_(ids))
        .order_by(Incident.occurred_at.desc(), Incident.id.desc())).all() if ids else []
    return _shown(session, actor, pilot_id, place_id, rows), choices


def place_incident_choices(session: Session, actor: Actor, pilot_id: int, place_id: int,
                           limit: int = INCIDENT_CHOICES) -> list[dict[str, Any]]:
    """The place's latest incidents as evidence choices (no restricted text); none for a
    partner, who links no evidence and sees incidents only as aggregates.
    """
    require(actor, pilot_id, "evidence.view")
    if not can(actor, pilot_id, "evidence.records"):
        return []
    rows = session.execute(
        select(Incident.id, Incident.occurred_at, Incident.category, Incident.severity,
               Incident.time_precision)
        .where(Incident.pilot_id == pilot_id,
               Incident.id.in_(at_place.ids_at_place(pilot_id, place_id)))
        .order_by(Incident.occurred_at.desc(), Incident.id.desc()).limit(limit)
    ).all()
    return [{"id": r.id, "occurred_at": iso(r.occurred_at), "time_precision": r.time_precision,
             "category": r.category, "category_label": label(r.category),
             "severity": r.severity} for r in rows]


def incident_summary(session: Session, actor: Actor, pilot_id: int, place_id: int,
                     *, threshold: int, quarters: int = 8) -> list[dict[str, Any]]:
    """A partner's view of the place's incidents: counts by completed quarter and harm
    category, newest quarter first.

    Only quarters that have ended are counted (partner figures are at quarter ends, never
    at a date that could be differenced); a count below ``threshold`` is ``None``
    (withheld), the others are rounded to base 5.
    """
    require(actor, pilot_id, "evidence.view")
    live_place(session, pilot_id, place_id)
    today = clock.today()
    this_quarter = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    first = dt.date(this_quarter.year - (quarters // 4 + 1), this_quarter.month, 1)
    local = func.timezone(str(LOCAL_TZ), Incident.occurred_at)
    quarter = func.date_trunc("quarter", local).label("quarter")
    rows = session.execute(
        select(quarter, Incident.category, func.count().label("n"))
        # The ids first: inside the grouped query the planner re-ran the spatial test per
        # incident (99 s for a demo place, 0.1 s this way).
        .where(Incident.pilot_id == pilot_id,
               Incident.id.in_(list(session.scalars(at_place.ids_at_place(pilot_id, place_id)))),
               local < this_quarter, local >= first)
        .group_by(quarter, Incident.category)
        .order_by(quarter.desc(), Incident.category)
    ).all()
    out: list[dict[str, Any]] = []
    for r in rows:
        start = r.quarter.date()
        label_q = f"{start.year} Q{(start.month - 1) // 3 + 1}"
        if len({o["quarter"] for o in out} | {label_q}) > quarters:
            break
        out.append({"quarter": label_q, "category": r.category,
                    "category_label": label(r.category),
                    "count": partner_count(int(r.n), threshold)})
    return out
