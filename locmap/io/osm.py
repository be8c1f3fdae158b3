"""OpenStreetMap extracts in: context features by tag preset, and places picked from them.

A user-provided extract (``.osm.pbf`` or ``.osm`` XML — both are read by GDAL's OSM driver
through pyogrio, so the same code path serves both) is read layer by layer (``points`` for
nodes, ``lines`` for open ways and closed ways that GDAL does not treat as areas,
``multipolygons`` for closed ways and multipolygon relations), only within the bounding box
of the pilot's locality, and every element is matched against the chosen **presets**
(fast food, libraries, schools, …; see :data:`PRESETS`). Elements that intersect the
locality (grown by ``buffer_m`` metres if asked) become :class:`~locmap.models.Feature`
rows, one :class:`~locmap.models.FeatureLayer` per preset ("OSM fast food"), with
``osm_id`` and ``properties = {"osm_type", "osm_id", "tags"}``.

Some of them can be made **places** (``as_places=["amenity=library"]`` or an explicit pick
of ``"node/123"`` ids from the web preview): a :class:`~locmap.models.Place` with the OSM
id in ``osm_id`` and the tags in ``osm_tags`` (plus ``"@type"``: node, way or relation —
OSM ids are only unique per element type), its kind mapped from the tags (:func:`place_kind`).

Re-importing is idempotent: a feature is matched on layer + element type + ``osm_id``
(its geometry, name and tags are refreshed), a place on pilot + element type + ``osm_id``
(never overwritten: people edit places; a deleted one is not brought back). Geometries
pass :func:`locmap.geo.parse_geojson_geometry` (vertex cap, finite WGS84 coordinates,
validity); an element that fails is listed in the report with its reason. Everything is
written in the caller's transaction; the import record, permissions and audit are the
caller's (:mod:`locmap.services.imports`).
XML entity expansion is handled by expat's own amplification limits (GDAL's XML reader).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import osmium
import pyarrow
import pyogrio
import pyogrio.raw
import shapely
from geoalchemy2.shape import from_shape, to_shape
from pyogrio._err import _ERROR_STACK as _GDAL_ERRORS  # pinned pyogrio: GDAL's
from pyogrio._err import capture_errors  # errors of the streamed reader (see _batches)
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from locmap.errors import InvalidData, InvalidGeometry
from locmap.io.gis import checked_geometry, json_safe
from locmap.io.sources import Loaded
from locmap.models import Feature, FeatureLayer, Pilot, Place
from locmap.models.place import PLACE_GEOMETRY_RULE

__all__ = ["PRESETS", "OSM_SUFFIXES", "OsmElement", "parse_other_tags", "place_kind",
           "read_osm", "iter_layer", "RawElement", "clip_area", "preview_osm", "check_options",
           "write_osm"]

OSM_SUFFIXES = (".osm", ".pbf")
_LAYERS = ("points", "lines", "multipolygons")
_NOT_TAGS = frozenset({"osm_id", "osm_way_id", "other_tags", "z_order", "geometry"})
MAX_ELEMENTS = 200_000  # matching elements within the locality's bounding box


@dataclass(frozen=True)
class Preset:
    label: str
    tags: tuple[tuple[str, str], ...]


PRESETS: dict[str, Preset] = {
    "fast_food": Preset("fast food", (("amenity", "fast_food"),)),
    "library": Preset("libraries", (("amenity", "library"),)),
    "school": Preset("schools", (("amenity", "school"),)),
    "park": Preset("parks", (("leisure", "park"),)),
    "transport_hub": Preset("transport hubs", (("railway", "station"),
                            ("public_transport", "station"), ("amenity", "bus_station"))),
    "off_licence": Preset("off-licences", (("shop", "alcohol"),)),
    "bus_stop": Preset("bus stops", (("highway", "bus_stop"),)),
    "street_lamp": Preset("street lamps", (("highway", "street_lamp"),)),
}
_KIND_BY_TAG = {
    ("amenity", "library"): "library", ("amenity", "fast_food"): "fast_food",
    ("amenity", "school"): "school", ("leisure", "park"): "park",
    ("railway", "station"): "transport_hub", ("public_transport", "station"): "transport_hub",
    ("amenity", "bus_station"): "transport_hub", ("highway", "bus_stop"): "transport_hub",
}
_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
_UNESCAPE = re.compile(r"\\(.)")
_OSM_REF = re.compile(r"^(node|way|relation)/([0-9]{1,19})$")


@dataclass
class OsmElement:
    """One OSM element that matched a preset."""

    osm_type: str
    osm_id: int
    name: str
    tags: dict[str, str]
    geom: BaseGeometry
    presets: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.osm_type}/{self.osm_id}"


def _str(value: Any) -> str | None:
    """A cell as text; None for null or NaN (pandas fills absent strings with either)."""
    if value is None:
        return None
    if type(value) is str:  # the common case first (millions of cells in a county extract)
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    value = json_safe(value)
    return None if value is None else str(value)


def parse_other_tags(value: str | None) -> dict[str, str]:
    """GDAL's hstore-like ``other_tags`` (``"k"=>"v","k2"=>"v2"``) as a dict."""
    if not isinstance(value, str) or not value:
        return {}
    return {_UNESCAPE.sub(r"\1", k): _UNESCAPE.sub(r"\1", v) for k, v in _PAIR.findall(value)}


