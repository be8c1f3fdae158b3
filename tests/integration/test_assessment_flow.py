"""Assessments end to end through the API: draft → edit → submit → frozen → new version → diff."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.models import AuditEvent, Incident, SafetyFactor
from tests import factories

CAFE = (-1.49, 52.505)


def _incidents(session: Session, pilot_id: int, n: int, where: tuple[float, float],
               start: dt.datetime) -> list[Incident]:
    rows = [Incident(pilot_id=pilot_id, location=from_shape(Point(*where), srid=4326),
                     occurred_at=start + dt.timedelta(days=3 * i, hours=i % 6),
                     time_precision="exact", category="asb", severity=2) for i in range(n)]
    session.add_all(rows)
    session.flush()
    return rows


@pytest.fixture
def setup(session: Session, world: factories.World) -> dict[str, Any]:
    cafe = world.places["cafe"]
    t0 = dt.datetime(2025, 1, 2, 16, tzinfo=dt.UTC)
    at_cafe = _incidents(session, world.pilot.id, 30, CAFE, t0)
    _incidents(session, world.pilot.id, 10, (-1.493, 52.5052), t0)  # ~200 m west: ring
    _incidents(session, world.pilot.id, 8, (-1.499, 52.5085), t0)   # far corner: locality
    f = SafetyFactor(place_id=cafe.id, quadrant="risk", statement="Dealing near the door",
                     weight=3, voice="professional", incidents=at_cafe[:5])
    g = SafetyFactor(place_id=cafe.id, quadrant="resource", statement="Staff willing to help",
                     weight=1, voice="business")
    session.add_all([f, g])
    session.commit()
    return {"pilot": world.pilot.id, "place": cafe.id, "world": world}


def _csrf(client: Any) -> str:
    html = client.get("/").get_data(as_text=True)
    m = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert m
    return m.group(1)


def _api(client: Any, method: str, url: str, json: Any = None) -> Any:
    return client.open(url, method=method, json=json, headers={"X-CSRFToken": _csrf(client)})


def test_start_edit_submit_version_and_compare(client: Any, auth: Any, setup: dict[str, Any],
                                               session: Session) -> None:
    auth.login("practitioner@test.invalid")
    base = f"/api/v1/pilots/{setup['pilot']}"
    r = _api(client, "POST", f"{base}/places/{setup['place']}/assessments")
    assert r.status_code == 201, r.get_json()
    a = r.get_json()
    assert a["version_no"] == 1 and a["status"] == "draft"
    # The working set was copied, with its evidence links.
    assert {f["statement"] for f in a["factors"]} == {"Dealing near the door",
                                                      "Staff willing to help"}
    risk = a["quadrants"]["risk"][0]
    assert risk["evidence"]["incidents"] == 5
    assert len(a["unevidenced"]) == 1
    working = session.scalars(select(SafetyFactor).where(
        SafetyFactor.place_id == setup["place"], SafetyFactor.assessment_id.is_(None))).all()
    assert len(working) == 2  # the working set itself is untouched

    url = f"{base}/assessments/{a['id']}"
    r = _api(client, "PATCH", url, {"version": a["version"],
                                     "young_people": "Up to 30 after school",
                                     "add_context": {"name": "Group A", "share": 40,
                                                     "reason": "Meets here daily"},
                                     "add_factor": {"quadrant": "resilience",
                                                    "statement": "Youth worker trusted",
                                                    "weight": 2, "voice": "child"}})
    assert r.status_code == 200, r.get_json()
    a = r.get_json()
    assert [(c["name"], c["share"]) for c in a["context_weighting"]["contexts"]] == [
        ("Test Cafe", 60), ("Group A", 40)]
    r = _api(client, "PATCH", url, {"version": a["version"],
                                    "set_share": {"name": "Group A", "share": 70}})
    assert r.get_json()["weightiest"]["names"] == ["Group A"]
    # A stale version answers 409.
    assert _api(client, "PATCH", url, {"version": a["version"], "environment": "x"}
                ).status_code == 409

    r = _api(client, "POST", f"{url}/submit", {})
    assert r.status_code == 200, r.get_json()
    v1 = r.get_json()
    assert v1["status"] == "in_review"
    snap = v1["indicators"]
    assert snap["incidents"]["place"] == 30 and snap["incidents"]["ring"] == 10
    assert snap["indicators"]["overall"]["place_vs_ring"]["ratio"] > 1
    assert "Group A" in v1["summary"] and "Dealing near the door" in v1["summary"]
    assert "25 of 30 incidents at the place are not linked" in v1["summary"]

    # Frozen: every edit answers 409 with a message.
    r = _api(client, "PATCH", url, {"version": v1["version"], "environment": "late change"})
    assert r.status_code == 409 and "new version" in r.get_json()["message"]

    r = _api(client, "POST", f"{url}/new-version")
    assert r.status_code == 201
    v2 = r.get_json()
    assert (v2["version_no"], v2["parent_id"], v2["status"]) == (2, v1["id"], "draft")
    assert v2["young_people"] == "Up to 30 after school"
    f_door = next(f for f in v2["factors"] if f["statement"] == "Dealing near the door")
    assert f_door["evidence"]["incidents"] == 5
    r = _api(client, "PATCH", f"{base}/assessments/{v2['id']}", {
        "version": v2["version"], "update_factor": {"id": f_door["id"], "weight": 1},
        "remove_context": "Group A"})
    assert r.status_code == 200
    r = _api(client, "GET", f"{base}/assessments/{v1['id']}/compare/{v2['id']}")
    d = r.get_json()
    assert d["factors_changed"] == [{
        "quadrant": "risk", "statement": "Dealing near the door", "weight_before": 3,
        "weight_after": 1, "confidence_before": "medium", "confidence_after": "medium"}]
    assert [c["name"] for c in d["context_weighting"]["removed"]] == ["Group A"]
    assert d["factors_added"] == [] and d["factors_removed"] == []
    actions = session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity == "assessment")).all()
    assert {"create", "update", "submit"} <= set(actions)


def test_weighting_must_sum_to_100_with_reasons(client: Any, auth: Any,
                                                setup: dict[str, Any]) -> None:
    auth.login("practitioner@test.invalid")
    base = f"/api/v1/pilots/{setup['pilot']}"
    a = _api(client, "POST", f"{base}/places/{setup['place']}/assessments").get_json()
    url = f"{base}/assessments/{a['id']}"
    bad = _api(client, "PATCH", url, {"version": a["version"], "contexts": [
        {"name": "Cafe", "share": 60, "reason": "a"}, {"name": "Home", "share": 30,
                                                        "reason": "b"}]})
    assert bad.status_code == 422 and "sum to 100" in bad.get_json()["message"]
    no_reason = _api(client, "PATCH", url, {"version": a["version"], "contexts": [
        {"name": "Cafe", "share": 60, "reason": "a"}, {"name": "Home", "share": 40,
                                                        "reason": " "}]})
    assert no_reason.status_code == 422
    ok = _api(client, "PATCH", url, {"version": a["version"], "contexts": [
        {"name": "Cafe", "share": 60, "reason": "a"}, {"name": "Home", "share": 40,
                                                        "reason": "b"}],
        "links": [{"a": "Cafe", "b": "Home", "note": "same young people"}]})
    assert ok.status_code == 200
    assert ok.get_json()["context_weighting"]["total"] == 100
    assert ok.get_json()["context_weighting"]["links"][0]["note"] == "same young people"


def test_snapshot_unchanged_after_new_incidents(client: Any, auth: Any, setup: dict[str, Any],
                                                session: Session) -> None:
    auth.login("practitioner@test.invalid")
    base = f"/api/v1/pilots/{setup['pilot']}"
    a = _api(client, "POST", f"{base}/places/{setup['place']}/assessments").get_json()
    url = f"{base}/assessments/{a['id']}"
    before = _api(client, "POST", f"{url}/submit", {}).get_json()["indicators"]
    _incidents(session, setup["pilot"], 12, CAFE, dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
    session.commit()
    after = _api(client, "GET", url).get_json()["indicators"]
    assert after == before and after["incidents"]["place"] == 30
    live = _api(client, "GET", f"{base}/places/{setup['place']}/indicators?ring_m=500")
    assert live.get_json()["incidents"]["place"] == 42


def test_permissions(client: Any, auth: Any, setup: dict[str, Any]) -> None:
    base = f"/api/v1/pilots/{setup['pilot']}"
    auth.login("partner_reviewer@test.invalid")
    assert _api(client, "POST", f"{base}/places/{setup['place']}/assessments").status_code == 403
    assert _api(client, "GET", f"{base}/places/{setup['place']}/assessments").status_code == 200
    auth.logout()
    auth.login("outsider@test.invalid")
    assert _api(client, "GET", f"{base}/places/{setup['place']}/assessments").status_code == 404
    auth.logout()
    assert client.get(f"{base}/places/{setup['place']}/assessments").status_code == 401
