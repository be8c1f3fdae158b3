"""The import pages for GIS files and OpenStreetMap extracts: upload → preview → confirm."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap.models import DataImport, Feature, FeatureLayer, Place
from tests.conftest import AuthActions
from tests.factories import World
from tests.integration.test_import_osm import OSM_XML
from tests.integration.test_import_web import data_dir, upload  # noqa: F401 - fixture

GEOJSON = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"name": "Synth Youth Club", "kind": "other", "n": 1},
     "geometry": {"type": "Point", "coordinates": [-1.4905, 52.5051]}},
    {"type": "Feature", "properties": {"name": "Bad kind", "kind": "casino", "n": 2},
     "geometry": {"type": "Point", "coordinates": [-1.4906, 52.5052]}},
    {"type": "Feature", "properties": {"name": "No shape", "kind": "other", "n": 3},
     "geometry": None},
]}


def confirm(client: Any, auth: AuthActions, location: str, **form: Any) -> Any:
    page = client.get(location).get_data(as_text=True)
    url = re.search(r'action="([^"]+/confirm)"', page).group(1)  # type: ignore[union-attr]
    return client.post(url, data={"csrf_token": auth.csrf_token(location), **form})


def test_osm_upload_preview_pick_library(client: Any, auth: AuthActions, world: World,
                                         session: Session, data_dir: Path) -> None:  # noqa: F811
    pid = world.pilot.id
    auth.login("practitioner@test.invalid")
    r = upload(client, auth, pid, OSM_XML.encode(), name="synthbury.osm")
    assert r.status_code == 302, r.get_data(as_text=True)
    page = client.get(r.location).get_data(as_text=True)
    assert 'id="osm-named"' in page and "Chick Inn" in page
    assert 'value="node/9001"' in page and "Synthbury &#34;Central&#34; Library" in page
    assert "Far Away Fries" not in page  # outside the locality
    assert session.scalar(select(func.count()).select_from(FeatureLayer).where(
        FeatureLayer.pilot_id == pid)) == 0  # nothing written by upload or preview
    done = confirm(client, auth, r.location, preset=["library", "fast_food"],
                   place=["node/9001"])
    assert done.status_code == 302
    result = client.get(done.location).get_data(as_text=True)
    assert "status-done" in result and 'id="places-made">1<' in result
    di = session.scalar(select(DataImport).where(DataImport.pilot_id == pid))
    assert di is not None and di.kind == "osm" and di.filename == "synthbury.osm"
    place = session.scalar(select(Place).where(Place.pilot_id == pid, Place.osm_id == 9001))
    assert place is not None and place.kind == "library"
    layers = set(session.scalars(select(FeatureLayer.name).where(FeatureLayer.pilot_id == pid)))
    assert layers == {"OSM libraries", "OSM fast food"}


def test_geojson_upload_as_places(client: Any, auth: AuthActions, world: World,
                                  session: Session, data_dir: Path) -> None:  # noqa: F811
    pid = world.pilot.id
    auth.login("practitioner@test.invalid")
    r = upload(client, auth, pid, json.dumps(GEOJSON).encode(), name="meta.json")
    assert r.status_code == 302
    page = client.get(r.location).get_data(as_text=True)
    assert 'id="gis-options"' in page and "Synth Youth Club" in page and "3 features" in page
    done = confirm(client, auth, r.location, **{"as": "places", "kind_column": "kind"})
    status = client.get("/api/v1" + done.location).get_json()
    assert status["status"] == "done", status
    assert (status["kind"], status["rows_accepted"], status["rows_rejected"]) == (
        "gis_places", 1, 2)
    assert session.scalar(select(Place.kind).where(Place.name == "Synth Youth Club")) == "other"


def test_zipped_shapefile_as_layer_with_named_crs(
        client: Any, auth: AuthActions, world: World, session: Session, tmp_path: Path,
        data_dir: Path) -> None:  # noqa: F811
    pid = world.pilot.id
    auth.login("practitioner@test.invalid")
    shp = tmp_path / "shp"
    shp.mkdir()
    gpd.GeoDataFrame({"name": ["Lamp 1"]}, geometry=[Point(-1.49, 52.505)],
                     crs="EPSG:4326").to_file(shp / "lamps.shp")
    (shp / "lamps.prj").unlink()
    zpath = tmp_path / "lamps.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in shp.iterdir():
            zf.write(f, f.name)
    refused = upload(client, auth, pid, zpath.read_bytes(), name="lamps.zip")
    assert refused.status_code == 422
    assert "does not declare its coordinate reference" in refused.get_data(as_text=True)
    token = auth.csrf_token(f"/pilots/{pid}/imports")
    import io
    r = client.post(f"/pilots/{pid}/imports/upload", data={
        "csrf_token": token, "crs": "EPSG:4326",
        "file": (io.BytesIO(zpath.read_bytes()), "lamps.zip")},
        content_type="multipart/form-data")
    assert r.status_code == 302
    done = confirm(client, auth, r.location, **{"as": "layer", "layer_name": "Lamps"})
    assert client.get("/api/v1" + done.location).get_json()["status"] == "done"
    layer = session.scalar(select(FeatureLayer).where(FeatureLayer.name == "Lamps"))
    assert layer is not None
    assert session.scalar(select(func.count()).select_from(Feature).where(
        Feature.layer_id == layer.id)) == 1
