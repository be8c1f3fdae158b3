"""GIS files in: GeoJSON, GeoPackage and zipped Shapefiles, read with pyogrio.

A file is read with its *declared* CRS; a file that declares none (a Shapefile without its
``.prj``) is refused unless the caller names one — guessing between WGS84 and British
National Grid is how a park ends up in the North Sea. Geometries are reprojected to
EPSG:4326 and every one passes :func:`locmap.geo.parse_geojson_geometry`; a row that fails
is listed in the import's report with its reason (never silently dropped) and the others
are loaded, as a :class:`~locmap.models.FeatureLayer` or as :class:`~locmap.models.Place`
rows. Everything happens in the caller's transaction: on :class:`InvalidData` nothing of
the file remains. Permissions, the import record and the audit trail are the caller's
(:mod:`locmap.services.imports`).
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyogrio
import shapely
from geoalchemy2.shape import from_shape
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.geometry import MultiLineString, MultiPoint, mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.errors import InvalidData, InvalidGeometry
from locmap.geo import MAX_VERTICES, PLACE_MAX_VERTICES, parse_geojson_geometry
from locmap.io.sources import MAX_RATIO, MAX_TOTAL_BYTES, Loaded
from locmap.models import Feature, FeatureLayer, Place
from locmap.models.place import PLACE_GEOMETRY_RULE
from locmap.vocab import PLACE_KINDS

__all__ = ["read_gis", "preview_gis", "write_gis", "json_safe", "checked_geometry",
           "GIS_SUFFIXES"]

GIS_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".shp")
MAX_FEATURES = 200_000


def _zip_shapefile(path: Path) -> str:
    """The GDAL path (/vsizip/) of the one Shapefile in a zip, after safety checks."""
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise InvalidData(f"{path.name} is not a readable zip file.") from exc
    with zf:
        infos = zf.infolist()
        total = 0
        for info in infos:
            p = PurePosixPath(info.filename)
            if p.is_absolute() or ".." in p.parts:
                raise InvalidData(f"{path.name}: unsafe member path {info.filename!r}.")
            total += info.file_size
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
                raise InvalidData(f"{path.name}: member {info.filename!r} compresses "
                                  "suspiciously well; refusing it.")
        if total > MAX_TOTAL_BYTES:
            raise InvalidData(f"{path.name} would unpack to more than the size limit.")
        shps = [i.filename for i in infos if i.filename.lower().endswith(".shp")]
    if len(shps) != 1:
        raise InvalidData(f"{path.name} must hold exactly one Shapefile (.shp); "
                          f"it holds {len(shps)}.")
    return f"/vsizip/{path.resolve()}/{shps[0]}"


def read_gis(path: Path, *, layer: str | None = None, crs: str | None = None) -> Any:
    """Read a GIS file as a GeoDataFrame in EPSG:4326 (refusing an undeclared CRS)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in GIS_SUFFIXES:
        raise InvalidData(f"{path.name}: expected one of {', '.join(GIS_SUFFIXES)}.")
    source = _zip_shapefile(path) if suffix == ".zip" else str(path)
    try:
        with warnings.catch_warnings():
            # GDAL warns about a geometry it cannot read and yields none: the row is then
            # reported as having no geometry, so the warning adds nothing.
            warnings.simplefilter("ignore", RuntimeWarning)
            gdf = pyogrio.read_dataframe(source, layer=layer, max_features=MAX_FEATURES + 1)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        if "too complex/large" in str(exc):  # GDAL's GeoJSON per-object memory limit
            raise InvalidData(
                f"{path.name} holds a feature far larger than locmap accepts (at most "
                f"{MAX_VERTICES:,} vertices per geometry); simplify it in your GIS first. "
                "Nothing was imported.") from exc
        detail = str(exc).replace(str(path.resolve().parent) + "/", "")  # no server paths
        raise InvalidData(f"{path.name} could not be read as a GIS file: {detail}") from exc
    if len(gdf) > MAX_FEATURES:
        raise InvalidData(f"{path.name} has more than {MAX_FEATURES:,} features.")
    given: CRS | None = None
    if crs:
        try:
            given = CRS.from_user_input(crs)
        except CRSError as exc:
            raise InvalidData(f"{crs!r} is not a coordinate reference system.") from exc
    if gdf.crs is None:
        if given is None:
            raise InvalidData(
                f"{path.name} does not declare its coordinate reference system (a Shapefile "
                "needs its .prj). Name it, e.g. --crs EPSG:27700 for British National Grid "
                "or --crs EPSG:4326 for longitude/latitude."
            )
        gdf = gdf.set_crs(given)
    elif given is not None and not CRS(gdf.crs).equals(given):
        raise InvalidData(f"{path.name} declares {gdf.crs.to_string()}, not {crs}; "
                          "leave out --crs to use the file's own.")
    return gdf.to_crs(4326)