def place_kind(tags: dict[str, str]) -> str:
    """The place kind for an element's tags: library, fast_food, school, park,
    transport_hub (stations, bus stations, bus stops) or ``other``.
    """
    for (k, v), kind in _KIND_BY_TAG.items():
        if tags.get(k) == v:
            return kind
    return "other"


def _tag_filter(value: str) -> tuple[str, str]:
    k, sep, v = value.partition("=")
    if not sep or not k.strip() or not v.strip():
        raise InvalidData(f"{value!r} is not TAG=VALUE (e.g. amenity=library).")
    return k.strip(), v.strip()


def _check_presets(presets: list[str] | tuple[str, ...]) -> list[str]:
    chosen = list(dict.fromkeys(presets)) or list(PRESETS)
    unknown = [p for p in chosen if p not in PRESETS]
    if unknown:
        raise InvalidData(f"Unknown preset(s) {', '.join(unknown)}; "
                          f"choose from {', '.join(PRESETS)}.")
    return chosen


def _as_geometry(layer: str, geom: BaseGeometry) -> BaseGeometry:
    # A closed way that GDAL left as a line (railway=station has no area rule) is an area.
    if layer == "lines" and isinstance(geom, LineString) and geom.is_closed \
            and len(geom.coords) >= 4:
        return Polygon(geom.coords)
    if geom.geom_type == "MultiPolygon" and len(geom.geoms) == 1:
        return geom.geoms[0]
    return geom


_BATCH = 20_000  # elements read, parsed and handed on at once: memory is bounded per batch


def _read_error(path: Path, exc: Exception) -> InvalidData:
    detail = str(exc).replace(str(path.resolve().parent) + "/", "")  # no server paths
    return InvalidData(f"{path.name} could not be read as an OpenStreetMap extract: {detail}")


def declared_sorted(path: Path) -> bool:
    """Whether ``path`` is a PBF whose header says its elements are sorted by type and id."""
    if not path.name.lower().endswith(".pbf"):
        return False
    try:
        reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
    except (RuntimeError, OSError):
        return False  # GDAL reports what is wrong with the file
    try:
        return bool(reader.header().get("sorting") == "Type_then_ID")
    finally:
        reader.close()


def _batches(path: Path, layer: str, bbox: tuple[float, ...] | None) -> Iterator[
        tuple[dict[str, list[Any]], list[Any]]]:
    """One layer (within ``bbox``) as GDAL gives it, **streamed** in Arrow batches of
    :data:`_BATCH` elements: (field columns as lists, WKB list) per batch. WKB, not shapely
    geometries, so that one broken element cannot fail the whole layer (shapely refuses a
    2-point ring while parsing); batches, not the whole layer, so that memory stays flat
    however large the extract (GDAL keeps its node index in a temporary file).

    GDAL's faster custom node index needs node ids in increasing order; on a file whose
    ids are not, a streamed layer ends early *without an error*. So it is used only for a
    PBF whose header declares its elements sorted (``Sort.Type_then_ID``: Geofabrik's and
    osmium's extracts); other files (hand-edited XML, JOSM's negative ids) are read
    without it, and a PBF that still reports unsorted ids is read again so.
    """
    kwargs: dict[str, Any] = {"bbox": bbox} if bbox else {}
    sorted_ids = declared_sorted(path)
    for retry in (False, True):
        if retry or not sorted_ids:
            kwargs["USE_CUSTOM_INDEXING"] = "NO"
        started = False
        try:
            # GDAL's streamed reader ends a layer at a parse error instead of raising:
            # collect GDAL's errors and look at them after every batch.
            with capture_errors(), pyogrio.raw.open_arrow(
                    str(path), layer=layer, batch_size=_BATCH, use_pyarrow=True,
                    **kwargs) as (meta, reader):
                geometry = meta.get("geometry_name") or "wkb_geometry"
                for batch in reader:
                    _raise_gdal_error()
                    started = True
                    names = batch.schema.names
                    yield ({n: batch.column(n).to_pylist() for n in names if n != geometry},
                           batch.column(geometry).to_pylist() if geometry in names
                           else [None] * batch.num_rows)
                _raise_gdal_error()
            return
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                pyogrio.errors.FeatureError, _GdalError, pyarrow.ArrowException,
                OSError) as exc:
            if sorted_ids and not retry and not started and "Non increasing node id" in str(exc):
                continue
            raise _read_error(path, exc) from exc


