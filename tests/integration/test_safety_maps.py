"""Safety maps through the API: recording, the combined surface, suppression, KPI (d),
optimistic locking, permissions and closed pilots (issue 16)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.models import AuditEvent, Place, SafetyFactor, SafetyMap
from locmap.services import accounts, assessments, kpis, pilot_admin, plans
from locmap.services.permissions import Actor
from tests import factories
from tests.integration.test_plan_api import api

# Test Park is box(-1.495, 52.502, -1.493, 52.503); Test Cafe a point at (-1.49, 52.505).
OVER_PARK = {"type": "Polygon", "coordinates": [[
    [-1.4948, 52.5022], [-1.4932, 52.5022], [-1.4932, 52.5028], [-1.4948, 52.5028],
    [-1.4948, 52.5022]]]}
OVER_CAFE = {"type": "Polygon", "coordinates": [[
    [-1.4903, 52.5048], [-1.4897, 52.5048], [-1.4897, 52.5052], [-1.4903, 52.5052],
    [-1.4903, 52.5048]]]}
OPERATOR = Actor(user_id=None, email="operator@test.invalid", is_admin=True)


def _base(world: factories.World) -> str:
    return f"/api/v1/pilots/{world.pilot.id}"


def _map(drawn: str, *areas: dict[str, Any], group: str = "Year 10 group") -> dict[str, Any]:
    return {"drawn_on": drawn, "respondent_kind": "group", "respondent": group,
            "areas": list(areas)}


def _area(rating: str, where: dict[str, Any] | int, reason: str = "because") -> dict[str, Any]:
    key = "place_id" if isinstance(where, int) else "geometry"
    return {"rating": rating, "reason": reason, key: where}


def _post(client: Any, world: factories.World, body: dict[str, Any]) -> dict[str, Any]:
    r = api(client, "POST", f"{_base(world)}/safety-maps", body)
    assert r.status_code == 201, r.get_json()
    out: dict[str, Any] = r.get_json()
    return out


def _place(surface: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in surface["places"] if p["name"] == name)


def test_a_map_is_recorded_in_its_review_period(client: Any, auth: Any, session: Session,
                                               world: factories.World) -> None:
    auth.login("practitioner@test.invalid")
    park = world.places["park"].id
    m = _post(client, world, _map("2025-02-20", _area("red", OVER_PARK, "Older boys"),
                                  _area("green", park, "Staff are nice")))
    # The pilot starts on 6 Jan 2025 with a review every 3 months: the first period ends
    # on 6 Apr 2025; before the pilot, maps fall in calendar quarters.
    assert m["period"] == "2025-04-06"
    assert m["period_label"] == "Review 1: 6 Jan 2025 – 6 Apr 2025"
    assert m["counts"] == {"red": 1, "amber": 0, "green": 1}
    assert m["respondent_label"] == "Year 10 group" and m["version"] == 1
    # "The whole of the park" is the park's own outline.
    assert m["areas"][1]["geometry"]["type"] == "MultiPolygon"
    early = _post(client, world, {"drawn_on": "2024-05-16", "respondent_kind": "age_band",
                                  "respondent": "14-15", "areas": [_area("amber", park)]})
    assert early["period"] == "2024-Q2" and "before the pilot" in early["period_label"]
    assert early["respondent_label"] == "A young person aged 14-15"
    keys = [p["key"] for p in api(client, "GET",
                                  f"{_base(world)}/safety-maps/periods").get_json()]
    assert keys[0] == "2024-Q2" and "2025-04-06" in keys
    listed = api(client, "GET", f"{_base(world)}/safety-maps?period=2025-04-06").get_json()
    assert [x["id"] for x in listed] == [m["id"]]
    event = session.scalar(select(AuditEvent).where(AuditEvent.entity == "safety_map",
                                                    AuditEvent.action == "create")
                           .order_by(AuditEvent.id))
    assert event is not None and event.entity_id == str(m["id"])


def test_surface_shares_per_place_and_cell(client: Any, auth: Any, session: Session,
                                           world: factories.World) -> None:
    auth.login("practitioner@test.invalid")
    park, cafe = world.places["park"].id, world.places["cafe"].id
    _post(client, world, _map("2025-02-20", _area("red", OVER_PARK), _area("green", OVER_CAFE)))
    _post(client, world, _map("2025-03-01", _area("amber", park), group="Youth club"))
    _post(client, world, _map("2025-05-01", _area("green", park)))  # the next period
    s = api(client, "GET", f"{_base(world)}/perceived-safety?period=2025-04-06").get_json()
    assert s["period"]["key"] == "2025-04-06" and not s["partner"]
    p = _place(s, "Test Park")
    assert (p["maps"], p["areas"], p["score"]) == (2, 2, -50.0)
    assert p["shares"] == {"red": 50.0, "amber": 50.0, "green": 0.0}
    c = _place(s, "Test Cafe")
    assert (c["maps"], c["shares"]["green"], c["score"]) == (1, 100.0, 100.0)
    assert "Test group chat" not in {x["name"] for x in s["places"]}
    # Grid cells: the park's 100 m cells hold the red and the amber area.
    assert s["cells"] and all(x["geometry"]["type"] == "Polygon" for x in s["cells"])
    assert max(x["maps"] for x in s["cells"]) == 2
    assert {x["maps"] for x in s["cells"]} == {1, 2}
    # The default period is the latest with maps; comparing gives the change in score.
    latest = api(client, "GET", f"{_base(world)}/perceived-safety").get_json()
    assert latest["period"]["key"] == "2025-07-06"
    cmp = api(client, "GET", f"{_base(world)}/perceived-safety?period=2025-07-06"
                             "&compare_to=2025-04-06").get_json()
    p = _place(cmp, "Test Park")
    assert (p["score"], p["before"]["score"], p["change"]) == (100.0, -50.0, 150.0)
    c = _place(cmp, "Test Cafe")
    assert c["maps"] == 0 and c["before"]["score"] == 100.0 and c["change"] is None
    per_period = api(client, "GET",
                     f"{_base(world)}/places/{park}/perceived-safety").get_json()
    assert [(x["period"]["key"], x["score"], x["change"]) for x in per_period] == [
        ("2025-04-06", -50.0, None), ("2025-07-06", 100.0, 150.0)]
    assert cafe


def test_partners_see_figures_of_enough_maps_only(client: Any, auth: Any, app: Flask,
                                                  world: factories.World) -> None:
    auth.login("practitioner@test.invalid")
    park = world.places["park"].id
    for i in range(5):
        _post(client, world, _map("2025-02-20", _area("red" if i < 2 else "green", park),
                                  group=f"Group {i}"))
    _post(client, world, _map("2025-02-21", _area("red", OVER_CAFE)))
    auth.logout()
    auth.login("partner_reviewer@test.invalid")
    assert api(client, "GET", f"{_base(world)}/safety-maps").status_code == 403
    s = api(client, "GET", f"{_base(world)}/perceived-safety").get_json()
    assert s["partner"] and s["threshold"] == app.config["LOCMAP_SUPPRESSION_THRESHOLD"] == 5
    p = _place(s, "Test Park")
    assert (p["maps"], p["withheld"], p["score"]) == (5, False, 100.0 * (3 - 2) / 5)
    c = _place(s, "Test Cafe")
    assert (c["maps"], c["withheld"], c["shares"], c["score"]) == ("[c]", True, None, None)
    assert all(x["withheld"] == (x["maps"] == "[c]") for x in s["cells"])
    auth.logout()
    auth.login("practitioner@test.invalid")  # the owning team sees every figure
    c = _place(api(client, "GET", f"{_base(world)}/perceived-safety").get_json(), "Test Cafe")
    assert (c["maps"], c["score"]) == (1, -100.0)


def test_kpi_d_moves_when_a_map_is_added(client: Any, auth: Any, session: Session,
                                         world: factories.World) -> None:
    cafe = world.places["cafe"]
    session.add(SafetyFactor(place_id=cafe.id, quadrant="risk", statement="Fights", weight=3))
    session.commit()
    actor = accounts.actor_for(session, world.users["practitioner"], None)
    a = assessments.start_assessment(session, actor, world.pilot.id, cafe.id)
    assessments.submit_assessment(session, actor, world.pilot.id, a.id)
    plan = plans.create_plan(session, actor, world.pilot.id, a.id, starts_on=dt.date(2025, 3, 1))
    session.commit()
    today = dt.date(2025, 12, 1)

    def kpi_d() -> list[tuple[str, float]]:
        kpis.compute_kpis(session, actor, plan.id, today=today)
        session.commit()
        d = plans.plan_detail(session, actor, plan.id, today=today, threshold=5)
        k = next(k for k in d["kpis"] if k["kind"] == "d")
        return [(m["period_start"], m["value"]) for m in k["measurements"]]

    assert kpi_d() == []
    auth.login("practitioner@test.invalid")
    m = _post(client, world, _map("2025-07-01", _area("green", cafe.id),
                                  _area("red", OVER_CAFE), _area("green", OVER_PARK)))
    # The cafe (a point place) is covered by two areas, one green and one red: 0.
    assert kpi_d() == [("2025-06-01", 0.0)]
    s = api(client, "GET", f"{_base(world)}/perceived-safety").get_json()
    assert _place(s, "Test Cafe")["score"] == 0.0  # the same rule, the same figure
    r = api(client, "PATCH", f"{_base(world)}/safety-maps/{m['id']}", {
        "version": m["version"], "areas": [_area("green", cafe.id)]})
    assert r.status_code == 200, r.get_json()
    # Computing again rewrites the computed value (an entered one would be kept).
    assert kpi_d() == [("2025-06-01", 100.0)]
    assert _place(api(client, "GET", f"{_base(world)}/perceived-safety").get_json(),
                  "Test Cafe")["score"] == 100.0


def test_edit_conflict_and_delete(client: Any, auth: Any, session: Session,
                                  world: factories.World) -> None:
    auth.login("practitioner@test.invalid")
    m = _post(client, world, _map("2025-02-20", _area("red", OVER_PARK)))
    url = f"{_base(world)}/safety-maps/{m['id']}"
    r = api(client, "PATCH", url, {"version": 1, "drawn_on": "2025-05-01",
                                   "respondent_kind": "age_band", "respondent": "16-17"})
    assert r.status_code == 200, r.get_json()
    got = r.get_json()
    assert (got["version"], got["period"], got["respondent"]) == (2, "2025-07-06", "16-17")
    assert len(got["areas"]) == 1  # areas kept when not sent
    r = api(client, "PATCH", url, {"version": 1, "areas": [_area("green", OVER_PARK)]})
    assert r.status_code == 409 and r.get_json()["details"]["current"]["version"] == 2
    assert api(client, "DELETE", f"{url}?version=1").status_code == 409
    assert api(client, "DELETE", f"{url}?version=2").status_code == 204
    assert api(client, "GET", url).status_code == 404
    assert session.scalar(select(SafetyMap).where(SafetyMap.id == m["id"])) is None


@pytest.mark.parametrize("body, field", [
    (_map("2025-02-20"), "areas"),
    ({**_map("2025-02-20", _area("red", OVER_PARK)), "respondent": ""}, "respondent"),
    ({**_map("2025-02-20", _area("red", OVER_PARK)), "respondent_kind": "age_band",
      "respondent": "Alice"}, "respondent"),
    (_map("2031-13-01", _area("red", OVER_PARK)), "drawn_on"),
    (_map("1989-12-31", _area("red", OVER_PARK)), "drawn_on"),
    (_map("2025-02-20", {"rating": "blue", "reason": "x", "geometry": OVER_PARK}), "areas"),
    (_map("2025-02-20", {"rating": "red", "reason": "", "geometry": OVER_PARK}), "areas"),
    (_map("2025-02-20", {"rating": "red", "reason": "x"}), "areas"),
    (_map("2025-02-20", {"rating": "red", "reason": "x", "geometry": {
        "type": "Point", "coordinates": [-1.49, 52.505]}}), "geometry"),
    (_map("2025-02-20", {"rating": "red", "reason": "x", "geometry": {
        "type": "Polygon", "coordinates": [[[-1.5, 52.5], [-1.49, 52.51], [-1.49, 52.5],
                                            [-1.5, 52.51], [-1.5, 52.5]]]}}), "valid"),
])
def test_bad_input_is_a_clear_422(client: Any, auth: Any, world: factories.World,
                                  body: dict[str, Any], field: str) -> None:
    auth.login("practitioner@test.invalid")
    r = api(client, "POST", f"{_base(world)}/safety-maps", body)
    assert r.status_code == 422, r.get_json()
    assert field in str(r.get_json())


def test_online_place_and_other_pilots_place_are_refused(client: Any, auth: Any,
                                                         session: Session,
                                                         world: factories.World) -> None:
    auth.login("practitioner@test.invalid")
    r = api(client, "POST", f"{_base(world)}/safety-maps",
            _map("2025-02-20", _area("red", world.places["chat"].id)))
    assert r.status_code == 422 and "no map location" in r.get_json()["message"]
    other = Place(pilot_id=world.other_pilot.id, name="Elsewhere", kind="park",
                            geom=world.places["park"].geom)
    session.add(other)
    session.commit()
    r = api(client, "POST", f"{_base(world)}/safety-maps", _map("2025-02-20",
                                                                _area("red", other.id)))
    assert r.status_code == 404


def test_who_may_do_what(client: Any, auth: Any, session: Session,
                         world: factories.World) -> None:
    auth.login("practitioner@test.invalid")
    m = _post(client, world, _map("2025-02-20", _area("red", OVER_PARK)))
    auth.logout()
    url = f"{_base(world)}/safety-maps/{m['id']}"
    auth.login("peer_assessor@test.invalid")  # owning team: reads maps, does not draw
    assert api(client, "GET", url).status_code == 200
    assert api(client, "POST", f"{_base(world)}/safety-maps",
               _map("2025-02-20", _area("red", OVER_PARK))).status_code == 403
    auth.logout()
    auth.login("partner_reviewer@test.invalid")
    assert api(client, "GET", url).status_code == 403
    assert api(client, "DELETE", url).status_code == 403
    auth.logout()
    auth.login("outsider@test.invalid")
    assert api(client, "GET", f"{_base(world)}/perceived-safety").status_code == 404
    auth.logout()
    pilot_admin.set_status(session, OPERATOR, world.pilot.id, "closed")
    session.commit()
    auth.login("practitioner@test.invalid")
    r = api(client, "POST", f"{_base(world)}/safety-maps",
            _map("2025-02-20", _area("red", OVER_PARK)))
    assert r.status_code == 409 and "read-only" in r.get_json()["message"]
    assert api(client, "PATCH", url, {"version": 1, "drawn_on": "2025-03-01"}).status_code == 409
    assert api(client, "GET", url).status_code == 200  # still readable
