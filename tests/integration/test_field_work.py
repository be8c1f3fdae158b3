"""Field work (issue 18): the place where the practitioner stands, the walk, creates sent
twice with one Idempotency-Key, the phone's field page, the manifest and the service
worker."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from locmap import clock
from locmap.models import IdempotentRequest, Incident, Observation, Photo
from locmap.services import idempotency
from tests.conftest import AuthActions
from tests.factories import World
from tests.integration.test_evidence import VISIT, Api, _base
from tests.integration.test_photos import camera_jpeg


@pytest.fixture
def pr(client: Any, auth: AuthActions, world: World) -> Api:
    return Api(client, auth, "practitioner@test.invalid")


def _near(pr: Api, world: World, lon: float, lat: float) -> Any:
    return pr.get(f"/api/v1/pilots/{world.pilot.id}/places/nearest?lon={lon}&lat={lat}")


def test_the_nearest_place_within_100_m_is_where_the_practitioner_stands(
        pr: Api, world: World) -> None:
    r = _near(pr, world, -1.4905, 52.505)  # ~34 m west of the cafe
    assert r.status_code == 200
    assert r.json["place"]["id"] == world.places["cafe"].id
    assert 30 <= r.json["place"]["distance_m"] <= 38
    inside = _near(pr, world, -1.494, 52.5025).json["place"]
    assert inside["id"] == world.places["park"].id and inside["distance_m"] == 0
    assert _near(pr, world, -1.48, 52.505).json == {"place": None}  # 680 m from anything
    assert _near(pr, world, 200, 52.5).status_code == 422


def test_the_walk_stores_the_route_and_the_time_at_each_place(pr: Api, world: World,
                                                              session: Session) -> None:
    park, cafe = (-1.494, 52.5025), (-1.49, 52.505)
    points = [[*park, 1_700_000_000], [*park, 1_700_000_060], [*park, 1_700_000_300],
              [*cafe, 1_700_000_400], [*cafe, 1_700_000_900], [-1.48, 52.505, 1_700_001_000]]
    r = pr.send("POST", _base(world) + "/observations", {**VISIT, "walk": {"points": points}})
    assert r.status_code == 201, r.json
    assert r.json["route"]["type"] == "LineString"
    assert len(r.json["route"]["coordinates"]) == 6
    assert r.json["place_times"] == [
        {"place_id": world.places["cafe"].id, "seconds": 600, "name": "Test Cafe"},
        {"place_id": world.places["park"].id, "seconds": 400, "name": "Test Park"}]
    page = pr.get(f"/pilots/{world.pilot.id}/places/{world.places['cafe'].id}")
    html = page.get_data(as_text=True)
    assert f'id="visit-{r.json["id"]}-walk"' in html and "Test Cafe 10 minutes" in html
    for bad in ([points[0]], [points[1], points[0]], [[1, 2]], [[500, 1, 1], [1, 1, 2]]):
        refused = pr.send("POST", _base(world) + "/observations",
                          {**VISIT, "walk": {"points": bad}})
        assert refused.status_code == 422, bad
    assert pr.send("POST", _base(world) + "/observations",
                   {**VISIT, "walk": "not json"}).status_code == 422


def test_a_create_sent_twice_with_one_key_is_made_once(pr: Api, world: World,
                                                       session: Session) -> None:
    def post(url: str, body: Any, key: str) -> Any:
        return pr.client.post(url, json=body,
                              headers={"X-CSRFToken": pr.token, "Idempotency-Key": key})

    url = _base(world) + "/observations"
    first, again = post(url, VISIT, "visit-1"), post(url, VISIT, "visit-1")
    assert first.status_code == again.status_code == 201
    assert first.json == again.json and again.headers["Idempotent-Replayed"] == "true"
    assert session.scalar(select(func.count()).select_from(Observation)) == 1
    other = post(url, VISIT, "visit-2")
    assert other.status_code == 201 and other.json["id"] != first.json["id"]
    incidents = f"/api/v1/pilots/{world.pilot.id}/incidents"
    assert post(incidents, {}, "visit-1").status_code == 422  # a key is for one request
    body = {"location": {"type": "Point", "coordinates": [-1.49, 52.505]},
            "occurred_at": "2025-06-03T18:00", "category": "asb"}
    assert post(incidents, body, "inc-1").json == post(incidents, body, "inc-1").json
    assert session.scalar(select(func.count()).select_from(Incident)) == 1
    photos_url = f"/api/v1/pilots/{world.pilot.id}/observations/{first.json['id']}/photos"
    for _ in range(2):
        r = pr.client.post(photos_url, data={"photos": (io.BytesIO(camera_jpeg(20, 20)), "a.jpg")},
                           headers={"X-CSRFToken": pr.token, "Idempotency-Key": "photos-1"})
        assert r.status_code == 201
    assert session.scalar(select(func.count()).select_from(Photo)) == 1
    # A refused request keeps no answer: the corrected resend with the same key works.
    bad = post(url, {**VISIT, "young_people_10_13": -1}, "visit-3")
    assert bad.status_code == 422
    assert post(url, VISIT, "visit-3").status_code == 201
    assert post(url, VISIT, "x" * 101).status_code == 422


def test_the_field_page_for_a_phone(pr: Api, world: World, session: Session,
                                    client: Any, auth: AuthActions) -> None:
    page = pr.get(f"/pilots/{world.pilot.id}/field")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'rel="manifest"' in html and "js/field.js" in html
    assert 'id="field-place"' in html and "Test Cafe" in html and "fld-count" in html
    assert 'id="field-walk"' in html and 'name="photos"' in html
    assert 'id="field-incident-form"' in html
    # Without JavaScript the visit form posts as a form, with its photos.
    r = pr.client.post(f"/pilots/{world.pilot.id}/field", data={
        "csrf_token": pr.token, "place_id": str(world.places["cafe"].id),
        "started_at": "2025-06-03T18:30", "young_people_14_15": "3", "notes": "no-JS visit",
        "photos": [(io.BytesIO(camera_jpeg(40, 30)), "a.jpg")]})
    assert r.status_code == 302 and "#visit-" in r.location
    visit = session.scalars(select(Observation).where(Observation.notes == "no-JS visit")).one()
    assert visit.young_people_14_15 == 3
    assert session.scalar(select(func.count()).select_from(Photo)
                          .where(Photo.observation_id == visit.id)) == 1
    # The visit is among "your recent visits", whose notes can be changed offline.
    html = pr.get(f"/pilots/{world.pilot.id}/field").get_data(as_text=True)
    assert f'data-observation="{visit.id}"' in html
    r = pr.client.post(f"/pilots/{world.pilot.id}/field", data={
        "csrf_token": pr.token, "place_id": "", "started_at": "2025-06-03T18:30"})
    assert r.status_code == 302 and r.location.endswith("/field")
    auth.logout()
    partner = Api(client, auth, "partner_reviewer@test.invalid")
    assert partner.get(f"/pilots/{world.pilot.id}/field").status_code == 403


def test_the_manifest_and_the_service_worker(client: Any, world: World) -> None:
    manifest = client.get("/manifest.webmanifest")
    assert manifest.status_code == 200 and manifest.mimetype == "application/manifest+json"
    assert manifest.json["scope"] == "/" and manifest.json["display"] == "standalone"
    assert manifest.json["start_url"] == "/"
    icons = {i["sizes"]: i for i in manifest.json["icons"]}
    assert client.get(icons["any"]["src"]).status_code == 200
    for n in (192, 512):  # the PNGs a phone's launcher wants, at their stated size
        png = client.get(icons[f"{n}x{n}"]["src"])
        assert png.status_code == 200 and icons[f"{n}x{n}"]["type"] == "image/png"
        assert Image.open(io.BytesIO(png.data)).size == (n, n)
    # Every page links the manifest (the installed app starts at "/", not a field page).
    assert 'rel="manifest"' in client.get("/login").get_data(as_text=True)
    offline = client.get("/static/offline.html")
    assert offline.status_code == 200 and "js/offline.js" in offline.get_data(as_text=True)
    sw = client.get("/sw.js")
    assert sw.status_code == 200 and sw.mimetype == "text/javascript"
    assert sw.headers["Service-Worker-Allowed"] == "/"
    assert sw.headers["Cache-Control"] == "no-cache"
    assert "default-src 'self'" in sw.headers["Content-Security-Policy"]
    body = sw.get_data(as_text=True)
    assert "/tiles/basemap/" in body
    # The offline page is kept at install and answers any page that cannot be fetched.
    assert '"/static/offline.html"' in body and "offlinePage" in body


def test_idempotency_keys_are_forgotten_after_30_days(pr: Api, world: World,
                                                      session: Session) -> None:
    url = _base(world) + "/observations"
    for key in ("old", "new"):
        r = pr.client.post(url, json=VISIT,
                           headers={"X-CSRFToken": pr.token, "Idempotency-Key": key})
        assert r.status_code == 201
    session.execute(update(IdempotentRequest).where(IdempotentRequest.key == "old")
                    .values(created_at=clock.now() - dt.timedelta(days=31)))
    assert idempotency.purge(session) == 1
    assert session.scalars(select(IdempotentRequest.key)).all() == ["new"]
