"""Drawing, editing and removing places through the API, with the geometry rules."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.models import AuditEvent, Place
from tests.conftest import AuthActions
from tests.factories import World

SQUARE = {"type": "Polygon", "coordinates": [[[-1.499, 52.501], [-1.497, 52.501],
                                              [-1.497, 52.502], [-1.499, 52.502],
                                              [-1.499, 52.501]]]}
BOWTIE = {"type": "Polygon", "coordinates": [[[-1.499, 52.501], [-1.497, 52.502],
                                              [-1.497, 52.501], [-1.499, 52.502],
                                              [-1.499, 52.501]]]}


def _url(world: World, suffix: str = "") -> str:
    return f"/api/v1/pilots/{world.pilot.id}/places{suffix}"


def _as(auth: AuthActions, role: str) -> dict[str, str]:
    auth.login(f"{role}@test.invalid")
    return {"X-CSRFToken": auth.csrf_token("/")}


def _post(client: Any, url: str, body: Any, headers: dict[str, str]) -> Any:
    return client.post(url, json=body, headers=headers)


def test_practitioner_draws_reads_edits_and_deletes_a_place(
    client: Any, auth: AuthActions, world: World, session: Session
) -> None:
    h = _as(auth, "practitioner")
    r = _post(client, _url(world), {"name": "Skate park", "kind": "park", "geometry": SQUARE,
                                    "notes": "busy after school"}, h)
    assert r.status_code == 201, r.get_json()
    made = r.get_json()
    pid = made["id"]
    assert made["properties"]["version"] == 1 and made["warnings"] == []
    assert made["geometry"]["type"] == "Polygon"
    got = client.get(_url(world, f"/{pid}")).get_json()
    assert got["properties"]["name"] == "Skate park"
    r = client.patch(_url(world, f"/{pid}"), json={"name": "Skate park north", "version": 1},
                     headers=h)
    assert r.status_code == 200 and r.get_json()["properties"]["version"] == 2
    names = [f["properties"]["name"] for f in client.get(_url(world)).get_json()["features"]]
    assert "Skate park north" in names
    assert client.delete(_url(world, f"/{pid}?version=2"), headers=h).status_code == 204
    names = [f["properties"]["name"] for f in client.get(_url(world)).get_json()["features"]]
    assert "Skate park north" not in names
    assert client.get(_url(world, f"/{pid}")).status_code == 404
    # Soft delete: the row is kept with deleted_at, and every write is in the audit trail.
    assert session.get_one(Place, pid).deleted_at is not None
    actions = session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity == "place", AuditEvent.entity_id == str(pid))).all()
    assert sorted(actions) == ["create", "delete", "update"]


def test_stale_version_gets_409_with_the_current_record(
    client: Any, auth: AuthActions, world: World
) -> None:
    h = _as(auth, "practitioner")
    url = _url(world, f"/{world.places['cafe'].id}")
    assert client.patch(url, json={"notes": "first", "version": 1}, headers=h).status_code == 200
    r = client.patch(url, json={"notes": "second", "version": 1}, headers=h)
    assert r.status_code == 409
    current = r.get_json()["details"]["current"]
    assert current["properties"]["notes"] == "first" and current["properties"]["version"] == 2


def test_self_intersecting_polygon_is_refused_with_reason_and_repair(
    client: Any, auth: AuthActions, world: World
) -> None:
    h = _as(auth, "practitioner")
    r = _post(client, _url(world), {"name": "Bow", "kind": "park", "geometry": BOWTIE}, h)
    assert r.status_code == 422
    body = r.get_json()
    assert "Self-intersection" in body["details"]["reason"]
    repaired = body["details"]["repaired"]
    assert repaired["type"] in ("Polygon", "MultiPolygon")
    # The user confirms "Repair and save": the repaired shape is accepted as it is.
    r = _post(client, _url(world), {"name": "Bow", "kind": "park", "geometry": repaired}, h)
    assert r.status_code == 201, r.get_json()


def test_coordinates_that_are_not_wgs84_are_explained(
    client: Any, auth: AuthActions, world: World
) -> None:
    h = _as(auth, "practitioner")
    bng = {"type": "Point", "coordinates": [433_000, 290_000]}
    r = _post(client, _url(world), {"name": "X", "kind": "library", "geometry": bng}, h)
    assert r.status_code == 422 and "British National Grid" in r.get_json()["message"]
    swapped = {"type": "Point", "coordinates": [52.5, 95.0]}
    r = _post(client, _url(world), {"name": "X", "kind": "library", "geometry": swapped}, h)
    assert r.status_code == 422 and "latitude" in r.get_json()["message"]


def test_geometry_must_fit_the_kind(client: Any, auth: AuthActions, world: World) -> None:
    h = _as(auth, "practitioner")
    pt = {"type": "Point", "coordinates": [-1.49, 52.505]}
    r = _post(client, _url(world), {"name": "P", "kind": "park", "geometry": pt}, h)
    assert r.status_code == 422 and "Polygon" in r.get_json()["message"]
    r = _post(client, _url(world), {"name": "Chat", "kind": "online", "geometry": pt}, h)
    assert r.status_code == 422 and "no map location" in r.get_json()["message"]
    r = _post(client, _url(world), {"name": "Chat", "kind": "online", "geometry": None}, h)
    assert r.status_code == 201 and r.get_json()["geometry"] is None


def test_outside_the_locality_is_saved_with_a_warning(
    client: Any, auth: AuthActions, world: World
) -> None:
    h = _as(auth, "practitioner")
    far = {"type": "Point", "coordinates": [-1.2, 52.7]}
    r = _post(client, _url(world), {"name": "Far shop", "kind": "other", "geometry": far}, h)
    assert r.status_code == 201
    assert "outside the pilot's locality" in r.get_json()["warnings"][0]


def test_partner_reviewer_reads_but_cannot_write(
    client: Any, auth: AuthActions, world: World
) -> None:
    h = _as(auth, "partner_reviewer")
    assert client.get(_url(world)).status_code == 200
    r = _post(client, _url(world), {"name": "X", "kind": "park", "geometry": SQUARE}, h)
    assert r.status_code == 403
    url = _url(world, f"/{world.places['cafe'].id}")
    assert client.patch(url, json={"notes": "x", "version": 1}, headers=h).status_code == 403
    assert client.delete(url, headers=h).status_code == 403


def test_outsider_gets_404(client: Any, auth: AuthActions, world: World) -> None:
    h = _as(auth, "outsider")
    assert client.get(_url(world)).status_code == 404
    assert client.get(_url(world, f"/{world.places['cafe'].id}")).status_code == 404
    r = _post(client, _url(world), {"name": "X", "kind": "park", "geometry": SQUARE}, h)
    assert r.status_code == 404


def test_a_place_of_another_pilot_is_not_found(
    client: Any, auth: AuthActions, world: World
) -> None:
    _as(auth, "practitioner")
    url = f"/api/v1/pilots/{world.pilot.id}/places/{world.places['cafe'].id + 10_000}"
    assert client.get(url).status_code == 404


def test_a_20_mb_geojson_body_gets_413(client: Any, auth: AuthActions, world: World) -> None:
    h = _as(auth, "practitioner")
    ring = [[-1.49 + i * 1e-9, 52.5] for i in range(1_000_000)]
    body = json.dumps({"name": "Huge", "kind": "other",
                       "geometry": {"type": "LineString", "coordinates": ring}})
    assert len(body) > 20 * 2**20
    r = client.post(_url(world), data=body, content_type="application/json", headers=h)
    assert r.status_code == 413


def test_xss_in_a_place_name_is_stored_verbatim_and_rendered_inert(
    client: Any, auth: AuthActions, world: World
) -> None:
    h = _as(auth, "practitioner")
    evil = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    r = _post(client, _url(world), {"name": evil, "kind": "other",
                                    "geometry": {"type": "Point",
                                                 "coordinates": [-1.49, 52.504]}}, h)
    assert r.status_code == 201 and r.get_json()["properties"]["name"] == evil
    html = client.get(f"/pilots/{world.pilot.id}").get_data(as_text=True)
    assert evil not in html
    assert "&lt;img src=x onerror=" in html  # the list item, escaped by Jinja
    assert "<script>alert(2)" not in html


def test_unknown_kind_and_missing_version_are_422(
    client: Any, auth: AuthActions, world: World
) -> None:
    h = _as(auth, "practitioner")
    r = _post(client, _url(world), {"name": "X", "kind": "castle", "geometry": SQUARE}, h)
    assert r.status_code == 422 and "kind" in r.get_json()["details"]
    url = _url(world, f"/{world.places['cafe'].id}")
    r = client.patch(url, json={"notes": "x"}, headers=h)
    assert r.status_code == 422 and "version" in r.get_json()["details"]


def test_places_carry_their_latest_assessments_status(
    client: Any, auth: AuthActions, world: World
) -> None:
    """The workspace list offers "Start an assessment" where a place has none."""
    h = _as(auth, "practitioner")
    pid = _post(client, _url(world), {"name": "Bus stop", "kind": "other",
                                      "geometry": SQUARE}, h).get_json()["id"]

    def status() -> Any:
        features = client.get(_url(world)).get_json()["features"]
        return next(f for f in features if f["id"] == pid)["properties"]["assessment_status"]

    assert status() is None
    assert client.get(_url(world, f"/{pid}")).get_json()["properties"][
        "assessment_status"] is None
    page = client.get(f"/pilots/{world.pilot.id}").get_data(as_text=True)
    assert f"/places/{pid}/assessments/new" in page  # the list's "Start an assessment"
    r = client.post(f"/api/v1/pilots/{world.pilot.id}/places/{pid}/assessments", json={},
                    headers=h)
    assert r.status_code == 201, r.get_json()
    assert status() == "draft"
    assert client.get(_url(world, f"/{pid}")).get_json()["properties"][
        "assessment_status"] == "draft"
    page = client.get(f"/pilots/{world.pilot.id}").get_data(as_text=True)
    assert f"/places/{pid}/assessments/new" not in page
