"""The demo's base map (issue 17): the workspace draws named streets from vector tiles the
app serves itself (MapLibre inside Leaflet, WebGL through SwiftShader in the headless
chromium), and the map's search box moves the map to a street."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import login

pytestmark = pytest.mark.browser


def _open_workspace(page: Any, requests: list[str]) -> None:
    page.on("request", lambda r: requests.append(r.url))
    login(page, "practitioner@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    page.click("text=Eastbrook Town Centre")
    page.wait_for_selector("#map[data-workspace-ready]")


def _street_labels(page: Any) -> list[str]:
    return page.evaluate(
        "() => { const gl = LocmapMap.gl(window.locmapMap); if (!gl) return [];"
        " return gl.queryRenderedFeatures({layers: ['road-label']})"
        ".map(f => f.properties.name); }")


def test_workspace_draws_named_streets_from_the_apps_own_tiles(page: Any,
                                                               live_server: str) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    _open_workspace(page, requests)
    page.wait_for_selector("#map[data-basemap='vector'][data-basemap-ready]")
    page.evaluate("() => window.locmapMap.setView([52.5205, -1.4672], 17)")
    page.wait_for_function(
        "() => { const gl = LocmapMap.gl(window.locmapMap);"
        " return gl && gl.loaded()"
        " && gl.queryRenderedFeatures({layers: ['road-label']}).length > 0; }",
        timeout=20000)
    labels = set(_street_labels(page))
    assert "High Street" in labels or "Church Street" in labels, labels
    tiles = [u for u in requests if "/tiles/basemap/" in u]
    assert tiles and all(u.startswith(live_server + "/tiles/basemap/") for u in tiles)
    glyphs = [u for u in requests if "/glyphs/" in u]
    assert glyphs and all(u.startswith(live_server + "/static/glyphs/") for u in glyphs)
    # nothing is fetched from anywhere but the app
    assert all(u.startswith((live_server, "data:", "blob:")) for u in requests), \
        [u for u in requests if not u.startswith((live_server, "data:", "blob:"))]
    # place shapes (Leaflet's overlay pane) are drawn above the base map (tile pane)
    assert page.evaluate(
        "() => { const m = window.locmapMap;"
        " return +getComputedStyle(m.getPane('overlayPane')).zIndex >"
        " +getComputedStyle(m.getPane('tilePane')).zIndex; }")
    assert not errors, errors


def test_searching_a_street_moves_the_map_there(page: Any) -> None:
    requests: list[str] = []
    _open_workspace(page, requests)
    page.evaluate("() => window.locmapMap.setView([52.516, -1.478], 16)")
    page.fill(".map-search input", "Church St")
    page.wait_for_selector(".map-search-results button")
    first = page.locator(".map-search-results button").first
    assert "Church Street" in (first.text_content() or "")
    first.click()
    page.wait_for_selector("#map[data-search-moved='Church Street']")
    centre = page.evaluate("() => window.locmapMap.getCenter()")
    # Church Street runs north from the High Street at about lon -1.4672, lat 52.5201-52.5250
    assert abs(centre["lng"] - (-1.4672)) < 0.002 and 52.519 < centre["lat"] < 52.526
    # and a pilot's own place is found by name too
    page.fill(".map-search input", "Eastbrook Lib")
    page.wait_for_selector(".map-search-results button:has-text('Eastbrook Library')")
