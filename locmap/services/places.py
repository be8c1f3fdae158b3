"""Places of a pilot as RFC 7946 GeoJSON, with their incident counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap.geo import to_geojson
from locmap.models import Agency, Incident, Place
from locmap.services.permissions import Actor, require
from locmap.vocab import label

__all__ = ["list_places", "place_feature"]


def place_feature(
    place: Place, incidents: int = 0, managed_by: str | None = None
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": place.id,
        "geometry": to_geojson(place.geom),
        "properties": {
            "id": place.id,
            "name": place.name,
            "kind": place.kind,
            "kind_label": label(place.kind),
            "managed_by": managed_by,
            "osm_id": place.osm_id,
            "notes": place.notes,
            "incidents": incidents,
            "version": place.version,
        },
    }


def list_places(session: Session, actor: Actor, pilot_id: int) -> dict[str, Any]:
    """The pilot's live places as a FeatureCollection (online contexts have null geometry)."""
    require(actor, pilot_id, "place.view")
    counts = (
        select(Incident.place_id, func.count().label("n"))
        .where(Incident.pilot_id == pilot_id, Incident.place_id.is_not(None))
        .group_by(Incident.place_id)
        .subquery()
    )
    rows = session.execute(
        select(Place, func.coalesce(counts.c.n, 0), Agency.name)
        .outerjoin(counts, counts.c.place_id == Place.id)
        .outerjoin(Agency, Agency.id == Place.managed_by_id)
        .where(Place.pilot_id == pilot_id, Place.deleted_at.is_(None))
        .order_by(Place.name)
    ).all()
    return {
        "type": "FeatureCollection",
        "features": [place_feature(p, n, agency) for p, n, agency in rows],
    }
