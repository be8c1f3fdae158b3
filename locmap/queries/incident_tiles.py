"""Incident vector tiles (Mapbox Vector Tile, built by PostGIS ``ST_AsMVT``).

A tile z/x/y (web-mercator, EPSG:3857) holds one layer, ``incidents``:

- below :data:`~locmap.queries.incidents.POINTS_ZOOM` one feature per occupied grid cell of
  :func:`~locmap.queries.incidents.cell_size_deg` (the grid of the clustered GeoJSON map and
  of ``map_cell_count``), per cell: ``n`` incidents, their top harm ``category`` and
  ``max_severity``; the cell is in the tile whose bounds hold its centre, so every cell is
  in exactly one tile and always whole. At the zooms ``map_cell_count`` holds (6–14) and
  for whole-month filters the counts come from that table, never from the incidents;
- from :data:`POINTS_ZOOM` the incidents themselves (``id``, ``category``, ``severity``,
  ``month``), at most :data:`POINTS_PER_TILE` per tile.

Both read only through :func:`~locmap.queries.incidents.filter_clauses`, so category, date
and source filters are applied in SQL, as in the table and the GeoJSON map.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Select, func, literal_column, select, text
from sqlalchemy.orm import Session

from locmap.models import Incident, MapCellCount
from locmap.queries.incidents import (
    AGG_ZOOMS,
    LOCAL_TZ,
    POINTS_ZOOM,
    IncidentFilter,
    _whole_months,
    cell_size_deg,
    filter_clauses,
)

__all__ = ["LAYER", "POINTS_PER_TILE", "tile_bounds", "tile_cells", "cells_mvt", "points_mvt",
           "MIN_CELL_ZOOM"]

LAYER = "incidents"
POINTS_PER_TILE = 10_000
# Tiles coarser than this use its cells (the coarsest level of map_cell_count).
MIN_CELL_ZOOM = AGG_ZOOMS[0]
_EXTENT = 4096
# A cell's feature sits at its incidents' centroid, up to half a cell beyond the tile: 30 px
# across, and as the grid is square in degrees, 30 / cos(latitude) px up or down (49 px at
# 52° N). The buffer keeps it (in tile units, 4096 = 256 px; 128 px up to 76° N).
_BUFFER = 2048


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """West, south, east, north of tile z/x/y in WGS84 degrees."""
    n = 2.0 ** z

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


def _centred(lo: float, hi: float, cell: float) -> tuple[int, int]:
    """Cells whose centre lies in [lo, hi): first and last index."""
    return math.ceil(lo / cell - 0.5), math.ceil(hi / cell - 0.5) - 1


def tile_cells(
    session: Session, pilot_id: int, tile: tuple[int, int, int], cell_zoom: int,
    f: IncidentFilter,
) -> list[dict[str, Any]]:
    """The cells of ``cell_zoom``'s grid centred in the tile, whole, by harm category.

    Returns rows with ``gx``, ``gy``, ``category``, ``n``, ``sx``, ``sy`` (sums of the
    incidents' longitudes and latitudes) and ``max_severity``.
    """
    cell = cell_size_deg(cell_zoom)
    w, s, e, n = tile_bounds(*tile)
    gx0, gx1 = _centred(w, e, cell)
    gy0, gy1 = _centred(s, n, cell)
    if gx0 > gx1 or gy0 > gy1:
        return []
    if cell_zoom in AGG_ZOOMS and _whole_months(f):
        m = MapCellCount
        where = [m.pilot_id == pilot_id, m.zoom == cell_zoom, m.gx.between(gx0, gx1),
                 m.gy.between(gy0, gy1)]
        if f.categories:
            where.append(m.category.in_(f.categories))
        if f.date_from is not None:
            where.append(m.month >= f.date_from)
        if f.date_to is not None:
            where.append(m.month <= f.date_to)
        stmt: Select[Any] = (
            select(m.gx, m.gy, m.category, func.sum(m.n).label("n"), func.sum(m.sx).label("sx"),
                   func.sum(m.sy).label("sy"), func.max(m.severity).label("max_severity"))
            .where(*where).group_by(m.gx, m.gy, m.category))
    else:
        x, y = func.ST_X(Incident.location), func.ST_Y(Incident.location)
        gx, gy = func.floor(x / cell), func.floor(y / cell)
        envelope = func.ST_MakeEnvelope(gx0 * cell, gy0 * cell, (gx1 + 1) * cell,
                                        (gy1 + 1) * cell, 4326)
        stmt = (
            select(gx.label("gx"), gy.label("gy"), Incident.category,
                   func.count().label("n"), func.sum(x).label("sx"), func.sum(y).label("sy"),
                   func.max(Incident.severity).label("max_severity"))
            .where(*filter_clauses(pilot_id, f), Incident.location.op("&&")(envelope),
                   gx.between(gx0, gx1), gy.between(gy0, gy1))
            .group_by(literal_column("gx"), literal_column("gy"), Incident.category))
    return [{"gx": int(r.gx), "gy": int(r.gy), "category": r.category, "n": int(r.n),
             "sx": float(r.sx), "sy": float(r.sy), "max_severity": r.max_severity}
            for r in session.execute(stmt)]


_CELLS_MVT = text(f"""
    SELECT ST_AsMVT(t, '{LAYER}', {_EXTENT}, 'geom') FROM (
      SELECT c.n, c.category, c.max_severity,
             ST_AsMVTGeom(ST_Transform(ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326), 3857),
                          ST_TileEnvelope(:z, :x, :y), {_EXTENT}, {_BUFFER}, true) AS geom
      FROM unnest(CAST(:lon AS float8[]), CAST(:lat AS float8[]), CAST(:n AS int[]),
                  CAST(:category AS text[]), CAST(:sev AS int[]))
           AS c(lon, lat, n, category, max_severity)
    ) AS t WHERE t.geom IS NOT NULL
