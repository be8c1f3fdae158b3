"""SQL behind safety maps: which rated areas cover which place and which grid cell.

A rated area covers a place when it intersects it — a polygon place itself, a point or a
line place within ``place_m`` metres (the same reach as :mod:`locmap.queries.at_place`):
:func:`covers_place_sql`, used here and by the assessment's safety-map query. Grid cells
are those of the assessment's grid (EPSG:27700, origin at the pilot locality's lower left
corner rounded down to the cell size, see :func:`locmap.queries.assessment.grid_counts`),
so a perceived-safety cell lines up with a Gi* cell.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from locmap.queries.at_place import PLACE_REACH_M

__all__ = ["covers_place_sql", "PlaceRating", "CellRating", "place_ratings", "cell_ratings",
           "place_as_area"]


def covers_place_sql(area: str = "a", place: str = "pl", reach: str = ":place_m") -> str:
    """The rule "this rated area covers the place" as a SQL condition on two aliases."""
    return (f"ST_Intersects({area}.geom, CASE WHEN GeometryType({place}.geom) IN "
            f"('POLYGON', 'MULTIPOLYGON') THEN {place}.geom "
            f"ELSE ST_Buffer({place}.geom::geography, {reach})::geometry END)")


@dataclass(frozen=True)
class PlaceRating:
    place_id: int
    period: str
    safety_map_id: int
    rating: str


@dataclass(frozen=True)
class CellRating:
    period: str
    row: int
    col: int
    safety_map_id: int
    rating: str


_PLACES = text(
    f"""
    SELECT pl.id AS place_id, sm.period, sm.id AS map_id, a.rating
    FROM safety_map sm JOIN safety_map_area a ON a.safety_map_id = sm.id
    JOIN place pl ON pl.pilot_id = sm.pilot_id AND pl.deleted_at IS NULL AND pl.geom IS NOT NULL
    WHERE sm.pilot_id = :pilot_id AND sm.period = ANY(CAST(:periods AS text[]))
      AND (CAST(:place_ids AS int[]) IS NULL OR pl.id = ANY(CAST(:place_ids AS int[])))
      AND {covers_place_sql()}
    ORDER BY pl.id, sm.period, sm.id, a.id
    """  # noqa: S608 (constant SQL fragments, no input)
)


def place_ratings(session: Session, pilot_id: int, periods: list[str], *,
                  place_ids: list[int] | None = None,
                  place_m: float = PLACE_REACH_M) -> list[PlaceRating]:
    """Every (place, rated area) pair where the area covers a live place of the pilot."""
    rows = session.execute(_PLACES, {"pilot_id": pilot_id, "periods": periods,
                                     "place_ids": place_ids, "place_m": place_m})
    return [PlaceRating(r.place_id, r.period, r.map_id, r.rating) for r in rows]


_CELLS = text(
    """
    WITH b AS (
      SELECT coalesce(floor(ST_XMin(g) / :cell) * :cell, 0) AS x0,
             coalesce(floor(ST_YMin(g) / :cell) * :cell, 0) AS y0
      FROM (SELECT ST_Transform(locality, 27700) AS g FROM pilot WHERE id = :pilot_id) t
    ), n AS (
      -- The neighbourhood a place's map shows (NULL: the whole pilot).
      SELECT ST_Buffer(ST_Transform(geom, 27700), :margin) AS g FROM place
      WHERE id = CAST(:around AS int) AND pilot_id = :pilot_id AND geom IS NOT NULL
    ), a AS (
      SELECT sm.period, sm.id AS map_id, ar.rating, ST_Transform(ar.geom, 27700) AS g
      FROM safety_map sm JOIN safety_map_area ar ON ar.safety_map_id = sm.id
      WHERE sm.pilot_id = :pilot_id AND sm.period = ANY(CAST(:periods AS text[]))
    )
    SELECT a.period, r, c, a.map_id, a.rating, b.x0, b.y0
    FROM a CROSS JOIN b LEFT JOIN n ON true
    CROSS JOIN LATERAL generate_series(floor((ST_YMin(a.g) - b.y0) / :cell)::int,
                                       floor((ST_YMax(a.g) - b.y0) / :cell)::int) AS r
    CROSS JOIN LATERAL generate_series(floor((ST_XMin(a.g) - b.x0) / :cell)::int,
                                       floor((ST_XMax(a.g) - b.x0) / :cell)::int) AS c
    WHERE ST_Intersects(a.g, ST_MakeEnvelope(b.x0 + c * :cell, b.y0 + r * :cell,
                                             b.x0 + (c + 1) * :cell, b.y0 + (r + 1) * :cell,
                                             27700))
      AND (CAST(:around AS int) IS NULL
           OR ST_Intersects(n.g, ST_MakeEnvelope(b.x0 + c * :cell, b.y0 + r * :cell,
                                                 b.x0 + (c + 1) * :cell,
                                                 b.y0 + (r + 1) * :cell, 27700)))
    ORDER BY a.period, r, c, a.map_id
    """
)

_CELL_SHAPES = text(
    """
    SELECT r, c, ST_AsGeoJSON(ST_Transform(ST_MakeEnvelope(
      :x0 + c * :cell, :y0 + r * :cell, :x0 + (c + 1) * :cell, :y0 + (r + 1) * :cell,
      27700), 4326), 6) AS gj
    FROM unnest(CAST(:rows AS int[]), CAST(:cols AS int[])) AS u(r, c)
    """
)


def cell_ratings(session: Session, pilot_id: int, periods: list[str], *, cell_m: float,
                 around_place_id: int | None = None, margin_m: float = 0.0
                 ) -> tuple[list[CellRating], dict[tuple[int, int], dict[str, Any]]]:
    """Every (grid cell, rated area) pair where the area intersects the cell, and the
    cells' outlines as GeoJSON (EPSG:4326) by ``(row, col)``.

    With ``around_place_id``, only the cells within ``margin_m`` metres of that place of
    the pilot (none when it has no map location): what the place's own map shows.
    """
    rows = session.execute(_CELLS, {"pilot_id": pilot_id, "periods": periods,
                                    "cell": cell_m, "around": around_place_id,
                                    "margin": margin_m}).all()
    out = [CellRating(r.period, r.r, r.c, r.map_id, r.rating) for r in rows]
    if not rows:
        return out, {}
    cells = sorted({(r.r, r.c) for r in rows})
    shapes = session.execute(_CELL_SHAPES, {
        "x0": float(rows[0].x0), "y0": float(rows[0].y0), "cell": cell_m,
        "rows": [r for r, _ in cells], "cols": [c for _, c in cells]})
    return out, {(s.r, s.c): json.loads(s.gj) for s in shapes}


_PLACE_AREA = text(
    """
    SELECT ST_AsGeoJSON(ST_Multi(CASE WHEN GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON')
             THEN geom ELSE ST_Buffer(geom::geography, :place_m)::geometry END), 7) AS gj
    FROM place WHERE id = :place_id AND geom IS NOT NULL
    """
)


def place_as_area(session: Session, place_id: int, *, place_m: float = PLACE_REACH_M
                  ) -> dict[str, Any] | None:
    """The place as a rated area (GeoJSON MultiPolygon): a polygon place itself, a point or
    line place the ``place_m`` metres round it (so the area covers the place by
    :func:`covers_place_sql`); None for a place without a map location.
    """
    gj = session.scalar(_PLACE_AREA, {"place_id": place_id, "place_m": place_m})
    return None if gj is None else json.loads(gj)
