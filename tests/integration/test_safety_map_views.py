"""Safety maps where the practice reads them (issue 16): the place page's map draws the
perceived-safety cells of the combined surface, and a submitted assessment's frozen
snapshot keeps the individual rated areas for the owning team only — partners read it
through the API, the page and the PDF as suppressed figures."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy.orm import Session

from locmap.models import SafetyFactor
from locmap.services import accounts, assessments, report
from locmap.services.assessment_snapshot import safety_maps_view
from locmap.services.place_map import MAP_CELL_FIELDS
from tests import factories
from tests.integration.test_plan_api import api
from tests.integration.test_safety_maps import OVER_CAFE, _area, _base, _map, _post

# Corners of the drawn cafe area: they must never reach a partner.
CAFE_CORNER = "-1.4903"


@pytest.fixture
def maps(client: Any, auth: Any, world: factories.World) -> dict[str, int]:
    """Five groups rate the park (2 red, 3 green); one group rates the cafe red."""
    auth.login("practitioner@test.invalid")
    park = world.places["park"].id
    for i in range(5):
        _post(client, world, _map("2025-02-20", _area("red" if i < 2 else "green", park),
                                  group=f"Group {i}"))
    _post(client, world, _map("2025-02-21", _area("red", OVER_CAFE, "Men hang about")))
    auth.logout()
    return {"park": park, "cafe": world.places["cafe"].id}


def _place_data(client: Any, world: factories.World, place_id: int) -> tuple[str, Any]:
    html = client.get(f"/pilots/{world.pilot.id}/places/{place_id}").get_data(as_text=True)
    m = re.search(r'<script type="application/json" id="place-data">(.*?)</script>', html, re.S)
    assert m, html[:500]
    return html, json.loads(m.group(1))


def _surface_cells(client: Any, world: factories.World) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = api(client, "GET",
                                      f"{_base(world)}/perceived-safety").get_json()["cells"]
    return cells


@pytest.mark.parametrize("who", ["practitioner", "partner_reviewer"])
def test_the_place_map_draws_the_surface_cells_with_legend_and_toggle(
        client: Any, auth: Any, world: factories.World, maps: dict[str, int], who: str) -> None:
    auth.login(f"{who}@test.invalid")
    html, data = _place_data(client, world, maps["cafe"])
    cells = data["perceived"]["cells"]
    # The same cells (figures, colours, outlines) as the safety-maps surface, those around
    # the place only, with the fields the map draws (services/place_map.py).
    surface = [{k: c[k] for k in MAP_CELL_FIELDS} for c in _surface_cells(client, world)]
    assert cells and all(c in surface for c in cells)
    assert 'id="perceived-toggle"' in html and 'id="perceived-legend"' in html
    assert 'id="place-perceived"' in html  # the table stays, the map's text alternative
    if who == "partner_reviewer":
        # One map behind the cafe's cells: withheld, grey, no shares; five behind the park's.
        withheld = [c for c in cells if c["withheld"]]
        assert withheld and all(c["maps"] == "[c]" and c["shares"] is None
                                and c["mostly"] is None for c in withheld)
        assert any(c["maps"] == 5 and c["mostly"] == "green" for c in cells)
        assert data["perceived"]["partner"] is True
        assert "Men hang about" not in html
    else:
        assert all(not c["withheld"] and c["mostly"] in ("red", "amber", "green")
                   for c in cells)


def test_an_online_context_and_a_pilot_without_maps(client: Any, auth: Any,
                                                    world: factories.World) -> None:
    auth.login("practitioner@test.invalid")
    html, data = _place_data(client, world, world.places["chat"].id)
    assert data["perceived"] is None and 'id="perceived-toggle"' not in html
    html, data = _place_data(client, world, world.places["park"].id)
    assert data["perceived"]["cells"] == [] and 'id="perceived-none"' in html


def _submit(session: Session, world: factories.World, place_id: int) -> int:
    session.add(SafetyFactor(place_id=place_id, quadrant="risk", statement="Older men",
                             weight=2, voice="child"))
    session.commit()
    who = accounts.actor_for(session, world.users["practitioner"])
    a = assessments.start_assessment(session, who, world.pilot.id, place_id)
    assessments.submit_assessment(session, who, world.pilot.id, a.id)
    session.commit()
    return a.id


def test_the_snapshot_keeps_individual_areas_for_the_owning_team_only(
        client: Any, auth: Any, session: Session, world: factories.World,
        maps: dict[str, int]) -> None:
    cafe, park = _submit(session, world, maps["cafe"]), _submit(session, world, maps["park"])
    url = f"{_base(world)}/assessments"
    auth.login("practitioner@test.invalid")
    sm = api(client, "GET", f"{url}/{cafe}").get_json()["indicators"]["safety_maps"]
    assert not sm["individual_withheld"] and len(sm["areas"]) == 6
    assert {a["safety_map_id"] for a in sm["areas"]} and all(a["geometry"] for a in sm["areas"])
    assert not any("reason" in a for a in sm["areas"])  # young people's words stay out
    (period,) = sm["periods"]
    assert period["label"].startswith("Review 1")
    assert (period["place"]["maps"], period["place"]["score"], period["place_maps"]) == \
        (1, -100.0, 1)
    assert (period["pilot"]["maps"], period["at_place"]["red"]) == (6, 1)
    page = client.get(f"/pilots/{world.pilot.id}/assessments/{cafe}").get_data(as_text=True)
    assert 'id="snapshot-perceived"' in page and 'id="snapshot-areas">6 rated areas' in page
    auth.logout()

    auth.login("partner_reviewer@test.invalid")
    body = api(client, "GET", f"{url}/{cafe}").get_data(as_text=True)
    assert CAFE_CORNER not in body and "safety_map_id" not in body
    sm = json.loads(body)["indicators"]["safety_maps"]
    assert sm["areas"] is None and sm["individual_withheld"] and sm["partner"]
    (period,) = sm["periods"]
    assert set(period) == {"period", "label", "place", "pilot"}  # no raw tallies
    assert (period["place"]["maps"], period["place"]["withheld"],
            period["place"]["shares"]) == ("[c]", True, None)
    # Six maps over the pilot: shown, rounded to base 5.
    assert (period["pilot"]["maps"], period["pilot"]["withheld"]) == (5, False)
    # Five maps rate the park: its figure reaches the partner.
    park_sm = api(client, "GET", f"{url}/{park}").get_json()["indicators"]["safety_maps"]
    assert (park_sm["periods"][0]["place"]["maps"], park_sm["periods"][0]["place"]["score"]) \
        == (5, 20.0)
    # The page: the figures table, no area in the embedded map data.
    page = client.get(f"/pilots/{world.pilot.id}/assessments/{cafe}").get_data(as_text=True)
    assert 'id="snapshot-perceived"' in page and "withheld" in page
    assert CAFE_CORNER not in page and 'id="snapshot-areas"' not in page
    # Live indicators of a place (API): the same rule.
    live = api(client, "GET", f"{_base(world)}/places/{maps['cafe']}/indicators").get_json()
    assert live["safety_maps"]["areas"] is None
    assert CAFE_CORNER not in json.dumps(live)
    # The PDF's figures: the partner figure, with the words for it.
    partner = accounts.actor_for(session, world.users["partner_reviewer"])
    figures = report.report_data(session, partner, world.pilot.id, "assessment",
                                 cafe, threshold=5)["assessment"]["figures"]
    row = next(f for f in figures if f[0].startswith("Perceived safety"))
    assert row[1] == "[c]" and "fewer than 5" in row[2]
    team = accounts.actor_for(session, world.users["practitioner"])
    figures = report.report_data(session, team, world.pilot.id, "assessment",
                                 park, threshold=5)["assessment"]["figures"]
    row = next(f for f in figures if f[0].startswith("Perceived safety"))
    assert row[1] == "+20" and "40% red" in row[2] and "60% green" in row[2]


def test_a_snapshot_stored_before_map_ids_were_kept_is_withheld_from_partners() -> None:
    old = {"periods": [{"period": "2025-04-06", "maps": 7,
                        "at_place": {"red": 3, "amber": 0, "green": 4},
                        "all": {"red": 5, "amber": 1, "green": 6}}],
           "areas": [{"period": "2025-04-06", "rating": "red", "at_place": True,
                      "geometry": {"type": "Polygon", "coordinates": []}}]}
    partner = safety_maps_view(old, individual=False, partner=True, threshold=5)
    assert partner is not None and partner["areas"] is None
    (p,) = partner["periods"]
    assert p["place"]["withheld"] and p["place"]["maps"] == "[c]"
    assert (p["pilot"]["maps"], p["pilot"]["withheld"]) == (5, False)
    team = safety_maps_view(old, individual=True, partner=False, threshold=5)
    assert team is not None and team["areas"] == old["areas"]
    assert team["periods"][0]["place"]["maps"] is None  # not known, not made up
    assert team["periods"][0]["place"]["score"] == pytest.approx(100 * 1 / 7, abs=0.1)
    assert safety_maps_view(None, individual=False, partner=True, threshold=5) is None
