"""The one boundary where geometry enters locmap: GeoJSON in, checked, normalised.

Everything that reaches the database passes :func:`parse_geojson_geometry`: a known
geometry type, two dimensions, WGS84 lon/lat within range (British National Grid
eastings pasted as longitudes are refused with an explanation), RFC 7946 winding. Validity
problems are reported with PostGIS-style reasons (shapely's ``explain_validity`` is the
same GEOS routine as ``ST_IsValidReason``) and a repaired shape is offered, never applied
silently.
"""

from __future__ import annotations

import json
import math
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity, make_valid

from locmap.errors import InvalidGeometry

__all__ = [
    "ALLOWED_TYPES", "MAX_VERTICES", "PLACE_MAX_VERTICES", "parse_geojson_geometry",
    "to_multipolygon", "to_geojson", "wkb_to_shape", "repair", "point_from_coordinates",
    "COORDINATE_SYSTEMS",
]

ALLOWED_TYPES = ("Point", "LineString", "Polygon", "MultiPolygon")
# A pilot's locality (a local authority boundary at full resolution) or a feature layer's
# district may be detailed; a place is a park, a street, an estate: its outline needs a few
# hundred points, and every analysis tests incidents against it (see docs/decisions.md).
MAX_VERTICES = 100_000
PLACE_MAX_VERTICES = 5_000


def _unclosed_ring(gtype: str, coords: Any) -> str | None:
    """Why a polygon's rings are not closed as GeoJSON requires (shapely would close them
    silently), or None. Only the rings' ends are looked at; shapely reports a malformed
    structure itself.
    """
    if gtype == "Polygon":
        polygons = [coords]
    elif gtype == "MultiPolygon" and isinstance(coords, list):
        polygons = coords
    else:
        return None
    for rings in polygons:
        for ring in rings if isinstance(rings, list) else ():
            if isinstance(ring, list) and len(ring) >= 2 and ring[0] != ring[-1]:
                start = ", ".join(f"{v:g}" if isinstance(v, int | float) else repr(v)
                                  for v in (ring[0] if isinstance(ring[0], list) else [])[:3])
                return ("A polygon ring is not closed: its last position must repeat its "
                        f"first ({start}). Close the ring; locmap does not guess where a "
                        "boundary ends.")
    return None


def _height_problem(geom: BaseGeometry) -> str | None:
    """A geometry with heights (Z) is refused: 2-D storage would drop them silently."""
    if not shapely.has_z(geom):
        return None
    x, y, z = shapely.get_coordinates(geom, include_z=True)[0]
    return (f"Position ({x:g}, {y:g}, {z:g}) has a third value (a height, Z): locmap "
            "stores positions on the map only, so the height would be lost. Send "
            "[longitude, latitude] pairs.")


def _check_coordinates(geom: BaseGeometry, max_vertices: int = MAX_VERTICES) -> None:
    coords = shapely.get_coordinates(geom, include_z=False)
    if coords.size == 0:
        raise InvalidGeometry("The geometry has no coordinates.")
    if len(coords) > max_vertices:
        raise InvalidGeometry(
            f"The geometry has {len(coords):,} vertices; the limit is {max_vertices:,}"
            f"{' for a place' if max_vertices == PLACE_MAX_VERTICES else ''}. "
            "Simplify it in your GIS first (a tolerance of a metre or two keeps its shape).",
            details={"vertices": int(len(coords)), "limit": max_vertices},
        )
    if not all(math.isfinite(v) for v in coords.ravel()):
        raise InvalidGeometry("The geometry has NaN or infinite coordinates.")
    lon, lat = coords[:, 0], coords[:, 1]
    if geom.geom_type == "Point" and lon[0] == 0 and lat[0] == 0:
        # Where a missing location lands when a tool writes zeros ("Null Island", in the
        # Gulf of Guinea): never a real place in a UK partnership's data.
        raise InvalidGeometry(
            "Coordinate (0, 0) is where a missing location lands, not a real place; "
            "give the location or leave the record out.", details={"coordinate": [0.0, 0.0]})
    if (abs(lon) > 180).any() or (abs(lat) > 90).any():
        big = coords[(abs(lon) > 180) | (abs(lat) > 90)][0]
        hint = ""
        if 0 <= big[0] <= 800_000 and 0 <= big[1] <= 1_400_000:
            hint = (
                " These look like British National Grid (EPSG:27700) eastings and northings; "
                "locmap takes WGS84 longitude/latitude. Import the file with its CRS declared "
                "and it will be reprojected."
            )
        raise InvalidGeometry(
            f"Coordinate ({big[0]:g}, {big[1]:g}) is not a WGS84 longitude/latitude "
            f"(longitude must be within ±180 and latitude within ±90).{hint}",
            details={"coordinate": [float(big[0]), float(big[1])]},
        )


