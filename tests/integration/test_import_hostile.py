"""Hostile and broken files: each is refused with a clear 4xx or reported row by row, and
nothing is half-written. All data synthetic."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap.errors import InvalidData
from locmap.models import DataImport, Feature, FeatureLayer, Incident, Upload
from locmap.services import imports
from locmap.services.accounts import actor_for
from locmap.services.imports import import_gis
from tests.conftest import AuthActions
from tests.factories import World
from tests.integration.test_import_police import write_csv
from tests.integration.test_import_web import data_dir, upload  # noqa: F401 - fixture

HEADER = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude",
          "Location", "LSOA code", "LSOA name", "Crime type", "Last outcome category",
          "Context"]


def write_ring_geojson(path: Path, vertices: int) -> Path:
    """One polygon with ``vertices`` vertices, streamed to disk in blocks (never in memory)."""
    step = 2 * math.pi / vertices
    with path.open("w") as fh:
        fh.write('{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
                 '{"name":"Huge"},"geometry":{"type":"Polygon","coordinates":[[')
        for start in range(0, vertices, 10_000):
            fh.write("".join(
                f"[{-1.4925 + 0.005 * math.cos(i * step):.7f},"
                f"{52.5045 + 0.003 * math.sin(i * step):.7f}],"
                for i in range(start, min(start + 10_000, vertices))))
        fh.write(f"[{-1.4925 + 0.005:.7f},{52.5045:.7f}]]]}}}}]}}")
    return path


def counts(session: Session, pilot_id: int) -> tuple[int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(FeatureLayer).where(
            FeatureLayer.pilot_id == pilot_id)) or 0,
        session.scalar(select(func.count()).select_from(Feature)) or 0,
        session.scalar(select(func.count()).select_from(Incident).where(
            Incident.pilot_id == pilot_id)) or 0,
    )


def test_polygon_of_1_5_million_vertices_is_refused_by_upload(
        client: Any, auth: AuthActions, world: World, session: Session, tmp_path: Path,
        data_dir: Path) -> None:  # noqa: F811
    pid = world.pilot.id
    before = counts(session, pid)
    auth.login("practitioner@test.invalid")
    path = write_ring_geojson(tmp_path / "huge.geojson", 1_500_000)
    assert path.stat().st_size > 30_000_000
    with path.open("rb") as fh:
        r = upload(client, auth, pid, fh.read(), name="huge.geojson")
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert "100,000 vertices per geometry" in body and "simplify it" in body
    assert str(tmp_path) not in body  # no server paths in messages
    assert counts(session, pid) == before
    assert session.scalar(select(func.count()).select_from(Upload)
                          .where(Upload.pilot_id == pid)) == 0  # the refused upload is not kept


def test_polygon_over_the_vertex_cap_is_reported_and_not_written(
        session: Session, world: World, tmp_path: Path) -> None:
    a = actor_for(session, world.users["practitioner"])
    path = write_ring_geojson(tmp_path / "big.geojson", 150_000)
    di = import_gis(session, a, world.pilot.id, path, as_="layer", layer_name="Big")
    assert (di.rows_read, di.rows_accepted, di.rows_rejected) == (1, 0, 1)
    assert "150,001 vertices; the limit is 100,000" in di.report[0]["reason"]
    layer = session.scalar(select(FeatureLayer).where(FeatureLayer.name == "Big"))
    assert layer is not None
    assert session.scalar(select(func.count()).select_from(Feature).where(
        Feature.layer_id == layer.id)) == 0


def nan_file(path: Path, coords: str) -> Path:
    path.write_text('{"type":"FeatureCollection","features":['
                    '{"type":"Feature","properties":{"name":"ok"},"geometry":'
                    '{"type":"Point","coordinates":[-1.49,52.505]}},'
                    '{"type":"Feature","properties":{"name":"bad"},"geometry":'
                    f'{{"type":"Point","coordinates":{coords}}}}}]}}')
    return path


@pytest.mark.parametrize("coords", ["[NaN, 52.5]", "[-1.49, Infinity]", "[-Infinity, 1]"])
def test_nan_and_infinite_coordinates_are_rejected_rows(
        session: Session, world: World, tmp_path: Path, coords: str) -> None:
    a = actor_for(session, world.users["practitioner"])
    path = nan_file(tmp_path / "nan.geojson", coords)
    di = import_gis(session, a, world.pilot.id, path, as_="layer", layer_name="NaN")
    assert (di.rows_accepted, di.rows_rejected) == (1, 1)
    assert di.report == [{"file": "nan.geojson", "row": 2, "name": "bad",
                          "reason": "The geometry has NaN or infinite coordinates."}]


def test_overflowing_number_refuses_the_whole_file(session: Session, world: World,
                                                   tmp_path: Path) -> None:
    a = actor_for(session, world.users["practitioner"])
    path = nan_file(tmp_path / "huge-number.geojson", "[1e400, 52.5]")
    with pytest.raises(InvalidData, match="Unrecognized number: 1e400"):
        import_gis(session, a, world.pilot.id, path, as_="layer", layer_name="Overflow")


@pytest.mark.parametrize("content", [
    b'{"type":"FeatureCollection","features":[{"type":"Feature",',
    b"\x00\x01\x02 not json at all",
    b'{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point"'
    b',"coordinates":[NaN,]}}]}',
])
def test_malformed_geojson_is_a_clean_422(
        client: Any, auth: AuthActions, world: World, session: Session, content: bytes,
        data_dir: Path) -> None:  # noqa: F811
    pid = world.pilot.id
    auth.login("practitioner@test.invalid")
    r = upload(client, auth, pid, content, name="broken.geojson")
    assert r.status_code == 422, r.status_code
    assert "broken.geojson" in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(DataImport).where(
        DataImport.pilot_id == pid)) == 0


def test_unreadable_geometry_is_a_rejected_row_not_a_crash(
        client: Any, auth: AuthActions, world: World, session: Session,
        data_dir: Path) -> None:  # noqa: F811
    pid = world.pilot.id
    auth.login("practitioner@test.invalid")
    content = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Half a ring"},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1]]]}},
        {"type": "Feature", "properties": {"name": "Fine"},
         "geometry": {"type": "Point", "coordinates": [-1.49, 52.505]}}]}).encode()
    r = upload(client, auth, pid, content, name="half.geojson")
    assert r.status_code == 302
    token = auth.csrf_token(r.location)
    done = client.post(r.location + "/confirm", data={"csrf_token": token, "as": "layer"})
    status = client.get("/api/v1" + done.location).get_json()
    assert (status["status"], status["rows_accepted"], status["rows_rejected"]) == (
        "done", 1, 1)


def test_wrong_encoding_csv_is_refused_whole(
        client: Any, auth: AuthActions, world: World, session: Session,
        data_dir: Path) -> None:  # noqa: F811
    pid = world.pilot.id
    auth.login("practitioner@test.invalid")
    utf16 = (",".join(HEADER) + "\r\nx1,2025-03,P,P,-1.49,52.505,On or near Park,E1,L,Drugs,,"
             "\r\n").encode("utf-16")
    r = upload(client, auth, pid, utf16)
    assert r.status_code == 422
    # Byte 0x81 is undefined in cp1252, so this is neither UTF-8 nor Excel's ANSI CSV.
    bad = (",".join(HEADER) + "\r\n").encode() + b"x1,2025-03,P,P,-1.49,52.505,Caf\x81,E1,L," \
        b"Drugs,,\r\n"
    r = upload(client, auth, pid, bad)
    assert r.status_code == 422 and "cannot be decoded" in r.get_data(as_text=True)
    assert counts(session, pid)[2] == 0


def test_formula_and_control_characters_are_stored_verbatim(
        session: Session, world: World, tmp_path: Path) -> None:
    a = actor_for(session, world.users["practitioner"])
    row = ["f1", "2025-03", "P", "P", "-1.4901", "52.5051",
           "=HYPERLINK(\"http://x.invalid\")\tback\\slash\nnew line", "E1", "L",
           "Drugs", "", ""]
    nul = ["f2", "2025-03", "P", "P", "-1.4901", "52.5051", "bad\x00byte", "E1", "L",
           "Drugs", "", ""]
    path = write_csv(tmp_path / "hostile.csv", [row, nul])
    di = imports.import_police(session, a, world.pilot.id, path)
    assert (di.rows_accepted, di.rows_rejected) == (1, 1)
    assert di.report[0]["reason"] == "contains a NUL character"
    inc = session.scalar(select(Incident).where(Incident.data_import_id == di.id))
    assert inc is not None and inc.external_ref == "f1"
    assert inc.description.startswith(
        'Drugs: =HYPERLINK("http://x.invalid")\tback\\slash\nnew line')


def test_police_months_outside_the_event_window_are_rejected_rows(
        session: Session, world: World, tmp_path: Path) -> None:
    """Month=9999-12 made every analysis of the pilot overflow; now it is a rejected row."""
    from locmap import clock
    from tests.integration.test_import_police import crime_row

    next_year = f"{clock.today().year + 1}-01"
    rows = [crime_row("b" * 63 + "1", "9999-12"), crime_row("b" * 63 + "2", "1989-12"),
            crime_row("b" * 63 + "3", next_year), crime_row("b" * 63 + "4", "2025-03")]
    path = write_csv(tmp_path / "months.csv", rows)
    di = imports.import_police(session, actor_for(session, world.users["practitioner"]),
                               world.pilot.id, path)
    assert (di.rows_accepted, di.rows_rejected) == (1, 3)
    reasons = sorted(r["reason"] for r in di.report)
    assert all("is outside 1990-01 to" in r for r in reasons), reasons
    assert session.scalar(select(func.max(Incident.occurred_at))
                          .where(Incident.pilot_id == world.pilot.id)).year == 2025