class _GdalError(Exception):
    pass


def _raise_gdal_error() -> None:
    """Raise the first error (not warning) GDAL reported within :func:`capture_errors`."""
    for err in _GDAL_ERRORS.get() or ():
        if err.args and isinstance(err.args[0], int) and err.args[0] >= 3:  # CE_Failure
            raise _GdalError(err.args[-1])


def _geometry(wkb: Any, geom: BaseGeometry | None = None,
              valid: bool = False) -> tuple[BaseGeometry | None, str | None]:
    """An element's geometry read leniently: (geometry, None) when sound, (repaired
    geometry, what was repaired) when shapely or ``make_valid`` can mend it, (None, reason)
    when nothing usable is left. ``geom``/``valid``: already parsed (a batch at a time).
    """
    if wkb is None:
        return None, "GDAL built no geometry (members or nodes missing from the extract)"
    if geom is not None and valid and not geom.is_empty:
        return geom, None
    if geom is None:
        geom = shapely.from_wkb(wkb, on_invalid="ignore")
    note = None
    if geom is None:
        geom = shapely.from_wkb(wkb, on_invalid="fix")
        note = "rings with fewer than 3 points dropped"
        if geom is None or geom.is_empty:
            return None, "no ring with 3 or more points (a broken or cut-off area)"
    if geom.is_empty:
        return None, "empty geometry (members or nodes missing from the extract)"
    if not geom.is_valid:
        fixed = shapely.make_valid(geom)
        dim = shapely.get_dimensions(geom)
        kept = [g for g in getattr(fixed, "geoms", [fixed])
                if shapely.get_dimensions(g) == dim and not g.is_empty]
        if not kept:
            why = shapely.is_valid_reason(geom)
            return None, f"invalid geometry ({why}) that cannot be repaired"
        fixed = kept[0] if len(kept) == 1 else shapely.union_all(kept)
        note = (note + "; " if note else "") + f"repaired ({shapely.is_valid_reason(geom)})"
        geom = fixed
    return geom, note


_AREA_KEYS = ("building", "landuse", "leisure", "amenity", "natural", "area")
_LINE_KEYS = ("highway", "railway", "waterway", "barrier", "power", "route")


def _is_area(tags: dict[str, str]) -> bool:
    """Tags that make a way an area (a park, a building), not a line (a road, a fence)."""
    return (any(k in tags for k in _AREA_KEYS) and tags.get("area") != "no"
            and not any(k in tags for k in _LINE_KEYS))


@dataclass
class RawElement:
    """One element of a layer, tags parsed, geometry read leniently."""

    osm_type: str
    osm_id: int
    tags: dict[str, str]
    geom: BaseGeometry | None
    problem: str | None  # why there is no geometry, or what was repaired

    @property
    def ref(self) -> str:
        return f"{self.osm_type}/{self.osm_id}"


def iter_layer(path: Path, layer: str, bbox: tuple[float, ...] | None = None,
               keep: Any = None) -> Iterator[RawElement]:
    """The elements of one layer of an extract; ``keep(tags)`` (optional) selects them
    before their geometry is parsed. Broken elements come with ``geom=None`` and the reason
    in ``problem``; the caller reports them (never an exception for one bad element).
    """
    default_type = {"points": "node", "lines": "way"}.get(layer, "relation")
    # Multipolygon relations GDAL yielded (whole file only: with a bbox, one not yielded
    # may merely lie outside it).
    seen: set[int] | None = set() if layer == "multipolygons" and bbox is None else None
    for by_name, wkbs in _batches(Path(path), layer, bbox):
        yield from _batch_elements(layer, default_type, by_name, wkbs, keep, seen)
    if seen is not None:
        yield from _unbuilt_multipolygons(Path(path), seen, keep)


