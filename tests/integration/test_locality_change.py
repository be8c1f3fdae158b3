"""Changing a running pilot's locality (issue 15): what falls outside is shown and must be
confirmed; version checked; coordinator or admin only; audited; the counts follow."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from click.testing import CliRunner
from geoalchemy2.shape import from_shape
from shapely.geometry import Point, box, mapping
from sqlalchemy import create_engine, delete, func, select, text
from sqlalchemy.orm import Session

from locmap.cli import main
from locmap.models import AuditEvent, Incident, Pilot, Place
from tests import factories

SMALLER = dict(mapping(box(-1.50, 52.50, -1.492, 52.509)))  # the cafe (-1.49) falls outside


def _csrf(client: Any, path: str = "/") -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).get_data(as_text=True))
    assert m, path
    return m.group(1)


def _in_locality(session: Session, pilot_id: int) -> int:
    return session.scalar(text("SELECT coalesce(sum(n), 0) FROM locality_incident_count "
                               "WHERE pilot_id = :p"), {"p": pilot_id}) or 0


def _incidents(session: Session, w: factories.World) -> None:
    for lon, lat in ((-1.49, 52.505), (-1.496, 52.5025)):
        session.add(Incident(pilot_id=w.pilot.id, category="asb",
                             location=from_shape(Point(lon, lat), srid=4326),
                             occurred_at=dt.datetime(2025, 3, 1, 20, tzinfo=dt.UTC)))
    session.commit()


def test_coordinator_changes_the_locality_after_the_warning(
        client: Any, auth: Any, session: Session, world: factories.World) -> None:
    _incidents(session, world)
    pid = world.pilot.id
    assert _in_locality(session, pid) == 2
    auth.login("partner_reviewer@test.invalid")
    h = {"X-CSRFToken": _csrf(client)}
    assert client.post(f"/api/v1/pilots/{pid}/locality/check", json={"locality": SMALLER},
                       headers=h).status_code == 403
    auth.logout()
    auth.login("coordinator@test.invalid")
    h = {"X-CSRFToken": _csrf(client)}
    r = client.post(f"/api/v1/pilots/{pid}/locality/check", json={"locality": SMALLER},
                    headers=h)
    assert r.status_code == 200, r.get_json()
    found = r.get_json()
    assert [p["name"] for p in found["places_outside"]] == ["Test Cafe"]
    assert found["incidents_leaving"] == 1 and found["anything_outside"]
    version = session.get(Pilot, pid).version  # type: ignore[union-attr]
    r = client.put(f"/api/v1/pilots/{pid}/locality", json={"locality": SMALLER,
                                                          "version": version}, headers=h)
    assert r.status_code == 409 and r.get_json()["details"]["confirm"] == "required"
    assert "Test Cafe" in r.get_json()["message"]
    assert _in_locality(session, pid) == 2  # nothing changed
    r = client.put(f"/api/v1/pilots/{pid}/locality", json={
        "locality": SMALLER, "version": version, "confirm": True}, headers=h)
    assert r.status_code == 200, r.get_json()
    session.expire_all()
    assert _in_locality(session, pid) == 1
    # Someone else's change since: 409, whatever is confirmed.
    r = client.put(f"/api/v1/pilots/{pid}/locality", json={
        "locality": factories.locality_geojson(), "version": version, "confirm": True},
        headers=h)
    assert r.status_code == 409 and "changed by someone else" in r.get_json()["message"]
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "pilot", AuditEvent.entity_id == str(pid),
        AuditEvent.action == "update").order_by(AuditEvent.id.desc())).first()
    assert event is not None and event.detail["fields"] == ["locality"]
    assert event.detail["incidents_leaving"] == 1 and event.detail["places_outside"] == 1
    # A self-intersecting shape gets the GEOS reason (and a repaired shape).
    bowtie = {"type": "Polygon", "coordinates": [[[-1.5, 52.5], [-1.49, 52.509],
                                                  [-1.49, 52.5], [-1.5, 52.509],
                                                  [-1.5, 52.5]]]}
    r = client.post(f"/api/v1/pilots/{pid}/locality/check", json={"locality": bowtie},
                    headers=h)
    assert r.status_code == 422 and "intersection" in r.get_json()["message"].lower()


def test_the_page_warns_then_saves_and_a_closed_pilot_refuses(
        client: Any, auth: Any, session: Session, world: factories.World) -> None:
    _incidents(session, world)
    pid = world.pilot.id
    auth.login("admin@test.invalid")
    page = client.get(f"/pilots/{pid}/locality")
    assert page.status_code == 200 and 'id="locality-map"' in page.get_data(as_text=True)
    token = _csrf(client, f"/pilots/{pid}/locality")
    version = str(session.get(Pilot, pid).version)  # type: ignore[union-attr]
    form = {"csrf_token": token, "version": version, "locality": json.dumps(SMALLER)}
    warned = client.post(f"/pilots/{pid}/locality", data=form)
    body = warned.get_data(as_text=True)
    assert warned.status_code == 409 and 'id="locality-warning"' in body
    assert "Test Cafe" in body and 'id="confirm-locality"' in body
    saved = client.post(f"/pilots/{pid}/locality", data={**form, "confirm": "1"})
    assert saved.status_code == 302
    session.expire_all()
    assert _in_locality(session, pid) == 1
    pilot = session.get(Pilot, pid)
    assert pilot is not None
    pilot.status = "closed"
    session.commit()
    r = client.put(f"/api/v1/admin/pilots/{pid}/locality", json={
        "locality": factories.locality_geojson(), "version": pilot.version, "confirm": True},
        headers={"X-CSRFToken": token})
    assert r.status_code == 409 and "closed" in r.get_json()["message"]


def test_cli_says_what_falls_outside_then_saves(database_url: str, tmp_path: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    eng = create_engine(database_url)
    with Session(eng) as s:
        pilot = factories.make_pilot(s, "CLI Locality Pilot")
        s.add(Place(pilot_id=pilot.id, name="CLI Cafe", kind="fast_food",
                    geom=from_shape(Point(-1.49, 52.505), srid=4326)))
        s.commit()
    path = tmp_path / "smaller.geojson"
    path.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": SMALLER}))
    try:
        runner = CliRunner()
        r = runner.invoke(main, ["pilot", "locality", "CLI Locality Pilot", "--locality",
                                 str(path)])
        assert r.exit_code == 1 and "places outside: CLI Cafe" in r.output, r.output
        r = runner.invoke(main, ["pilot", "locality", "CLI Locality Pilot", "--locality",
                                 str(path), "--confirm"])
        assert r.exit_code == 0 and "locality saved" in r.output, r.output
        with Session(eng) as s:
            p = s.scalar(select(Pilot).where(Pilot.name == "CLI Locality Pilot"))
            assert p is not None and p.version == 2
            assert s.scalar(select(func.ST_XMax(Pilot.locality)).where(
                Pilot.id == p.id)) == pytest.approx(-1.492)
    finally:
        with Session(eng) as s:
            s.execute(delete(Pilot).where(Pilot.name == "CLI Locality Pilot"))
            s.commit()
        eng.dispose()
