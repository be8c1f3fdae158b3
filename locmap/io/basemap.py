"""An OpenStreetMap extract into the base map tables, and vector tiles out of them.

:func:`load_extract` reads an extract (``.osm.pbf`` or ``.osm``) leniently with
:func:`locmap.io.osm.iter_layer` (a broken element is reported, never fatal), sorts what a
base map draws into six layers — roads (with their class and name), railways, buildings,
water, green space, named points of interest — and writes them to ``basemap_feature`` in
Web Mercator, each with the zoom from which it is drawn (``minzoom``: main roads from
zoom 6, buildings from 14, points of interest from 15) and, for lines and areas drawn
below zoom 14, a simplified copy (``geom_low``: generalised for low zooms).

:func:`render_tile` makes one Mapbox Vector Tile with ``ST_AsMVT`` / ``ST_AsMVTGeom`` in
``ST_TileEnvelope``; the tile layers are named after the base map layers.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from locmap.errors import InvalidData
from locmap.io.osm import OSM_SUFFIXES, RawElement, iter_layer

__all__ = ["classify", "load_extract", "render_tile", "TILE_LAYERS", "MAX_ZOOM",
           "LOW_ZOOM_BELOW", "SETTLEMENT_KINDS"]

MAX_ZOOM = 16          # tiles above it are over-zoomed by the client
LOW_ZOOM_BELOW = 14    # below this zoom tiles use the simplified geometry
_LOW_TOLERANCE_M = 8.0

_ROAD_ZOOM = {
    "motorway": 6, "trunk": 6, "primary": 8, "secondary": 9, "tertiary": 11,
    "residential": 12, "unclassified": 12, "living_street": 12, "road": 12,
    "service": 13, "pedestrian": 13, "track": 14, "footway": 14, "path": 14,
    "cycleway": 14, "bridleway": 14, "steps": 15,
}
_RAIL = {"rail": 10, "light_rail": 11, "subway": 12, "tram": 12, "narrow_gauge": 12,
         "preserved": 12}
_WATERWAY = {"river": 9, "canal": 10, "stream": 13, "drain": 14, "ditch": 15}
_GREEN = {("leisure", "park"), ("leisure", "garden"), ("leisure", "playground"),
          ("leisure", "pitch"), ("leisure", "nature_reserve"), ("leisure", "common"),
          ("leisure", "recreation_ground"), ("landuse", "grass"),
          ("landuse", "recreation_ground"), ("landuse", "forest"), ("landuse", "meadow"),
          ("landuse", "allotments"), ("landuse", "cemetery"), ("landuse", "village_green"),
          ("natural", "wood"), ("natural", "scrub"), ("natural", "heath"),
          ("natural", "grassland")}
_POI_KEYS = ("amenity", "shop", "leisure", "tourism", "office", "historic", "healthcare")
# OSM place=* nodes (settlements and their parts), kept as points of interest: their names
# are drawn from these zooms, found by search, and name the area of a street in search.
SETTLEMENT_KINDS: dict[str, int] = {
    "city": 8, "town": 10, "village": 11, "suburb": 12, "quarter": 13, "hamlet": 13,
    "neighbourhood": 14,
}
_STATION = {("railway", "station"), ("public_transport", "station"),
            ("amenity", "bus_station")}

# (layer, properties in the tile)
TILE_LAYERS: dict[str, tuple[str, ...]] = {
    "green": ("kind",), "water": ("kind", "name"), "buildings": (),
    "railways": ("kind",), "roads": ("class", "name"), "pois": ("kind", "name"),
}


def classify(source_layer: str, tags: dict[str, str]) -> tuple[str, str, int] | None:
    """(base map layer, kind, minzoom) for an element's tags, or None if it is not drawn."""
    if source_layer == "lines":
        hw = tags.get("highway", "")
        base = hw.removesuffix("_link")
        if base in _ROAD_ZOOM:
            return "roads", base, _ROAD_ZOOM[base]
        rail = tags.get("railway", "")
        if rail in _RAIL:
            return "railways", rail, _RAIL[rail]
        ww = tags.get("waterway", "")
        if ww in _WATERWAY:
            return "water", ww, _WATERWAY[ww]
        return None
    if source_layer == "multipolygons":
        if tags.get("natural") == "water" or tags.get("waterway") == "riverbank" \
                or tags.get("landuse") in ("reservoir", "basin"):
            return "water", "water", 8
        for k, v in _GREEN:
            if tags.get(k) == v:
                return "green", v, 10
        b = tags.get("building", "")
        if b and b != "no":
            return "buildings", b[:40], 14
        return None
    return None


def _poi(tags: dict[str, str]) -> tuple[str, int] | None:
    if not tags.get("name"):
        return None
    settlement = tags.get("place", "")
    if settlement in SETTLEMENT_KINDS:
        return settlement, SETTLEMENT_KINDS[settlement]
    for k, v in _STATION:
        if tags.get(k) == v:
            return "station", 13
    for k in _POI_KEYS:
        if tags.get(k):
            return tags[k][:40], 15
    return None


def _elements(path: Path, report: list[dict[str, Any]], repaired: Counter[str]) -> Iterator[
        tuple[str, str, str, int, RawElement]]:
    """(layer, kind, name, minzoom, element) for everything the base map draws."""
    for source_layer in ("points", "lines", "multipolygons"):
        for el in iter_layer(path, source_layer):
            hit = None if source_layer == "points" else classify(source_layer, el.tags)
            poi = _poi(el.tags)
            if hit is None and poi is None:
                continue
            if el.geom is None:
                report.append({"row": el.ref, "name": el.tags.get("name", ""),
                               "reason": el.problem or "no geometry"})
                continue
            if el.problem:
                repaired[el.problem] += 1
            name = el.tags.get("name", "")[:200]
            if hit is not None:
                yield hit[0], hit[1], name, hit[2], el
            if poi is not None:
                yield "pois", poi[0], name, poi[1], el