MISSING_MEMBERS = "members missing from the extract (cut at its edge?): no area could be built"


def _unbuilt_multipolygons(path: Path, seen: set[int], keep: Any) -> Iterator[RawElement]:
    """Multipolygon relations GDAL built nothing for (no ring closes from the members in
    the file, so it drops them silently): one pass over the file's relations only, with
    pyosmium, each reported with ``geom=None`` and :data:`MISSING_MEMBERS`.
    """
    try:
        relations = osmium.FileProcessor(str(path), osmium.osm.RELATION)
        for rel in relations:
            if rel.id in seen or rel.tags.get("type") != "multipolygon":
                continue
            tags = {t.k: t.v for t in rel.tags if t.k != "type"}
            if keep is not None and not keep(tags):
                continue
            yield RawElement("relation", rel.id, tags, None, MISSING_MEMBERS)
    except (RuntimeError, OSError) as exc:  # GDAL read the file: this should not happen
        raise _read_error(path, exc) from exc


def _batch_elements(layer: str, default_type: str, by_name: dict[str, list[Any]],
                    wkbs: list[Any], keep: Any,
                    seen: set[int] | None = None) -> Iterator[RawElement]:
    columns = [(n, values) for n, values in by_name.items() if n not in _NOT_TAGS]
    none = [None] * len(wkbs)
    ids, way_ids = by_name.get("osm_id", none), by_name.get("osm_way_id", none)
    other = by_name.get("other_tags", none)
    if seen is not None:
        seen.update(int(i) for i in ids if i is not None and str(i).isdigit())
    rows: list[tuple[int, str, str, dict[str, str]]] = []
    for row in range(len(wkbs)):
        tags = {n: v for n, values in columns if (v := _str(values[row])) is not None}
        if other[row]:
            tags.update(parse_other_tags(other[row]))
        if keep is not None and not keep(tags):
            continue
        raw_id = _str(ids[row])
        osm_type = default_type
        if layer == "multipolygons" and raw_id is None:
            osm_type, raw_id = "way", _str(way_ids[row])
        if raw_id is None or not raw_id.isdigit():
            continue  # GDAL always sets the id; nothing to match or cite without it
        rows.append((row, osm_type, raw_id, tags))
    if not rows:
        return
    # Only the kept elements' geometries are parsed, all at once (vectorised).
    kept = [wkbs[row] for row, *_ in rows]
    try:
        parsed = shapely.from_wkb(kept, on_invalid="ignore")
        valid = shapely.is_valid(parsed)
    except shapely.errors.GEOSException:  # one at a time then, in _geometry
        parsed, valid = [None] * len(kept), [False] * len(kept)
    for i, (_row, osm_type, raw_id, tags) in enumerate(rows):
        try:
            geom, problem = _geometry(kept[i], parsed[i], bool(valid[i]))
        except shapely.errors.GEOSException as exc:
            geom, problem = None, f"unreadable geometry ({exc})"
        if geom is not None:
            geom = _as_geometry(layer, geom)
            if layer == "lines" and not geom.is_closed and _is_area(tags):
                geom, problem = None, "an area whose way is not closed (cut at the extract's edge?)"
        yield RawElement(osm_type, int(raw_id), tags, geom, problem)


