"""A place's map is sent the perceived-safety cells around that place only (its
neighbourhood: the assessment's ring), with only what the map draws — never the whole
pilot's surface, which stays on the safety-maps page.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box, shape
from sqlalchemy.orm import Session

from locmap.models import SafetyMap, SafetyMapArea
from locmap.services.place_map import MAP_CELL_FIELDS
from tests import factories

NEAR_CAFE = box(-1.4905, 52.5045, -1.4895, 52.5055)      # on the cafe
FAR_CORNER = box(-1.4999, 52.5001, -1.4985, 52.5009)     # ~730 m from it


@pytest.fixture
def maps(session: Session, world: factories.World) -> dict[str, Any]:
    """Six maps rating the cafe red (above the partner threshold) and one map rating the
    far corner green (below it).
    """
    pid = world.pilot.id
    for i in range(6):
        session.add(SafetyMap(pilot_id=pid, drawn_on=dt.date(2025, 6, 1 + i), period="2025",
                              areas=[SafetyMapArea(geom=from_shape(MultiPolygon([NEAR_CAFE]),
                                                                   srid=4326), rating="red")]))
    session.add(SafetyMap(pilot_id=pid, drawn_on=dt.date(2025, 6, 9), period="2025", areas=[
        SafetyMapArea(geom=from_shape(MultiPolygon([FAR_CORNER]), srid=4326),
                      rating="green")]))
    session.commit()
    return {"pilot": pid, "cafe": world.places["cafe"].id}


def _place_cells(client: Any, auth: Any, who: str, url: str) -> list[dict[str, Any]]:
    auth.login(f"{who}@test.invalid")
    html = client.get(url).get_data(as_text=True)
    auth.logout()
    m = re.search(r'<script type="application/json" id="place-data">(.*?)</script>', html,
                  re.S)
    assert m, url
    return json.loads(m.group(1))["perceived"]["cells"]


@pytest.mark.parametrize("who", ["practitioner", "partner_reviewer"])
def test_the_place_map_gets_its_neighbourhood_only(client: Any, auth: Any,
                                                   maps: dict[str, Any], who: str) -> None:
    auth.login(f"{who}@test.invalid")
    pilot_cells = client.get(f"/api/v1/pilots/{maps['pilot']}/perceived-safety"
                             ).get_json()["cells"]
    auth.logout()
    # The pilot's surface has cells at both ends ...
    assert any(shape(c["geometry"]).intersects(FAR_CORNER) for c in pilot_cells)
    cells = _place_cells(client, auth, who,
                         f"/pilots/{maps['pilot']}/places/{maps['cafe']}")
    # ... the cafe's map only the cells around the cafe, with only what it draws.
    assert cells and all(shape(c["geometry"]).intersects(NEAR_CAFE.buffer(0.01))
                         for c in cells)
    assert not any(shape(c["geometry"]).intersects(FAR_CORNER) for c in cells)
    assert len(cells) < len(pilot_cells)
    assert all(set(c) == set(MAP_CELL_FIELDS) for c in cells)
    on_cafe = [c for c in cells if shape(c["geometry"]).intersects(NEAR_CAFE)]
    assert on_cafe and all(c["mostly"] == "red" and not c["withheld"] for c in on_cafe)
    if who == "partner_reviewer":  # six maps: shown, rounded to 5
        assert {c["maps"] for c in on_cafe} == {5}


def test_an_online_context_gets_no_cells(client: Any, auth: Any, maps: dict[str, Any],
                                         world: factories.World) -> None:
    auth.login("practitioner@test.invalid")
    html = client.get(f"/pilots/{maps['pilot']}/places/{world.places['chat'].id}"
                      ).get_data(as_text=True)
    assert '"cells"' not in html


def test_the_place_map_falls_back_to_the_latest_period_rating_its_surroundings(
        client: Any, auth: Any, session: Session, world: factories.World) -> None:
    """The latest maps rate only the far corner: the cafe's map shows the latest period
    whose maps rate the cafe's surroundings, and says which period it is.
    """
    pid = world.pilot.id
    session.add(SafetyMap(pilot_id=pid, drawn_on=dt.date(2024, 6, 1), period="2024", areas=[
        SafetyMapArea(geom=from_shape(MultiPolygon([NEAR_CAFE]), srid=4326), rating="red")]))
    session.add(SafetyMap(pilot_id=pid, drawn_on=dt.date(2025, 6, 1), period="2025", areas=[
        SafetyMapArea(geom=from_shape(MultiPolygon([FAR_CORNER]), srid=4326),
                      rating="green")]))
    session.commit()
    auth.login("practitioner@test.invalid")
    latest = client.get(f"/api/v1/pilots/{pid}/perceived-safety").get_json()["period"]
    html = client.get(f"/pilots/{pid}/places/{world.places['cafe'].id}").get_data(as_text=True)
    m = re.search(r'<script type="application/json" id="place-data">(.*?)</script>', html,
                  re.S)
    assert m
    layer = json.loads(m.group(1))["perceived"]
    assert layer["cells"] and layer["period"] != latest["label"]
    assert all(c["mostly"] == "red" for c in layer["cells"])
    assert not any(shape(c["geometry"]).intersects(FAR_CORNER) for c in layer["cells"])
