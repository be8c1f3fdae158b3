"""Changing a running pilot's locality (issue 15): redrawn or uploaded, by an admin or the
pilot's coordinator, after a warning of what would fall outside it.

Places and incidents are never moved or deleted by a new locality: what falls outside
stays in the pilot (and on its map), but counts "in the locality" (the dashboard's, kept
by migration 0004's trigger, which recounts on the change) no longer include it. So the
change is shown first — which places and how many incidents would fall outside — and a
change that leaves anything outside needs ``confirm``. The locality carries the pilot's
version: a pilot changed by someone else since it was opened answers 409.
"""

from __future__ import annotations

from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap.errors import Conflict, NotFound
from locmap.geo import to_geojson, to_multipolygon
from locmap.models import Incident, Pilot, Place
from locmap.services import audit
from locmap.services.permissions import Actor, require
from locmap.services.pilot_admin import _check_locality, is_read_only
from locmap.services.versioning import check_version

__all__ = ["current", "impact", "set_locality"]


def _pilot(session: Session, actor: Actor, pilot_id: int) -> Pilot:
    """An admin, or the pilot's coordinator; a closed pilot's locality stays as it was."""
    if not actor.is_admin:
        require(actor, pilot_id, "pilot.manage")
    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound("No such pilot.")
    return pilot


def current(session: Session, actor: Actor, pilot_id: int) -> dict[str, Any]:
    """The pilot's locality (GeoJSON) and version, for the page that changes it."""
    p = _pilot(session, actor, pilot_id)
    return {"id": p.id, "name": p.name, "version": p.version, "status": p.status,
            "read_only": is_read_only(p), "locality": to_geojson(p.locality)}


def impact(session: Session, actor: Actor, pilot_id: int,
           locality: dict[str, Any]) -> dict[str, Any]:
    """What a new locality would leave outside: places wholly or partly outside it, and
    the incidents inside the present locality that would no longer be.
    """
    pilot = _pilot(session, actor, pilot_id)
    area = _check_locality(locality)
    new = from_shape(shape(area), srid=4326)
    rows = session.execute(
        select(Place.id, Place.name, func.ST_Intersects(Place.geom, new).label("touches"),
               func.ST_CoveredBy(Place.geom, new).label("within"))
        .where(Place.pilot_id == pilot.id, Place.geom.is_not(None)).order_by(Place.name)).all()
    outside = [{"id": r.id, "name": r.name} for r in rows if not r.touches]
    partly = [{"id": r.id, "name": r.name} for r in rows if r.touches and not r.within]
    leaving = session.scalar(select(func.count()).select_from(Incident).where(
        Incident.pilot_id == pilot.id, Incident.location.ST_Intersects(pilot.locality),
        ~Incident.location.ST_Intersects(new))) or 0
    joining = session.scalar(select(func.count()).select_from(Incident).where(
        Incident.pilot_id == pilot.id, ~Incident.location.ST_Intersects(pilot.locality),
        Incident.location.ST_Intersects(new))) or 0
    return {"locality": area, "places_outside": outside, "places_partly_outside": partly,
            "incidents_leaving": int(leaving), "incidents_joining": int(joining),
            "anything_outside": bool(outside or partly or leaving)}


def set_locality(session: Session, actor: Actor, pilot_id: int, locality: dict[str, Any], *,
                 version: Any, confirm: bool = False) -> dict[str, Any]:
    """Save the new locality (``version``: the pilot's, as the editor saw it). Anything
    left outside needs ``confirm``, else :class:`Conflict` with what it would be.
    """
    pilot = _pilot(session, actor, pilot_id)
    if is_read_only(pilot):
        raise Conflict("This pilot is closed: its locality stays as it was. An admin may "
                       "reopen it first.", details={"pilot_id": pilot_id})
    check_version(session, "pilot", pilot, version)
    found = impact(session, actor, pilot_id, locality)
    if found["anything_outside"] and not confirm:
        raise Conflict(_warning(found), details={"confirm": "required", **_counts(found)})
    pilot.locality = from_shape(to_multipolygon(shape(found["locality"])), srid=4326)
    session.flush()
    audit.record(session, actor, "update", "pilot", pilot.id, pilot_id=pilot.id,
                 detail={"fields": ["locality"], **_counts(found),
                         "place_ids_outside": [p["id"] for p in found["places_outside"]]})
    return {**found, "version": pilot.version}


def _counts(found: dict[str, Any]) -> dict[str, int]:
    return {"places_outside": len(found["places_outside"]),
            "places_partly_outside": len(found["places_partly_outside"]),
            "incidents_leaving": found["incidents_leaving"],
            "incidents_joining": found["incidents_joining"]}


def _warning(found: dict[str, Any]) -> str:
    parts = []
    if found["places_outside"]:
        parts.append(f"{len(found['places_outside'])} place(s) would lie outside it ("
                     + ", ".join(p["name"] for p in found["places_outside"][:5]) + ")")
    if found["places_partly_outside"]:
        parts.append(f"{len(found['places_partly_outside'])} place(s) partly outside")
    if found["incidents_leaving"]:
        parts.append(f"{found['incidents_leaving']:,} incident(s) now in the locality would "
                     "no longer be counted in it")
    return ("The new locality leaves records outside: " + "; ".join(parts)
            + ". They stay in the pilot. Confirm to save it anyway.")
