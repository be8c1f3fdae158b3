"""The base map over the web (issue 17): vector tiles from PostGIS with ETag and a cache
keyed by the build version, the gazetteer search, and the admin page's build."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from locmap import clock
from locmap.models import AuditEvent, BasemapTile, Place
from locmap.services import basemap
from locmap.services.demo import DEMO_DIR
from tests.conftest import AuthActions
from tests.factories import World
from tests.osm_writer import write_cut_off, write_street, write_two_towns

DEMO_EXTRACT = DEMO_DIR / "basemap.osm"


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


@pytest.fixture
def built(session: Session) -> dict[str, Any]:
    result = basemap.build(session, None, DEMO_EXTRACT, source="demo extract")
    session.commit()
    return result


def test_the_demo_extract_builds_every_layer(built: dict[str, Any], session: Session) -> None:
    assert set(built["counts"]) == {"roads", "railways", "buildings", "water", "green", "pois"}
    assert built["counts"]["roads"] >= 9 and built["counts"]["buildings"] > 100
    assert built["broken"] == 0
    w, s, e, n = built["bounds"]
    assert w < -1.47 < e and s < 52.52 < n
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "basemap.build")) == 1


def test_tiles_are_served_cached_and_revalidated(built: dict[str, Any], session: Session,
                                                 client: Any, auth: AuthActions,
                                                 world: World) -> None:
    z, x, y = _tile_of(-1.4672, 52.5225, 15)
    url = f"/tiles/basemap/{z}/{x}/{y}.pbf"
    assert client.get(url).status_code in (302, 401)  # signed-in users only
    auth.login(world.users["partner_reviewer"].email)
    r = client.get(url)
    assert r.status_code == 200 and r.mimetype == "application/x-protobuf"
    body = r.get_data()
    for name in (b"roads", b"buildings", b"Church Street", b"High Street"):
        assert name in body, name  # layer names and street names are in the tile
    assert "private" in r.headers["Cache-Control"] and r.headers["ETag"]
    assert session.scalar(select(func.count()).select_from(BasemapTile).where(
        BasemapTile.version == built["version"])) == 1
    again = client.get(url, headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304
    # low zoom: the town is there, houses are not (minzoom 14)
    low = client.get("/tiles/basemap/{}/{}/{}.pbf".format(*_tile_of(-1.47, 52.52, 12)))
    assert b"High Street" in low.get_data() and b"buildings" not in low.get_data()
    assert client.get("/tiles/basemap/15/99999/1.pbf").status_code == 404
    assert client.get("/tiles/basemap/30/0/0.pbf").status_code == 404


def test_no_base_map_answers_no_content(client: Any, auth: AuthActions, world: World) -> None:
    auth.login(world.users["practitioner"].email)
    assert client.get("/tiles/basemap/0/0/0.pbf").status_code == 204
    html = client.get(f"/pilots/{world.pilot.id}").get_data(as_text=True)
    assert '"version": null' in html  # the map module falls back to a plain background


def test_search_finds_streets_and_the_pilots_places(built: dict[str, Any], client: Any,
                                                    auth: AuthActions, world: World,
                                                    session: Session) -> None:
    session.add(Place(pilot_id=world.pilot.id, name="Eastbrook Library", kind="library",
                      geom=from_shape(Point(-1.49, 52.505), srid=4326)))
    session.commit()
    auth.login(world.users["practitioner"].email)
    r = client.get("/api/v1/search?q=church")
    assert r.status_code == 200
    hits = r.get_json()["results"]
    assert hits[0]["name"] == "Church Street" and hits[0]["kind_label"] == "street"
    w, s, e, n = hits[0]["bbox"]
    assert s < 52.521 and n > 52.524 and abs(w - -1.4672) < 0.001  # the whole street
    names = [h["name"] for h in client.get(
        f"/api/v1/search?q=eastbrook&pilot={world.pilot.id}").get_json()["results"]]
    assert names[0] == "Eastbrook Library" and "Eastbrook Station" in names
    # another pilot's places are not searchable by a non-member
    assert client.get(f"/api/v1/search?q=eastbrook&pilot={world.other_pilot.id}"
                      ).status_code == 404
    assert client.get("/api/v1/search?q=a").status_code == 422
    assert client.get("/api/v1/search?q=%25%25").get_json()["results"] == []  # no wildcards


def test_same_named_streets_of_different_towns_are_kept_apart(
        session: Session, client: Any, auth: AuthActions, world: World,
        tmp_path: Path) -> None:
    result = basemap.build(session, None, write_two_towns(tmp_path / "two.osm.pbf"))
    session.commit()
    assert result["counts"]["roads"] == 4
    auth.login(world.users["practitioner"].email)
    hits = client.get("/api/v1/search?q=church street").get_json()["results"]
    streets = sorted((h for h in hits if h["name"] == "Church Street"), key=lambda h: h["lat"])
    assert [h["area"] for h in streets] == ["Southville", "Northtown"]
    south, north = (h["bbox"] for h in streets)
    assert north[1] > 52.59 and south[3] < 52.34  # each box is its own town's street
    assert abs(north[0] - -1.505) < 1e-4 and abs(north[2] - -1.497) < 1e-4  # both segments
    towns = client.get("/api/v1/search?q=northtown").get_json()["results"]
    assert towns[0]["name"] == "Northtown" and towns[0]["kind_label"].lower() == "town"
    lane = client.get("/api/v1/search?q=mill lane").get_json()["results"]
    assert [(h["name"], h["area"]) for h in lane] == [("Mill Lane", "near The Plough")]
    settings = basemap.client_settings(session, raster_url=None, raster_attribution=None)
    assert "town" in settings["settlements"]  # the map labels them


def test_the_admin_builds_the_base_map_from_the_page(client: Any, auth: AuthActions,
                                                     world: World, app: Any,
                                                     tmp_path: Path) -> None:
    app.config["LOCMAP_DATA_DIR"] = str(tmp_path)
    auth.login(world.users["coordinator"].email)
    assert client.get("/admin/basemap").status_code == 403
    auth.logout()
    auth.login(world.users["admin"].email)
    page = client.get("/admin/basemap").get_data(as_text=True)
    assert "None yet" in page
    token = auth.csrf_token("/admin/basemap")
    r = client.post("/admin/basemap", data={
        "csrf_token": token,
        "extract": (io.BytesIO(DEMO_EXTRACT.read_bytes()), "eastbrook.osm")},
        content_type="multipart/form-data", follow_redirects=True)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-state="done"' in html, html[:3000]
    assert "From <strong>eastbrook.osm</strong>" in html
    assert not list((tmp_path / "basemap").glob("upload-*"))  # the upload is removed
    bad = client.post("/admin/basemap", data={
        "csrf_token": token, "extract": (io.BytesIO(b"x"), "notes.txt")},
        content_type="multipart/form-data", follow_redirects=True)
    assert "Choose an OpenStreetMap extract" in bad.get_data(as_text=True)


def test_the_build_makes_its_folders_owner_only_and_reading_makes_none(tmp_path: Path) -> None:
    """A data folder made by a build (the admin page's upload) is owner-only, as the app
    makes it; an open one would stop the next start (config.check_private). Reading the
    last build's state makes nothing."""
    from locmap.config import check_private

    data = tmp_path / "fresh" / "data"
    assert basemap.job_status(data) is None and not data.exists()
    basemap._set_status(data, state="queued", source="test.osm.pbf", message="")
    assert (data.stat().st_mode & 0o777) == 0o700
    assert ((data / "basemap").stat().st_mode & 0o777) == 0o700
    check_private(data, "LOCMAP_DATA_DIR")
    assert basemap.job_status(data)["state"] == "queued"  # type: ignore[index]


def test_a_rebuild_that_only_renames_a_street_changes_the_version(
        session: Session, tmp_path: Path) -> None:
    """The version (tile ?v=, ETag, cache key) covers names, kinds and zooms, not only
    file names and shapes: else browsers and the service worker keep the old labels."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    old = basemap.build(session, None, write_street(tmp_path / "a" / "town.osm.pbf",
                                                    "Church Street"))
    again = basemap.build(session, None, write_street(tmp_path / "a" / "town.osm.pbf",
                                                      "Church Street"))
    renamed = basemap.build(session, None, write_street(tmp_path / "b" / "town.osm.pbf",
                                                        "Chapel Street"))
    reclassed = basemap.build(session, None, write_street(
        tmp_path / "c" / "town.osm.pbf", "Chapel Street", highway="primary"))
    session.commit()
    assert old["version"] == again["version"]  # the same data keeps its cached tiles
    assert len({old["version"], renamed["version"], reclassed["version"]}) == 3
    found = basemap.tile(session, 0, 0, 0)
    assert found is not None
    etag = found[1]
    assert basemap.current(session)["version"] == reclassed["version"]  # type: ignore[index]
    settings = basemap.client_settings(session, raster_url=None, raster_attribution=None)
    assert f"v={reclassed['version']}" in settings["tiles"]
    assert etag != basemap.tile_etag(old["version"], 0, 0, 0)


def test_more_broken_elements_than_the_report_lists_are_all_counted(
        session: Session, client: Any, auth: AuthActions, world: World, app: Any,
        tmp_path: Path) -> None:
    path = write_cut_off(tmp_path / "cut.osm.pbf", 620)
    result = basemap.build(session, None, path)
    session.rollback()
    assert result["broken"] == 620 and len(result["report"]) == 500
    assert result["counts"] == {"roads": 1}
    app.config["LOCMAP_DATA_DIR"] = str(tmp_path / "data")
    auth.login(world.users["admin"].email)
    r = client.post("/admin/basemap", data={
        "csrf_token": auth.csrf_token("/admin/basemap"),
        "extract": (io.BytesIO(path.read_bytes()), "cut.osm.pbf")},
        content_type="multipart/form-data", follow_redirects=True)
    html = r.get_data(as_text=True)
    assert 'data-state="done"' in html, html[:3000]
    assert "620 broken elements skipped" in html
    assert "620 elements skipped (the first 500 listed)" in html
    assert html.count("Cut Cafe") == 500


def test_tiles_outside_the_built_area_are_empty_and_never_cached(
        built: dict[str, Any], session: Session, client: Any, auth: AuthActions,
        world: World) -> None:
    """Any signed-in user may ask for any tile: those far from the extract answer 204
    without rendering or filling the cache; those at its edge (within the margin) draw."""
    w, s, e, n = built["bounds"]
    auth.login(world.users["partner_reviewer"].email)

    def cached() -> int:
        return session.scalar(select(func.count()).select_from(BasemapTile)) or 0

    for lon, lat in ((151.2, -33.9), (e + 0.05, (s + n) / 2), ((w + e) / 2, s - 0.05)):
        r = client.get("/tiles/basemap/{}/{}/{}.pbf".format(*_tile_of(lon, lat, 16)))
        assert r.status_code == 204 and not r.get_data(), (lon, lat)
    assert client.get("/tiles/basemap/14/16383/0.pbf").status_code == 204
    assert cached() == 0
    edge = client.get("/tiles/basemap/{}/{}/{}.pbf".format(*_tile_of(e + 0.005, n, 16)))
    assert edge.status_code == 200 and cached() == 1
    whole = client.get("/tiles/basemap/{}/{}/{}.pbf".format(*_tile_of(w, s, 8)))
    assert whole.status_code == 200 and whole.get_data() and cached() == 2


def _stuck_build(data: Path, state: str, started: dt.datetime) -> Path:
    """The status file (and upload) a build leaves when its worker dies mid-way."""
    folder = data / "basemap"
    folder.mkdir(parents=True, mode=0o700)
    upload = folder / f"upload-{state}.osm.pbf"
    upload.write_bytes(b"<osm/>")
    (folder / "status.json").write_text(json.dumps({
        "state": state, "source": "county.osm.pbf", "message": "Building the base map…",
        "at": started.isoformat(), "started": started.isoformat(), "upload": str(upload)}))
    return upload


def test_a_build_whose_worker_died_is_failed_and_a_new_upload_accepted(
        client: Any, auth: AuthActions, world: World, app: Any, session: Session,
        tmp_path: Path) -> None:
    """Running, but no worker job left (the worker died and recovery closed or purged it):
    the page says the build failed, deletes its upload and takes a new one."""
    data = tmp_path / "data"
    app.config["LOCMAP_DATA_DIR"] = str(data)
    upload = _stuck_build(data, "running", clock.now() - dt.timedelta(minutes=5))
    auth.login(world.users["admin"].email)
    page = client.get("/admin/basemap").get_data(as_text=True)
    assert 'data-state="failed"' in page and "its worker job is gone" in page
    assert "upload the extract again" in page and not upload.exists()
    r = client.post("/admin/basemap", data={
        "csrf_token": auth.csrf_token("/admin/basemap"),
        "extract": (io.BytesIO(DEMO_EXTRACT.read_bytes()), "eastbrook.osm")},
        content_type="multipart/form-data", follow_redirects=True)
    assert 'data-state="done"' in r.get_data(as_text=True)


def test_a_build_with_a_live_job_blocks_uploads_until_it_is_too_old(
        world: World, session: Session, tmp_path: Path) -> None:
    """A queued job the queue still holds is waited for; past the limit
    (LOCMAP_BASEMAP_BUILD_HOURS) it is taken as failed all the same."""
    from locmap.errors import Conflict
    from locmap.services.accounts import actor_for

    admin = actor_for(session, world.users["admin"])
    data = tmp_path / "data"
    upload = _stuck_build(data, "queued", clock.now() - dt.timedelta(hours=2))
    session.execute(text(
        "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status) "
        "VALUES ('imports', 'locmap:build_basemap', CAST(:args AS jsonb), 'todo')"),
        {"args": json.dumps({"path": str(upload), "source": "county.osm.pbf"})})
    with pytest.raises(Conflict):
        basemap.store_extract(session, admin, data, "next.osm", io.BytesIO(b"<osm/>"))
    assert basemap.job_status(data, session)["state"] == "queued"  # type: ignore[index]
    assert upload.exists()
    late = basemap.job_status(data, session, max_hours=1)
    assert late is not None and late["state"] == "failed"
    assert "still queued after 1 hour," in late["message"]
    path = basemap.store_extract(session, admin, data, "next.osm", io.BytesIO(b"<osm/>"))
    assert path.exists() and basemap.job_status(data)["state"] == "queued"  # type: ignore[index]
