"""SQL behind a place assessment: incidents by area, grid counts, terrain, safety maps, people.

Incidents are classified in ONE query against the pilot's locality: *place* (inside a
polygon place, ``ST_Intersects``; within ``place_m`` metres of a point or line place,
``ST_DWithin`` on ``geography`` served by the expression index ``ix_incident_location_geog``),
*ring* (within ``ring_m`` metres of the place, outside it) or *locality* (the rest). Areas
are ``ST_Area(geography)`` in km2, each clipped to the locality, so a ring that spills past
the locality edge is measured as far as incidents are counted.

A place assessment needs rows only for the place and its ring; the rest of a county-sized
locality is counts per harm category and severity plus the window's first and last
incident times. Those counts come from ``locality_incident_count`` (migration 0004): the
pilot's incidents intersecting its locality per category, severity and UTC *day*, kept
exact by statement-level triggers on ``incident`` and recounted when ``pilot.locality``
changes. Days, not one total per category and severity, because snapshots are taken
``until`` a moment and windows may start anywhere: whole days inside the window are summed
from the table, the partial first and last days are counted from ``incident`` (index on
``(pilot_id, occurred_at)``). Minimum and maximum times cannot be maintained under deletes,
so the first incident is the earliest of the partial first day or, failing that, of the
first day with a count (that day read in time order through the same index, stopping at
its first row in the locality), and the last one likewise. The rest of the locality is
the locality's counts less the place's and ring's rows.

Grid analysis (Gi*, risk terrain) runs in EPSG:27700, the British National Grid: its units
are metres, so a 100 m cell is 100 m on the ground, and it is the CRS British partners'
GIS data (police, councils, OS) already uses. Cells are ``floor((x - x0) / cell)`` in SQL,
so only cell counts, not incidents, leave the database.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from locmap.queries.at_place import PLACE_REACH_M, at_place_sql
from locmap.queries.routing import pilot_of_factor, pilot_of_place
from locmap.queries.safety_maps import covers_place_sql

__all__ = [
    "ANALYSIS_SIMPLIFY_M", "BNG_SRID", "PLACE_REACH_M", "RING_M", "CELL_M", "AreaSizes",
    "ClassifiedIncident",
    "GridCell", "Grid", "PlaceRow", "SafetyMapAreaRow", "PresenceRow", "place_row",
    "classified_incidents", "PlaceIncidents", "place_incidents", "area_sizes", "grid_counts",
    "feature_points", "safety_map_areas", "presences_in_force", "factor_evidence_counts",
    "cell_polygons", "place_cell",
]

BNG_SRID = 27700
RING_M = 500.0
CELL_M = 100.0
# Detailed place outlines (more than 64 vertices) are analysed simplified, topology kept
# (ST_SimplifyPreserveTopology: GEOS' TopologyPreservingSimplifier, as shapely's
# ``simplify(preserve_topology=True)``), in EPSG:27700 with this tolerance in metres: the
# outline moves by at most 2 m, under a phone's GPS error and far under the 10-500 m of
# ``place_m`` and the rings, while a 5,000-vertex outline drawn point by point becomes a few
# hundred or fewer. Outlines of 64 vertices or fewer are analysed exactly as drawn.
ANALYSIS_SIMPLIFY_M = 2.0


@dataclass(frozen=True)
class PlaceRow:
    id: int
    pilot_id: int
    name: str
    kind: str
    geometry_type: str | None
    geojson: dict[str, Any] | None


@dataclass(frozen=True)
class ClassifiedIncident:
    id: int
    occurred_at: dt.datetime
    precision: str
    category: str
    severity: int
    area: str


@dataclass(frozen=True)
class AreaSizes:
    place_km2: float
    ring_km2: float
    locality_km2: float


@dataclass(frozen=True)
class GridCell:
    row: int
    col: int
    count: int
    x: float  # centroid, EPSG:27700 metres
    y: float


@dataclass(frozen=True)
class Grid:
    cell_m: float
    x0: float
    y0: float
    cells: tuple[GridCell, ...]


@dataclass(frozen=True)
class SafetyMapAreaRow:
    safety_map_id: int
    period: str
    rating: str
    touches_place: bool
    geojson: dict[str, Any]


@dataclass(frozen=True)
class PresenceRow:
    person_id: int
    pseudonym: str
    kind: str
    frequency: str


_PLACE = text(
    "SELECT id, pilot_id, name, kind, GeometryType(geom) AS gtype, ST_AsGeoJSON(geom) AS gj "
    "FROM place WHERE id = :place_id AND pilot_id = :pilot_id AND deleted_at IS NULL"
)


def place_row(session: Session, place_id: int) -> PlaceRow | None:
    """The live place with its geometry as GeoJSON, or None."""
    r = session.execute(_PLACE, {"place_id": place_id,
                                 "pilot_id": pilot_of_place(session, place_id)}).one_or_none()
    if r is None:
        return None
    return PlaceRow(r.id, r.pilot_id, r.name, r.kind, r.gtype,
                    json.loads(r.gj) if r.gj else None)


_CLASSIFY = text(
    f"""
    SELECT i.id, i.occurred_at, i.time_precision, i.category, i.severity,
      CASE
        WHEN {at_place_sql()} THEN 'place'
        WHEN ST_DWithin(i.location::geography, pl.geog, :ring_m) THEN 'ring'
        ELSE 'locality'
      END AS area
    FROM (SELECT p.geom, p.geom::geography AS geog,
                 GeometryType(p.geom) IN ('POLYGON', 'MULTIPOLYGON') AS is_poly,
                 pi.id AS pilot_id, pi.locality
          FROM place p JOIN pilot pi ON pi.id = p.pilot_id
          WHERE p.id = :place_id AND p.pilot_id = :pilot_id) AS pl
    JOIN incident i ON i.pilot_id = :pilot_id AND ST_Intersects(i.location, pl.locality)
    WHERE (CAST(:since AS timestamptz) IS NULL OR i.occurred_at >= :since)
      AND (CAST(:until AS timestamptz) IS NULL OR i.occurred_at < :until)
    ORDER BY i.occurred_at, i.id
    """  # noqa: S608 (constant SQL fragments, no input)
)


def classified_incidents(
    session: Session, place_id: int, *, ring_m: float = RING_M, place_m: float = PLACE_REACH_M,
    since: dt.datetime | None = None, until: dt.datetime | None = None,
) -> list[ClassifiedIncident]:
    """Every incident of the place's locality with the innermost area it fell in.

    Parameters
    ----------
    session : Session
    place_id : int
        A place with a geometry (online contexts have none: the result is empty).
    ring_m, place_m : float
        Ring width and the radius that stands for a point or line place, in metres.
    since, until : datetime, optional
        Half-open window on ``occurred_at``; ``until`` lets a snapshot be recomputed.

    Returns
    -------
    list of ClassifiedIncident
        In time order; ``area`` is ``"place"``, ``"ring"`` or ``"locality"``.
    """
    rows = session.execute(_CLASSIFY, {
        "place_id": place_id, "pilot_id": pilot_of_place(session, place_id),
        "ring_m": ring_m, "place_m": place_m,
        "since": since, "until": until,
    })
    return [ClassifiedIncident(r.id, r.occurred_at, r.time_precision, r.category, r.severity,
                               r.area) for r in rows]


@dataclass(frozen=True)
class PlaceIncidents:
    """The place's incidents as rows, the ring's and the rest of the locality's as counts.

    ``at_place`` holds the incidents at the place in time order (their times feed the
    time profile and the monthly series); ``ring`` and ``rest_of_locality`` count the
    incidents in the ring and in the rest of the locality per ``(category, severity)``;
    ``first_at``/``last_at`` span the whole locality (None when it has no incidents).
    """

    at_place: tuple[ClassifiedIncident, ...]
    ring: dict[tuple[str, int], int]
    rest_of_locality: dict[tuple[str, int], int]
    first_at: dt.datetime | None
    last_at: dt.datetime | None

    def count(self, area: str) -> int:
        """Number of incidents at the ``"place"``, in the ``"ring"`` or in the ``"locality"``."""
        if area == "place":
            return len(self.at_place)
        return sum((self.ring if area == "ring" else self.rest_of_locality).values())


# The place and its ring: the incidents within the wider of the two distances of the
# place (ST_DWithin on the geography, spheroid), classified with the CASE of _CLASSIFY, so
# each incident falls in the same area; what it calls locality is left to the counts
# below. Only the place's rows leave the database; the ring's are counted per category and
# severity. The distance test is exact but costly per row, so it is only made where a
# cheap test cannot decide: a geography buffer is a polygon inscribed in the true one
# (0.5 % short at most with its 8 segments a quarter circle, in a projection chosen for
# the place whose scale error over a few km is far below 0.1 %), so a buffer 1 % + 1 m
# narrower lies inside the reach and one 1 % + 1 m wider contains it. Rows come through
# the geometry index on the wider buffer; those inside the narrower one are in; only the
# band between them pays for ST_DWithin. Likewise the ring's own ST_DWithin is skipped
# when the ring is the wider distance (the join has just made the same test), and the
# locality test when the locality covers the wider buffer.
_NEAR = text(
    f"""
    WITH pl AS MATERIALIZED (
      SELECT b.*, ST_Covers(b.locality, b.outer_reach) AS reach_inside
      FROM (
        SELECT a.geom, a.geom::geography AS geog,
               GeometryType(p.geom) IN ('POLYGON', 'MULTIPOLYGON') AS is_poly,
               pi.id AS pilot_id, pi.locality, greatest(:ring_m, :place_m) AS reach,
               ST_Buffer(a.geom::geography,
                         greatest(:ring_m, :place_m) * 0.99 - 1)::geometry AS inner_reach,
               ST_Buffer(a.geom::geography,
                         greatest(:ring_m, :place_m) * 1.01 + 1)::geometry AS outer_reach
        FROM place p JOIN pilot pi ON pi.id = p.pilot_id
        CROSS JOIN LATERAL (
          SELECT CASE WHEN ST_NPoints(p.geom) > 64
            THEN ST_Transform(ST_SimplifyPreserveTopology(ST_Transform(p.geom, 27700),
                                                          :simplify_m), 4326)
            ELSE p.geom END AS geom) a
        WHERE p.id = :place_id AND p.pilot_id = :pilot_id
      ) AS b
    ), c AS (
      SELECT i.id, i.occurred_at, i.time_precision, i.category, i.severity,
        CASE
          WHEN {at_place_sql()} THEN 'place'
          WHEN CAST(:ring_m AS float8) >= :place_m
            OR ST_DWithin(i.location::geography, pl.geog, :ring_m) THEN 'ring'
          ELSE 'locality'
        END AS area
      FROM pl JOIN incident i
        ON ST_Intersects(i.location, pl.outer_reach)
        AND i.pilot_id = :pilot_id
        AND (ST_Intersects(i.location, pl.inner_reach)
             OR _ST_DWithin(i.location::geography, pl.geog, pl.reach, true))
        AND (pl.reach_inside OR ST_Intersects(i.location, pl.locality))
      WHERE (CAST(:since AS timestamptz) IS NULL OR i.occurred_at >= :since)
        AND (CAST(:until AS timestamptz) IS NULL OR i.occurred_at < :until)
    )
    SELECT area, id, occurred_at, time_precision, category, severity, 1 AS n
    FROM c WHERE area = 'place'
    UNION ALL
    SELECT area, NULL, NULL, NULL, category, severity, count(*)
    FROM c WHERE area = 'ring' GROUP BY area, category, severity
    ORDER BY area, occurred_at, id, category, severity
    """  # noqa: S608 (constant SQL fragments, no input)
)

# The rest of the locality comes from locality_incident_count (migration 0004: the
# pilot's incidents that intersect its locality per category, severity and UTC day, kept
# exact by triggers on incident and pilot). Whole days inside the window are summed from
# it; the partial days at the window's ends are counted from incident itself through
# ix_incident_pilot_time. _ST_Intersects is the index-free test: on a day's incidents the
# GiST walk over the whole locality would cost far more than testing each row.
_DAY_COUNTS = text(
    """
    SELECT c.category, c.severity, sum(c.n) AS n, min(c.day) AS d0, max(c.day) AS d1
    FROM locality_incident_count c
    WHERE c.pilot_id = :pilot_id
      AND EXISTS (SELECT 1 FROM place p WHERE p.id = :place_id AND p.pilot_id = :pilot_id
                  AND p.geom IS NOT NULL)
      AND (CAST(:d_lo AS date) IS NULL OR c.day >= :d_lo)
      AND (CAST(:d_hi AS date) IS NULL OR c.day < :d_hi)
    GROUP BY c.category, c.severity
    """
)

_SPAN_COUNTS = text(
    """
    SELECT i.category, i.severity, count(*) AS n,
           min(i.occurred_at) AS first_at, max(i.occurred_at) AS last_at
    FROM incident i
    WHERE i.pilot_id = :pilot_id
      AND EXISTS (SELECT 1 FROM place p WHERE p.id = :place_id AND p.pilot_id = :pilot_id
                  AND p.geom IS NOT NULL)
      AND i.occurred_at >= :lo AND i.occurred_at < :hi
      AND _ST_Intersects(i.location, (SELECT pi.locality FROM pilot pi
                                      WHERE pi.id = :pilot_id))
    GROUP BY i.category, i.severity
    """
)

# The earliest (or latest) incident of the locality in [lo, hi): ix_incident_pilot_time
# walks the span in time order and stops at the first row inside the locality.
_FIRST_LAST = {
    order: text(
        """
        SELECT i.occurred_at FROM incident i
        WHERE i.pilot_id = :pilot_id
          AND i.occurred_at >= :lo AND i.occurred_at < :hi
          AND _ST_Intersects(i.location, (SELECT pi.locality FROM pilot pi
                                          WHERE pi.id = :pilot_id))
        ORDER BY i.occurred_at """ + order + " LIMIT 1")  # noqa: S608 (ASC or DESC only)
    for order in ("ASC", "DESC")
}

_AS_TIMESTAMPTZ = text("SELECT CAST(:t AS timestamptz)")

_DAY = dt.timedelta(days=1)


def _utc(session: Session, t: dt.datetime | None) -> dt.datetime | None:
    """``t`` in UTC as PostgreSQL reads it (a naive time is in the session's time zone)."""
    if t is None:
        return None
    if t.tzinfo is None:
        t = session.execute(_AS_TIMESTAMPTZ, {"t": t}).scalar_one()
    return t.astimezone(dt.UTC)


def _midnight(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)


@dataclass
class _Span:
    """Counts per (category, severity) and first/last time of a stretch of incidents."""

    counts: dict[tuple[str, int], int]
    first_at: dt.datetime | None = None
    last_at: dt.datetime | None = None


def _span(session: Session, place_id: int, pilot_id: int | None, lo: dt.datetime,
          hi: dt.datetime) -> _Span:
    """The locality's incidents in ``[lo, hi)``, counted from ``incident``."""
    if lo >= hi:
        return _Span({})
    rows = session.execute(_SPAN_COUNTS, {"place_id": place_id, "pilot_id": pilot_id,
                                          "lo": lo, "hi": hi}).all()
    if not rows:
        return _Span({})
    return _Span({(r.category, int(r.severity)): int(r.n) for r in rows},
                 min(r.first_at for r in rows), max(r.last_at for r in rows))


def _locality_counts(session: Session, place_id: int, pilot_id: int | None,
                     since: dt.datetime | None, until: dt.datetime | None) -> _Span:
    """Every incident of the place's locality in ``[since, until)``: counts and span."""
    lo, hi = _utc(session, since), _utc(session, until)
    # Whole UTC days d with lo <= d 00:00 and d + 1 00:00 <= hi come from the summary.
    d_lo = None if lo is None else lo.date() + (_DAY if lo != _midnight(lo.date()) else
                                                dt.timedelta(0))
    d_hi = None if hi is None else hi.date()
    if d_lo is not None and d_hi is not None and d_lo >= d_hi:
        assert lo is not None and hi is not None
        return _span(session, place_id, pilot_id, lo, hi)  # no whole day: count the window directly
    head = _Span({}) if lo is None or d_lo is None else _span(session, place_id, pilot_id,
                                                              lo, _midnight(d_lo))
    tail = _Span({}) if hi is None or d_hi is None else _span(session, place_id, pilot_id,
                                                              _midnight(d_hi), hi)
    days = session.execute(_DAY_COUNTS, {"place_id": place_id, "pilot_id": pilot_id,
                                         "d_lo": d_lo, "d_hi": d_hi}).all()
    counts: dict[tuple[str, int], int] = {}
    for part in (head.counts, {(r.category, int(r.severity)): int(r.n) for r in days},
                 tail.counts):
        for key, n in part.items():
            counts[key] = counts.get(key, 0) + n
    if not counts:
        return _Span({})
    # The first incident is in the head, else on the first counted whole day, else in the
    # tail (and the other way round for the last): at most two more lookups, each stopping
    # at the first row in the locality of one day read in time order.
    first_at, last_at = head.first_at, tail.last_at
    if days:
        d0, d1 = min(r.d0 for r in days), max(r.d1 for r in days)
        if first_at is None:
            first_at = session.execute(_FIRST_LAST["ASC"], {
                "pilot_id": pilot_id, "lo": _midnight(d0), "hi": _midnight(d0) + _DAY,
            }).scalar_one()
        if last_at is None:
            last_at = session.execute(_FIRST_LAST["DESC"], {
                "pilot_id": pilot_id, "lo": _midnight(d1), "hi": _midnight(d1) + _DAY,
            }).scalar_one()
    if first_at is None:
        first_at = tail.first_at
    if last_at is None:
        last_at = head.last_at
    return _Span(counts, first_at, last_at)


# Sets transaction-local settings and returns their previous values, in one round trip
# (the select list runs left to right: each current_setting before its set_config).
_SWAP_SETTINGS = text(
    "SELECT current_setting(:n1), current_setting(:n2), "
    "set_config(:n1, :v1, true), set_config(:n2, :v2, true)"
)


@contextmanager
def _planner(session: Session, **settings: str) -> Iterator[None]:
    """Two transaction-local planner settings for the statements inside, restored after."""
    (n1, v1), (n2, v2) = settings.items()
    old1, old2, _, _ = session.execute(_SWAP_SETTINGS, {"n1": n1, "v1": v1, "n2": n2,
                                                        "v2": v2}).one()
    try:
        yield
    except DBAPIError:
        # The transaction is aborted (a statement timed out, say): no statement runs until
        # its rollback, which undoes the settings anyway.
        raise
    except BaseException:
        session.execute(_SWAP_SETTINGS, {"n1": n1, "v1": old1, "n2": n2, "v2": old2})
        raise
    session.execute(_SWAP_SETTINGS, {"n1": n1, "v1": old1, "n2": n2, "v2": old2})


def place_incidents(
    session: Session, place_id: int, *, ring_m: float = RING_M, place_m: float = PLACE_REACH_M,
    since: dt.datetime | None = None, until: dt.datetime | None = None,
) -> PlaceIncidents:
    """The place's incidents, and the ring and the rest of the locality counted in SQL.

    The same classification as :func:`classified_incidents` without sending every
    incident of a county-sized locality to Python: feed it to
    :func:`locmap.assessment.indicators.place_indicators_from_counts`.

    Parameters
    ----------
    session : Session
    place_id : int
        A place with a geometry (online contexts have none: everything is empty).
    ring_m, place_m : float
        Ring width and the radius that stands for a point or line place, in metres.
    since, until : datetime, optional
        Half-open window on ``occurred_at``.

    Returns
    -------
    PlaceIncidents
    """
    pilot_id = pilot_of_place(session, place_id)
    params = {"place_id": place_id, "pilot_id": pilot_id, "ring_m": ring_m, "place_m": place_m,
              "since": since, "until": until, "simplify_m": ANALYSIS_SIMPLIFY_M}
    # psycopg prepares a statement on its fifth run and PostgreSQL may then plan it
    # generically, blind to the place: on 2M incidents the generic plans took 14 s each
    # against 0.05 s and 0.7 s. The planner also prices _ST_Intersects so high that it
    # JIT-compiles the counting pass (0.3-0.5 s, more than it saves) and misjudges the rows
    # passing it, sorting two million rows into 25 groups on disk (2.5 s) where hashing
    # takes 0.85 s. These settings hold for this function's statements only.
    at_place: list[ClassifiedIncident] = []
    ring: dict[tuple[str, int], int] = {}
    with _planner(session, plan_cache_mode="force_custom_plan", jit="off"):
        for r in session.execute(_NEAR, params):
            if r.area == "place":
                at_place.append(ClassifiedIncident(r.id, r.occurred_at, r.time_precision,
                                                   r.category, r.severity, r.area))
            else:
                ring[r.category, r.severity] = int(r.n)
        totals = _locality_counts(session, place_id, pilot_id, since, until)
    if not totals.counts:
        # Without a geometry nothing is near; a locality without incidents has none near.
        return PlaceIncidents((), {}, {}, None, None)
    rest = dict(totals.counts)
    for inc in at_place:
        rest[inc.category, inc.severity] -= 1
    for key, n in ring.items():
        rest[key] -= n
    return PlaceIncidents(tuple(at_place), ring, {k: n for k, n in rest.items() if n},
                          totals.first_at, totals.last_at)


# The place's own area is the polygon itself, or a buffer of place_m round a point or line.
# 27700 is BNG_SRID written out: SQL text stays free of string formatting.
_AREAS = text(
    """
    WITH g AS MATERIALIZED (
      SELECT (CASE WHEN GeometryType(a.geom) IN ('POLYGON', 'MULTIPOLYGON') THEN a.geom
              ELSE ST_Buffer(a.geom::geography, :place_m)::geometry END) AS place_geom,
             a.geom, pi.locality
      FROM place pl JOIN pilot pi ON pi.id = pl.pilot_id
      CROSS JOIN LATERAL (
        SELECT CASE WHEN ST_NPoints(pl.geom) > 64
          THEN ST_Transform(ST_SimplifyPreserveTopology(ST_Transform(pl.geom, 27700),
                                                        :simplify_m), 4326)
          ELSE pl.geom END AS geom) a
      WHERE pl.id = :place_id AND pl.pilot_id = :pilot_id AND pl.geom IS NOT NULL
    ), c AS (
      SELECT ST_Intersection(place_geom, locality) AS p,
             ST_Intersection(ST_Buffer(geom::geography, :ring_m)::geometry, locality) AS r,
             locality, place_geom
      FROM g
    )
    SELECT ST_Area(p::geography) / 1e6 AS place_km2,
           ST_Area(ST_Difference(r, place_geom)::geography) / 1e6 AS ring_km2,
           ST_Area(locality::geography) / 1e6 AS locality_km2
    FROM c
    """
)


def area_sizes(session: Session, place_id: int, *, ring_m: float = RING_M,
               place_m: float = PLACE_REACH_M) -> AreaSizes | None:
    """Place, ring and whole-locality areas in km2 (None for a place without geometry)."""
    r = session.execute(_AREAS, {"place_id": place_id, "ring_m": ring_m,
                                 "pilot_id": pilot_of_place(session, place_id),
                                 "place_m": place_m,
                                 "simplify_m": ANALYSIS_SIMPLIFY_M}).one_or_none()
    if r is None:
        return None
    return AreaSizes(float(r.place_km2 or 0.0), float(r.ring_km2 or 0.0), float(r.locality_km2))


_GRID = text(
    """
    WITH loc AS (
      SELECT id, locality, ST_Transform(locality, 27700) AS g FROM pilot WHERE id = :pilot_id
    ), b AS (
      SELECT floor(ST_XMin(g) / :cell) * :cell AS x0, floor(ST_YMin(g) / :cell) * :cell AS y0,
             ceil((ST_XMax(g) - floor(ST_XMin(g) / :cell) * :cell) / :cell)::int AS ncols,
             ceil((ST_YMax(g) - floor(ST_YMin(g) / :cell) * :cell) / :cell)::int AS nrows,
             g, locality, id
      FROM loc
    ), cells AS (
      SELECT r, c FROM b,
        generate_series(0, b.nrows - 1) AS r, generate_series(0, b.ncols - 1) AS c
      WHERE ST_Intersects(b.g, ST_MakeEnvelope(b.x0 + c * :cell, b.y0 + r * :cell,
                                               b.x0 + (c + 1) * :cell, b.y0 + (r + 1) * :cell,
                                               27700))
    ), counts AS (
      SELECT floor((ST_Y(t.p) - b.y0) / :cell)::int AS r,
             floor((ST_X(t.p) - b.x0) / :cell)::int AS c, count(*) AS n
      FROM b JOIN incident i ON i.pilot_id = :pilot_id AND ST_Intersects(i.location, b.locality)
      CROSS JOIN LATERAL (SELECT ST_Transform(i.location, 27700) AS p) AS t
      WHERE (CAST(:until AS timestamptz) IS NULL OR i.occurred_at < :until)
      GROUP BY 1, 2
    )
    SELECT cells.r, cells.c, coalesce(counts.n, 0) AS n, b.x0, b.y0
    FROM cells CROSS JOIN b LEFT JOIN counts USING (r, c)
    ORDER BY cells.r, cells.c
    """
)


def grid_counts(session: Session, pilot_id: int, *, cell_m: float = CELL_M,
                until: dt.datetime | None = None) -> Grid:
    """Incident counts on a regular EPSG:27700 grid over the locality.

    Every cell that touches the locality is listed (empty ones with 0), so the result
    is the study area Gi* needs; ``row`` grows northwards, ``col`` eastwards.
    """
    rows = session.execute(_GRID, {"pilot_id": pilot_id, "cell": cell_m, "until": until}).all()
    if not rows:
        return Grid(cell_m, 0.0, 0.0, ())
    x0, y0 = float(rows[0].x0), float(rows[0].y0)
    return Grid(cell_m, x0, y0, tuple(
        GridCell(r.r, r.c, int(r.n), x0 + (r.c + 0.5) * cell_m, y0 + (r.r + 0.5) * cell_m)
        for r in rows))


_CELL_POLYS = text(
    """
    SELECT r, c, ST_AsGeoJSON(ST_Transform(ST_MakeEnvelope(
      :x0 + c * :cell, :y0 + r * :cell, :x0 + (c + 1) * :cell, :y0 + (r + 1) * :cell,
      27700), 4326), 6) AS gj
    FROM unnest(CAST(:rows AS int[]), CAST(:cols AS int[])) AS u(r, c)
    """
)


def cell_polygons(session: Session, grid: Grid,
                  cells: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """GeoJSON (EPSG:4326) polygons of the given ``(row, col)`` cells of ``grid``."""
    if not cells:
        return []
    rows = session.execute(_CELL_POLYS, {
        "x0": grid.x0, "y0": grid.y0, "cell": grid.cell_m,
        "rows": [r for r, _ in cells], "cols": [c for _, c in cells],
    })
    return [{"row": r.r, "col": r.c, "geometry": json.loads(r.gj)} for r in rows]


_FEATURES = text(
    """
    SELECT fl.name, ST_X(t.p) AS x, ST_Y(t.p) AS y
    FROM feature_layer fl JOIN feature f ON f.layer_id = fl.id AND f.pilot_id = fl.pilot_id
    CROSS JOIN LATERAL (SELECT ST_Transform(f.geom, 27700) AS p) AS t
    WHERE fl.pilot_id = :pilot_id AND GeometryType(f.geom) = 'POINT'
    ORDER BY fl.name, f.id
    """
)


def feature_points(session: Session, pilot_id: int) -> dict[str, list[tuple[float, float]]]:
    """Point features per layer in EPSG:27700 metres (polygon layers such as districts are
    not point terrain and are left out).
    """
    out: dict[str, list[tuple[float, float]]] = {}
    for r in session.execute(_FEATURES, {"pilot_id": pilot_id}):
        out.setdefault(r.name, []).append((float(r.x), float(r.y)))
    return out


_SAFETY_MAPS = text(
    f"""
    SELECT sm.id, sm.period, a.rating, coalesce({covers_place_sql()}, false) AS touches,
           ST_AsGeoJSON(a.geom, 6) AS gj
    FROM safety_map sm
    JOIN safety_map_area a ON a.safety_map_id = sm.id AND a.pilot_id = sm.pilot_id
    JOIN place pl ON pl.id = :place_id AND pl.pilot_id = sm.pilot_id
    WHERE sm.pilot_id = :pilot_id AND (CAST(:until AS date) IS NULL OR sm.drawn_on < :until)
    ORDER BY sm.period, sm.id, a.id
    """  # noqa: S608 (constant SQL fragments, no input)
)


def safety_map_areas(session: Session, place_id: int, *, place_m: float = PLACE_REACH_M,
                     until: dt.date | None = None) -> list[SafetyMapAreaRow]:
    """Every rated area of the pilot's safety maps, flagged where it covers the place."""
    rows = session.execute(_SAFETY_MAPS, {"place_id": place_id, "place_m": place_m,
                                          "pilot_id": pilot_of_place(session, place_id),
                                          "until": until})
    return [SafetyMapAreaRow(r.id, r.period, r.rating, bool(r.touches), json.loads(r.gj))
            for r in rows]


_PRESENCES = text(
    """
    SELECT pe.id, pe.pseudonym, pe.kind, pr.frequency
    FROM presence pr JOIN person pe ON pe.id = pr.person_id AND pe.pilot_id = pr.pilot_id
    WHERE pr.place_id = :place_id AND pr.pilot_id = :pilot_id
      AND (pr.since IS NULL OR pr.since <= :as_of)
      AND (pr.until IS NULL OR pr.until >= :as_of)
    ORDER BY pe.kind, pe.pseudonym
    """
)


def presences_in_force(session: Session, place_id: int, as_of: dt.date) -> list[PresenceRow]:
    """People (pseudonyms only, never identities) who spend time at the place on ``as_of``."""
    return [PresenceRow(r.id, r.pseudonym, r.kind, r.frequency)
            for r in session.execute(_PRESENCES, {
                "place_id": place_id, "pilot_id": pilot_of_place(session, place_id),
                "as_of": as_of})]


_EVIDENCE = text(
    """
    SELECT f.id,
      (SELECT count(*) FROM factor_incident x
       WHERE x.factor_id = f.id AND x.pilot_id = f.pilot_id) AS incidents,
      (SELECT count(*) FROM factor_observation x
       WHERE x.factor_id = f.id AND x.pilot_id = f.pilot_id) AS observations,
      (SELECT count(*) FROM factor_engagement x
       WHERE x.factor_id = f.id AND x.pilot_id = f.pilot_id) AS engagements
    FROM safety_factor f WHERE f.id = ANY(CAST(:ids AS int[])) AND f.pilot_id = :pilot_id
    """
)


def factor_evidence_counts(session: Session, factor_ids: list[int]) -> dict[int, dict[str, int]]:
    """Number of linked incidents, observations and engagement records per factor."""
    if not factor_ids:
        return {}
    return {r.id: {"incidents": int(r.incidents), "observations": int(r.observations),
                   "engagements": int(r.engagements)}
            for r in session.execute(_EVIDENCE, {
                "ids": factor_ids, "pilot_id": pilot_of_factor(session, factor_ids[0])})}


_PLACE_POINT = text(
    """
    SELECT ST_X(t.p) AS x, ST_Y(t.p) AS y FROM place pl
    CROSS JOIN LATERAL (SELECT ST_Transform(ST_PointOnSurface(pl.geom), 27700) AS p) AS t
    WHERE pl.id = :place_id AND pl.pilot_id = :pilot_id AND pl.geom IS NOT NULL
    """
)


def place_cell(session: Session, place_id: int, grid: Grid) -> tuple[int, int] | None:
    """``(row, col)`` of the grid cell holding a point on the place's surface."""
    r = session.execute(_PLACE_POINT, {
        "place_id": place_id, "pilot_id": pilot_of_place(session, place_id)}).one_or_none()
    if r is None or grid.cell_m <= 0:
        return None
    return (int((r.y - grid.y0) // grid.cell_m), int((r.x - grid.x0) // grid.cell_m))
