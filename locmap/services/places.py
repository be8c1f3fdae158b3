"""Places of a pilot: listed as RFC 7946 GeoJSON with their incident counts, drawn,
edited (optimistic locking on ``version``) and soft-deleted.

Geometry enters only through :func:`locmap.geo.parse_geojson_geometry`; whether a
geometry fits the kind of place is checked here first so the user gets a sentence, not
the database's CHECK ``geometry_fits_kind``.
"""

from __future__ import annotations

from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import geo
from locmap.errors import InvalidData, NotFound
from locmap.geo import PLACE_MAX_VERTICES, parse_geojson_geometry, to_geojson, wkb_to_shape
from locmap.models import Agency, Assessment, Pilot, Place
from locmap.models.base import utcnow
from locmap.models.place import PLACE_GEOMETRY_RULE
from locmap.queries import at_place
from locmap.services import audit
from locmap.services.incidents import PartnerPlaceCounts, partner_place_counts
from locmap.services.permissions import Actor, can, require
from locmap.services.versioning import check_version
from locmap.vocab import PLACE_KINDS, label

__all__ = [
    "list_places", "place_feature", "get_place", "create_place", "update_place",
    "delete_place", "check_geometry_fits_kind", "list_agencies", "other_place_names",
    "point_from_coordinates",
]

_ANY_GEOMETRY = ("POINT", "LINESTRING", "POLYGON", "MULTIPOLYGON")


def place_feature(
    place: Place, incidents: int = 0, managed_by: str | None = None, *,
    partner: PartnerPlaceCounts | None = None, assessment_status: str | None = None,
) -> dict[str, Any]:
    """A place as a GeoJSON Feature (``geometry`` null for online contexts).

    ``assessment_status`` is the status of the place's latest assessment version (null
    when it has none), as :func:`list_places` gives it.

    With ``partner`` (a partner's view) the incident count is the partner figure
    (:func:`locmap.services.incidents.partner_place_counts`: up to the last completed
    quarter end, ``None`` below the threshold, else rounded to base 5), with
    ``incidents_label`` saying which ("fewer than 5", "about 10").
    """
    extra: dict[str, Any] = {}
    if partner is not None:
        incidents = partner.of(place.id)  # type: ignore[assignment]
        extra["incidents_label"] = partner.label(place.id)
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
            "managed_by_id": place.managed_by_id,
            "osm_id": place.osm_id,
            "notes": place.notes,
            "incidents": incidents,
            "assessment_status": assessment_status,
            **extra,
            "version": place.version,
        },
    }


def list_places(session: Session, actor: Actor, pilot_id: int, *,
                threshold: int) -> dict[str, Any]:
    """The pilot's live places as a FeatureCollection (online contexts have null geometry).

    A partner's incident counts per place are withheld below ``threshold`` and rounded
    to base 5 (:func:`place_feature`).
    """
    require(actor, pilot_id, "place.view")
    partner = None if can(actor, pilot_id, "evidence.records") else partner_place_counts(
        session, pilot_id, threshold=threshold)
    counts = at_place.place_counts(session, pilot_id) if partner is None else {}
    statuses = _assessment_statuses(session, pilot_id)
    rows = [(p, counts.get(p.id, 0), agency) for p, agency in session.execute(
        select(Place, Agency.name)
        .outerjoin(Agency, Agency.id == Place.managed_by_id)
        .where(Place.pilot_id == pilot_id, Place.deleted_at.is_(None))
        .order_by(Place.name)
    ).all()]
    return {
        "type": "FeatureCollection",
        "features": [place_feature(p, n, agency, partner=partner,
                                   assessment_status=statuses.get(p.id))
                     for p, n, agency in rows],
    }


# --- writing places -------------------------------------------------------------------

_EDITABLE = ("name", "kind", "geometry", "managed_by_id", "notes")


def _live_place(session: Session, pilot_id: int, place_id: int) -> Place:
    place = session.get(Place, place_id)
    if place is None or place.pilot_id != pilot_id or place.deleted_at is not None:
        raise NotFound("No such place in this pilot.")
    return place