def json_safe(value: Any) -> Any:
    """A property value as JSON (NaN → null, numpy → Python, dates → ISO 8601)."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")  # JSONB cannot hold NUL
    if isinstance(value, bool | int):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if hasattr(value, "isoformat"):  # pandas Timestamp
        try:
            return None if value != value else value.isoformat()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple | np.ndarray):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return str(value)


def checked_geometry(geom: BaseGeometry | None, *,
                     max_vertices: int = MAX_VERTICES) -> BaseGeometry:
    """A row's geometry through :func:`locmap.geo.parse_geojson_geometry` (single-part
    multi-points/lines unwrapped); :class:`InvalidGeometry` with the reason otherwise.

    A file declares its own dimension (a PolygonZ Shapefile): its heights are dropped here,
    on purpose, and :func:`write_gis` says so in its message (never silently).
    """
    if geom is None or geom.is_empty:
        raise InvalidGeometry("The row has no geometry (or NaN coordinates).")
    if isinstance(geom, MultiPoint | MultiLineString) and len(geom.geoms) == 1:
        geom = geom.geoms[0]
    if not shapely.is_valid_input(geom):
        raise InvalidGeometry("The geometry could not be read.")
    return parse_geojson_geometry(dict(mapping(shapely.force_2d(geom))),
                                  max_vertices=max_vertices)


def preview_gis(path: Path, *, crs: str | None = None, limit: int = 10) -> dict[str, Any]:
    """What a GIS file holds (columns, CRS, geometry types, first rows); writes nothing."""
    gdf = read_gis(path, crs=crs)
    columns = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    rows = [{str(k): json_safe(v) for k, v in r.items()}
            for r in gdf[columns].head(limit).to_dict("records")]
    types = gdf.geometry.geom_type.fillna("none").value_counts()
    return {"features": len(gdf), "columns": columns, "rows": rows,
            "geometry_types": {str(k): int(v) for k, v in types.items()}}


def write_gis(
    session: Session,
    pilot_id: int,
    path: Path,
    *,
    data_import_id: int,
    created_by_id: int | None,
    as_: str = "layer",
    layer_name: str | None = None,
    crs: str | None = None,
    name_column: str | None = None,
    kind_column: str | None = None,
    source_layer: str | None = None,
    filename: str | None = None,
) -> Loaded:
    """Write one GIS file's rows as a feature layer (``as_="layer"``) or as places.

    ``filename`` is the name to report (the uploaded name rather than the stored one).
    Writes in the caller's transaction; raises :class:`InvalidData` for a file that cannot
    be loaded at all (the caller rolls back).
    """
    path = Path(path)
    shown = filename or path.name
    gdf = read_gis(path, layer=source_layer, crs=crs)
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    name_col = name_column or ("name" if "name" in columns else None)
    kind_col = kind_column or "kind"
    for col, label in ((name_column, "--name-column"), (kind_column, "--kind-column")):
        if col is not None and col not in columns:
            raise InvalidData(f"{label} {col!r} is not a column of {path.name} "
                              f"(columns: {', '.join(columns) or 'none'}).")
    if as_ == "places" and (name_col is None or kind_col not in columns):
        raise InvalidData("Places need a name and a kind column (--name-column, "
                          f"--kind-column); {path.name} has: {', '.join(columns) or 'none'}.")

    layer: FeatureLayer | None = None
    if as_ == "layer":
        lname = (layer_name or Path(shown).stem).strip()[:200]
        if session.scalar(select(FeatureLayer.id).where(
                FeatureLayer.pilot_id == pilot_id, FeatureLayer.name == lname)):
            raise InvalidData(f"The pilot already has a feature layer called {lname!r}.")
        layer = FeatureLayer(pilot_id=pilot_id, name=lname, source=shown[:200],
                             data_import_id=data_import_id)
        session.add(layer)
        session.flush()

    rejects: list[dict[str, Any]] = []
    rows: list[Any] = []
    records = gdf[columns].to_dict("records")
    limit = PLACE_MAX_VERTICES if as_ == "places" else MAX_VERTICES
    heights = bool(len(gdf)) and bool(gdf.geometry.has_z.any())
    for i, (geom, props) in enumerate(zip(gdf.geometry, records, strict=True), start=1):
        name = "" if name_col is None else str(json_safe(props.get(name_col)) or "").strip()
        try:
            shp = checked_geometry(geom, max_vertices=limit)
        except InvalidGeometry as exc:
            rejects.append({"file": shown, "row": i, "name": name, "reason": exc.message})
            continue
        if as_ == "layer":
            assert layer is not None
            rows.append(Feature(layer_id=layer.id, geom=from_shape(shp, srid=4326),
                                name=name[:200],
                                properties={str(k): json_safe(v) for k, v in props.items()}))
            continue
        kind = str(json_safe(props.get(kind_col)) or "").strip()
        reason = None
        if not name:
            reason = "no name"
        elif kind not in PLACE_KINDS or kind == "online":
            reason = (f"kind {kind!r} is not one of "
                      f"{', '.join(k for k in PLACE_KINDS if k != 'online')}")
        elif kind in PLACE_GEOMETRY_RULE and shp.geom_type.upper() not in PLACE_GEOMETRY_RULE[kind]:
            reason = f"a {kind} must be a {' or '.join(PLACE_GEOMETRY_RULE[kind])}"
        if reason:
            rejects.append({"file": shown, "row": i, "name": name, "reason": reason})
            continue
        rows.append(Place(pilot_id=pilot_id, name=name[:200], kind=kind,
                          geom=from_shape(shp, srid=4326), created_by_id=created_by_id))
    session.add_all(rows)
    session.flush()
    what = f"features in layer {layer.name!r}" if layer else "places"
    return Loaded(
        rows_read=len(gdf), rows_accepted=len(rows), rows_rejected=len(rejects),
        report=rejects,
        message=(f"{len(rows):,} {what} added from {len(gdf):,} rows; {len(rejects):,} rejected."
                 + (" The file's heights (Z) were dropped: locmap keeps map positions only."
                    if heights else "")),
        options={"as": as_, "crs": crs, "layer_id": layer.id if layer else None,
                 "name_column": name_col, "kind_column": kind_col if as_ == "places" else None},
        audit={"accepted": len(rows), "rejected": len(rejects)},
    )