_STAGE_DDL = (
    "CREATE TEMP TABLE basemap_stage (layer text, kind text, name text, osm_ref text, "
    "minzoom smallint, wkb bytea) ON COMMIT DROP")
_FROM_STAGE = (
    "INSERT INTO basemap_feature (layer, kind, name, osm_ref, minzoom, geom) "
    "SELECT layer, kind, name, osm_ref, minzoom, "
    "       ST_Transform(ST_SetSRID(ST_GeomFromWKB(wkb), 4326), 3857) FROM basemap_stage")


def _digest_row(layer: str, kind: str, name: str, minzoom: int, wkb: bytes) -> bytes:
    """One feature's share of the build version: each field length-prefixed, so no two
    different features give the same bytes.
    """
    fields = (layer.encode(), kind.encode(), name.encode(), str(minzoom).encode(), wkb)
    return b"".join(len(f).to_bytes(4, "big") + f for f in fields)


def load_extract(session: Session, path: Path) -> dict[str, Any]:
    """Replace the base map's features with those of the extract at ``path``.

    Returns ``{"counts": {layer: n}, "report": [{row, name, reason}], "repaired": n,
    "bounds": [w, s, e, n] | None, "version": str}``; writes in the caller's transaction.
    """
    path = Path(path)
    if not path.name.lower().endswith(OSM_SUFFIXES):
        raise InvalidData(f"{path.name}: expected an OpenStreetMap extract (.osm.pbf or .osm).")
    session.execute(text("DELETE FROM basemap_feature"))
    session.execute(text("DELETE FROM basemap_tile"))
    report: list[dict[str, Any]] = []
    repaired: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    digest = hashlib.sha1(path.name.encode())
    # Stage with COPY (binary, the WKB as it is), then one INSERT … SELECT that projects:
    # many times faster than row-by-row inserts for a county's million features.
    session.execute(text("DROP TABLE IF EXISTS pg_temp.basemap_stage"))
    session.execute(text(_STAGE_DDL))
    raw = session.connection().connection.driver_connection
    assert raw is not None  # psycopg 3: COPY goes through the driver connection
    with raw.cursor() as cur, cur.copy(
            "COPY basemap_stage (layer, kind, name, osm_ref, minzoom, wkb) FROM STDIN") as copy:
        for layer, kind, name, minzoom, el in _elements(path, report, repaired):
            geom = el.geom
            assert geom is not None
            if layer == "pois" and geom.geom_type != "Point":
                geom = geom.point_on_surface()
            # Web Mercator stops short of the poles.
            if not -85.0 <= geom.bounds[1] <= geom.bounds[3] <= 85.0:
                report.append({"row": el.ref, "name": name, "reason": "beyond 85° latitude"})
                continue
            wkb = shapely.to_wkb(geom)
            # The version covers everything a tile holds: a rebuild that only renames a
            # street or reclassifies a road must change the tile URLs and ETags too.
            digest.update(_digest_row(layer, kind, name, minzoom, wkb))
            copy.write_row((layer, kind, name.replace("\x00", ""), el.ref, minzoom, wkb))
            counts[layer] += 1
    session.execute(text(_FROM_STAGE))
    session.execute(text("DROP TABLE pg_temp.basemap_stage"))
    # Generalised copies for low zooms: lines and areas drawn below LOW_ZOOM_BELOW.
    session.execute(text(
        "UPDATE basemap_feature SET geom_low = ST_SimplifyPreserveTopology(geom, :tol) "
        "WHERE minzoom < :low AND layer <> 'pois'"),
        {"tol": _LOW_TOLERANCE_M, "low": LOW_ZOOM_BELOW})
    box = session.execute(text(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
        "(SELECT ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 3857), 4326) AS e "
        " FROM basemap_feature) b WHERE e IS NOT NULL")).first()
    bounds = [round(float(v), 6) for v in box] if box else None
    return {"counts": dict(counts), "report": report, "repaired": sum(repaired.values()),
            "bounds": bounds, "version": digest.hexdigest()[:16]}


def _layer_sql(layer: str, props: tuple[str, ...]) -> str:
    cols = "".join(f", {'kind' if p == 'class' else p} AS {p}" if p != "name"
                   else ", NULLIF(name, '') AS name" for p in props)
    # Layer names and columns are this module's constants, never request input.
    return (
        f"(SELECT ST_AsMVT(t, '{layer}', 4096, 'geom') FROM ("  # noqa: S608
        f" SELECT ST_AsMVTGeom(CASE WHEN :z < {LOW_ZOOM_BELOW} THEN COALESCE(geom_low, geom)"
        f"        ELSE geom END, b.env, 4096, 64, true) AS geom{cols}"
        f" FROM basemap_feature, b WHERE layer = '{layer}' AND minzoom <= :z"
        f" AND geom && b.big) t WHERE geom IS NOT NULL)")


_TILE_SQL = text(
    "WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env, "
    "           ST_TileEnvelope(:z, :x, :y, margin => 64.0 / 4096) AS big) "
    "SELECT " + " || ".join(f"COALESCE({_layer_sql(k, v)}, ''::bytea)"
                            for k, v in TILE_LAYERS.items()))


def render_tile(session: Session, z: int, x: int, y: int) -> bytes:
    """The vector tile z/x/y of the base map (empty bytes where there is nothing)."""
    return bytes(session.execute(_TILE_SQL, {"z": z, "x": x, "y": y}).scalar_one() or b"")
