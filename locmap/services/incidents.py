"""Incidents of harm: record, list, change and remove them, and the clustered map view.

An incident's place is taken from the request when given, otherwise derived spatially
(:func:`locmap.queries.incidents.derive_place_id`) and marked ``place_derived``. The
restricted free text (``description``) is shown only to the owning team
(``evidence.restricted_text``); every read of it is audited as personal data.

Incidents one by one — exact coordinates, time, reference — are the owning team's too
(``evidence.records``): a partner reviewer gets 403 for the list and a single record,
and on the map only whole grid cells of at least :data:`PARTNER_CELL_ZOOM`'s size,
counted over whole quarters, withheld below the suppression threshold and rounded to
base 5 (:func:`incident_map`). Without that, a "<5" on a review point could be undone by
listing the place's incidents, or by moving the map's edge or the date filter a little.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from geoalchemy2.shape import from_shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment.dashboard import partner_quarter_end
from locmap.errors import InvalidData, NotFound
from locmap.geo import parse_geojson_geometry, wkb_to_shape
from locmap.io.export import csv_lines
from locmap.models import Agency, DataImport, Incident, Place
from locmap.queries import at_place
from locmap.queries import incident_tiles as qt
from locmap.queries import incidents as q
from locmap.services import audit
from locmap.services.permissions import Actor, can, require
from locmap.services.versioning import check_version
from locmap.vocab import HARM_CATEGORIES, TIME_PRECISIONS, label

__all__ = [
    "list_incidents", "get_incident", "create_incident", "update_incident", "delete_incident",
    "incident_map", "IncidentFilter", "partner_count", "PARTNER_CELL_ZOOM", "SORTS",
    "table_choices", "incidents_csv", "partner_place_counts", "PartnerPlaceCounts",
    "partner_incident_total",
    "incident_tile", "MAX_TILE_ZOOM", "partner_map",
    "incident_months",
]

IncidentFilter = q.IncidentFilter
MAX_PAGE = 500
# Partners' map cells are never finer than the grid at this zoom (60 px ≈ 350 m at 52° N).
PARTNER_CELL_ZOOM = 14
ROUND_BASE = 5


def _dump(incident: Incident, restricted: bool) -> dict[str, Any]:
    point = wkb_to_shape(incident.location)
    out: dict[str, Any] = {
        "id": incident.id,
        "location": {"type": "Point", "coordinates": [point.x, point.y]} if point else None,
        "place_id": incident.place_id,
        "place_derived": incident.place_derived,
        "occurred_at": incident.occurred_at.isoformat(),
        "time_precision": incident.time_precision,
        "category": incident.category,
        "category_label": label(incident.category),
        "severity": incident.severity,
        "source_agency_id": incident.source_agency_id,
        "data_import_id": incident.data_import_id,
        "external_ref": incident.external_ref,
        "version": incident.version,
    }
    if restricted:
        out["description"] = incident.description
    return out


def _get(session: Session, pilot_id: int, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None or incident.pilot_id != pilot_id:
        raise NotFound("No such incident in this pilot.")
    return incident


def _check_fields(session: Session, pilot_id: int, data: dict[str, Any]) -> None:
    if "category" in data and data["category"] not in HARM_CATEGORIES:
        raise InvalidData(f"Unknown harm category {data['category']!r}.",
                          details={"field": "category"})
    if "severity" in data and not (isinstance(data["severity"], int)
                                   and not isinstance(data["severity"], bool)
                                   and 1 <= data["severity"] <= 5):
        raise InvalidData("Severity is a whole number from 1 (low) to 5 (high).",
                          details={"field": "severity"})
    if "time_precision" in data and data["time_precision"] not in TIME_PRECISIONS:
        raise InvalidData(f"Time precision is one of {', '.join(TIME_PRECISIONS)}.",
                          details={"field": "time_precision"})
    when = data.get("occurred_at")
    if when is not None and (not isinstance(when, dt.datetime) or when.tzinfo is None):
        raise InvalidData("occurred_at needs a date, time and UTC offset.",
                          details={"field": "occurred_at"})
    if when is not None and (problem := clock.event_date_problem(when)):
        raise InvalidData(f"occurred_at: {problem}.", details={"field": "occurred_at"})
    if data.get("source_agency_id") is not None and session.get(
            Agency, data["source_agency_id"]) is None:
        raise InvalidData(f"No agency with id {data['source_agency_id']}.",
                          details={"field": "source_agency_id"})
    place_id = data.get("place_id")
    if place_id is not None:
        place = session.get(Place, place_id)
        if place is None or place.pilot_id != pilot_id or place.deleted_at is not None:
            raise InvalidData(f"No place {place_id} in this pilot.", details={"field": "place_id"})


def _set_location(
    session: Session, incident: Incident, pilot_id: int, data: dict[str, Any]
) -> None:
    point = parse_geojson_geometry(data["location"], allowed=("Point",))
    incident.location = from_shape(point, srid=4326)
    if data.get("place_id") is None:
        incident.place_id = q.derive_place_id(session, pilot_id, point.x, point.y)
        incident.place_derived = incident.place_id is not None
    else:
        incident.place_id, incident.place_derived = data["place_id"], False


def create_incident(
    session: Session, actor: Actor, pilot_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    """Record an incident; its place is derived from ``location`` when not given."""
    require(actor, pilot_id, "evidence.edit")
    if data.get("location") is None:
        raise InvalidData("An incident needs a location.", details={"field": "location"})
    for required in ("category", "occurred_at"):
        if data.get(required) is None:
            raise InvalidData(f"An incident needs {required.replace('_', ' ')}.",
                              details={"field": required})
    _check_fields(session, pilot_id, data)
    incident = Incident(
        pilot_id=pilot_id, occurred_at=data["occurred_at"],
        time_precision=data.get("time_precision", "exact"), category=data["category"],
        severity=data.get("severity", 3), source_agency_id=data.get("source_agency_id"),
        external_ref=data.get("external_ref"), description=data.get("description") or "",
        created_by_id=actor.user_id,
    )
    _set_location(session, incident, pilot_id, data)
    session.add(incident)
    session.flush()
    audit.record(session, actor, "create", "incident", incident.id, pilot_id=pilot_id,
                 personal_data=bool(incident.description),
                 detail={"category": incident.category, "place_id": incident.place_id,
                         "place_derived": incident.place_derived})
    return _dump(incident, can(actor, pilot_id, "evidence.restricted_text"))


def get_incident(
    session: Session, actor: Actor, pilot_id: int, incident_id: int
) -> dict[str, Any]:
    require(actor, pilot_id, "evidence.records")
    incident = _get(session, pilot_id, incident_id)
    restricted = can(actor, pilot_id, "evidence.restricted_text")
    if restricted:
        audit.record(session, actor, "read", "incident", incident.id, pilot_id=pilot_id,
                     personal_data=True, detail={"fields": ["description"]})
    return _dump(incident, restricted)


# The orders the incident table offers; every one ends on the id so pages never overlap.
SORTS: dict[str, tuple[Any, ...]] = {
    "newest": (Incident.occurred_at.desc(), Incident.id.desc()),
    "oldest": (Incident.occurred_at.asc(), Incident.id.asc()),
    "category": (Incident.category.asc(), Incident.occurred_at.desc(), Incident.id.desc()),
    "severity": (Incident.severity.desc(), Incident.occurred_at.desc(), Incident.id.desc()),
    "place": (Place.name.asc().nulls_last(), Incident.occurred_at.desc(), Incident.id.desc()),
}
# A CSV of the table holds at most this many rows; narrow the filter for more.
MAX_CSV_ROWS = 100_000


def _ordered(where: list[Any], sort: str) -> Any:
    if sort not in SORTS:
        raise InvalidData(f"sort is one of: {', '.join(SORTS)}.", details={"field": "sort"})
    stmt = select(Incident).where(*where)
    if sort == "place":
        stmt = stmt.outerjoin(Place, Place.id == Incident.place_id)
    return stmt.order_by(*SORTS[sort])


def list_incidents(
    session: Session, actor: Actor, pilot_id: int, f: q.IncidentFilter,
    *, limit: int = 100, offset: int = 0, sort: str = "newest",
) -> dict[str, Any]:
    """A page of incidents (newest first unless ``sort`` says otherwise), with the total
    that match the filter.
    """
    require(actor, pilot_id, "evidence.records")
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InvalidData(f"limit is 1–{MAX_PAGE} and offset at least 0.")
    where = q.filter_clauses(pilot_id, f)
    total = session.scalar(select(func.count()).select_from(Incident).where(*where)) or 0
    rows = session.scalars(_ordered(where, sort).limit(limit).offset(offset)).all()
    restricted = can(actor, pilot_id, "evidence.restricted_text")
    if restricted and rows:
        audit.record(session, actor, "read", "incident", None, pilot_id=pilot_id,
                     personal_data=True,
                     detail={"fields": ["description"], "ids": [r.id for r in rows]})
    return {"items": [_dump(r, restricted) for r in rows], "total": total,
            "limit": limit, "offset": offset}


def table_choices(session: Session, actor: Actor, pilot_id: int) -> dict[str, Any]:
    """Names for the incident table and its filters: the pilot's places (deleted ones
    marked), the agencies, and the pilot's imports.
    """
    require(actor, pilot_id, "evidence.records")
    places = {r.id: r.name + (" (deleted)" if r.deleted_at else "") for r in session.execute(
        select(Place.id, Place.name, Place.deleted_at).where(Place.pilot_id == pilot_id)
        .order_by(Place.name))}
    agencies = dict(session.execute(select(Agency.id, Agency.name).order_by(Agency.name))
                    .tuples().all())
    imports = {r.id: {"filename": r.filename, "kind": r.kind, "status": r.status,
                      "started_at": r.started_at}
               for r in session.execute(
                   select(DataImport.id, DataImport.filename, DataImport.kind,
                          DataImport.status, DataImport.started_at)
                   .where(DataImport.pilot_id == pilot_id)
                   .order_by(DataImport.id.desc()))}
    return {"places": places, "agencies": agencies, "imports": imports,
            "sorts": tuple(SORTS)}


def incidents_csv(session: Session, actor: Actor, pilot_id: int, f: q.IncidentFilter,
                  *, sort: str = "newest") -> str:
    """The incidents the table shows, as CSV (formula-like cells neutralised).

    The owning team's export: exact places and times; the restricted description only
    for roles that read it. Audited as an export, as personal data when it holds the
    description. More than :data:`MAX_CSV_ROWS` rows is refused: narrow the filter.
    """
    require(actor, pilot_id, "evidence.records")
    where = q.filter_clauses(pilot_id, f)
    total = session.scalar(select(func.count()).select_from(Incident).where(*where)) or 0
    if total > MAX_CSV_ROWS:
        raise InvalidData(f"{total:,} incidents match; a download holds at most "
                          f"{MAX_CSV_ROWS:,}. Narrow the dates or categories.")
    restricted = can(actor, pilot_id, "evidence.restricted_text")
    names = table_choices(session, actor, pilot_id)
    header = ["id", "occurred_at", "time_precision", "category", "severity", "place",
              "place_derived", "source_agency", "import_id", "external_ref", "lon", "lat",
              *(["description"] if restricted else [])]
    rows = []
    for r in session.scalars(_ordered(where, sort)):
        point = wkb_to_shape(r.location)
        rows.append([
            r.id, r.occurred_at.astimezone(clock.LOCAL_TZ).isoformat(), r.time_precision,
            label(r.category), r.severity, names["places"].get(r.place_id or 0, ""),
            r.place_derived, names["agencies"].get(r.source_agency_id or 0, ""),
            r.data_import_id or "", r.external_ref or "",
            round(point.x, 7) if point else "", round(point.y, 7) if point else "",
            *([r.description] if restricted else []),
        ])
    audit.record(session, actor, "export", "incident", None, pilot_id=pilot_id,
                 personal_data=restricted,
                 detail={"format": "csv", "incidents": len(rows), "sort": sort,
                         "restricted_text": restricted,
                         "ids": [row[0] for row in rows][:1000]})
    return "".join(csv_lines(header, rows))


def update_incident(
    session: Session, actor: Actor, pilot_id: int, incident_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    """Change an incident; ``data["version"]`` must match (409 with the current record)."""
    require(actor, pilot_id, "evidence.edit")
    incident = _get(session, pilot_id, incident_id)
    restricted = can(actor, pilot_id, "evidence.restricted_text")
    # The 409 carries the current record without its restricted description: reading
    # that is a GET, audited as personal data.
    check_version(session, "incident", incident, data.get("version"),
                  current=lambda i: _dump(i, False))
    if "description" in data and not restricted:
        raise InvalidData("Your role cannot write the restricted description.")
    _check_fields(session, pilot_id, data)
    for key in ("occurred_at", "time_precision", "category", "severity", "source_agency_id",
                "external_ref", "description"):
        if key in data and data[key] is not None:
            setattr(incident, key, data[key])
    if "location" in data and data["location"] is not None:
        _set_location(session, incident, pilot_id, data)
    elif "place_id" in data:
        incident.place_id, incident.place_derived = data["place_id"], False
    session.flush()
    audit.record(session, actor, "update", "incident", incident.id, pilot_id=pilot_id,
                 personal_data="description" in data,
                 detail={"fields": sorted(k for k in data if k != "version")})
    return _dump(incident, restricted)


def delete_incident(session: Session, actor: Actor, pilot_id: int, incident_id: int) -> None:
    """Remove an incident (recorded in error); the audit trail keeps that it existed."""
    require(actor, pilot_id, "evidence.edit")
    incident = _get(session, pilot_id, incident_id)
    detail = {"category": incident.category, "occurred_at": incident.occurred_at.isoformat()}
    session.delete(incident)
    session.flush()
    audit.record(session, actor, "delete", "incident", incident_id, pilot_id=pilot_id,
                 detail=detail)


def incident_map(
    session: Session, actor: Actor, pilot_id: int, bbox: tuple[float, float, float, float],
    zoom: float, f: q.IncidentFilter, *, threshold: int,
) -> dict[str, Any]:
    """Incidents in view as GeoJSON: grid clusters, or single points when zoomed in or few.

    A partner (no ``evidence.records``) always gets aggregates (:func:`partner_map`).

    Returns
    -------
    dict
        A FeatureCollection with ``mode`` ("clusters" or "points") and ``total``; a cluster
        Feature has ``count`` and ``max_severity``, a point Feature the incident's fields.
        A partner's collection also has ``suppressed: true``, ``threshold`` and
        ``withheld`` (whether any cell in view was left out).
    """
    require(actor, pilot_id, "evidence.view")
    w, s, e, n = bbox
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise InvalidData("bbox is west,south,east,north in WGS84 degrees, west < east "
                          "and south < north.", details={"field": "bbox"})
    if not can(actor, pilot_id, "evidence.records"):
        if f.by_record:
            raise InvalidData("Partners see incidents by category and quarter; severity, "
                              "source and import filters are the owning team's.")
        return partner_map(session, pilot_id, bbox, zoom, f, threshold)
    cells = q.map_cells(session, pilot_id, bbox, zoom, f)
    total = sum(c["n"] for c in cells)
    if zoom >= q.POINTS_ZOOM or total <= q.POINTS_MAX:
        points = q.map_points(session, pilot_id, bbox, f, limit=q.POINTS_MAX)
        if len(points) == total:
            return {"type": "FeatureCollection", "mode": "points", "total": total,
                    "features": [_point_feature(p) for p in points]}
    return {
        "type": "FeatureCollection", "mode": "clusters", "total": total,
        "features": [
            {"type": "Feature",
             "geometry": {"type": "Point",
                          "coordinates": [round(c["lon"], 6), round(c["lat"], 6)]},
             "properties": {"count": c["n"], "max_severity": c["max_severity"]}}
            for c in cells
        ],
    }


def _point_feature(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature", "id": p["id"],
        "geometry": {"type": "Point", "coordinates": [round(p["lon"], 7), round(p["lat"], 7)]},
        "properties": {
            "id": p["id"], "count": 1, "category": p["category"],
            "category_label": label(p["category"]), "severity": p["severity"],
            "occurred_at": p["occurred_at"].isoformat(), "time_precision": p["time_precision"],
            "place_id": p["place_id"],
        },
    }


def partner_count(n: int, threshold: int) -> int | None:
    """A count as partners see it: None below ``threshold``, else rounded to base 5.

    Examples
    --------
    >>> [partner_count(n, 5) for n in (0, 4, 5, 7, 8, 12)]
    [None, None, 5, 5, 10, 10]
    """
    if n < threshold:
        return None
    return max(ROUND_BASE, ROUND_BASE * ((n + ROUND_BASE // 2) // ROUND_BASE))


@dataclass(frozen=True)
class PartnerPlaceCounts:
    """Incidents at each place as partners see them: up to ``as_of``, the last completed
    quarter end (never today, so two days cannot be differenced), ``None`` below the
    threshold, else rounded to base 5 (:func:`partner_count`).
    """

    as_of: dt.date
    threshold: int
    counts: dict[int, int | None]

    def of(self, place_id: int) -> int | None:
        return self.counts.get(place_id, partner_count(0, self.threshold))

    def label(self, place_id: int) -> str:
        shown = self.of(place_id)
        return f"fewer than {self.threshold}" if shown is None else f"about {shown}"


def _partner_window() -> tuple[dt.date, dt.datetime]:
    """The last completed quarter end and the local midnight after it (partners' figures
    count incidents before that moment).
    """
    as_of = partner_quarter_end(None, clock.today())
    return as_of, dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(0),
                                      tzinfo=clock.LOCAL_TZ)


def partner_place_counts(session: Session, pilot_id: int, *, threshold: int,
                         place_ids: tuple[int, ...] | None = None) -> PartnerPlaceCounts:
    """The one partner figure of a place's incidents: the place page header, the map's
    place list and the API's place properties all show this number (issue 14).
    """
    as_of, until = _partner_window()
    exact = at_place.place_counts(session, pilot_id, place_ids, until=until)
    return PartnerPlaceCounts(as_of, threshold,
                              {pid: partner_count(n, threshold) for pid, n in exact.items()})


def partner_incident_total(session: Session, pilot_id: int, *, threshold: int
                           ) -> tuple[dt.date, int | None]:
    """The pilot's incidents up to the last completed quarter end, as partners see them."""
    as_of, until = _partner_window()
    n = session.scalar(select(func.count()).select_from(Incident).where(
        Incident.pilot_id == pilot_id, Incident.occurred_at < until)) or 0
    return as_of, partner_count(n, threshold)


