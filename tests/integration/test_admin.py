"""Administration (issue 15): one-time links, deactivation, the approval rule, closed pilots,
locality validation and the timeline edit — through the pages and the API."""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Polygon, box
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import InvalidData, InvalidGeometry
from locmap.models import (
    Agency,
    AuditEvent,
    Feature,
    FeatureLayer,
    Invitation,
    Pilot,
    ReviewPoint,
    User,
)
from locmap.services import accounts, admin, pilot_admin
from locmap.services.permissions import Actor
from tests import factories

OPERATOR = Actor(user_id=None, email="test-operator", is_admin=True)


def _csrf(client: Any, path: str = "/") -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).get_data(as_text=True))
    assert m, path
    return m.group(1)


def _api(client: Any, method: str, url: str, body: Any = None) -> Any:
    return client.open(url, method=method, json=body, headers={"X-CSRFToken": _csrf(client)})


def test_invite_link_works_once_and_expires(client: Any, auth: Any, session: Session,
                                            world: factories.World) -> None:
    auth.login("admin@test.invalid")
    r = _api(client, "POST", "/api/v1/admin/users",
             {"email": "New.Person@test.invalid", "name": "New Person"})
    assert r.status_code == 201, r.get_json()
    path = "/" + r.get_json()["link"].split("/", 3)[3]
    token = path.rsplit("/", 1)[1]
    # Only the hash is stored.
    assert session.scalar(select(Invitation.id).where(Invitation.token_sha256 == token)) is None
    auth.logout()
    assert client.get(path).status_code == 200
    csrf = _csrf(client, path)
    short = client.post(path, data={"password": "short", "confirm": "short",
                                    "csrf_token": csrf})
    assert short.status_code == 422 and "12 characters" in short.get_data(as_text=True)
    ok = client.post(path, data={"password": "a long new secret", "confirm": "a long new secret",
                                 "csrf_token": csrf})
    assert ok.status_code == 302
    assert auth.login("new.person@test.invalid", "a long new secret").status_code == 302
    auth.logout()
    # Once only.
    again = client.post(path, data={"password": "another long one", "confirm":
                                    "another long one", "csrf_token": _csrf(client, "/login")})
    assert again.status_code == 410
    assert client.get(path).status_code == 410

    # A reset link expires after 24 hours by the clock.
    user = session.scalar(select(User).where(User.email == "new.person@test.invalid"))
    assert user is not None
    link = admin.reset_link(session, OPERATOR, user.id)
    session.commit()
    with clock.frozen(clock.now() + dt.timedelta(hours=25)):
        assert client.get(link.path).status_code == 410
    assert client.get(link.path).status_code == 200
    # A newer reset link ends the older one.
    newer = admin.reset_link(session, OPERATOR, user.id)
    session.commit()
    assert client.get(link.path).status_code == 410
    assert client.get(newer.path).status_code == 200
    actions = set(session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity == "user", AuditEvent.entity_id == str(user.id))))
    assert {"create", "link_invite", "password_set", "link_reset", "login"} <= actions


def test_deactivated_user_is_logged_out_and_cannot_log_in(
        client: Any, auth: Any, app: Any, session: Session, world: factories.World) -> None:
    auth.login("practitioner@test.invalid")
    assert client.get("/").status_code == 200
    other = app.test_client()
    from tests.conftest import AuthActions

    AuthActions(other).login("admin@test.invalid")
    uid = world.users["practitioner"].id
    r = _api(other, "PATCH", f"/api/v1/admin/users/{uid}", {"active": False})
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert client.get("/").status_code == 302  # the open session ends at once
    assert client.get(f"/api/v1/pilots/{world.pilot.id}").status_code == 401
    assert auth.login("practitioner@test.invalid").status_code == 401
    # The last active admin cannot be removed.
    me = world.users["admin"].id
    r = _api(other, "PATCH", f"/api/v1/admin/users/{me}", {"is_admin": False})
    assert r.status_code == 409 and "only active admin" in r.get_json()["message"]


