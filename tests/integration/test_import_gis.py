"""GIS file import (GeoPackage in British National Grid, zipped Shapefile) — synthetic data."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
from geoalchemy2.shape import to_shape
from pyproj import Transformer
from shapely.geometry import Point, Polygon
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.errors import Forbidden, InvalidData
from locmap.models import AuditEvent, Feature, FeatureLayer, Place
from locmap.services.accounts import actor_for
from locmap.services.imports import import_gis
from tests.factories import World

TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)
TO_WGS = Transformer.from_crs(27700, 4326, always_xy=True)


def bng(lon: float, lat: float) -> tuple[float, float]:
    x, y = TO_BNG.transform(lon, lat)
    return float(x), float(y)


def write_gpkg(path: Path) -> Path:
    p1, p2 = bng(-1.49, 52.505), bng(-1.492, 52.507)
    a, b = bng(-1.497, 52.501), bng(-1.494, 52.503)
    square = Polygon([(a[0], a[1]), (b[0], a[1]), (b[0], b[1]), (a[0], b[1])])
    bowtie = Polygon([(a[0], a[1]), (b[0], b[1]), (b[0], a[1]), (a[0], b[1])])
    gdf = gpd.GeoDataFrame(
        {"name": ["Chicken shop", "=Bus stop", "Rec ground", "Bowtie", "Nowhere"],
         "kind": ["fast_food", "transport_hub", "park", "park", "other"],
         "seats": [12, None, 3, 4, 5]},
        geometry=[Point(p1), Point(p2), square, bowtie, Point(float("nan"), float("nan"))],
        crs="EPSG:27700",
    )
    gdf.to_file(path, driver="GPKG", layer="things")
    return path


def test_gpkg_as_layer_reprojected_exactly(session: Session, world: World,
                                           tmp_path: Path) -> None:
    a = actor_for(session, world.users["practitioner"])
    path = write_gpkg(tmp_path / "things.gpkg")
    di = import_gis(session, a, world.pilot.id, path, as_="layer", layer_name="Things")
    assert (di.status, di.rows_read, di.rows_accepted, di.rows_rejected) == ("done", 5, 3, 2)
    assert len(di.sha256) == 64 and di.kind == "gis_layer"
    assert [(r["row"], r["name"]) for r in di.report] == [(4, "Bowtie"), (5, "Nowhere")]
    assert "not valid" in di.report[0]["reason"]
    layer = session.scalar(select(FeatureLayer).where(FeatureLayer.name == "Things"))
    assert layer is not None and layer.data_import_id == di.id
    feats = {f.name: f for f in session.scalars(select(Feature).where(
        Feature.layer_id == layer.id))}
    assert set(feats) == {"Chicken shop", "=Bus stop", "Rec ground"}
    pt = to_shape(feats["Chicken shop"].geom)
    ex, ey = bng(-1.49, 52.505)
    lon, lat = TO_WGS.transform(ex, ey)
    assert abs(pt.x - lon) < 1e-7 and abs(pt.y - lat) < 1e-7
    bx, by = TO_BNG.transform(pt.x, pt.y)
    assert abs(bx - ex) < 0.01 and abs(by - ey) < 0.01
    assert feats["Chicken shop"].properties["seats"] == 12
    assert feats["=Bus stop"].properties["seats"] is None  # NaN → null, JSON-safe
    poly = to_shape(feats["Rec ground"].geom)
    assert poly.geom_type == "Polygon" and abs(poly.bounds[0] - (-1.497)) < 1e-7
    ev = session.scalar(select(AuditEvent).where(AuditEvent.action == "import",
                                                 AuditEvent.entity_id == str(di.id)))
    assert ev is not None


def test_gpkg_as_places_checks_kind_and_geometry(session: Session, world: World,
                                                 tmp_path: Path) -> None:
    a = actor_for(session, world.users["coordinator"])
    path = write_gpkg(tmp_path / "places.gpkg")
    di = import_gis(session, a, world.pilot.id, path, as_="places",
                    name_column="name", kind_column="kind")
    assert (di.rows_accepted, di.rows_rejected) == (3, 2)
    got = {p.name: p.kind for p in session.scalars(select(Place).where(
        Place.pilot_id == world.pilot.id, Place.created_by_id == a.user_id))}
    assert got == {"Chicken shop": "fast_food", "=Bus stop": "transport_hub",
                   "Rec ground": "park"}


def test_shapefile_without_prj_is_refused_unless_crs_named(session: Session, world: World,
                                                           tmp_path: Path) -> None:
    a = actor_for(session, world.users["practitioner"])
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    gpd.GeoDataFrame({"name": ["Lamp"]}, geometry=[Point(bng(-1.49, 52.505))],
                     crs="EPSG:27700").to_file(shp_dir / "lamps.shp")
    (shp_dir / "lamps.prj").unlink()
    zpath = tmp_path / "lamps.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in shp_dir.iterdir():
            zf.write(f, f.name)
    with pytest.raises(InvalidData, match="does not declare its coordinate reference"):
        import_gis(session, a, world.pilot.id, zpath, as_="layer")
    di = import_gis(session, a, world.pilot.id, zpath, as_="layer", crs="EPSG:27700")
    assert di.rows_accepted == 1
    feat = session.scalar(select(Feature).where(Feature.name == "Lamp"))
    assert feat is not None
    pt = to_shape(feat.geom)
    assert abs(pt.x - (-1.49)) < 1e-7 and abs(pt.y - 52.505) < 1e-7


def test_partner_reviewer_may_not_import(session: Session, world: World,
                                         tmp_path: Path) -> None:
    a = actor_for(session, world.users["partner_reviewer"])
    path = write_gpkg(tmp_path / "things.gpkg")
    with pytest.raises(Forbidden):
        import_gis(session, a, world.pilot.id, path, as_="layer")


def test_police_import_derives_places(session: Session, world: World, tmp_path: Path) -> None:
    from locmap.models import Incident
    from locmap.services import imports
    from tests.integration.test_import_police import crime_row, write_csv

    a = actor_for(session, world.users["practitioner"])
    path = write_csv(tmp_path / "2025-03.csv", [
        crime_row("b" * 63 + "1", lon="-1.4900", lat="52.5050"),  # at Test Cafe
        crime_row("b" * 63 + "2", lon="-1.4940", lat="52.5025"),  # inside Test Park
        crime_row("b" * 63 + "3", lon="-1.4990", lat="52.5085"),  # nowhere
    ])
    di = imports.import_police(session, a, world.pilot.id, path)
    got = {r.external_ref[-1]: (r.place_id, r.place_derived) for r in session.scalars(
        select(Incident).where(Incident.data_import_id == di.id))}
    assert got == {"1": (world.places["cafe"].id, True), "2": (world.places["park"].id, True),
                   "3": (None, False)}