def read_osm(path: Path, clip: BaseGeometry, presets: list[str]) -> tuple[
        list[OsmElement], list[dict[str, Any]], int]:
    """Elements matching ``presets`` that intersect ``clip``.

    Broken elements never fail the read: each is listed in ``rejects`` with its OSM
    reference and reason, and what ``make_valid`` can repair is kept.

    Returns
    -------
    (elements, rejects, outside)
        The matching elements; the matching ones whose geometry was refused (``row`` is the
        ``type/id`` reference, with a reason); how many matched but lie outside ``clip``.
    """
    path = Path(path)
    if not path.name.lower().endswith(OSM_SUFFIXES):
        raise InvalidData(f"{path.name}: expected an OpenStreetMap extract (.osm.pbf or .osm).")
    wanted = {p: set(PRESETS[p].tags) for p in presets}
    prepared = shapely.prepared.prep(clip)
    found: list[OsmElement] = []
    rejects: list[dict[str, Any]] = []
    outside = 0

    def keep(tags: dict[str, str]) -> bool:
        return any(tags.get(k) == v for pairs in wanted.values() for k, v in pairs)

    for layer in _LAYERS:
        for el in iter_layer(path, layer, clip.bounds, keep):
            tags = el.tags
            matched = [p for p, pairs in wanted.items()
                       if any(tags.get(k) == v for k, v in pairs)]
            name = tags.get("name", "")
            if el.geom is None:
                rejects.append({"file": path.name, "row": el.ref, "name": name,
                                "reason": el.problem or "no geometry"})
                continue
            try:
                shp = checked_geometry(el.geom)
            except InvalidGeometry as exc:
                rejects.append({"file": path.name, "row": el.ref, "name": name,
                                "reason": exc.message})
                continue
            if not prepared.intersects(shp):
                outside += 1
                continue
            found.append(OsmElement(el.osm_type, el.osm_id, name, tags, shp, matched))
            if len(found) > MAX_ELEMENTS:
                raise InvalidData(f"{path.name} has more than {MAX_ELEMENTS:,} matching "
                                  "elements in the locality; choose fewer presets.")
    return found, rejects, outside


def clip_area(session: Session, pilot: Pilot, buffer_m: float = 0.0) -> BaseGeometry:
    """The pilot's locality, grown by ``buffer_m`` metres (on the geography) if asked."""
    if not 0 <= buffer_m <= 10_000:
        raise InvalidData("The buffer around the locality must be 0 to 10,000 metres.")
    if not buffer_m:
        return to_shape(pilot.locality)
    wkb = session.execute(text(
        "SELECT ST_AsBinary(ST_Buffer(locality::geography, :m)::geometry) FROM pilot "
        "WHERE id = :id"), {"m": buffer_m, "id": pilot.id}).scalar_one()
    return shapely.from_wkb(bytes(wkb))


def preview_osm(path: Path, clip: BaseGeometry, presets: list[str] | tuple[str, ...] = (),
                limit: int = 500) -> dict[str, Any]:
    """Counts per preset and the named elements (candidates for places); writes nothing."""
    chosen = _check_presets(presets)
    found, rejects, outside = read_osm(path, clip, chosen)
    order = {p: i for i, p in enumerate(PRESETS)}
    named = sorted((e for e in found if e.name), key=lambda e: (order[e.presets[0]], e.name))
    return {
        "presets": {p: sum(p in e.presets for e in found) for p in chosen},
        "named": [{"ref": e.ref, "name": e.name, "preset": e.presets[0],
                   "kind": place_kind(e.tags), "geometry": e.geom.geom_type}
                  for e in named[:limit]],
        "named_total": len(named), "rejected": len(rejects), "outside": outside,
    }


def _place_reason(e: OsmElement, kind: str) -> str | None:
    if not e.name:
        return "no name in OpenStreetMap; draw it or name it in OSM first"
    rule = PLACE_GEOMETRY_RULE.get(kind)
    if rule and e.geom.geom_type.upper() not in rule:
        return f"a {kind} must be a {' or '.join(rule)}; OSM has a {e.geom.geom_type}"
    return None


def check_options(presets: list[str] | tuple[str, ...], as_places: list[str] | tuple[str, ...],
                  pick: list[str] | tuple[str, ...]) -> list[str]:
    """The chosen presets, after checking the place filters and picks against them."""
    chosen = _check_presets(presets)
    filters = [_tag_filter(f) for f in as_places]
    preset_tags = {t for p in chosen for t in PRESETS[p].tags}
    stray = [f"{k}={v}" for k, v in filters if (k, v) not in preset_tags]
    if stray:
        raise InvalidData(f"--as-places {', '.join(stray)} is not among the chosen presets' "
                          f"tags ({', '.join(f'{k}={v}' for k, v in sorted(preset_tags))}).")
    bad_refs = [r for r in pick if not _OSM_REF.match(r)]
    if bad_refs:
        raise InvalidData(f"Not OSM references (node/123, way/45): {', '.join(bad_refs[:5])}.")
    return chosen


