"""Heavy geometry cannot stall an analysis, and nothing is coerced silently (issue 14).

A place is at most 5,000 vertices; analyses use outlines simplified at 2 m; every analysis
runs under a time limit and answers 503 with a clear message past it. A height (Z) or an
unclosed ring is refused with its reason, ``weight: true`` is not a number.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from locmap.errors import TooSlow
from locmap.geo import PLACE_MAX_VERTICES
from locmap.models import Incident, Place
from locmap.queries import assessment as qa
from locmap.queries import impact as qi
from locmap.services import limits
from tests.conftest import AuthActions
from tests.factories import World

CENTRE = (-1.4915, 52.5065)  # inside the test locality, some 200 m from the café


def _ring(n: int, radius_m: float = 60.0) -> list[list[float]]:
    """A closed circle of ``n`` vertices (the last repeats the first) round CENTRE."""
    dlat = radius_m / 111_320
    dlon = dlat / math.cos(math.radians(CENTRE[1]))
    pts = [[CENTRE[0] + dlon * math.cos(2 * math.pi * i / (n - 1)),
            CENTRE[1] + dlat * math.sin(2 * math.pi * i / (n - 1))] for i in range(n - 1)]
    return [*pts, pts[0]]


def _h(auth: AuthActions) -> dict[str, str]:
    auth.login("practitioner@test.invalid")
    return {"X-CSRFToken": auth.csrf_token("/")}


def _place(**kw: Any) -> dict[str, Any]:
    return {"name": "Heavy Rec", "kind": "park", **kw}


def test_a_99990_vertex_place_is_refused_with_the_limit(
        client: Any, auth: AuthActions, world: World, session: Session) -> None:
    geometry = {"type": "Polygon", "coordinates": [_ring(99_990)]}
    r = client.post(f"/api/v1/pilots/{world.pilot.id}/places", headers=_h(auth),
                    json=_place(geometry=geometry))
    assert r.status_code == 422, r.status_code
    body = r.get_json()
    assert "99,990 vertices" in body["message"] and "5,000 for a place" in body["message"]
    assert body["details"] == {"vertices": 99_990, "limit": PLACE_MAX_VERTICES}
    assert session.scalar(select(Place.id).where(Place.name == "Heavy Rec")) is None


def test_a_4999_vertex_place_is_analysed_simplified_and_fast(
        client: Any, auth: AuthActions, world: World, session: Session) -> None:
    h = _h(auth)
    geometry = {"type": "Polygon", "coordinates": [_ring(4_999)]}
    r = client.post(f"/api/v1/pilots/{world.pilot.id}/places", headers=h,
                    json=_place(geometry=geometry))
    assert r.status_code == 201, r.get_json()
    place_id = r.get_json()["id"]
    # Enough incidents at it to be watched (20), and at the café next door.
    t0 = dt.datetime(2025, 1, 3, 17, tzinfo=dt.UTC)
    session.add_all(
        Incident(pilot_id=world.pilot.id, location=from_shape(Point(*where), srid=4326),
                 occurred_at=t0 + dt.timedelta(days=9 * i), category="asb", severity=2)
        for i in range(40) for where in (CENTRE, (-1.49, 52.505)))
    session.flush()

    # The analysis outline: the 4,999-vertex circle becomes a few dozen vertices, within 2 m.
    stored, analysed, moved = session.execute(text(
        "SELECT ST_NPoints(p.geom), ST_NPoints(a.geom),"
        " ST_HausdorffDistance(ST_Transform(p.geom, 27700), ST_Transform(a.geom, 27700))"
        " FROM place p CROSS JOIN LATERAL (SELECT (CASE WHEN ST_NPoints(p.geom) > 64 THEN"
        " ST_Transform(ST_SimplifyPreserveTopology(ST_Transform(p.geom, 27700), :s), 4326)"
        " ELSE p.geom END) AS geom) a WHERE p.id = :id"),
        {"s": qa.ANALYSIS_SIMPLIFY_M, "id": place_id}).one()
    assert stored == 4_999 and analysed < 100 and moved <= qa.ANALYSIS_SIMPLIFY_M + 0.01
    # ... and it is the outline every analysis of a place reads (the same expression).
    for query in (qi._AREA_MONTHS, qi._SUBJECT_MONTHS, qi._CANDIDATES, qi._SOURCES,
                  qa._NEAR, qa._AREAS):
        assert "ST_SimplifyPreserveTopology(ST_Transform(p" in str(query)

    started = time.monotonic()
    r = client.get(f"/api/v1/pilots/{world.pilot.id}/displacement?month=2025-06")
    took = time.monotonic() - started
    assert r.status_code == 200, r.get_json()
    assert any(b["place"]["id"] == place_id for b in r.get_json()["places"])
    assert took < 5.0, f"the displacement watch took {took:.1f} s"
    r = client.get(f"/api/v1/pilots/{world.pilot.id}/places/{place_id}/impact"
                   "?intervention=2025-06-01")
    assert r.status_code == 200, r.get_json()
    assert sum(r.get_json()["series"]["target"].values()) == 40


def test_an_analysis_past_its_time_limit_is_a_503_that_says_so(
        client: Any, auth: AuthActions, world: World,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _h(auth)
    monkeypatch.setattr(limits, "ANALYSIS_SECONDS", 1e-9)  # spent before it starts
    park = world.places["park"].id
    for path in (f"/api/v1/pilots/{world.pilot.id}/displacement",
                 f"/api/v1/pilots/{world.pilot.id}/places/{park}/indicators",
                 f"/api/v1/pilots/{world.pilot.id}/places/{park}/impact"):
        r = client.get(path)
        assert r.status_code == 503, (path, r.status_code)
        assert r.get_json()["error"] == "too_slow"
        assert "This analysis took too long" in r.get_json()["message"]
    r = client.get(f"/pilots/{world.pilot.id}/displacement")
    assert r.status_code == 503 and b"This analysis took too long" in r.data


def test_the_database_stops_a_statement_past_the_limit(session: Session) -> None:
    with pytest.raises(TooSlow, match="took too long"):
        with limits.analysis_time_limit(session, "a test", seconds=0.05):
            session.execute(text("SELECT pg_sleep(2)"))
    session.rollback()
    with limits.analysis_time_limit(session, "a test", seconds=5) as budget:
        assert session.scalar(text("SHOW statement_timeout")) not in ("0", None)
        budget.check()
    # The limit is the analysis' own: afterwards the transaction has its usual setting.
    assert session.scalar(text("SHOW statement_timeout")) == "0"


@pytest.mark.parametrize("geometry, reason", [
    ({"type": "Point", "coordinates": [-1.49, 52.505, 87.0]}, "third value (a height, Z)"),
    ({"type": "Polygon", "coordinates": [[[-1.495, 52.502], [-1.493, 52.502],
                                          [-1.493, 52.503], [-1.495, 52.503]]]},
     "ring is not closed"),
])
def test_a_height_or_an_unclosed_ring_is_refused_with_the_reason(
        client: Any, auth: AuthActions, world: World, geometry: dict[str, Any],
        reason: str) -> None:
    r = client.post(f"/api/v1/pilots/{world.pilot.id}/places", headers=_h(auth),
                    json=_place(kind="other", geometry=geometry))
    assert r.status_code == 422
    assert reason in r.get_json()["message"]


def test_weight_true_is_not_a_number(client: Any, auth: AuthActions, world: World) -> None:
    h = _h(auth)
    park = world.places["park"].id
    r = client.post(f"/api/v1/pilots/{world.pilot.id}/places/{park}/assessments", headers=h)
    assert r.status_code == 201, r.get_json()
    a = r.get_json()
    r = client.patch(f"/api/v1/pilots/{world.pilot.id}/assessments/{a['id']}", headers=h,
                     json={"version": a["version"], "add_factor": {
                         "quadrant": "risk", "statement": "Older group gathers", "weight": True}})
    assert r.status_code == 422, r.get_json()
    assert "weight" in r.get_json()["message"]
    r = client.post(f"/api/v1/pilots/{world.pilot.id}/places/{park}/factors", headers=h,
                    json={"quadrant": "risk", "statement": "Older group", "weight": True})
    assert r.status_code == 422
