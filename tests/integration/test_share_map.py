"""The assessment's share map: one offline HTML file, partner view, audited; typed
coordinates for a new place converted on the server."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from locmap.models import AuditEvent
from locmap.services import accounts, assessments
from tests.conftest import AuthActions
from tests.factories import World
from tests.integration.test_map_cells import _seed


@pytest.fixture
def park_assessment(session: Session, world: World) -> dict[str, int]:
    pid = world.pilot.id
    _seed(session, pid, 3000)
    # A crowd at the park: some cells well above the threshold.
    session.execute(text(
        "INSERT INTO incident (pilot_id, location, occurred_at, time_precision, category, "
        "severity, place_derived, description, version) SELECT :p, ST_SetSRID(ST_MakePoint("
        "-1.494 + (g % 5) * 1e-4, 52.5025), 4326), '2025-03-03 12:00+00', 'exact', 'drugs', "
        "2, false, '', 1 FROM generate_series(1, 23) AS g"), {"p": pid})
    prac = accounts.actor_for(session, world.users["practitioner"])
    a = assessments.start_assessment(session, prac, pid, world.places["park"].id)
    chat = assessments.start_assessment(session, prac, pid, world.places["chat"].id)
    session.commit()
    return {"pilot": pid, "assessment": a.id, "chat": chat.id}


def _counts(page: str) -> list[int]:
    return sorted(int(n) for n in re.findall(r"about (\d+) incidents", page))


def test_share_map_is_offline_partner_view_and_audited(
    session: Session, client: Any, auth: AuthActions, park_assessment: dict[str, int],
) -> None:
    pid, aid = park_assessment["pilot"], park_assessment["assessment"]
    pages = {}
    for role in ("practitioner", "partner_reviewer"):
        auth.login(f"{role}@test.invalid")
        r = client.get(f"/pilots/{pid}/assessments/{aid}/share-map.html")
        assert r.status_code == 200, r.get_data(as_text=True)[:300]
        assert r.mimetype == "text/html"
        assert "attachment" in r.headers["Content-Disposition"]
        pages[role] = r.get_data(as_text=True)
        api = client.get(f"/api/v1/pilots/{pid}/assessments/{aid}/share-map")
        assert api.status_code == 200 and _counts(api.get_data(as_text=True)) == _counts(
            pages[role])
        auth.logout()
    page = pages["practitioner"]
    # Offline: no asset from anywhere but the file itself.
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', page)
    assert "L.map(" in page and "Test Park" in page
    counts = _counts(page)
    assert counts and all(n >= 5 and n % 5 == 0 for n in counts)
    assert counts == _counts(pages["partner_reviewer"])  # as partners see it, for everyone
    assert "YP-001" not in page  # no person, not even by pseudonym
    events = session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "assessment_share_map", AuditEvent.entity_id == str(aid))).all()
    assert len(events) == 4


def test_share_map_refusals(client: Any, auth: AuthActions,
                            park_assessment: dict[str, int]) -> None:
    pid = park_assessment["pilot"]
    auth.login("practitioner@test.invalid")
    r = client.get(f"/api/v1/pilots/{pid}/assessments/{park_assessment['chat']}/share-map")
    assert r.status_code == 409 and "online" in r.get_json()["message"]
    auth.logout()
    auth.login("outsider@test.invalid")
    r = client.get(f"/api/v1/pilots/{pid}/assessments/{park_assessment['assessment']}"
                   "/share-map")
    assert r.status_code == 404


@pytest.mark.parametrize(("query", "status", "expect"), [
    ("system=wgs84&first=52.5025&second=-1.494", 200, [-1.494, 52.5025]),
    ("system=bng&first=530000&second=180000", 200, [-0.12835, 51.50399]),
    ("system=wgs84&first=-1.494&second=252.5", 422, "Longitude"),
    ("system=wgs84&first=152.5&second=-1.494", 422, "swapped"),
    ("system=wgs84&first=452000&second=290000", 422, "British National Grid"),
    ("system=bng&first=-5&second=180000", 422, "Easting"),
    ("system=bng&first=530000&second=1400000", 422, "Northing"),
    ("system=osgb&first=1&second=2", 422, None),
    ("system=wgs84&first=nan&second=2", 422, None),
    ("system=wgs84&first=52.5", 422, None),
])
def test_typed_coordinates(client: Any, auth: AuthActions, world: World, query: str,
                           status: int, expect: Any) -> None:
    auth.login("practitioner@test.invalid")
    r = client.get(f"/api/v1/pilots/{world.pilot.id}/coordinates?{query}")
    assert r.status_code == status, r.get_data(as_text=True)
    body = r.get_json()
    if status == 200:
        assert body["geometry"]["type"] == "Point"
        assert body["geometry"]["coordinates"] == pytest.approx(expect, abs=1e-4)
        in_town = body["geometry"]["coordinates"][0] < -1
        assert bool(body["warnings"]) == (not in_town)  # London is outside the locality
    elif expect:
        assert expect in r.get_data(as_text=True)