def write_osm(
    session: Session,
    pilot: Pilot,
    path: Path,
    *,
    data_import_id: int,
    created_by_id: int | None,
    presets: list[str] | tuple[str, ...] = (),
    as_places: list[str] | tuple[str, ...] = (),
    pick: list[str] | tuple[str, ...] = (),
    buffer_m: float = 0.0,
    filename: str | None = None,
) -> Loaded:
    """Write an OSM extract's preset features as layers and make some of them places.

    Parameters
    ----------
    presets
        Keys of :data:`PRESETS` (default: all of them).
    as_places
        ``TAG=VALUE`` filters: matching elements also become places.
    pick
        ``node/123``-style references of elements to make places (the web picker).
    buffer_m
        Keep elements within this many metres of the locality (default: inside it).

    Returns
    -------
    Loaded
        ``rows_read`` = matching elements in the area, ``rows_accepted`` = features added or
        refreshed plus places made, report = refused elements with reasons.
    """
    chosen = check_options(presets, as_places, pick)
    filters = [_tag_filter(f) for f in as_places]
    path = Path(path)
    source = (filename or path.name)[:200]
    pilot_id = pilot.id
    found, rejects, outside = read_osm(path, clip_area(session, pilot, buffer_m), chosen)
    rows_read = len(found) + len(rejects) + outside

    added = refreshed = 0
    layer_ids: dict[str, int] = {}
    for preset in chosen:
        members = [e for e in found if preset in e.presets]
        lname = f"OSM {PRESETS[preset].label}"
        layer = session.scalar(select(FeatureLayer).where(
            FeatureLayer.pilot_id == pilot_id, FeatureLayer.name == lname))
        if layer is None:
            if not members:
                continue
            layer = FeatureLayer(pilot_id=pilot_id, name=lname, source=source,
                                 data_import_id=data_import_id,
                                 description="OpenStreetMap: " + ", ".join(
                                     f"{k}={v}" for k, v in PRESETS[preset].tags))
            session.add(layer)
            session.flush()
        layer_ids[preset] = layer.id
        existing = {(f.properties.get("osm_type"), f.osm_id): f for f in session.scalars(
            select(Feature).where(Feature.layer_id == layer.id, Feature.osm_id.is_not(None)))}
        for e in members:
            props = {"osm_type": e.osm_type, "osm_id": e.osm_id, "tags": e.tags}
            f = existing.get((e.osm_type, e.osm_id))
            if f is None:
                session.add(Feature(layer_id=layer.id, geom=from_shape(e.geom, srid=4326),
                                    name=e.name[:200], osm_id=e.osm_id, properties=props))
                added += 1
            else:
                f.geom, f.name, f.properties = from_shape(e.geom, srid=4326), e.name[:200], props
                refreshed += 1

    picked = set(pick)
    wanted = [e for e in found if e.ref in picked
              or any(e.tags.get(k) == v for k, v in filters)]
    missing = sorted(picked - {e.ref for e in found})
    for ref in missing:
        rejects.append({"file": path.name, "row": ref, "name": "",
                        "reason": "not found among the chosen presets in the locality"})
    have = {f"{(p.osm_tags or {}).get('@type', 'node')}/{p.osm_id}" for p in session.scalars(
        select(Place).where(Place.pilot_id == pilot_id, Place.osm_id.in_(
            [e.osm_id for e in wanted])))} if wanted else set()
    places_made = places_present = 0
    for e in wanted:
        if e.ref in have:
            places_present += 1
            continue
        kind = place_kind(e.tags)
        reason = _place_reason(e, kind)
        if reason:
            rejects.append({"file": path.name, "row": e.ref, "name": e.name, "reason": reason})
            continue
        session.add(Place(pilot_id=pilot_id, name=e.name[:200], kind=kind,
                          geom=from_shape(e.geom, srid=4326), osm_id=e.osm_id,
                          osm_tags={**e.tags, "@type": e.osm_type},
                          notes=f"From OpenStreetMap {e.ref}.", created_by_id=created_by_id))
        have.add(e.ref)
        places_made += 1
    session.flush()
    return Loaded(
        rows_read=rows_read, rows_accepted=added + refreshed, rows_rejected=len(rejects),
        report=rejects,
        message=(f"{added:,} features added and {refreshed:,} refreshed in "
                 f"{len(layer_ids)} OSM layer(s); {places_made:,} places made "
                 f"({places_present:,} already present); {len(rejects):,} rejected, "
                 f"{outside:,} outside the locality."),
        options={"presets": chosen, "as_places": list(as_places), "pick": sorted(picked),
                 "buffer_m": buffer_m, "layer_ids": layer_ids, "summary": {
                     "features_added": added, "features_refreshed": refreshed,
                     "places_made": places_made, "places_already_present": places_present,
                     "outside_area": outside, "rejected": len(rejects)}},
        audit={"features_added": added, "places_made": places_made,
               "rejected": len(rejects)},
    )
