"""Impact and displacement pages and API: who may read, who may decide, what is stored."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.models import Assessment, AuditEvent, DisplacementFlag, Plan
from tests.integration.test_impact_constructed import LIBRARY, plant, town  # noqa: F401


def _csrf(client: Any) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True))
    assert m
    return m.group(1)


def test_reviewer_reads_but_cannot_decide_and_outsider_sees_nothing(
        client: Any, auth: Any, session: Session, town: dict[str, Any]) -> None:  # noqa: F811
    plant(session, town["pilot"], LIBRARY, 10, 25)
    session.commit()
    pid, cafe = town["pilot"], town["cafe"].id
    auth.login("partner_reviewer@test.invalid")
    r = client.get(f"/api/v1/pilots/{pid}/places/{cafe}/impact?intervention=2025-01-01")
    assert r.status_code == 200
    assert r.get_json()["wdq"]["band"] == "displacement_less_than_benefit"
    page = client.get(f"/pilots/{pid}/places/{cafe}/impact?intervention=2025-01-01")
    assert page.status_code == 200 and 'id="impact-chart"' in page.get_data(as_text=True)
    html = client.get(f"/pilots/{pid}/displacement?month=2025-01").get_data(as_text=True)
    assert "Possible displacement: Test Cafe → Test Library" in html
    assert "flag-decide" not in html  # no confirm/dismiss form for partners
    body = {"source_place_id": cafe, "dest_kind": "place", "dest_id": town["library"].id,
            "month": "2025-01", "status": "confirmed", "reason": "We know they moved"}
    r = client.post(f"/api/v1/pilots/{pid}/displacement/decisions", json=body,
                    headers={"X-CSRFToken": _csrf(client)})
    assert r.status_code == 403
    auth.logout()
    auth.login("outsider@test.invalid")
    assert client.get(f"/api/v1/pilots/{pid}/places/{cafe}/impact").status_code == 404
    assert client.get(f"/api/v1/pilots/{pid}/displacement").status_code == 404
    assert client.get(f"/pilots/{pid}/displacement").status_code == 404


def test_practitioner_confirms_a_flag_linking_latest_assessments(
        client: Any, auth: Any, session: Session, town: dict[str, Any]) -> None:  # noqa: F811
    plant(session, town["pilot"], LIBRARY, 10, 25)
    cafe, library = town["cafe"], town["library"]
    a_cafe = Assessment(place_id=cafe.id, version_no=1, status="approved")
    a_cafe2 = Assessment(place_id=cafe.id, version_no=2, status="draft")
    a_lib = Assessment(place_id=library.id, version_no=1, status="approved")
    session.add_all([a_cafe, a_cafe2, a_lib])
    session.flush()
    session.add(Plan(assessment_id=a_cafe.id, version_no=1, starts_on=dt.date(2025, 1, 15)))
    session.commit()
    pid = town["pilot"]
    auth.login("practitioner@test.invalid")
    watch = client.get(f"/api/v1/pilots/{pid}/displacement").get_json()
    # The place under a plan is watched from its start month, the library (no plan, enough
    # incidents) around the month set (default: the pilot's start, 2025-01).
    assert watch["selection"] == "plans_and_incidents"
    assert [b["place"]["name"] for b in watch["places"]] == ["Test Cafe", "Test Library"]
    assert watch["flags"][0]["month"] == "2025-01" and watch["flags"][0]["decision"] is None
    url = f"/api/v1/pilots/{pid}/displacement/decisions"
    body = {"source_place_id": cafe.id, "dest_kind": "place", "dest_id": library.id,
            "month": "2025-01", "status": "confirmed", "reason": ""}
    assert client.post(url, json=body, headers={"X-CSRFToken": _csrf(client)}).status_code == 422
    body["reason"] = "Library staff saw the group arrive in January"
    r = client.post(url, json=body, headers={"X-CSRFToken": _csrf(client)})
    assert r.status_code == 201, r.get_json()
    out = r.get_json()
    assert out["label"] == "Test Cafe → Test Library" and out["status"] == "confirmed"
    assert out["evidence"]["wdq"]["wdq"] == -0.75 and out["evidence"]["flagged"] is True
    row = session.scalars(select(DisplacementFlag)).one()
    assert (row.source_assessment_id, row.dest_assessment_id) == (a_cafe2.id, a_lib.id)
    assert session.scalar(select(AuditEvent).where(
        AuditEvent.action == "confirm", AuditEvent.entity == "displacement_flag")) is not None
    # Dismissing later replaces the decision and unlinks the assessments.
    token = _csrf(client)
    page = client.post(f"/pilots/{pid}/displacement/decide", data={
        "csrf_token": token, "source_place_id": cafe.id, "dest_kind": "place",
        "dest_id": library.id, "month": "2025-01", "status": "dismissed",
        "reason": "Different young people, checked with the youth service"})
    assert page.status_code == 302
    session.expire_all()
    row = session.scalars(select(DisplacementFlag)).one()
    assert row.status == "dismissed" and row.source_assessment_id is None
    watch = client.get(f"/api/v1/pilots/{pid}/displacement").get_json()
    assert watch["flags"][0]["decision"]["status"] == "dismissed"


def test_bad_query_answers_422(client: Any, auth: Any, town: dict[str, Any]) -> None:  # noqa: F811
    pid, cafe = town["pilot"], town["cafe"].id
    auth.login("coordinator@test.invalid")
    r = client.get(f"/api/v1/pilots/{pid}/places/{cafe}/impact?buffer_m=-1")
    assert r.status_code == 422
    r = client.get(f"/api/v1/pilots/{pid}/places/{cafe}/impact?intervention=soon")
    assert r.status_code == 422
    page = client.get(f"/pilots/{pid}/places/{cafe}/impact?control=drawn")
    assert page.status_code == 422 and "control polygon" in page.get_data(as_text=True)


@pytest.mark.parametrize("path", [
    "/pilots/{mine}/places/{theirs}/impact?place_m=x",
    "/pilots/{mine}/places/{theirs}/impact?intervention=notadate",
    "/pilots/{mine}/places/{theirs}/impact",
    "/pilots/{mine}/places/{theirs}/assessments/new",
    "/pilots/{mine}/places/{theirs}/plans",
])
def test_a_place_of_another_pilot_is_never_shown_even_on_an_error_page(
        client: Any, auth: Any, session: Session, path: str) -> None:
    from geoalchemy2.shape import from_shape
    from shapely.geometry import Point

    from locmap.models import Place
    from tests import factories

    w = factories.build_world(session)
    secret = Place(pilot_id=w.other_pilot.id, name="Secret Other Pilot Place", kind="fast_food",
                   geom=from_shape(Point(-1.39, 52.505), srid=4326))
    session.add(secret)
    session.commit()
    auth.login("practitioner@test.invalid")
    r = client.get(path.format(mine=w.pilot.id, theirs=secret.id))
    assert r.status_code == 404
    body = r.get_data(as_text=True)
    assert "Secret Other Pilot Place" not in body
    assert "coordinates" not in body
