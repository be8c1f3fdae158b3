"""The workspace's incident layer from vector tiles (issue 17): the time slider changes what
the GL map draws, a place is made from a base-map building and from typed coordinates, and
the workspace, place page and network map work on a phone (390 × 844)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots-mapui"


def _workspace(page: Any, email: str = "practitioner@demo.locmap.invalid") -> None:
    login(page, email)
    page.wait_for_selector("#pilot-list .card")
    page.click("text=Eastbrook Town Centre")
    page.wait_for_selector("#map[data-workspace-ready]")


def _drawn(page: Any, month: str) -> int:
    page.wait_for_function(
        f"() => {{ const m = document.getElementById('map');"
        f" return m.dataset.incidentMonth === '{month}' && m.dataset.incidentTiles === 'ready'; }}",
        timeout=30000)
    return int(page.get_attribute("#map", "data-incidents-drawn"))


def test_time_slider_changes_the_incident_layer(page: Any, live_server: str) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    _workspace(page)
    assert page.get_attribute("#map", "data-incidents-mode") == "tiles"
    everything = _drawn(page, "all")
    assert everything > 0
    assert page.locator("#incident-legend li[data-category]").count() >= 12  # every harm
    assert page.locator("#incident-legend li:visible").count() >= 1  # those on screen
    months = int(page.get_attribute("#month-range", "max")) + 1
    assert months >= 6
    seen = {}
    for i in range(months - 1, -1, -1):  # newest first, until two months differ
        page.eval_on_selector("#month-range", f"(r) => {{ r.value = '{i}';"
                              " r.dispatchEvent(new Event('input', {bubbles: true})); }")
        month = page.text_content("#month-shown")
        ym = page.get_attribute("#month-shown", "data-month")
        seen[ym] = _drawn(page, ym)
        assert month and seen[ym] <= everything
        assert any(f"from={ym}-01" in u for u in requests if "/tiles/incidents/" in u)
        if len(set(seen.values()) - {0}) >= 2:
            break
    assert len(set(seen.values()) - {0}) >= 2, seen
    page.screenshot(path=f"{SHOTS}/workspace-slider-1280.png")
    tiles = [u for u in requests if "/tiles/incidents/" in u]
    assert all(u.startswith(live_server + "/pilots/") for u in tiles)
    # Back to every month; the heat map hides the circles and shows the heat layer.
    page.check("#month-all")
    assert _drawn(page, "all") == everything
    page.click("#heat-toggle")
    assert page.evaluate("() => LocmapMap.gl(window.locmapMap)"
                         ".getLayoutProperty('incident-heat', 'visibility')") == "visible"
    page.screenshot(path=f"{SHOTS}/workspace-heat-1280.png")
    # Play steps through the months by itself.
    page.click("#month-play")
    page.wait_for_function("() => document.getElementById('map').dataset.incidentMonth !== 'all'")
    page.click("#month-play")
    assert not errors, errors


def test_place_from_a_base_map_building_and_from_coordinates(page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _workspace(page)
    page.wait_for_selector("#map[data-basemap='vector'][data-basemap-ready]")
    before = int(page.text_content("#place-count"))
    page.evaluate("() => window.locmapMap.setView([52.5205, -1.4672], 18)")
    # A rendered building outline and a point inside it, in page pixels.
    page.wait_for_function(
        "() => { const gl = LocmapMap.gl(window.locmapMap); return gl && gl.loaded()"
        " && gl.queryRenderedFeatures({layers: ['building']}).length > 0; }", timeout=30000)
    where = page.evaluate("""() => {
        const map = window.locmapMap, gl = LocmapMap.gl(map);
        const box = map.getContainer().getBoundingClientRect();
        for (const f of gl.queryRenderedFeatures({layers: ['building']})) {
          if (f.geometry.type !== 'Polygon') continue;
          const ring = f.geometry.coordinates[0];
          const lon = ring.reduce((s, c) => s + c[0], 0) / ring.length;
          const lat = ring.reduce((s, c) => s + c[1], 0) / ring.length;
          const p = map.latLngToContainerPoint([lat, lon]);
          if (p.x < 60 || p.y < 60 || p.x > box.width - 60 || p.y > box.height - 60) continue;
          const hit = gl.queryRenderedFeatures([p.x, p.y], {layers: ['building']});
          if (hit.length) return {x: box.left + p.x, y: box.top + p.y};
        }
        return null; }""")
    assert where, "no building outline on screen"
    page.click("#place-from-feature")
    page.mouse.click(where["x"], where["y"])
    page.wait_for_selector("#place-form")
    assert "from the map" in page.text_content("#place-form h2")
    page.fill("#place-form input[name=name]", "Picked building")
    with page.expect_response(lambda r: r.url.endswith("/places") and r.request.method == "POST"
                              ) as resp:
        page.click("#place-form button[type=submit]")
    body = resp.value.json()
    assert resp.value.status == 201 and body["geometry"]["type"] in ("Polygon", "MultiPolygon")
    page.wait_for_function(f"() => +document.getElementById('place-count').textContent > {before}")
    # Typed coordinates: a wrong pair is explained, a right one makes a point.
    page.click("#place-from-coords")
    page.fill("#coords-form input[name=first]", "152.5")
    page.fill("#coords-form input[name=second]", "-1.46")
    page.click("#coords-form button[type=submit]")
    page.wait_for_selector("#coords-form .ws-problem:not([hidden])")
    assert "swapped" in page.text_content("#coords-form .ws-problem")
    page.select_option("#coords-form select[name=system]", "bng")
    page.fill("#coords-form input[name=first]", "436400")
    page.fill("#coords-form input[name=second]", "286900")
    page.click("#coords-form button[type=submit]")
    page.wait_for_selector("#place-form")
    page.fill("#place-form input[name=name]", "Typed point")
    with page.expect_response(lambda r: r.url.endswith("/places") and r.request.method == "POST"
                              ) as resp:
        page.click("#place-form button[type=submit]")
    assert resp.value.status == 201 and resp.value.json()["geometry"]["type"] == "Point"
    expect(page.locator(".leaflet-tooltip.place-label", has_text="Typed point")).to_have_count(1)
    assert not errors, errors


@pytest.fixture
def phone(browser: Any, live_server: str) -> Any:
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844},
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


def _fits_a_phone(page: Any, name: str) -> None:
    page.screenshot(path=f"{SHOTS}/{name}-390.png", full_page=False)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390, name
    top = page.evaluate("() => { const t = document.querySelector('.topbar');"
                        " return t.scrollWidth <= t.clientWidth + 1; }")
    assert top, f"{name}: the header overflows"


def test_phone_layout(phone: Any) -> None:
    page = phone
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _workspace(page)
    page.wait_for_selector("#map[data-incident-tiles='ready']", timeout=30000)
    height = page.evaluate("() => document.getElementById('map').getBoundingClientRect().height")
    assert height >= 300, height
    assert int(page.get_attribute("#map", "data-incidents-drawn")) > 0
    _fits_a_phone(page, "workspace")
    # The place page: its mini-map keeps a height, its tables scroll inside their box.
    page.click("#place-list .place-evidence-link >> nth=0")
    page.wait_for_selector("#place-map, .place-map", state="attached")
    page.wait_for_load_state("load")  # its style sheets: the height is theirs
    mini = ("() => document.querySelector('.place-map-wrap, .place-map')"
            ".getBoundingClientRect().height")
    for _ in range(50):
        if page.evaluate(mini) >= 200:
            break
        page.wait_for_timeout(100)
    assert page.evaluate(mini) >= 200, page.url
    _fits_a_phone(page, "place")
    assert page.evaluate("""() => [...document.querySelectorAll('table')].every(t => {
        const box = t.getBoundingClientRect(); return box.right <= 391; })""")
    page.go_back()
    page.wait_for_selector("#map[data-workspace-ready]")
    page.click("#network-link")
    page.click("text=Network on the map")
    page.wait_for_selector("#map[data-group-lines]")
    assert page.evaluate("() => document.getElementById('map')"
                         ".getBoundingClientRect().height") >= 300
    _fits_a_phone(page, "network-map")
    assert not errors, errors


def test_share_map_opens_offline(page: Any, browser: Any, tmp_path: Any) -> None:
    login(page, "practitioner@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    page.click("text=Eastbrook Town Centre")
    page.wait_for_selector("#map[data-workspace-ready]")
    page.click("#place-list .place-evidence-link >> nth=0")
    page.click("text=/Assessment v\\d/")
    with page.expect_download() as dl:
        page.click("#share-map-link")
    path = tmp_path / "share.html"
    dl.value.save_as(path)
    offline = browser.new_context(offline=True, viewport={"width": 1280, "height": 800})
    requests: list[str] = []
    offline.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    view = offline.new_page()
    view.on("pageerror", lambda e: errors.append(str(e)))
    view.goto(path.as_uri())
    view.wait_for_selector(".leaflet-interactive")
    assert view.locator("#share-panel h1").count() == 1
    expect(view.locator("path.leaflet-interactive").nth(1)).to_be_attached()  # place, cells
    view.screenshot(path=f"{SHOTS}/share-map-1280.png")
    assert not errors, errors
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    offline.close()
