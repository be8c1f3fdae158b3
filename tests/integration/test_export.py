"""Exports (GeoJSON, GeoPackage, CSV) through the API — synthetic data only."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pyogrio
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap.models import AuditEvent, Feature, FeatureLayer, Incident, Place
from tests.factories import World


def seed(session: Session, world: World) -> None:
    pid = world.pilot.id
    bad = Place(pilot_id=pid, name='=HYPERLINK("http://x.invalid","hi")', kind="other",
                geom=from_shape(Point(-1.488, 52.506), srid=4326))
    session.add(bad)
    session.flush()
    for i, place in enumerate((world.places["cafe"], bad)):
        session.add(Incident(
            pilot_id=pid, location=from_shape(Point(-1.49 + i * 0.002, 52.505), srid=4326),
            place_id=place.id, occurred_at=dt.datetime(2025, 3, 1 + i, tzinfo=dt.UTC),
            category="drugs", description=f"Secret detail {i}"))
    layer = FeatureLayer(pilot_id=pid, name="Bus stops")
    session.add(layer)
    session.flush()
    session.add(Feature(layer_id=layer.id, geom=from_shape(Point(-1.491, 52.504), srid=4326),
                        name="Stop A", properties={"ref": "A"}))
    session.commit()


def exports_audited(session: Session, pilot_id: int) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "export", AuditEvent.entity == "pilot",
        AuditEvent.entity_id == str(pilot_id))) or 0


def test_each_format_opens(session: Session, world: World, client: Any, auth: Any,
                           tmp_path: Path) -> None:
    seed(session, world)
    auth.login("practitioner@test.invalid")
    base = f"/api/v1/pilots/{world.pilot.id}"

    r = client.get(f"{base}/export.geojson")
    assert r.status_code == 200
    doc = json.loads(r.data)
    assert doc["type"] == "FeatureCollection"
    assert doc["metadata"]["pilot"] == "Test Pilot"
    assert "pseudonyms only" in doc["metadata"]["people"]
    kinds = [f["properties"]["layer"] for f in doc["features"]]
    assert kinds.count("places") == 4 and kinds.count("incidents") == 2
    assert any("Secret detail" in str(f["properties"].get("description"))
               for f in doc["features"])

    r = client.get(f"{base}/export.gpkg")
    assert r.status_code == 200
    path = tmp_path / "x.gpkg"
    path.write_bytes(r.data)
    names = {str(n) for n, _ in pyogrio.list_layers(path)}
    assert {"places", "incidents", "safety_factors", "metadata"} <= names
    assert any(n.startswith("layer_") and "bus_stops" in n for n in names)
    assert len(pyogrio.read_dataframe(path, layer="places")) == 4
    inc = pyogrio.read_dataframe(path, layer="incidents")
    assert len(inc) == 2 and "description" in inc.columns
    meta = pyogrio.read_dataframe(path, layer="metadata", read_geometry=False)
    assert "people" in set(meta["key"])

    r = client.get(f"{base}/export.csv")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0][0] == "id" and "place_name" in rows[0] and len(rows) == 3
    col = rows[0].index("place_name")
    assert rows[2][col] == "'=HYPERLINK(\"http://x.invalid\",\"hi\")"
    assert exports_audited(session, world.pilot.id) == 3


def test_partner_reviewer_gets_no_record_level_export(session: Session, world: World,
                                                      client: Any, auth: Any) -> None:
    """Partners see incidents as suppressed aggregates only, never record by record."""
    seed(session, world)
    auth.login("partner_reviewer@test.invalid")
    base = f"/api/v1/pilots/{world.pilot.id}"
    for ext in ("geojson", "gpkg", "csv"):
        r = client.get(f"{base}/export.{ext}")
        assert r.status_code == 403, ext
        assert b"Secret detail" not in r.data
    assert exports_audited(session, world.pilot.id) == 0
    page = client.get(f"/pilots/{world.pilot.id}").get_data(as_text=True)
    assert "export.gpkg" not in page


def test_owning_team_finds_the_exports_on_the_pilot_page(session: Session, world: World,
                                                         client: Any, auth: Any) -> None:
    seed(session, world)
    auth.login("peer_assessor@test.invalid")
    page = client.get(f"/pilots/{world.pilot.id}").get_data(as_text=True)
    for ext in ("gpkg", "geojson", "csv"):
        assert f"/api/v1/pilots/{world.pilot.id}/export.{ext}" in page


def test_outsider_gets_404(session: Session, world: World, client: Any, auth: Any) -> None:
    auth.login("outsider@test.invalid")
    for ext in ("geojson", "gpkg", "csv"):
        assert client.get(f"/api/v1/pilots/{world.pilot.id}/export.{ext}").status_code == 404
    assert exports_audited(session, world.pilot.id) == 0
