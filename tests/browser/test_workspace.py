"""A practitioner draws a place with Leaflet.draw, records an incident inside it by
clicking the map, sees the place's count go to 1, and finds both after a reload."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.browser.conftest import draw_polygon, login

pytestmark = pytest.mark.browser


def _open_pilot(page: Any) -> None:
    login(page, "practitioner@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    page.click("text=Eastbrook Town Centre")
    page.wait_for_selector("#map[data-workspace-ready]")


def test_draw_a_place_and_record_an_incident_in_it(page: Any) -> None:
    _open_pilot(page)
    name = f"Bench corner {uuid.uuid4().hex[:6]}"
    box = page.locator("#map").bounding_box()
    # A free spot inside the demo locality between the High Street and the estate (the
    # map fits the locality, and the viewport is fixed, so this is stable).
    x0, y0 = box["x"] + 400, box["y"] + 422
    corners = [(x0, y0), (x0 + 55, y0), (x0 + 55, y0 + 45), (x0, y0 + 45)]
    draw_polygon(page, corners)
    page.wait_for_selector("#place-form")
    page.fill("#place-form input[name=name]", name)
    page.select_option("#place-form select[name=kind]", "park")
    page.click("#place-form button[type=submit]")
    item = page.locator("#place-list .place", has_text=name)
    item.wait_for()
    # A place counts the incidents already inside it (one rule: queries/at_place.py).
    before = int(item.locator(".badge").text_content() or "-1")
    assert before >= 0
    assert page.locator("#ws-message").text_content() == f"Saved “{name}”."

    page.click("#add-incident")
    page.mouse.click(x0 + 28, y0 + 22)
    page.wait_for_selector("#incident-form")
    page.select_option("#incident-form select[name=category]", "drugs")
    page.select_option("#incident-form select[name=severity]", "4")
    page.click("#incident-form button[type=submit]")
    page.wait_for_selector("#ws-message:has-text('Recorded')")
    assert page.locator("#ws-message").text_content() == f"Recorded drugs at “{name}”."
    page.wait_for_function(
        "([n, want]) => [...document.querySelectorAll('#place-list .place')].some("
        "li => li.textContent.includes(n) && li.querySelector('.badge').textContent === want)",
        arg=[name, str(before + 1)],
    )

    page.reload()
    page.wait_for_selector("#map[data-workspace-ready]")
    item = page.locator("#place-list .place", has_text=name)
    assert item.locator(".badge").text_content() == str(before + 1)
    place_id = item.get_attribute("data-place-id")
    assert page.locator(f'path.place-shape[data-place-id="{place_id}"]').count() == 1
    page.screenshot(path="/tmp/workspace.png")


def test_partner_reviewer_gets_no_drawing_tools(page: Any) -> None:
    login(page, "reviewer.police@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    page.click("text=Eastbrook Town Centre")
    page.wait_for_selector("#map[data-workspace-ready]")
    assert page.locator(".leaflet-draw-draw-polygon").count() == 0
    assert page.locator("#add-incident").is_hidden()
    page.wait_for_function("() => document.getElementById('incidents-in-view').textContent !== '…'")
    assert int(page.locator("#incidents-in-view").text_content()) > 0


def test_a_self_intersecting_place_offers_repair(page: Any) -> None:
    _open_pilot(page)
    box = page.locator("#map").bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.7
    # A bow tie: the second and fourth edges cross (Leaflet.draw allows it here on purpose).
    corners = [(x0, y0), (x0 + 80, y0 + 60), (x0 + 80, y0), (x0, y0 + 60)]
    draw_polygon(page, corners)
    page.wait_for_selector("#place-form")
    name = f"Bow tie {uuid.uuid4().hex[:6]}"
    page.fill("#place-form input[name=name]", name)
    page.click("#place-form button[type=submit]")
    page.wait_for_selector("#place-form .ws-problem:has-text('Self-intersection')")
    page.screenshot(path="/tmp/workspace_repair.png")
    page.click("#repair-and-save")
    page.locator("#place-list .place", has_text=name).wait_for()
    assert page.locator("#place-form").count() == 0


def test_a_place_from_a_search_hit(page: Any) -> None:
    """The gazetteer's hit becomes a place (no drawing): the form takes the hit's name, the
    place is a point at the hit, and the list shows it with its actions."""
    _open_pilot(page)
    page.fill(".map-search input", "Church St")
    page.wait_for_selector(".map-search-results button")
    hit = page.locator(".map-search-results button").first
    assert "Church Street" in (hit.text_content() or "")
    hit.click()
    page.wait_for_selector("#map[data-search-moved='Church Street']")
    page.click("#place-from-search")
    page.wait_for_selector("#place-form")
    assert page.input_value("#place-form input[name=name]") == "Church Street"
    name = f"Church Street corner {uuid.uuid4().hex[:6]}"
    page.fill("#place-form input[name=name]", name)
    with page.expect_response(lambda r: r.url.endswith("/places")
                              and r.request.method == "POST") as resp:
        page.click("#place-form button[type=submit]")
    assert resp.value.status == 201, resp.value.text()
    lon, lat = resp.value.json()["geometry"]["coordinates"]
    assert resp.value.json()["geometry"]["type"] == "Point"
    # Church Street runs north from the High Street at about lon -1.4672, lat 52.52-52.525.
    assert abs(lon - (-1.4672)) < 0.002 and 52.519 < lat < 52.526
    item = page.locator("#place-list .place", has_text=name)
    item.wait_for()
    assert item.locator("button.place-show").count() == 1
    assert item.locator("button.place-edit").count() == 1
    assert item.locator("a.start-assessment").count() == 1  # a practitioner may assess
    assert page.locator("#search-place").is_hidden()
