"""Place names are text on every map page (issue 14): two demo places are renamed to
HTML that would run, inject an element or call out to another host if any label took it
as markup; every page that shows them on a map or chart is opened with the tooltips and
popups shown, and nothing is injected, nothing runs and no request leaves loopback. The
names are put back afterwards, so the other browser tests see the demo unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from locmap.db import Database
from locmap.models import Pilot, Place
from locmap.models.plan import Assessment
from tests.browser.conftest import login

pytestmark = pytest.mark.browser

# An external beacon (TEST-NET-2 address: a request event fires, nothing answers) and a
# handler; an element with an id; an attribute break-out with an SVG handler.
LIBRARY = '<img src="http://198.51.100.7/beacon.png" onerror="window.__pwned=1">'
BURGER = '<b id="injected">bold</b>"><svg onload="window.__pwned=2">'
LOOPBACK = {"127.0.0.1", "localhost"}


@pytest.fixture
def hostile(demo_db: Database) -> Iterator[dict[str, int]]:
    originals = {"Eastbrook Library": LIBRARY, "Burger Hub": BURGER}
    with demo_db.session() as s:
        pilot = s.scalar(select(Pilot.id).where(Pilot.name == "Eastbrook Town Centre"))
        ids = {old: s.scalar(select(Place.id).where(Place.pilot_id == pilot, Place.name == old))
               for old in originals}
        assessment = s.scalar(select(Assessment.id).order_by(Assessment.id)
                              .where(Assessment.place_id == ids["Eastbrook Library"]))
        assert pilot and assessment and all(ids.values())
        for old, new in originals.items():
            s.execute(update(Place).where(Place.id == ids[old]).values(name=new))
        s.commit()
    try:
        yield {"pilot": pilot, "library": ids["Eastbrook Library"], "burger": ids["Burger Hub"],
               "assessment": assessment}
    finally:
        with demo_db.session() as s:
            for old in originals:
                s.execute(update(Place).where(Place.id == ids[old]).values(name=old))
            s.commit()


def _show_tooltips(page: Any) -> None:
    """Hover every interactive map shape (Leaflet opens its tooltip on mouseover)."""
    shapes = page.locator(".leaflet-interactive")
    for i in range(shapes.count()):
        shapes.nth(i).dispatch_event("mouseover")


def _tooltips(page: Any) -> str:
    return " | ".join(page.locator(".leaflet-tooltip").all_inner_texts())


def test_hostile_place_names_stay_text_on_every_map_page(page: Any,
                                                          hostile: dict[str, int]) -> None:
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (errors.append("dialog: " + d.message), d.dismiss()))
    # A style or script the CSP refuses is reported on the console: none may be refused.
    page.on("console",
            lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    pilot, lib, burger = hostile["pilot"], hostile["library"], hostile["burger"]
    login(page, "practitioner@demo.locmap.invalid")

    def check(where: str) -> None:
        assert page.locator("#injected, svg[onload], img[onerror]").count() == 0, where
        assert page.evaluate("typeof window.__pwned") == "undefined", where

    # The workspace: the list and the popup of each place.
    page.goto(f"/pilots/{pilot}")
    page.wait_for_selector("#map[data-workspace-ready]")
    names = page.locator("#place-list .place-name").all_inner_texts()
    assert LIBRARY in names and BURGER in names
    page.click(f'#place-list [data-place-id="{lib}"] button.place-show')
    page.wait_for_selector(".leaflet-popup-content")
    assert LIBRARY in page.locator(".leaflet-popup-content").inner_text()
    check("workspace")

    # The place page, with its own small map.
    page.goto(f"/pilots/{pilot}/places/{burger}")
    page.wait_for_selector("#place-map[data-rendered]")
    assert BURGER in page.locator("h1").inner_text()
    check("place page")

    # The assessment page: the place's tooltip on its map, and the charts.
    page.goto(f"/pilots/{pilot}/assessments/{hostile['assessment']}")
    page.wait_for_selector("#assessment-map .leaflet-interactive")
    _show_tooltips(page)
    check("assessment")
    assert LIBRARY in _tooltips(page)
    # The bar widths and heat-map shades, once inline styles, are set from data-* by script.
    widths = page.eval_on_selector_all(".weighting .bar", "bs => bs.map(b => b.style.width)")
    assert widths and all(w.endswith("%") for w in widths) and any(w != "0%" for w in widths)
    shaded = page.eval_on_selector_all("#heatmap td",
                                       "ts => ts.filter(t => t.style.background).length")
    assert shaded == 24 * 7

    # The impact page: the target and a buffer place, on the map and in the chart legend.
    page.goto(f"/pilots/{pilot}/places/{burger}/impact?intervention=2025-01-01&buffer_place={lib}")
    page.wait_for_function("document.getElementById('impact-chart').width > 0")
    _show_tooltips(page)
    check("impact")
    tips = _tooltips(page)
    assert "target: " + BURGER in tips and "buffer: " + LIBRARY in tips

    # The displacement watch: the flag between the two, with its chart.
    page.goto(f"/pilots/{pilot}/displacement?month=2025-01")
    card = page.locator(".flag-card", has_text=BURGER + " → " + LIBRARY)
    assert card.count() == 1
    page.wait_for_function("document.querySelector('.flag-card canvas').width > 0")
    check("displacement")

    # The network graph (Cytoscape: pseudonyms drawn on a canvas) lists the shared places.
    page.goto(f"/pilots/{pilot}/network")
    page.wait_for_selector("#network-graph[data-nodes-rendered]")
    assert page.locator("#shared-places li", has_text=LIBRARY).count() == 1
    check("network")

    # The network on the map: places and group lines carry names in their tooltips.
    page.goto(f"/pilots/{pilot}/network/map")
    page.wait_for_selector("#map[data-group-lines]")
    _show_tooltips(page)
    check("network map")
    assert LIBRARY in _tooltips(page)

    assert errors == []
    outside = [u for u in map(urlsplit, requests)
               if u.scheme not in ("data", "blob") and u.hostname not in LOOPBACK]
    assert outside == []
