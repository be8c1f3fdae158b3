"""Photos on site visits and incidents (issue 18): resized, stripped of EXIF and GPS before
they are stored, capped in size, the owning team's only, audited when viewed, and gone
with their visit or incident."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap.models import AuditEvent, Photo
from locmap.services import photos
from tests.conftest import AuthActions
from tests.factories import World
from tests.integration.test_evidence import VISIT, Api, _base, _incident, _page

GPS_IFD, ORIENTATION, MAKE = 0x8825, 0x0112, 0x010F


def camera_jpeg(width: int = 3000, height: int = 2000, orientation: int = 1) -> bytes:
    """A synthetic phone photo with camera EXIF and a GPS position."""
    im = Image.new("RGB", (width, height), (30, 120, 200))
    exif = Image.Exif()
    exif[MAKE] = "SyntheticPhone"
    exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (52.0, 30.0, 15.0), 3: "W", 4: (1.0, 29.0, 40.0)})
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif, quality=90)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)  # it has GPS
    return data


def assert_bare(content: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(content))
    assert im.format == "JPEG"
    assert "exif" not in im.info and "xmp" not in im.info and "icc_profile" not in im.info
    exif = im.getexif()
    assert len(exif) == 0 and not exif.get_ifd(GPS_IFD)
    return im


@pytest.fixture
def pr(client: Any, auth: AuthActions, world: World) -> Api:
    return Api(client, auth, "practitioner@test.invalid")


def _visit(pr: Api, world: World) -> dict[str, Any]:
    r = pr.send("POST", _base(world) + "/observations", VISIT)
    assert r.status_code == 201, r.json
    return r.json


def _upload(pr: Api, url: str, *files: bytes) -> Any:
    return pr.client.post(url, headers={"X-CSRFToken": pr.token},
                          data={"photos": [(io.BytesIO(f), f"p{i}.jpg")
                                           for i, f in enumerate(files)]})


def _photos_url(world: World, kind: str, owner_id: int) -> str:
    return f"/api/v1/pilots/{world.pilot.id}/{kind}/{owner_id}/photos"


def test_two_photos_are_stored_resized_without_exif_or_gps(
        pr: Api, world: World, session: Session) -> None:
    v = _visit(pr, world)
    r = _upload(pr, _photos_url(world, "observations", v["id"]), camera_jpeg(),
                camera_jpeg(400, 200, orientation=6))
    assert r.status_code == 201, r.json
    big, turned = r.json
    assert (big["width"], big["height"]) == (1600, 1067)  # long side at most 1600
    assert (turned["width"], turned["height"]) == (200, 400)  # upright as the camera held it
    for p in r.json:
        stored = session.get_one(Photo, p["id"])
        im = assert_bare(stored.content)
        assert im.size == (p["width"], p["height"])
    listed = pr.get(_photos_url(world, "observations", v["id"])).json
    assert [p["id"] for p in listed] == [big["id"], turned["id"]]
    image = pr.get(big["url"])
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert image.headers["Cache-Control"] == "private, no-store"
    assert_bare(image.data)


def test_each_view_is_audited_and_partners_never_see_photos(
        pr: Api, world: World, session: Session, client: Any, auth: AuthActions) -> None:
    inc = _incident(session, world.pilot.id, world.places["cafe"])
    session.commit()
    p = _upload(pr, _photos_url(world, "incidents", inc.id), camera_jpeg(64, 48)).json[0]
    assert pr.get(p["url"]).status_code == 200
    viewed = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "read", AuditEvent.entity == "photo",
        AuditEvent.entity_id == str(p["id"]))).all()
    assert len(viewed) == 1 and viewed[0].personal_data
    auth.logout()
    partner = Api(client, auth, "partner_reviewer@test.invalid")
    assert partner.get(p["url"]).status_code == 403
    assert partner.get(_photos_url(world, "incidents", inc.id)).status_code == 403
    assert _upload(partner, _photos_url(world, "incidents", inc.id),
                   camera_jpeg(10, 10)).status_code == 403
    assert "/photos/" not in partner.get(_page(world)).get_data(as_text=True)


def test_a_file_that_is_no_photo_is_422_and_one_too_big_is_413(
        pr: Api, world: World, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    v = _visit(pr, world)
    url = _photos_url(world, "observations", v["id"])
    r = _upload(pr, url, b"%PDF-1.4 not a photo")
    assert r.status_code == 422 and "not a photo" in r.json["message"]
    assert pr.client.post(url, headers={"X-CSRFToken": pr.token}).status_code == 422
    monkeypatch.setattr(photos, "MAX_PHOTO_BYTES", 2000)
    r = _upload(pr, url, camera_jpeg(10, 10), camera_jpeg())
    assert r.status_code == 413 and "at most" in r.json["message"]
    assert session.scalar(select(func.count()).select_from(Photo)) == 0  # all or none


def test_photos_go_with_their_visit_and_incident(pr: Api, world: World,
                                                 session: Session) -> None:
    v = _visit(pr, world)
    inc = _incident(session, world.pilot.id, world.places["cafe"])
    session.commit()
    _upload(pr, _photos_url(world, "observations", v["id"]), camera_jpeg(30, 20))
    _upload(pr, _photos_url(world, "incidents", inc.id), camera_jpeg(30, 20))
    assert session.scalar(select(func.count()).select_from(Photo)) == 2
    r = pr.send("DELETE", f"/api/v1/pilots/{world.pilot.id}/observations/{v['id']}"
                          f"?version={v['version']}")
    assert r.status_code == 204
    assert pr.send("DELETE", f"/api/v1/pilots/{world.pilot.id}/incidents/{inc.id}"
                   ).status_code == 204
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Photo)) == 0


def test_photos_from_the_place_and_incident_pages(pr: Api, world: World,
                                                  session: Session) -> None:
    v = _visit(pr, world)
    r = pr.client.post(f"/pilots/{world.pilot.id}/observations/{v['id']}/photos",
                       data={"csrf_token": pr.token,
                             "photos": [(io.BytesIO(camera_jpeg(80, 60)), "a.jpg"),
                                        (io.BytesIO(camera_jpeg(60, 80)), "b.jpg")]})
    assert r.status_code == 302 and r.location.endswith(f"#visit-{v['id']}")
    html = pr.get(_page(world)).get_data(as_text=True)
    stored = session.scalars(select(Photo).order_by(Photo.id)).all()
    assert len(stored) == 2 and all(f'src="{photos._dump(p)["url"]}"' in html for p in stored)
    assert "2 photos added." in html
    r = pr.client.post(f"/pilots/{world.pilot.id}/observations/{v['id']}/photos",
                       data={"csrf_token": pr.token,
                             "photos": [(io.BytesIO(b"plain text"), "a.txt")]})
    assert "No photo added" in pr.get(_page(world)).get_data(as_text=True)
    r = pr.client.post(f"/pilots/{world.pilot.id}/photos/{stored[0].id}/delete",
                       data={"csrf_token": pr.token, "confirm": "yes"})
    assert r.status_code == 302
    inc = _incident(session, world.pilot.id, world.places["cafe"])
    session.commit()
    page = f"/pilots/{world.pilot.id}/incidents/{inc.id}"
    r = pr.client.post(f"{page}/photos", data={
        "csrf_token": pr.token, "photos": [(io.BytesIO(camera_jpeg(80, 60)), "c.jpg")]})
    assert r.status_code == 302 and "#photos" in r.location
    html = pr.get(page).get_data(as_text=True)
    assert 'id="incident-photos"' in html and "/image" in html
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Photo)) == 2


def test_deleting_a_photo_asks_first_and_is_audited(pr: Api, world: World,
                                                   session: Session) -> None:
    v = _visit(pr, world)
    assert _upload(pr, _photos_url(world, "observations", v["id"]),
                   camera_jpeg(80, 60)).status_code == 201
    photo_id = session.scalars(select(Photo.id)).one()
    confirm = f"/pilots/{world.pilot.id}/photos/{photo_id}/delete"
    place = pr.get(_page(world)).get_data(as_text=True)
    assert f'href="{confirm}"' in place  # the place page links to the confirm step
    # A post without the confirmation (an old form, a stray click) deletes nothing.
    r = pr.client.post(confirm, data={"csrf_token": pr.token})
    assert r.status_code == 302 and r.location.endswith(confirm)
    page = pr.get(confirm)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<h1>Delete this photo?</h1>" in html
    assert 'name="confirm" value="yes"' in html and f"#visit-{v['id']}" in html  # cancel
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Photo)) == 1
    r = pr.client.post(confirm, data={"csrf_token": pr.token, "confirm": "yes"})
    assert r.status_code == 302 and r.location.endswith(f"#visit-{v['id']}")
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Photo)) == 0
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "photo", AuditEvent.action == "delete")).one()
    assert event.entity_id == str(photo_id)
    assert pr.get(confirm).status_code == 404


def test_only_editors_reach_the_photo_delete_step(pr: Api, world: World, client: Any,
                                                  auth: AuthActions, session: Session) -> None:
    v = _visit(pr, world)
    _upload(pr, _photos_url(world, "observations", v["id"]), camera_jpeg(80, 60))
    photo = session.scalars(select(Photo)).one()
    confirm = f"/pilots/{world.pilot.id}/photos/{photo.id}/delete"
    auth.logout()
    auth.login("partner_reviewer@test.invalid")
    assert client.get(confirm).status_code == 403
    token = auth.csrf_token("/")
    assert client.post(confirm, data={"csrf_token": token, "confirm": "yes"}).status_code == 403
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Photo)) == 1
