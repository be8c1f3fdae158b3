"""The pilot timeline: six review points for 18 months, overdue when unheld, a review
point's period summary (suppressed for partners), coordinator-only minutes, the board
overview and "waiting for me"."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy.orm import Session

from locmap import clock
from locmap.models import KPI, Action, Assessment, Incident, KPIMeasurement, Plan
from locmap.services import accounts, kpis, timeline
from tests import factories

TODAY = dt.date(2026, 11, 22)


def _csrf(client: Any) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True))
    assert m
    return m.group(1)


def _api(client: Any, method: str, url: str, json: Any = None) -> Any:
    return client.open(url, method=method, json=json, headers={"X-CSRFToken": _csrf(client)})


def test_six_review_points_with_dates_and_overdue(session: Session,
                                                  world: factories.World) -> None:
    coord = accounts.actor_for(session, world.users["coordinator"])
    points = timeline.list_review_points(session, coord, world.pilot.id, today=TODAY)
    assert [p["due_on"] for p in points] == [
        dt.date(2025, 4, 6), dt.date(2025, 7, 6), dt.date(2025, 10, 6), dt.date(2026, 1, 6),
        dt.date(2026, 4, 6), dt.date(2026, 7, 6)]
    assert {p["status"] for p in points} == {"overdue"}
    early = timeline.list_review_points(session, coord, world.pilot.id,
                                        today=dt.date(2025, 3, 30))
    assert [p["status"] for p in early][:2] == ["due", "upcoming"]


def _plan_world(session: Session, world: factories.World) -> Plan:
    cafe = world.places["cafe"]
    # Three incidents in the first period (Jan–Apr 2025), seven in the second.
    for i, day in enumerate([dt.date(2025, 2, 1)] * 3 + [dt.date(2025, 5, 1)] * 7):
        session.add(Incident(pilot_id=world.pilot.id, place_id=cafe.id, category="asb",
                             location=from_shape(Point(-1.49, 52.505), srid=4326),
                             occurred_at=dt.datetime.combine(day, dt.time(16, i), dt.UTC)))
    a = Assessment(place_id=cafe.id, version_no=1, status="approved")
    session.add(a)
    session.flush()
    plan = Plan(assessment_id=a.id, version_no=1, status="approved")
    plan.actions = [
        Action(description="Pop-up youth club", category="connect_people", status="done",
               due_on=dt.date(2025, 3, 1), lead="practitioner"),
        Action(description="Bystander training", category="build_resilience",
               status="in_progress", due_on=dt.date(2025, 6, 1), lead="practitioner"),
        Action(description="Review CCTV", category="allocate_resources", status="planned",
               due_on=clock.today() + dt.timedelta(days=365))]  # never overdue
    kpi = KPI(kind="b", name="ASB incidents", direction="decrease", baseline=12, target=6)
    kpi.measurements = [
        KPIMeasurement(period_start=dt.date(2025, 1, 1), period_end=dt.date(2025, 3, 31),
                       value=12),
        KPIMeasurement(period_start=dt.date(2025, 4, 1), period_end=dt.date(2025, 6, 30),
                       value=7)]
    plan.kpis = [kpi]
    session.add(plan)
    session.commit()
    return plan


def test_review_point_page_and_minutes(client: Any, auth: Any, session: Session,
                                       world: factories.World) -> None:
    plan = _plan_world(session, world)
    pid = world.pilot.id
    coord = accounts.actor_for(session, world.users["coordinator"])
    points = timeline.list_review_points(session, coord, pid, today=TODAY)
    first, second = points[0]["id"], points[1]["id"]
    def detail(who: Any, point: int, threshold: int = 5) -> dict[str, Any]:
        return timeline.review_point_detail(session, who, pid, point, today=TODAY,
                                            threshold=threshold)

    d1 = detail(coord, first)
    assert d1["period"] == {"start": dt.date(2025, 1, 6), "end": dt.date(2025, 4, 6)}
    assert d1["incidents"]["total"] == 3  # the owning team sees small numbers
    assert [a["description"] for a in d1["actions"]["due"]] == ["Pop-up youth club"]
    d2 = detail(coord, second)
    assert d2["incidents"]["total"] == 7
    assert [a["description"] for a in d2["actions"]["overdue"]] == ["Bystander training"]
    assert d2["kpis"][0]["trend"] == "improving"
    reviewer = accounts.actor_for(session, world.users["partner_reviewer"])
    seen = detail(reviewer, first)["incidents"]
    assert seen["total"] == "[c]" and all(r["count"] == "[c]" for r in seen["by_place"])
    assert detail(reviewer, second)["incidents"]["total"] == 5  # 7, rounded
    # KPI (b) counts incidents: partners get it rounded to 5 everywhere they see it.
    kpi = detail(reviewer, second)["kpis"][0]
    assert (kpi["values"], kpi["latest"], kpi["baseline"], kpi["target"]) == ([10, 5], 5, 10, 5)
    assert kpi["trend"] == "improving"
    shown = kpis.kpi_dicts(plan, partner=True, threshold=5)[0]
    assert [m["value"] for m in shown["measurements"]] == [10, 5] and shown["protected"]
    kpi_id = shown["id"]
    def values(who: Any, threshold: int = 5) -> list[Any]:
        return [m["value"] for m in kpis.list_measurements(session, who, kpi_id,
                                                            threshold=threshold)]

    assert values(reviewer) == [10, 5] and values(coord) == [12, 7]
    # A partnership that withholds counts below 10: the 7 is withheld wherever a partner
    # sees the KPI (the review point, the plan's KPIs, the measurements), never "5".
    kpi = detail(reviewer, second, threshold=10)["kpis"][0]
    assert (kpi["values"], kpi["latest"]) == ([10, "[c]"], "[c]")
    shown = kpis.kpi_dicts(plan, partner=True, threshold=10)[0]
    assert [(m["value"], m["withheld"]) for m in shown["measurements"]] == [(10, False),
                                                                           (None, True)]
    assert values(reviewer, threshold=10) == [10, None] and values(coord, 10) == [12, 7]

    base = f"/api/v1/pilots/{pid}/review-points/{first}"
    auth.login("practitioner@test.invalid")
    assert _api(client, "PATCH", base, {"minutes": "x"}).status_code == 403
    auth.logout()
    auth.login("outsider@test.invalid")
    assert _api(client, "GET", base).status_code == 404
    auth.logout()
    auth.login("coordinator@test.invalid")
    future = (clock.today() + dt.timedelta(days=40)).isoformat()
    assert _api(client, "PATCH", base, {"held_on": future}).status_code == 422
    r = _api(client, "PATCH", base, {"held_on": "2025-04-10", "attendees": "Police, CSP",
                                     "minutes": "<script>alert(1)</script>",
                                     "decisions": "Extend the youth club"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "held"
    html = client.get(f"/pilots/{pid}/review-points/{first}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    page = client.get(f"/pilots/{pid}/review-points/{second}").get_data(as_text=True)
    assert 'id="rp-status">overdue<' in page
    w = _api(client, "GET", "/api/v1/waiting").get_json()
    assert len(w["review_points"]) == 5 and w["reviews"] == []
    ov = _api(client, "GET", f"/api/v1/pilots/{pid}/overview").get_json()
    cafe = next(p for p in ov["places"] if p["name"] == "Test Cafe")
    assert (cafe["actions_done"], cafe["actions_total"], cafe["actions_overdue"]) == (1, 3, 1)
    assert cafe["kpis"][0]["trend"] == "improving"
    assert client.get(f"/pilots/{pid}/overview").status_code == 200


def test_waiting_shows_my_overdue_actions(client: Any, auth: Any, session: Session,
                                          world: factories.World) -> None:
    _plan_world(session, world)
    auth.login("practitioner@test.invalid")  # the user's name is "practitioner": the lead
    w = _api(client, "GET", "/api/v1/waiting").get_json()
    assert [a["description"] for a in w["actions"]] == ["Bystander training"]
    assert w["review_points"] == []  # not a coordinator
    html = client.get("/inbox").get_data(as_text=True)
    assert "Bystander training" in html and "Action overdue" in html