def _quarter_start(d: dt.date) -> dt.date:
    return dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def _quarter_end(d: dt.date) -> dt.date:
    start = _quarter_start(d)
    nxt = dt.date(start.year + (start.month == 10), (start.month + 2) % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def partner_map(
    session: Session, pilot_id: int, bbox: tuple[float, float, float, float], zoom: float,
    f: q.IncidentFilter, threshold: int,
) -> dict[str, Any]:
    """Aggregates a partner cannot difference back into single incidents.

    Cells are never finer than :data:`PARTNER_CELL_ZOOM`'s grid and always whole (the
    view is widened to cell edges, so moving the map's edge changes no count); dates are
    widened to whole quarters and hour-of-day filters dropped (partner figures are by
    quarter); a cell is placed at its centre, not at its incidents' mean position; counts
    below ``threshold`` are withheld and the others rounded to base 5.
    """
    cell = q.cell_size_deg(min(zoom, PARTNER_CELL_ZOOM))
    w, s, e, n = bbox
    whole = (max(-180.0, math.floor(w / cell) * cell), max(-90.0, math.floor(s / cell) * cell),
             min(180.0, math.ceil(e / cell) * cell), min(90.0, math.ceil(n / cell) * cell))
    coarse = q.IncidentFilter(
        categories=f.categories, place_id=f.place_id,
        date_from=_quarter_start(f.date_from) if f.date_from else None,
        date_to=_quarter_end(f.date_to) if f.date_to else None)
    cells = q.map_cells(session, pilot_id, whole, min(zoom, PARTNER_CELL_ZOOM), coarse)
    features: list[dict[str, Any]] = []
    withheld, total = False, 0
    for c in cells:
        count = partner_count(c["n"], threshold)
        if count is None:
            withheld = True
            continue
        total += count
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point",
                         "coordinates": [round((c["gx"] + 0.5) * cell, 6),
                                         round((c["gy"] + 0.5) * cell, 6)]},
            "properties": {"count": count, "max_severity": c["max_severity"]},
        })
    return {"type": "FeatureCollection", "mode": "clusters", "suppressed": True,
            "threshold": threshold, "withheld": withheld,
            "total": total, "features": features}


