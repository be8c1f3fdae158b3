"""A user logs in, sees their pilot on a map, and opens it to see its places."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login

pytestmark = pytest.mark.browser


def test_login_and_see_the_pilot_places_on_the_map(page: Any, live_server: str) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    login(page, "practitioner@demo.locmap.invalid")
    page.wait_for_selector("#pilot-list .card")
    # The map marks itself once drawn, a moment after the list (a loaded machine shows it).
    page.wait_for_selector("#map[data-pilots-rendered='1']")
    page.click("text=Eastbrook Town Centre")
    page.wait_for_selector("#map[data-places-rendered]")
    # Every place with a map location is drawn; online contexts (the group chat) are
    # listed but not drawn. Compared with the API, because other browser tests in this
    # session share the demo database and may add places.
    pilot_id = page.url.rstrip("/").split("/")[-1]
    features = page.evaluate(
        "id => fetch('/api/v1/pilots/' + id + '/places').then(r => r.json())", pilot_id
    )["features"]
    drawn = sum(1 for f in features if f["geometry"])
    assert drawn >= 8 and len(features) - drawn >= 1  # the demo town: 8 drawn + a chat
    assert page.locator("#map").get_attribute("data-places-rendered") == str(drawn)
    assert page.locator("#place-list .place").count() == len(features)
    assert page.locator("path.place-shape, .leaflet-interactive").count() >= drawn
    assert page.evaluate("typeof L !== 'undefined' && L.version") == "1.9.4"
    # The demo builds its own base map, so the "no base map" note stays hidden.
    assert not page.locator("#map-note").is_visible()
    # Every asset came from the app itself (air-gapped councils: no CDN).
    assert requests and all(u.startswith(live_server) for u in requests), requests
    page.click("#place-list .place:has-text('Burger Hub') button.place-show")
    page.wait_for_selector(".leaflet-popup-content:has-text('Burger Hub')")


def test_wrong_password_keeps_you_out(page: Any) -> None:
    login(page, "practitioner@demo.locmap.invalid", "not the password")
    expect(page.locator(".flash-error")).to_be_visible()
    assert page.url.endswith("/login")
