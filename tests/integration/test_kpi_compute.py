"""KPIs (b)-(d) computed from the database match hand-checked fixtures; entered values stay."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Point, box
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import InvalidData
from locmap.models import AwarenessActivity, Incident, SafetyFactor, SafetyMap, SafetyMapArea
from locmap.services import accounts, assessments, kpis, plans
from tests import factories
from tests.integration.test_plan_api import api

CAFE = (-1.49, 52.505)           # a point place: its area is 50 m round it
NEAR = (-1.4894, 52.505)         # ~41 m east: at the place
RING = (-1.4888, 52.505)         # ~82 m east: outside the place
# (day, severity, where): plan starts 2025-03-01; baseline 2024-03-01..2025-02-28.
INCIDENTS = [
    (dt.date(2024, 2, 20), 5, CAFE),     # before the baseline
    (dt.date(2024, 3, 1), 2, CAFE), (dt.date(2024, 7, 10), 4, NEAR),
    (dt.date(2024, 12, 31), 3, CAFE), (dt.date(2025, 2, 28), 1, CAFE),
    (dt.date(2024, 9, 9), 5, RING),      # not at the place
    (dt.date(2025, 3, 1), 2, CAFE), (dt.date(2025, 4, 4), 3, NEAR),
    (dt.date(2025, 5, 31), 4, CAFE),     # first quarter: 3 incidents, mean 3, 1 a month
    (dt.date(2025, 9, 2), 5, CAFE),      # third quarter: 1
]
TODAY = dt.date(2025, 12, 1)  # three complete quarters: Mar-May, Jun-Aug, Sep-Nov


@pytest.fixture
def plan(session: Session, world: factories.World) -> dict[str, Any]:
    cafe = world.places["cafe"]
    pid = world.pilot.id
    session.add_all(Incident(
        pilot_id=pid, location=from_shape(Point(*where), srid=4326), category="asb",
        occurred_at=dt.datetime.combine(day, dt.time(12), dt.UTC), time_precision="exact",
        severity=sev) for day, sev, where in INCIDENTS)
    session.add_all([
        AwarenessActivity(pilot_id=pid, held_on=dt.date(2024, 10, 3), audience="Parents",
                          reached=40, places=[cafe]),
        AwarenessActivity(pilot_id=pid, held_on=dt.date(2025, 4, 1), audience="Staff",
                          reached=12, places=[cafe]),
        AwarenessActivity(pilot_id=pid, held_on=dt.date(2025, 4, 2), audience="Elsewhere",
                          reached=500, places=[world.places["park"]]),
    ])
    over = from_shape(MultiPolygon([box(-1.4905, 52.5045, -1.4895, 52.5055)]), srid=4326)
    away = from_shape(MultiPolygon([box(-1.499, 52.508, -1.498, 52.5085)]), srid=4326)
    for drawn, ratings in ((dt.date(2024, 6, 1), ["red", "red", "amber"]),
                           (dt.date(2025, 7, 1), ["green", "green", "red", "amber"])):
        session.add(SafetyMap(pilot_id=pid, drawn_on=drawn, period=str(drawn.year), areas=[
            SafetyMapArea(geom=over, rating=r) for r in ratings] + [
            SafetyMapArea(geom=away, rating="green")]))
    session.add(SafetyFactor(place_id=cafe.id, quadrant="risk", statement="Fights", weight=3))
    session.commit()
    actor = accounts.actor_for(session, world.users["practitioner"], None)
    a = assessments.start_assessment(session, actor, pid, cafe.id)
    assessments.submit_assessment(session, actor, pid, a.id)
    p = plans.create_plan(session, actor, pid, a.id, starts_on=dt.date(2025, 3, 1))
    session.commit()
    return {"actor": actor, "plan": p.id, "pilot": pid}


def _kpi(session: Session, ctx: dict[str, Any], kind: str, today: dt.date = TODAY) -> Any:
    d = plans.plan_detail(session, ctx["actor"], ctx["plan"], today=today, threshold=5)
    return next(k for k in d["kpis"] if k["kind"] == kind)


def test_baselines_are_set_when_the_plan_is_made(session: Session,
                                                 plan: dict[str, Any]) -> None:
    assert _kpi(session, plan, "b")["baseline"] == pytest.approx(4 / 12)
    assert _kpi(session, plan, "c")["baseline"] == pytest.approx(40 / 4)  # per quarter
    assert _kpi(session, plan, "d")["baseline"] == pytest.approx(100 * (0 - 2) / 3)
    assert _kpi(session, plan, "a")["baseline"] is None


def test_compute_writes_each_complete_quarter(session: Session, plan: dict[str, Any]) -> None:
    out = kpis.compute_kpis(session, plan["actor"], plan["plan"], today=TODAY)
    assert out["periods"] == 3
    b = _kpi(session, plan, "b")
    assert [(m["period_start"], m["period_end"]) for m in b["measurements"]] == [
        ("2025-03-01", "2025-05-31"), ("2025-06-01", "2025-08-31"),
        ("2025-09-01", "2025-11-30")]
    assert [m["value"] for m in b["measurements"]] == pytest.approx([1.0, 0.0, 1 / 3])
    assert b["measurements"][0]["source"] == ("Computed from 3 incidents at the place, "
                                              "mean severity 3.0")
    assert all(m["computed"] for m in b["measurements"])
    c = _kpi(session, plan, "c")
    assert [m["value"] for m in c["measurements"]] == [12.0, 0.0, 0.0]
    d = _kpi(session, plan, "d")
    # Only the summer map falls in a quarter; the area away from the cafe is left out.
    assert [(m["period_start"], m["value"]) for m in d["measurements"]] == [
        ("2025-06-01", pytest.approx(100 * (2 - 1) / 4))]


def test_an_entered_value_survives_computing(session: Session, plan: dict[str, Any]) -> None:
    d = _kpi(session, plan, "d")
    kpis.add_measurement(session, plan["actor"], d["id"], {
        "period_start": "2025-06-01", "value": 55, "source": "Residents' survey"})
    kpis.compute_kpis(session, plan["actor"], plan["plan"], today=TODAY)
    got = _kpi(session, plan, "d")["measurements"]
    assert [(m["value"], m["source"], m["computed"]) for m in got] == [
        (55.0, "Residents' survey", False)]
    with pytest.raises(InvalidData, match="source"):
        kpis.add_measurement(session, plan["actor"], d["id"],
                             {"period_start": "2025-09-01", "value": 1, "source": ""})


def test_compute_through_the_api(client: Any, auth: Any, session: Session,
                                 plan: dict[str, Any]) -> None:
    auth.login("practitioner@test.invalid")
    base = f"/api/v1/pilots/{plan['pilot']}"
    r = api(client, "POST", f"{base}/plans/{plan['plan']}/kpis/compute")
    assert r.status_code == 200, r.get_json()
    b = _kpi(session, plan, "b", clock.today())
    r = client.get(f"{base}/kpis/{b['id']}/measurements")
    assert r.status_code == 200
    first = r.get_json()[0]
    assert (first["period_start"], first["value"]) == ("2025-03-01", 1.0)
    r = api(client, "POST", f"{base}/kpis/{b['id']}/measurements",
            {"period_start": "2025-03-01", "value": "lots", "source": "x"})
    assert r.status_code == 422
    # Found by fuzzing: year 1 made the quarter arithmetic fail (a 500).
    for absurd in ("0001-01-01", "9999-12-31"):
        r = api(client, "POST", f"{base}/kpis/{b['id']}/measurements",
                {"period_start": absurd, "value": 1, "source": "x"})
        assert r.status_code == 422, absurd