MAX_TILE_ZOOM = 22


def incident_tile(
    session: Session, actor: Actor, pilot_id: int, tile: tuple[int, int, int],
    f: q.IncidentFilter, *, threshold: int,
) -> bytes:
    """The incidents of tile z/x/y as a Mapbox Vector Tile (layer ``incidents``).

    The owning team gets grid cells (``n``, top ``category``, ``max_severity``) below
    :data:`~locmap.queries.incidents.POINTS_ZOOM` and the incidents themselves from there
    (:mod:`locmap.queries.incident_tiles`). A partner gets what :func:`incident_map` gives
    them, whatever the zoom: whole cells never finer than :data:`PARTNER_CELL_ZOOM`'s grid,
    over whole quarters, at the cell's centre, withheld below ``threshold`` and rounded to
    base 5; a cell's top category is shown only when that category alone reaches the
    threshold (else ``mixed``).
    """
    require(actor, pilot_id, "evidence.view")
    z, x, y = tile
    if not (0 <= z <= MAX_TILE_ZOOM and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
        raise InvalidData(f"No tile {z}/{x}/{y}: zoom is 0–{MAX_TILE_ZOOM} and x, y are "
                          f"0 to 2^zoom − 1.", details={"field": "tile"})
    if not can(actor, pilot_id, "evidence.records"):
        if f.by_record:
            raise InvalidData("Partners see incidents by category and quarter; severity, "
                              "source and import filters are the owning team's.")
        coarse = q.IncidentFilter(
            categories=f.categories,
            date_from=_quarter_start(f.date_from) if f.date_from else None,
            date_to=_quarter_end(f.date_to) if f.date_to else None)
        zoom = min(max(z, qt.MIN_CELL_ZOOM), PARTNER_CELL_ZOOM)
        rows = qt.tile_cells(session, pilot_id, tile, zoom, coarse)
        return qt.cells_mvt(session, tile, _tile_features(rows, zoom, threshold))
    if z >= q.POINTS_ZOOM:
        return qt.points_mvt(session, pilot_id, tile, f)
    zoom = max(z, qt.MIN_CELL_ZOOM)
    rows = qt.tile_cells(session, pilot_id, tile, zoom, f)
    return qt.cells_mvt(session, tile, _tile_features(rows, zoom, None))


def _tile_features(
    rows: list[dict[str, Any]], zoom: int, threshold: int | None,
) -> list[dict[str, Any]]:
    """One feature per cell from its rows by category; ``threshold`` for partners."""
    cells: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for r in rows:
        cells.setdefault((r["gx"], r["gy"]), []).append(r)
    cell = q.cell_size_deg(zoom)
    out = []
    for (gx, gy), parts in sorted(cells.items()):
        n = sum(p["n"] for p in parts)
        top = min(parts, key=lambda p: (-p["n"], p["category"]))
        feature = {"n": n, "category": top["category"],
                   "max_severity": max(p["max_severity"] for p in parts),
                   "lon": sum(p["sx"] for p in parts) / n, "lat": sum(p["sy"] for p in parts) / n}
        if threshold is not None:
            count = partner_count(n, threshold)
            if count is None:
                continue
            feature.update(n=count, lon=(gx + 0.5) * cell, lat=(gy + 0.5) * cell)
            if partner_count(top["n"], threshold) is None:
                feature["category"] = "mixed"
        out.append(feature)
    return out


def incident_months(session: Session, actor: Actor, pilot_id: int) -> list[str]:
    """Every month (``YYYY-MM``) from the pilot's first incident to its last: the time
    slider's steps. Partners get them too (their counts are by quarter; the months only
    say the time span, which the dashboard shows them anyway).
    """
    require(actor, pilot_id, "evidence.view")
    span = q.month_span(session, pilot_id)
    if span is None:
        return []
    (y, m), last = (span[0].year, span[0].month), (span[1].year, span[1].month)
    out = []
    while (y, m) <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out
