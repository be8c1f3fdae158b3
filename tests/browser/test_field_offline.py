"""Field work offline on a phone (issue 18, the first Done-when point): with the network
cut (``context.set_offline(True)``) a practitioner records a site visit with two photos
and an incident, and changes a visit's notes that someone else changes meanwhile; back
online the queue syncs in order, the stored photos carry no EXIF or GPS, and the
conflicting edit shows its 409 and is resolved."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from geoalchemy2.shape import to_shape
from playwright.sync_api import expect
from sqlalchemy import select, text

from locmap.db import Database
from locmap.models import Incident, Observation, Photo
from tests.browser.conftest import login
from tests.integration.test_photos import assert_bare, camera_jpeg

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(browser: Any, live_server: str) -> Iterator[Any]:
    """A phone-sized context that stands at the Eastbrook Library and may use its position."""
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844},
                                  geolocation={"longitude": 0.0, "latitude": 0.0},
                                  permissions=["geolocation"], service_workers="allow")
    yield context
    context.close()


def _pilot_and_library(page: Any) -> tuple[int, dict[str, Any]]:
    pilots = page.request.get("/api/v1/pilots").json()
    pilot = next(p for p in pilots if p["name"] == "Eastbrook Town Centre")
    places = page.request.get(f"/api/v1/pilots/{pilot['id']}/places").json()
    library = next(f for f in places["features"]
                   if f["properties"]["name"] == "Eastbrook Library")
    return pilot["id"], library


def _a_point_of(geometry: dict[str, Any]) -> list[float]:
    coords: Any = geometry["coordinates"]
    while not isinstance(coords[0], float | int):
        coords = coords[0]
    return [float(coords[0]), float(coords[1])]


def _until(page: Any, js: str, seconds: float = 15) -> None:
    """Wait until ``js`` is true (wait_for_function evals a string, which the CSP forbids)."""
    for _ in range(int(seconds * 10)):
        if page.evaluate(js):
            return
        page.wait_for_timeout(100)
    assert page.evaluate(js), js


def _api(page: Any, method: str, url: str, body: Any) -> Any:
    return page.evaluate(
        """([method, url, body]) => fetch(url, {method, credentials: "same-origin",
             headers: {"Content-Type": "application/json",
                       "X-CSRFToken": document.querySelector('meta[name=csrf-token]').content},
             body: JSON.stringify(body)}).then(r => r.json())""", [method, url, body])


def test_offline_visit_with_two_photos_and_an_incident_sync_and_a_409_is_resolved(
        phone: Any, demo_db: Database) -> None:
    page = phone.new_page()
    login(page, "practitioner@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    pilot_id, library = _pilot_and_library(page)
    lon, lat = _a_point_of(library["geometry"])
    phone.set_geolocation({"longitude": lon, "latitude": lat})
    tag = uuid.uuid4().hex[:8]
    # A visit recorded earlier today (online): its notes are changed offline below.
    page.goto(f"/pilots/{pilot_id}/field")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")  # installed, active
    earlier = _api(page, "POST", f"/api/v1/pilots/{pilot_id}/places/{library['id']}/observations",
                   {"started_at": "2025-11-20T18:00", "notes": f"first notes {tag}"})
    page.goto(f"/pilots/{pilot_id}/field")  # through the service worker, which keeps it
    _until(page, "navigator.serviceWorker.controller !== null")
    _until(page, "caches.match(location.href).then(hit => !!hit)")
    # Where the practitioner stands picks the place (nearest within 100 m, server-side).
    _until(page, "document.getElementById('field-near').textContent.includes('Eastbrook Library')")
    assert page.locator("#field-place").input_value() == str(library["id"])

    phone.set_offline(True)
    _until(page, "navigator.onLine === false")
    # Offline, the page opens again from the service worker's cache.
    page.reload()
    page.wait_for_selector("#field-visit-form")
    assert "Eastbrook Library" in page.locator(".field-place-list").inner_text()
    _until(page, "document.getElementById('field-near').textContent.includes('Eastbrook Library')")
    # A page never opened (the installed app's start page "/") gets the offline page, which
    # links the field pages kept on this phone.
    page.goto("/")
    page.wait_for_selector("h1:has-text('You are offline')")
    page.click("#offline-field-list a:has-text('Eastbrook Town Centre')")
    page.wait_for_selector("#field-visit-form")
    _until(page, "document.getElementById('field-near').textContent.includes('Eastbrook Library')")

    form = "#field-visit-form"
    page.fill(f"{form} input[name=started_at]", "2025-11-21T18:30")
    page.fill(f"{form} input[name=weather]", f"offline drizzle {tag}")
    plus = page.get_by_role("button", name="One more: Aged 14–15")
    plus.click()
    plus.click()
    plus.click()
    page.get_by_role("button", name="One fewer: Aged 14–15").click()
    assert page.locator(f"{form} input[name=young_people_14_15]").input_value() == "2"
    page.set_input_files(f"{form} input[name=photos]", [
        {"name": "one.jpg", "mimeType": "image/jpeg", "buffer": camera_jpeg(2400, 1800)},
        {"name": "two.jpg", "mimeType": "image/jpeg", "buffer": camera_jpeg(800, 600, 6)},
    ])
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("#field-queue li:has-text('Site visit at Eastbrook Library')")

    inc = "#field-incident-form"
    page.select_option(f"{inc} select[name=category]", "asb")
    page.fill(f"{inc} input[name=occurred_at]", "2025-11-21T18:40")
    page.fill(f"{inc} textarea[name=description]", f"offline incident {tag}")
    page.click(f"{inc} button[type=submit]")
    page.wait_for_selector("#field-queue li:has-text('Incident')")

    edit = f"li[data-observation-id='{earlier['id']}'] form.field-edit"
    page.fill(f"{edit} textarea[name=notes]", f"my offline notes {tag}")
    page.click(f"{edit} button[type=submit]")
    page.wait_for_selector("#field-queue li:has-text('Notes of your visit')")
    assert page.locator("#field-queue li.waiting").count() == 3
    assert page.locator("#field-queue-count").inner_text() == "3"

    # Someone else changes that visit meanwhile.
    with demo_db.session() as s:
        s.execute(text("UPDATE observation SET notes = :n, version = version + 1 "
                       "WHERE id = :id"), {"n": f"their notes {tag}", "id": earlier["id"]})
        s.commit()

    uploads: list[str] = []
    page.on("request", lambda r: uploads.append(r.headers.get("idempotency-key", ""))
            if r.method == "POST" and r.url.endswith("/photos") else None)
    phone.set_offline(False)
    page.wait_for_selector("#field-queue li.sent:has-text('Site visit at Eastbrook Library')",
                           timeout=20000)
    # One request per photo (twelve phone photos at once would pass the upload limit),
    # each with its own idempotency key.
    assert len(uploads) == 2 and len(set(uploads)) == 2, uploads
    page.wait_for_selector("#field-queue li.sent:has-text('Incident')", timeout=20000)
    conflict = page.locator("#field-queue li.refused")
    conflict.wait_for(timeout=20000)
    assert "changed" in conflict.inner_text() and f"their notes {tag}" in conflict.inner_text()
    conflict.get_by_role("button", name="Keep mine").click()
    page.wait_for_selector("#field-queue li.sent:has-text('Notes of your visit')",
                           timeout=20000)
    assert page.locator("#field-queue-count").inner_text() == "0"
    opened = page.locator("#field-queue li.sent:has-text('Site visit') a")
    assert opened.get_attribute("href").startswith(
        f"/pilots/{pilot_id}/places/{library['id']}#visit-")

    with demo_db.session() as s:
        visit = s.scalars(select(Observation).where(
            Observation.weather == f"offline drizzle {tag}")).one()
        assert visit.place_id == library["id"] and visit.young_people_14_15 == 2
        stored = s.scalars(select(Photo).where(Photo.observation_id == visit.id)
                           .order_by(Photo.id)).all()
        assert len(stored) == 2
        for photo in stored:
            assert_bare(photo.content)
        assert (stored[0].width, stored[0].height) == (1600, 1200)
        assert (stored[1].width, stored[1].height) == (600, 800)
        incident = s.scalars(select(Incident).where(
            Incident.description == f"offline incident {tag}")).one()
        assert incident.pilot_id == pilot_id and incident.category == "asb"
        assert s.get_one(Observation, earlier["id"]).notes == f"my offline notes {tag}"
        # Sent once each, though the queue may have been flushed more than once.
        assert s.scalar(select(text("count(*)")).select_from(Observation).where(
            Observation.weather == f"offline drizzle {tag}")) == 1


_QUEUED = """() => new Promise(ok => { const r = indexedDB.open("locmap-field", 1);
  r.onupgradeneeded = () => r.result.createObjectStore("queue",
                                                       {keyPath: "id", autoIncrement: true});
  r.onsuccess = () => { const q = r.result.transaction("queue").objectStore("queue").getAll();
    q.onsuccess = () => { r.result.close(); ok(q.result.map(i => i.user)); }; }; })"""


def test_a_shared_phone_sends_only_its_users_queue_and_logging_out_empties_it(
        phone: Any, demo_db: Database) -> None:
    page = phone.new_page()
    login(page, "practitioner@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    pilot_id, library = _pilot_and_library(page)
    lon, lat = _a_point_of(library["geometry"])
    phone.set_geolocation({"longitude": lon, "latitude": lat})
    me = int(page.locator("body").get_attribute("data-user"))
    tag = uuid.uuid4().hex[:8]
    page.goto(f"/pilots/{pilot_id}/field")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.goto(f"/pilots/{pilot_id}/field")
    _until(page, "navigator.serviceWorker.controller !== null")
    _until(page, "caches.match(location.href).then(hit => !!hit)")

    phone.set_offline(True)
    _until(page, "navigator.onLine === false")
    form = "#field-visit-form"
    page.select_option("#field-place", str(library["id"]))
    page.fill(f"{form} input[name=started_at]", "2025-11-22T19:00")
    page.fill(f"{form} input[name=weather]", f"not for the next user {tag}")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("#field-queue li.waiting:has-text('Site visit')")
    assert page.evaluate(_QUEUED) == [me]
    # Logging out with something unsent asks first; "Cancel" keeps both session and queue.
    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.set_viewport_size({"width": 1280, "height": 800})  # the top bar's Log out shows
    page.click("button:has-text('Log out')")
    for _ in range(50):
        if asked:
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(300)  # had the form been posted anyway, the page would be leaving
    assert asked and "1 record" in asked[0] and "not sent" in asked[0]
    assert page.url.endswith("/field") and page.evaluate(_QUEUED) == [me]
    page.set_viewport_size({"width": 390, "height": 844})

    # The session ends without a logout (expired, or the phone handed over); someone else
    # signs in on the same phone, online: the field page neither shows nor sends that visit.
    phone.clear_cookies()
    phone.set_offline(False)
    login(page, "coordinator@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    other = int(page.locator("body").get_attribute("data-user"))
    assert other != me
    page.goto(f"/pilots/{pilot_id}/field")
    inc = "#field-incident-form"
    page.select_option("#field-place", str(library["id"]))
    page.fill(f"{inc} input[name=occurred_at]", "2025-11-22T19:10")
    page.fill(f"{inc} textarea[name=description]", f"the coordinator's incident {tag}")
    page.click(f"{inc} button[type=submit]")
    page.wait_for_selector("#field-queue li.sent:has-text('Incident')", timeout=20000)
    assert "Site visit" not in page.locator("#field-queue").inner_text()
    assert page.locator("#field-queue-count").inner_text() == "0"
    assert page.evaluate(_QUEUED) == [me]  # still on the phone, untouched
    with demo_db.session() as s:
        assert not s.scalars(select(Observation).where(
            Observation.weather == f"not for the next user {tag}")).all()

    # Logging out (on a phone: from the account page) empties the queue, everyone's, and
    # the page cache.
    page.goto("/account")
    page.click("button:has-text('Log out of this session')")
    page.wait_for_selector("input[name=email]")
    assert page.evaluate(_QUEUED) == []
    assert page.evaluate(
        "caches.keys().then(ns => ns.filter(n => n.endsWith('-pages')))") == []


def test_a_refused_incident_is_edited_and_sent_again(phone: Any, demo_db: Database) -> None:
    page = phone.new_page()
    login(page, "practitioner@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    pilot_id, library = _pilot_and_library(page)
    lon, lat = _a_point_of(library["geometry"])
    phone.set_geolocation({"longitude": lon, "latitude": lat})
    tag = uuid.uuid4().hex[:8]
    page.goto(f"/pilots/{pilot_id}/field")
    inc = "#field-incident-form"
    page.select_option("#field-place", str(library["id"]))
    page.select_option(f"{inc} select[name=category]", "drugs")
    page.select_option(f"{inc} select[name=severity]", "4")
    page.fill(f"{inc} input[name=occurred_at]", "2099-01-01T12:00")  # the server refuses it
    page.fill(f"{inc} textarea[name=description]", f"refused first {tag}")
    page.set_input_files(f"{inc} input[name=photos]", [
        {"name": "one.jpg", "mimeType": "image/jpeg", "buffer": camera_jpeg(800, 600)}])
    page.click(f"{inc} button[type=submit]")
    refused = page.locator("#field-queue li.refused:has-text('Incident')")
    refused.wait_for(timeout=20000)
    assert "occurred_at" in refused.inner_text()
    refused.get_by_role("button", name="Edit and send again").click()
    # Back in the form, as it was (its photo too), and out of the queue.
    assert page.locator(f"{inc} textarea[name=description]").input_value() == f"refused first {tag}"
    assert page.locator(f"{inc} select[name=category]").input_value() == "drugs"
    assert page.locator(f"{inc} select[name=severity]").input_value() == "4"
    assert page.locator(f"{inc} input[name=occurred_at]").input_value() == "2099-01-01T12:00"
    assert page.evaluate(f"document.querySelector('{inc} input[name=photos]').files.length") == 1
    # Leaving the queue is the step after filling the form (IndexedDB, then a redraw).
    expect(page.locator("#field-queue li.refused")).to_have_count(0, timeout=10000)
    page.fill(f"{inc} input[name=occurred_at]", "2025-11-21T20:00")
    page.click(f"{inc} button[type=submit]")
    page.wait_for_selector("#field-queue li.sent:has-text('Incident')", timeout=20000)
    with demo_db.session() as s:
        incident = s.scalars(select(Incident).where(
            Incident.description == f"refused first {tag}")).one()
        assert incident.severity == 4 and incident.category == "drugs"
        assert len(s.scalars(select(Photo).where(Photo.incident_id == incident.id)).all()) == 1


_WALKED = ("+(document.getElementById('field-walk-status').textContent"
           ".match(/(\\d+) positions/) || [0, 0])[1]")


def test_the_walk_is_recorded_with_consent_and_drawn_on_the_place_page(
        phone: Any, demo_db: Database) -> None:
    page = phone.new_page()
    login(page, "practitioner@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    pilot_id, library = _pilot_and_library(page)
    lon, lat = _a_point_of(library["geometry"])
    phone.set_geolocation({"longitude": lon - 0.002, "latitude": lat})
    tag = uuid.uuid4().hex[:8]
    page.goto(f"/pilots/{pilot_id}/field")
    form = "#field-visit-form"
    page.select_option("#field-place", str(library["id"]))
    page.fill(f"{form} input[name=started_at]", "2025-11-23T18:00")
    page.fill(f"{form} input[name=weather]", f"walked {tag}")
    # Nothing is followed until the box is ticked (consent, for this visit only).
    assert page.locator("#field-walk-status").inner_text() == ""
    page.check("#field-walk")
    _until(page, f"{_WALKED} >= 1")
    # Walking east to the library, then a few metres on along it.
    for step, east in enumerate([-0.0015, -0.001, -0.0005, 0.0, 0.0001], start=1):
        phone.set_geolocation({"longitude": lon + east, "latitude": lat})
        _until(page, f"{_WALKED} >= {step + 1}")
    walked = page.evaluate(_WALKED)
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("#field-queue li.sent:has-text('Site visit')", timeout=20000)
    assert not page.is_checked("#field-walk")  # asked again for the next visit

    with demo_db.session() as s:
        visit = s.scalars(select(Observation).where(Observation.weather == f"walked {tag}")).one()
        assert visit.route is not None
        route = to_shape(visit.route)
        assert len(route.coords) == walked >= 6
        assert route.coords[0][0] == pytest.approx(lon - 0.002)
        assert route.coords[-1][0] == pytest.approx(lon + 0.0001)
        assert visit.place_times is not None
    # The place page draws the route over the shared base map, like every other map.
    page.goto(f"/pilots/{pilot_id}/places/{library['id']}#visit-{visit.id}")
    walk = page.locator(f"#visit-{visit.id}-walk")
    walk.wait_for()
    _until(page, f"!!document.querySelector('#visit-{visit.id}-walk[data-rendered]')")
    assert walk.get_attribute("data-basemap") == "vector"
    assert "Eastbrook Library" in page.locator(f"#visit-{visit.id} .visit-walk-box").inner_text()