def parse_geojson_geometry(
    data: dict[str, Any] | str, *, allowed: tuple[str, ...] = ALLOWED_TYPES,
    max_vertices: int = MAX_VERTICES,
) -> BaseGeometry:
    """Parse a GeoJSON geometry object, check it and return a valid 2-D shapely geometry.

    Nothing is coerced silently: a position with a height (Z) and an unclosed polygon ring
    are refused with the reason, as is a geometry of more than ``max_vertices`` vertices
    (:data:`PLACE_MAX_VERTICES` for places).
    """
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise InvalidGeometry(f"The geometry is not valid JSON: {exc.msg}.") from exc
    if not isinstance(data, dict) or "type" not in data:
        raise InvalidGeometry("Expected a GeoJSON geometry object with a 'type'.")
    if data.get("type") == "Feature":
        data = data.get("geometry") or {}
    gtype = data.get("type")
    if gtype not in allowed:
        raise InvalidGeometry(
            f"Geometry type {gtype!r} is not accepted here; use one of {', '.join(allowed)}."
        )
    problem = _unclosed_ring(gtype, data.get("coordinates"))
    if problem:
        raise InvalidGeometry(problem)
    try:
        geom = shape(data)
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise InvalidGeometry(f"The {gtype} could not be read: {exc}.") from exc
    if geom.is_empty:
        raise InvalidGeometry("The geometry is empty.")
    _check_coordinates(geom, max_vertices)
    problem = _height_problem(geom)
    if problem:
        raise InvalidGeometry(problem)
    if not geom.is_valid:
        reason = explain_validity(geom)
        fixed = repair(geom)
        raise InvalidGeometry(
            f"The {gtype} is not valid: {reason}.",
            details={"reason": reason, "repaired": mapping(fixed) if fixed is not None else None},
        )
    return shapely.orient_polygons(geom) if gtype in ("Polygon", "MultiPolygon") else geom


def repair(geom: BaseGeometry) -> BaseGeometry | None:
    """The repair offered for an invalid shape: ``make_valid`` kept to areas for polygons."""
    fixed = make_valid(geom)
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        parts = getattr(fixed, "geoms", [fixed])
        polys = [g for g in parts if isinstance(g, Polygon | MultiPolygon)]
        if not polys:
            return None
        fixed = shapely.union_all(polys)
        if isinstance(fixed, Polygon) and geom.geom_type == "Polygon":
            return shapely.orient_polygons(fixed)
        return shapely.orient_polygons(to_multipolygon(fixed))
    return fixed


def to_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """Normalise a polygonal geometry to a MultiPolygon (the type of pilot localities)."""
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    raise InvalidGeometry(f"Expected a Polygon or MultiPolygon, got {geom.geom_type}.")


def wkb_to_shape(value: Any) -> BaseGeometry | None:
    if value is None:
        return None
    from geoalchemy2.shape import to_shape

    return to_shape(value)


def to_geojson(value: Any, precision: int = 7) -> dict[str, Any] | None:
    """A stored geometry (WKB element or shapely) as an RFC 7946 geometry dict."""
    geom = value if isinstance(value, BaseGeometry) else wkb_to_shape(value)
    if geom is None:
        return None
    geom = shapely.set_precision(geom, 10 ** -precision) if precision else geom
    return dict(mapping(shapely.orient_polygons(geom)))


# Typed coordinates a practitioner may enter instead of drawing (issue 17).
COORDINATE_SYSTEMS = ("wgs84", "bng")
# British National Grid's false origin and extent (EPSG:27700's area of use, in metres).
_BNG_EASTING = (0.0, 700_000.0)
_BNG_NORTHING = (0.0, 1_300_000.0)


def _bng_to_wgs84() -> Any:
    from pyproj import Transformer

    global _TRANSFORMER
    if _TRANSFORMER is None:
        _TRANSFORMER = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    return _TRANSFORMER


_TRANSFORMER: Any = None


def point_from_coordinates(system: str, first: float, second: float) -> dict[str, Any]:
    """A GeoJSON Point in WGS84 from typed coordinates.

    ``system`` is ``wgs84`` (``first`` latitude, ``second`` longitude, in degrees: the order
    people write them and maps show them) or ``bng`` (British National Grid, EPSG:27700:
    ``first`` easting, ``second`` northing, in metres), converted with pyproj. Out-of-range
    or swapped values raise :class:`InvalidGeometry` saying which and why.

    Examples
    --------
    >>> point_from_coordinates("wgs84", 52.5, -1.5)
    {'type': 'Point', 'coordinates': [-1.5, 52.5]}
    >>> [round(v, 4) for v in point_from_coordinates("bng", 530000, 180000)["coordinates"]]
    [-0.1284, 51.504]
    """
    if system not in COORDINATE_SYSTEMS:
        raise InvalidGeometry("Coordinates are WGS84 latitude and longitude (wgs84) or "
                              "British National Grid easting and northing (bng).",
                              details={"field": "system"})
    if not (math.isfinite(first) and math.isfinite(second)):
        raise InvalidGeometry("Coordinates are numbers.", details={"field": "first"})
    if system == "wgs84":
        lat, lon = first, second
        if abs(lat) > 90 and abs(lat) <= 180 and abs(lon) <= 90:
            raise InvalidGeometry(f"Latitude {lat} is beyond ±90°: latitude and longitude "
                                  "look swapped (latitude comes first).",
                                  details={"field": "first"})
        if abs(lat) > 90:
            raise InvalidGeometry(f"Latitude {lat} is beyond ±90°. Eastings and northings in "
                                  "metres are British National Grid: choose that instead.",
                                  details={"field": "first"})
        if abs(lon) > 180:
            raise InvalidGeometry(f"Longitude {lon} is beyond ±180°.",
                                  details={"field": "second"})
        return {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}
    easting, northing = first, second
    if not _BNG_EASTING[0] <= easting <= _BNG_EASTING[1]:
        raise InvalidGeometry(f"Easting {easting:g} m is outside the British National Grid "
                              "(0 to 700,000 m).", details={"field": "first"})
    if not _BNG_NORTHING[0] <= northing <= _BNG_NORTHING[1]:
        raise InvalidGeometry(f"Northing {northing:g} m is outside the British National Grid "
                              "(0 to 1,300,000 m).", details={"field": "second"})
    lon, lat = _bng_to_wgs84().transform(easting, northing)
    return {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}
