"""Incident SQL: deriving an incident's place, filtering, and clustering for the map.

Place derivation takes the places the incident is at (:mod:`locmap.queries.at_place`:
within :data:`~locmap.queries.at_place.PLACE_REACH_M` metres on ``geography``, served by
the expression GiST index ``ix_place_geom_geog``, polygons only when they contain the
point) and picks the nearest (a containing polygon is at distance 0; between two
containing polygons the smaller — the more specific place — wins).

Map clustering snaps points to a square grid in degrees whose cell is
:data:`CELL_PX` screen pixels at the requested zoom, aggregating in SQL
(``GROUP BY floor(x / cell), floor(y / cell)``) so the payload grows with the number of
occupied cells on screen, not with the number of incidents.

At the coarse zoom levels :data:`AGG_ZOOMS` the cells wholly inside the view are read from
``map_cell_count`` (migration 0008: per pilot, zoom, cell, category, severity and local
month, kept by triggers) instead of clustering every incident again; only the strip of
cells cut by the view's edge is clustered from ``incident``. Filters that the table cannot
answer (hours of day, a place, dates that are not whole months) and other zooms use the
direct query. Both give the same cells; a centroid may differ in the last bits of a
float (the sums are added in another order).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Select, func, literal_column, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from locmap.clock import LOCAL_TZ_NAME
from locmap.models import Incident, MapCellCount
from locmap.queries.at_place import PLACE_REACH_M, ids_at_place

__all__ = [
    "CELL_PX", "POINTS_ZOOM", "POINTS_MAX", "IncidentFilter",
    "derive_place_id", "filter_clauses", "cell_size_deg", "map_cells", "map_points",
    "count_in_view", "AGG_ZOOMS", "pilot_incident_total", "month_span",
]

CELL_PX = 60
POINTS_ZOOM = 17
POINTS_MAX = 500
LOCAL_TZ = LOCAL_TZ_NAME
# The zoom levels map_cell_count holds (MAP_CELL_ZOOMS of migrations 0008 and 0030).
AGG_ZOOMS = range(6, 15)
# Its coarsest level: the pilot's incidents in a few rows (pilot_incident_total).
TOTAL_ZOOM = 6

_DERIVE_SQL = text(
    """
    SELECT p.id
    FROM place p
    WHERE p.pilot_id = :pilot_id AND p.deleted_at IS NULL AND p.geom IS NOT NULL
      AND ST_DWithin(p.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography,
                     :radius)
      AND (GeometryType(p.geom) IN ('POINT', 'LINESTRING')
           OR ST_Intersects(p.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)))
    ORDER BY ST_Distance(p.geom::geography,
                         ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography),
             CASE WHEN GeometryType(p.geom) IN ('POLYGON', 'MULTIPOLYGON')
                  THEN ST_Area(p.geom::geography) ELSE 0 END,
             p.id
    LIMIT 1
    """
)


def derive_place_id(
    session: Session, pilot_id: int, lon: float, lat: float, radius_m: float = PLACE_REACH_M
) -> int | None:
    """The live place an incident at (lon, lat) belongs to, or None.

    Parameters
    ----------
    session : Session
        An open session.
    pilot_id : int
        Only this pilot's places are candidates.
    lon, lat : float
        WGS84 position of the incident.
    radius_m : float
        How far from a point or line place an incident still counts as "at" it, in metres.

    Returns
    -------
    int or None
        The nearest candidate's id; containing polygons are at distance 0.
    """
    return session.scalar(
        _DERIVE_SQL, {"pilot_id": pilot_id, "lon": lon, "lat": lat, "radius": radius_m}
    )


@dataclass(frozen=True)
class IncidentFilter:
    """The filters the incident table and the map share (all optional)."""

    categories: tuple[str, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    hour_from: int | None = None
    hour_to: int | None = None
    place_id: int | None = None
    severities: tuple[int, ...] = ()
    source_agency_id: int | None = None
    data_import_id: int | None = None

    @property
    def by_record(self) -> bool:
        """Whether the filter uses fields only the owning team filters on (severity,
        source agency, import): partners' aggregates are by category and quarter.
        """
        return bool(self.severities) or self.source_agency_id is not None \
            or self.data_import_id is not None


def filter_clauses(pilot_id: int, f: IncidentFilter) -> list[ColumnElement[bool]]:
    """SQL conditions for a filter. Hours are local (Europe/London) and only apply to
    incidents whose time is exact: a monthly police record has no hour of day.
    """
    where: list[ColumnElement[bool]] = [Incident.pilot_id == pilot_id]
    if f.categories:
        where.append(Incident.category.in_(f.categories))
    if f.date_from is not None:
        where.append(Incident.occurred_at >= func.make_timestamptz(
            f.date_from.year, f.date_from.month, f.date_from.day, 0, 0, 0, LOCAL_TZ))
    if f.date_to is not None:
        nxt = f.date_to + dt.timedelta(days=1)
        where.append(Incident.occurred_at < func.make_timestamptz(
            nxt.year, nxt.month, nxt.day, 0, 0, 0, LOCAL_TZ))
    if f.hour_from is not None or f.hour_to is not None:
        hour = func.extract("hour", func.timezone(LOCAL_TZ, Incident.occurred_at))
        lo = 0 if f.hour_from is None else f.hour_from
        hi = 23 if f.hour_to is None else f.hour_to
        where.append(Incident.time_precision == "exact")
        # A window may wrap midnight (22 → 3).
        where.append(hour.between(lo, hi) if lo <= hi else (hour >= lo) | (hour <= hi))
    if f.place_id is not None:
        # At the place by the one rule (the place page's count), not only the incidents
        # whose own place_id is this one (an incident at two places is shown under one).
        where.append(Incident.id.in_(ids_at_place(pilot_id, f.place_id)))
    if f.severities:
        where.append(Incident.severity.in_(f.severities))
    if f.source_agency_id is not None:
        where.append(Incident.source_agency_id == f.source_agency_id)
    if f.data_import_id is not None:
        where.append(Incident.data_import_id == f.data_import_id)
    return where


def cell_size_deg(zoom: float) -> float:
    """Grid cell in degrees of longitude covering :data:`CELL_PX` pixels at ``zoom``."""
    return 360.0 / (256.0 * 2.0 ** zoom) * CELL_PX


def _in_view(bbox: tuple[float, float, float, float]) -> ColumnElement[bool]:
    w, s, e, n = bbox
    envelope = func.ST_MakeEnvelope(w, s, e, n, 4326)
    # `&&` on the geometry column uses the GiST index idx_incident_location.
    return Incident.location.op("&&")(envelope)


def count_in_view(
    session: Session, pilot_id: int, bbox: tuple[float, float, float, float], f: IncidentFilter
) -> int:
    stmt = select(func.count()).where(*filter_clauses(pilot_id, f), _in_view(bbox))
    return int(session.scalar(stmt) or 0)


def _whole_months(f: IncidentFilter) -> bool:
    """Whether the filter is one the monthly counts answer exactly (the counts know
    category, month and zoom cell; hours, place, severity, source and import need the
    incidents themselves).
    """
    if f.hour_from is not None or f.hour_to is not None or f.place_id is not None \
            or f.by_record:
        return False
    if f.date_from is not None and f.date_from.day != 1:
        return False
    return f.date_to is None or (f.date_to + dt.timedelta(days=1)).day == 1


def _inner(lo: float, hi: float, cell: float) -> tuple[int, int]:
    """The cells wholly inside [lo, hi]: first and last index (first > last if none)."""
    first, last = math.ceil(lo / cell), math.floor(hi / cell) - 1
    if first * cell < lo:
        first += 1
    if (last + 1) * cell > hi:
        last -= 1
    return first, last


def map_cells(
    session: Session, pilot_id: int, bbox: tuple[float, float, float, float], zoom: float,
    f: IncidentFilter, *, use_counts: bool = True,
) -> list[dict[str, Any]]:
    """Occupied grid cells in view: count, centroid of their incidents, worst severity,
    and the cell's grid index (``gx``, ``gy``: its south-west corner is ``gx * cell``,
    ``gy * cell``).

    With ``use_counts`` (the default) whole cells at the zoom levels :data:`AGG_ZOOMS` come
    from ``map_cell_count`` when the filter allows it; False always clusters the incidents
    (the benchmarks compare the two).
    """
    cell = cell_size_deg(zoom)
    w, s, e, n = bbox
    gx0, gx1 = _inner(w, e, cell)
    gy0, gy1 = _inner(s, n, cell)
    if not (use_counts and zoom in AGG_ZOOMS and _whole_months(f)
            and gx0 <= gx1 and gy0 <= gy1):
        return _cluster(session, pilot_id, bbox, cell, f)
    inner = (gx0 * cell, gy0 * cell, (gx1 + 1) * cell, (gy1 + 1) * cell)
    edge = _cluster(session, pilot_id, bbox, cell, f, outside=(inner, (gx0, gx1, gy0, gy1)))
    return edge + _counted_cells(session, pilot_id, int(zoom), (gx0, gx1, gy0, gy1), f)


def _cluster(
    session: Session, pilot_id: int, bbox: tuple[float, float, float, float], cell: float,
    f: IncidentFilter, outside: tuple[tuple[float, float, float, float],
                                      tuple[int, int, int, int]] | None = None,
) -> list[dict[str, Any]]:
    """Cluster the incidents in view; with ``outside``, only those not in its cells."""
    x, y = func.ST_X(Incident.location), func.ST_Y(Incident.location)
    gx = func.floor(x / cell)
    gy = func.floor(y / cell)
    where = [*filter_clauses(pilot_id, f), _in_view(bbox)]
    if outside is not None:
        (iw, i_s, ie, i_n), (gx0, gx1, gy0, gy1) = outside
        w, s, e, n = bbox
        # The four strips around the inner cells, so the GiST index skips the inside.
        strips = [(w, s, iw, n), (ie, s, e, n), (iw, s, ie, i_s), (iw, i_n, ie, n)]
        where.append(or_(*(_in_view(b) for b in strips)))
        where.append(~(gx.between(gx0, gx1) & gy.between(gy0, gy1)))
    stmt: Select[Any] = (
        select(func.count().label("n"), func.avg(x).label("lon"), func.avg(y).label("lat"),
               func.max(Incident.severity).label("max_severity"))
        .where(*where)
        .group_by(literal_column("gx"), literal_column("gy"))
        .add_columns(gx.label("gx"), gy.label("gy"))
    )
    return [
        {"n": r.n, "lon": float(r.lon), "lat": float(r.lat), "max_severity": r.max_severity,
         "gx": int(r.gx), "gy": int(r.gy)}
        for r in session.execute(stmt)
    ]


def _counted_cells(
    session: Session, pilot_id: int, zoom: int, cells: tuple[int, int, int, int],
    f: IncidentFilter,
) -> list[dict[str, Any]]:
    """The cells gx0..gx1 x gy0..gy1 from map_cell_count (whole months only)."""
    gx0, gx1, gy0, gy1 = cells
    m = MapCellCount
    where = [m.pilot_id == pilot_id, m.zoom == zoom, m.gx.between(gx0, gx1),
             m.gy.between(gy0, gy1)]
    if f.categories:
        where.append(m.category.in_(f.categories))
    if f.date_from is not None:
        where.append(m.month >= f.date_from)
    if f.date_to is not None:
        where.append(m.month <= f.date_to)
    total = func.sum(m.n)
    stmt = (
        select(m.gx, m.gy, total.label("n"),
               (func.sum(m.sx) / func.cast(total, Float)).label("lon"),
               (func.sum(m.sy) / func.cast(total, Float)).label("lat"),
               func.max(m.severity).label("max_severity"))
        .where(*where).group_by(m.gx, m.gy)
    )
    return [
        {"n": int(r.n), "lon": float(r.lon), "lat": float(r.lat),
         "max_severity": r.max_severity, "gx": r.gx, "gy": r.gy}
        for r in session.execute(stmt)
    ]


def pilot_incident_total(session: Session, pilot_id: int) -> int:
    """How many incidents the pilot has: the coarsest level of map_cell_count."""
    return int(session.scalar(
        select(func.coalesce(func.sum(MapCellCount.n), 0))
        .where(MapCellCount.pilot_id == pilot_id, MapCellCount.zoom == TOTAL_ZOOM)) or 0)


def month_span(session: Session, pilot_id: int) -> tuple[dt.date, dt.date] | None:
    """The first and last local month with an incident (from map_cell_count's coarsest
    level: a few rows, not the incidents), or None when the pilot has none.
    """
    m = MapCellCount
    first, last = session.execute(
        select(func.min(m.month), func.max(m.month))
        .where(m.pilot_id == pilot_id, m.zoom == TOTAL_ZOOM)).one()
    return None if first is None else (first, last)


def map_points(
    session: Session, pilot_id: int, bbox: tuple[float, float, float, float],
    f: IncidentFilter, limit: int = POINTS_MAX,
) -> list[dict[str, Any]]:
    """Individual incidents in view (no restricted text: the map is a shared view)."""
    stmt = (
        select(Incident.id, func.ST_X(Incident.location).label("lon"),
               func.ST_Y(Incident.location).label("lat"), Incident.category,
               Incident.severity, Incident.occurred_at, Incident.time_precision,
               Incident.place_id)
        .where(*filter_clauses(pilot_id, f), _in_view(bbox))
        .order_by(Incident.occurred_at.desc(), Incident.id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in session.execute(stmt)]