def check_geometry_fits_kind(kind: str, geom: BaseGeometry | None) -> None:
    """Raise :class:`InvalidData` unless ``geom`` is a geometry a ``kind`` of place may have.

    Parameters
    ----------
    kind : str
        A word from :data:`locmap.vocab.PLACE_KINDS`.
    geom : shapely geometry or None
        The parsed, valid geometry (None for no location).

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> check_geometry_fits_kind("fast_food", Point(-1.5, 52.5))
    >>> check_geometry_fits_kind("online", None)
    """
    if kind not in PLACE_KINDS:
        raise InvalidData(f"Unknown kind of place {kind!r}.", details={"field": "kind"})
    allowed = PLACE_GEOMETRY_RULE.get(kind, _ANY_GEOMETRY)
    if not allowed:
        if geom is not None:
            raise InvalidData(f"A {label(kind).lower()} context has no map location; "
                              "remove the geometry.", details={"field": "geometry"})
        return
    if geom is None:
        raise InvalidData(f"A {label(kind).lower()} needs a location on the map.",
                          details={"field": "geometry"})
    gtype = geom.geom_type.upper()
    if gtype not in allowed:
        names = " or ".join(t.title().replace("string", "String") for t in allowed)
        raise InvalidData(f"A {label(kind).lower()} is drawn as a {names}, not a "
                          f"{geom.geom_type}.", details={"field": "geometry"})


def _agency_name(session: Session, agency_id: int | None) -> str | None:
    if agency_id is None:
        return None
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise InvalidData(f"No agency with id {agency_id}.", details={"field": "managed_by_id"})
    return agency.name


def _locality_warnings(session: Session, pilot_id: int, geom: BaseGeometry | None) -> list[str]:
    if geom is None:
        return []
    pilot = session.get_one(Pilot, pilot_id)
    locality = wkb_to_shape(pilot.locality)
    if locality is None or locality.covers(geom):
        return []
    if locality.intersects(geom):
        return ["Part of this place lies outside the pilot's locality."]
    return ["This place lies outside the pilot's locality: saved, but check it is the "
            "right pilot and location."]


def _parse_geometry(value: dict[str, Any] | None) -> BaseGeometry | None:
    return None if value is None else parse_geojson_geometry(
        value, max_vertices=PLACE_MAX_VERTICES)


def _assessment_statuses(session: Session, pilot_id: int,
                         place_id: int | None = None) -> dict[int, str]:
    """Each place's latest assessment version's status (the workspace list offers "Start
    an assessment" where there is none): one DISTINCT ON over the pilot's assessments.
    """
    query = (select(Assessment.place_id, Assessment.status)
             .join(Place, Place.id == Assessment.place_id)
             .where(Place.pilot_id == pilot_id)
             .distinct(Assessment.place_id)
             .order_by(Assessment.place_id, Assessment.version_no.desc()))
    if place_id is not None:
        query = query.where(Assessment.place_id == place_id)
    return dict(session.execute(query).tuples().all())


def _feature_of(session: Session, place: Place, warnings: list[str],
                partner: PartnerPlaceCounts | None = None) -> dict[str, Any]:
    count = 0 if partner else at_place.place_count(session, place.pilot_id, place.id)
    status = _assessment_statuses(session, place.pilot_id, place.id).get(place.id)
    out = place_feature(place, count, _agency_name(session, place.managed_by_id),
                        partner=partner, assessment_status=status)
    out["warnings"] = warnings
    return out


def other_place_names(
    session: Session, actor: Actor, pilot_id: int, place_id: int
) -> list[dict[str, Any]]:
    """{id, name} of the pilot's other live places, by name (for "linked places" pickers)."""
    require(actor, pilot_id, "place.view")
    return [{"id": r.id, "name": r.name} for r in session.execute(
        select(Place.id, Place.name).where(Place.pilot_id == pilot_id, Place.id != place_id,
                                           Place.deleted_at.is_(None)).order_by(Place.name)
    )]


def get_place(session: Session, actor: Actor, pilot_id: int, place_id: int,
              *, threshold: int) -> dict[str, Any]:
    """One live place as a GeoJSON Feature (a partner's incident count as in
    :func:`list_places`).
    """
    require(actor, pilot_id, "place.view")
    place = _live_place(session, pilot_id, place_id)
    partner = None if can(actor, pilot_id, "evidence.records") else partner_place_counts(
        session, pilot_id, threshold=threshold, place_ids=(place.id,))
    return _feature_of(session, place, [], partner)