def test_required_change_of_password(client: Any, auth: Any, session: Session,
                                     world: factories.World) -> None:
    world.users["coordinator"].must_change_password = True
    session.commit()
    auth.login("coordinator@test.invalid")
    r = client.get(f"/pilots/{world.pilot.id}")
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/new-password")
    assert client.get(f"/api/v1/pilots/{world.pilot.id}").status_code == 403
    csrf = _csrf(client, "/account/new-password")
    r = client.post("/account/new-password", data={
        "current": factories.PASSWORD, "password": "a brand new phrase",
        "confirm": "a brand new phrase", "csrf_token": csrf})
    assert r.status_code == 302
    assert client.get(f"/pilots/{world.pilot.id}").status_code == 200


def test_approval_rule_changes_who_must_approve(client: Any, auth: Any, session: Session,
                                                world: factories.World) -> None:
    police = Agency(name="Test Police", kind="police")
    session.add(police)
    session.flush()
    officer = factories.make_user(session, "officer@test.invalid", agency="Test Police")
    accounts.add_membership(session, None, officer, world.pilot, "partner_reviewer")
    session.commit()
    base = f"/api/v1/pilots/{world.pilot.id}"
    auth.login("practitioner@test.invalid")
    cafe = world.places["cafe"]
    _api(client, "POST", f"{base}/places/{cafe.id}/factors",
         {"quadrant": "risk", "statement": "Dealing at the door", "weight": 3})

    def submitted() -> str:
        a = _api(client, "POST", f"{base}/places/{cafe.id}/assessments").get_json()
        assert _api(client, "POST", f"{base}/assessments/{a['id']}/submit", {}).status_code == 200
        url = f"{base}/assessments/{a['id']}"
        r = _api(client, "POST", f"{url}/review-requests",
                 {"reviewer_ids": [world.users["partner_reviewer"].id]})
        assert r.status_code == 201, r.get_json()
        return url

    # The default rule: the one reviewer asked approves, and that is enough.
    url = submitted()
    auth.logout()
    auth.login("partner_reviewer@test.invalid")
    r = _api(client, "POST", f"{url}/reviews", {"decision": "approve"})
    assert r.get_json()["versions"][0]["status"] == "approved"
    auth.logout()

    # The admin requires the police to approve too, and two approvals in all.
    auth.login("admin@test.invalid")
    r = _api(client, "PATCH", f"/api/v1/admin/pilots/{world.pilot.id}",
             {"approver_agency_ids": [police.id], "min_approvals": 2})
    assert r.status_code == 200, r.get_json()
    auth.logout()
    auth.login("practitioner@test.invalid")
    a2 = _api(client, "POST", f"{url}/new-version").get_json()
    url = f"{base}/assessments/{a2['id']}"
    assert _api(client, "POST", f"{url}/submit", {}).status_code == 200
    _api(client, "POST", f"{url}/review-requests",
         {"reviewer_ids": [world.users["partner_reviewer"].id]})
    auth.logout()
    auth.login("partner_reviewer@test.invalid")
    v = _api(client, "POST", f"{url}/reviews", {"decision": "approve"}).get_json()["versions"][0]
    assert v["status"] == "in_review"
    assert v["outstanding"] == ["Test Police", "1 more approval"]
    auth.logout()
    # The officer was not asked by name, but the rule names the police: they may decide.
    auth.login("officer@test.invalid")
    v = _api(client, "POST", f"{url}/reviews", {"decision": "approve"}).get_json()["versions"][0]
    assert v["status"] == "approved"