""")  # noqa: S608 - constants only


def cells_mvt(session: Session, tile: tuple[int, int, int], cells: list[dict[str, Any]]) -> bytes:
    """Encode cells (``lon``, ``lat``, ``n``, ``category``, ``max_severity``) as a tile."""
    z, x, y = tile
    out = session.scalar(_CELLS_MVT, {
        "z": z, "x": x, "y": y, "lon": [c["lon"] for c in cells],
        "lat": [c["lat"] for c in cells], "n": [c["n"] for c in cells],
        "category": [c["category"] for c in cells],
        "sev": [c["max_severity"] for c in cells]})
    return bytes(out or b"")


def points_mvt(
    session: Session, pilot_id: int, tile: tuple[int, int, int], f: IncidentFilter,
) -> bytes:
    """The incidents in the tile (and its buffer) as points, newest first, capped."""
    z, x, y = tile
    envelope = func.ST_TileEnvelope(z, x, y)
    # The tile's envelope in WGS84 with the points' buffer, for the GiST index on location.
    w, s, e, n = tile_bounds(z, x, y)
    dx, dy = (e - w) * 64 / _EXTENT, (n - s) * 64 / _EXTENT
    margin = func.ST_MakeEnvelope(w - dx, s - dy, e + dx, n + dy, 4326)
    month = func.to_char(func.timezone(LOCAL_TZ, Incident.occurred_at), "YYYY-MM")
    inner = (
        select(Incident.id, Incident.category, Incident.severity, month.label("month"),
               func.ST_AsMVTGeom(func.ST_Transform(Incident.location, 3857), envelope,
                                 _EXTENT, 64, True).label("geom"))
        .where(*filter_clauses(pilot_id, f), Incident.location.op("&&")(margin))
        .order_by(Incident.occurred_at.desc(), Incident.id)
        .limit(POINTS_PER_TILE)
        .subquery("t"))
    out = session.scalar(select(func.ST_AsMVT(literal_column("t"), LAYER, _EXTENT, "geom"))
                         .select_from(inner))
    return bytes(out or b"")


assert POINTS_ZOOM > AGG_ZOOMS[-1]  # noqa: S101 - cells from the table never meet points
