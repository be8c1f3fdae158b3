"""Every map page at phone size (390 × 844) and on a desktop draws each map control once:
one scale bar, one zoom control, at most one attribution and one search box (issue 17:
the network map on a phone showed two scale bars). Screenshots go to /tmp/shots-mapui."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = "/tmp/shots-mapui"
SIZES = {"390": {"width": 390, "height": 844}, "1280": {"width": 1280, "height": 800}}

_CONTROLS = """() => [...document.querySelectorAll('.leaflet-container')].map(m => ({
    id: m.id || m.className,
    scale: m.querySelectorAll('.leaflet-control-scale').length,
    scaleLines: m.querySelectorAll('.leaflet-control-scale-line').length,
    glScale: m.querySelectorAll('.maplibregl-ctrl-scale').length,
    zoom: m.querySelectorAll('.leaflet-control-zoom').length,
    attribution: m.querySelectorAll('.leaflet-control-attribution').length,
    search: m.querySelectorAll('.map-search').length,
    ready: m.hasAttribute('data-basemap')}))"""


def _pages(page: Any) -> dict[str, str]:
    """The practitioner's map pages in the demo town, by name."""
    login(page, "practitioner@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    page.click("text=Eastbrook Town Centre")
    page.wait_for_selector("#map[data-workspace-ready]")
    pilot = re.search(r"/pilots/(\d+)", page.url).group(1)  # type: ignore[union-attr]
    mapped = page.locator("#place-list li.place").filter(has_not_text="no map location")
    place_url = mapped.locator(".place-evidence-link").first.get_attribute("href")
    page.goto(place_url)
    assessment = page.get_attribute("a:text-matches('Assessment v\\\\d')", "href")
    return {"home": "/", "workspace": f"/pilots/{pilot}", "place": place_url,
            "impact": f"{place_url}/impact", "assessment": assessment,
            "safety-maps": f"/pilots/{pilot}/safety-maps",
            "network-map": f"/pilots/{pilot}/network/map", "field": f"/pilots/{pilot}/field"}


def _check(page: Any, name: str, size: str) -> list[dict[str, Any]]:
    page.wait_for_selector(".leaflet-container")
    page.wait_for_timeout(1500)  # let late controls (search, layers) arrive
    maps = page.evaluate(_CONTROLS)
    page.screenshot(path=f"{SHOTS}/controls-{name}-{size}.png", full_page=False)
    for m in maps:
        where = f"{name} at {size}: {m['id']}"
        assert m["scale"] == 1 and m["scaleLines"] == 1 and m["glScale"] == 0, (where, m)
        assert m["zoom"] <= 1 and m["attribution"] <= 1 and m["search"] <= 1, (where, m)
    return maps


@pytest.mark.parametrize("size", list(SIZES))
def test_every_map_draws_one_scale_bar(browser: Any, live_server: str, size: str) -> None:
    phone = size == "390"
    context = browser.new_context(base_url=live_server, viewport=SIZES[size],
                                  is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.set_default_timeout(90000)  # the network map's analysis is slow on a loaded machine
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        seen = 0
        pages = _pages(page)
        for name, url in pages.items():
            page.goto(url, wait_until="domcontentloaded")
            page.wait_for_load_state("load")
            if page.locator(".leaflet-container").count() == 0 and name in ("home", "field"):
                continue  # the pilot list maps several pilots; the field page its places
            seen += len(_check(page, name, size))
        # The peer network's graph is drawn at a usable size, its legend on the screen
        # (on a phone the graph once had no height and its legend sat over the banner).
        page.goto(pages["workspace"] + "/network", wait_until="domcontentloaded")
        page.wait_for_selector("#network-graph canvas")
        graph = page.locator("#network-graph").bounding_box()
        legend = page.locator("#network-legend").bounding_box()
        assert graph and graph["height"] >= 250, (size, graph)
        assert legend and legend["y"] >= graph["y"] + graph["height"] - 1, (size, legend)
        assert legend["x"] + legend["width"] <= SIZES[size]["width"] + 1, (size, legend)
        context.clear_cookies()
        login(page, "admin@demo.locmap.invalid")
        page.wait_for_url(lambda url: "/login" not in url)
        for name, url in {"locality": f"{pages['workspace']}/locality",
                          "new-pilot": "/admin/pilots/new"}.items():
            page.goto(url, wait_until="domcontentloaded")
            seen += len(_check(page, name, size))
        assert seen >= 9
        assert not errors, errors
    finally:
        context.close()