def test_closed_pilot_refuses_writes(client: Any, auth: Any, session: Session,
                                     world: factories.World) -> None:
    pilot_admin.set_status(session, OPERATOR, world.pilot.id, "archived")
    session.commit()
    auth.login("practitioner@test.invalid")
    base = f"/api/v1/pilots/{world.pilot.id}"
    r = _api(client, "POST", f"{base}/places", {
        "name": "Late corner", "kind": "street",
        "geometry": {"type": "Point", "coordinates": [-1.49, 52.505]}})
    assert r.status_code == 409 and "read-only" in r.get_json()["message"]
    assert _api(client, "GET", f"{base}/places").status_code == 200  # still readable
    page = client.get(f"/pilots/{world.pilot.id}").get_data(as_text=True)
    assert "read-only" in page
    auth.logout()
    auth.login("coordinator@test.invalid")
    r = _api(client, "POST", f"{base}/members", {"email": "outsider@test.invalid",
                                                 "role": "practitioner"})
    assert r.status_code == 409


def _bowtie() -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[-1.5, 52.5], [-1.49, 52.51], [-1.49, 52.5],
                                                [-1.5, 52.51], [-1.5, 52.5]]]}


def test_locality_validation(client: Any, auth: Any, session: Session,
                             world: factories.World, tmp_path: Path) -> None:
    auth.login("admin@test.invalid")
    body = {"name": "Bow Tie", "start_date": "2026-01-05", "locality": _bowtie()}
    r = _api(client, "POST", "/api/v1/admin/pilots", body)
    assert r.status_code == 422
    err = r.get_json()
    assert "Self-intersection" in err["message"]
    assert err["details"]["repaired"]["type"] == "MultiPolygon"
    r = _api(client, "POST", "/api/v1/admin/pilots",
             {**body, "locality": err["details"]["repaired"]})
    assert r.status_code == 201, r.get_json()
    assert len(r.get_json()["review_points"]) == 6  # 18 months, every 3
    r = _api(client, "POST", "/api/v1/admin/pilots", {**body, "name": "Test Pilot",
                                                      "locality": factories.locality_geojson()})
    assert r.status_code == 422 and "already exists" in r.get_json()["message"]

    # British National Grid numbers in a GeoJSON without a CRS: refused with a hint.
    bng = tmp_path / "ward.geojson"
    bng.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "Ward"},
        "geometry": {"type": "Polygon", "coordinates": [[[440000, 290000], [441000, 290000],
                                                         [441000, 291000], [440000, 290000]]]}}]}))
    with pytest.raises(InvalidGeometry, match="British National Grid"):
        pilot_admin.locality_from_file(bng)
    # The same ward in a zipped Shapefile that declares EPSG:27700, picked by name from
    # a boundary file of two wards.
    wards = gpd.GeoDataFrame(
        {"name": ["North Ward", "South Ward"]},
        geometry=[box(440000, 290000, 441000, 291000), box(440000, 289000, 441000, 290000)],
        crs="EPSG:27700")
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    wards.to_file(shp_dir / "wards.shp")
    archive = tmp_path / "wards.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in shp_dir.iterdir():
            z.write(f, f.name)
    area = pilot_admin.locality_from_file(archive, feature="north ward")
    lon, lat = Polygon(area["coordinates"][0]).centroid.coords[0]
    assert -1.43 < lon < -1.40 and 52.50 < lat < 52.52
    with pytest.raises(InvalidData, match="No feature called"):
        pilot_admin.locality_from_file(archive, feature="East Ward")
    # Uploaded through the page as a GeoPackage (both wards joined).
    wards.to_file(tmp_path / "wards.gpkg", driver="GPKG")
    csrf = _csrf(client, "/admin/pilots/new")
    with (tmp_path / "wards.gpkg").open("rb") as fh:
        r = client.post("/admin/pilots/new", data={
            "csrf_token": csrf, "name": "Two Wards", "start_date": "2026-02-02",
            "duration_months": "12", "review_interval_months": "4",
            "locality_file": (fh, "wards.gpkg")}, content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    # A drawn bow tie on the page: the GEOS reason and the repaired shape offered.
    r = client.post("/admin/pilots/new", data={
        "csrf_token": csrf, "name": "Drawn", "start_date": "2026-02-02",
        "locality": json.dumps(_bowtie())})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "Self-intersection" in html and 'id="use-repaired"' in html


def test_timeline_edit_keeps_held_review_points(session: Session,
                                                world: factories.World) -> None:
    pilot = world.pilot  # starts 2025-01-06, 18 months, every 3
    first = min(pilot.review_points, key=lambda r: r.due_on)
    first.held_on, first.minutes = first.due_on, "Met at the library"
    session.commit()
    pilot_admin.set_timeline(session, OPERATOR, pilot.id, start_date=pilot.start_date,
                             duration_months=24, review_interval_months=2)
    session.commit()
    points = list(session.scalars(select(ReviewPoint).where(
        ReviewPoint.pilot_id == pilot.id).order_by(ReviewPoint.due_on)))
    assert points[0].id == first.id and points[0].minutes == "Met at the library"
    assert [p.number for p in points] == list(range(1, len(points) + 1))
    assert len(points) == 12  # every 2 months for 24, the first held at its old date
    assert points[1].due_on == dt.date(2025, 5, 6)


def test_locality_picked_from_an_imported_boundary(client: Any, auth: Any, session: Session,
                                                   world: factories.World) -> None:
    layer = FeatureLayer(pilot_id=world.other_pilot.id, name="Wards", source="test")
    session.add(layer)
    session.flush()
    ward = Feature(layer_id=layer.id, name="Canal Ward",
                   geom=from_shape(box(-1.45, 52.45, -1.44, 52.46), srid=4326))
    stop = Feature(layer_id=layer.id, name="Bus stop",
                   geom=from_shape(box(-1.45, 52.45, -1.44, 52.46).centroid, srid=4326))
    session.add_all([ward, stop])
    session.commit()
    auth.login("admin@test.invalid")
    html = client.get("/admin/pilots/new").get_data(as_text=True)
    assert "Wards: Canal Ward (Other Pilot)" in html and "Bus stop" not in html
    r = client.post("/admin/pilots/new", data={
        "csrf_token": _csrf(client, "/admin/pilots/new"), "name": "Canal",
        "start_date": "2026-02-02", "feature_id": str(ward.id)})
    assert r.status_code == 302, r.get_data(as_text=True)[:1000]
    pilot = session.scalar(select(Pilot).where(Pilot.name == "Canal"))
    assert pilot is not None
    r = _api(client, "POST", "/api/v1/admin/pilots", {
        "name": "Stop", "start_date": "2026-02-02", "locality_feature_id": stop.id})
    assert r.status_code == 422


def test_invitation_is_emailed_when_smtp_is_configured(
        session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []

    class Relay:  # stands in for the partnership's SMTP relay
        def __init__(self, host: str, port: int, timeout: int) -> None:
            assert (host, port) == ("relay.test.invalid", 25)

        def __enter__(self) -> Relay:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def starttls(self, context: Any) -> None:
            raise AssertionError("STARTTLS is off for this relay")

        def send_message(self, msg: Any) -> None:
            sent.append(msg)

    import smtplib

    monkeypatch.setattr(smtplib, "SMTP", Relay)
    monkeypatch.setenv("LOCMAP_SMTP_HOST", "relay.test.invalid")
    monkeypatch.setenv("LOCMAP_SMTP_PORT", "25")
    monkeypatch.setenv("LOCMAP_SMTP_STARTTLS", "0")
    user, link = admin.invite_user(session, OPERATOR, email="mailed@test.invalid",
                                   name="Mailed Person", base_url="https://lm.test.invalid/")
    assert link.emailed and len(sent) == 1
    assert sent[0]["To"] == "mailed@test.invalid"
    assert link.url("https://lm.test.invalid/") in sent[0].get_content()