def create_place(
    session: Session, actor: Actor, pilot_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    """Create a place; the Feature carries ``warnings`` (e.g. outside the locality).

    Raises
    ------
    InvalidGeometry
        Invalid or non-WGS84 geometry (``details.repaired`` offers a fix, never applied).
    InvalidData
        Empty name, unknown kind or agency, or a geometry that does not fit the kind.
    """
    require(actor, pilot_id, "place.edit")
    name = (data.get("name") or "").strip()
    if not name:
        raise InvalidData("A place needs a name.", details={"field": "name"})
    kind = data.get("kind", "other")
    geom = _parse_geometry(data.get("geometry"))
    check_geometry_fits_kind(kind, geom)
    _agency_name(session, data.get("managed_by_id"))
    place = Place(
        pilot_id=pilot_id, name=name, kind=kind,
        geom=None if geom is None else from_shape(geom, srid=4326),
        managed_by_id=data.get("managed_by_id"), notes=data.get("notes") or "",
        created_by_id=actor.user_id,
    )
    session.add(place)
    session.flush()
    warnings = _locality_warnings(session, pilot_id, geom)
    audit.record(session, actor, "create", "place", place.id, pilot_id=pilot_id,
                 detail={"name": name, "kind": kind, "warnings": warnings})
    return _feature_of(session, place, warnings)


def update_place(
    session: Session, actor: Actor, pilot_id: int, place_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    """Change a place. ``data["version"]`` must be the version the editor saw.

    Raises
    ------
    Conflict
        Someone saved first; ``details.current`` is the record as it now is.
    """
    require(actor, pilot_id, "place.edit")
    place = _live_place(session, pilot_id, place_id)
    check_version(session, "place", place, data.get("version"),
                  current=lambda p: _feature_of(session, p, []))
    changes = {k: data[k] for k in _EDITABLE if k in data}
    kind = changes.get("kind", place.kind)
    if "geometry" in changes:
        geom = _parse_geometry(changes["geometry"])
    else:
        geom = wkb_to_shape(place.geom)
    check_geometry_fits_kind(kind, geom)
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
        if not changes["name"]:
            raise InvalidData("A place needs a name.", details={"field": "name"})
        place.name = changes["name"]
    if "managed_by_id" in changes:
        _agency_name(session, changes["managed_by_id"])
        place.managed_by_id = changes["managed_by_id"]
    if "notes" in changes:
        place.notes = changes["notes"] or ""
    place.kind = kind
    if "geometry" in changes:
        place.geom = None if geom is None else from_shape(geom, srid=4326)
    session.flush()  # version_id_col bumps the version and guards the UPDATE
    warnings = _locality_warnings(session, pilot_id, geom) if "geometry" in changes else []
    audit.record(session, actor, "update", "place", place.id, pilot_id=pilot_id,
                 detail={"fields": sorted(changes), "warnings": warnings})
    return _feature_of(session, place, warnings)


def delete_place(
    session: Session, actor: Actor, pilot_id: int, place_id: int, version: int | None = None
) -> None:
    """Soft-delete a place (``deleted_at``); its incidents keep their location."""
    require(actor, pilot_id, "place.edit")
    place = _live_place(session, pilot_id, place_id)
    if version is not None:  # a delete checks the version when the client sends one
        check_version(session, "place", place, version,
                      current=lambda p: _feature_of(session, p, []))
    place.deleted_at = utcnow()
    session.flush()
    audit.record(session, actor, "delete", "place", place.id, pilot_id=pilot_id,
                 detail={"name": place.name, "soft": True})


def list_agencies(session: Session, actor: Actor, pilot_id: int) -> list[dict[str, Any]]:
    """Agencies a place can be managed by or an incident come from (for select lists)."""
    require(actor, pilot_id, "place.view")
    rows = session.execute(select(Agency.id, Agency.name, Agency.kind).order_by(Agency.name))
    return [dict(r._mapping) for r in rows]


def point_from_coordinates(
    session: Session, actor: Actor, pilot_id: int, system: str, first: float, second: float,
) -> dict[str, Any]:
    """Typed coordinates (:func:`locmap.geo.point_from_coordinates`) as a GeoJSON Point,
    with the locality warnings a place there would get: the new-place form's geometry
    without drawing.
    """
    require(actor, pilot_id, "place.view")
    point = geo.point_from_coordinates(system, first, second)
    return {"geometry": point,
            "warnings": _locality_warnings(session, pilot_id, _parse_geometry(point))}
