"""Site visits and safety factors at a place, through the API and the place page."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.models import AuditEvent, Incident, Observation, Place, SafetyFactor
from tests.conftest import AuthActions
from tests.factories import World


class Api:
    """JSON calls with the session's CSRF token, as the browser's fetch() sends them."""

    def __init__(self, client: Any, auth: AuthActions, email: str) -> None:
        auth.login(email)
        self.client = client
        self.token = auth.csrf_token("/")

    def get(self, url: str) -> Any:
        return self.client.get(url)

    def send(self, method: str, url: str, body: Any = None) -> Any:
        return self.client.open(url, method=method, json=body,
                                headers={"X-CSRFToken": self.token})


def _incident(session: Session, pilot_id: int, place: Place | None, **kw: Any) -> Incident:
    inc = Incident(pilot_id=pilot_id, location=from_shape(Point(-1.49, 52.505), srid=4326),
                   place_id=place.id if place else None,
                   occurred_at=kw.pop("occurred_at", dt.datetime(2025, 3, 4, 16, 0, tzinfo=dt.UTC)),
                   category=kw.pop("category", "asb"), severity=kw.pop("severity", 2), **kw)
    session.add(inc)
    session.flush()
    return inc


@pytest.fixture
def pr(client: Any, auth: AuthActions, world: World) -> Api:
    return Api(client, auth, "practitioner@test.invalid")


def _base(world: World, place: str = "cafe") -> str:
    return f"/api/v1/pilots/{world.pilot.id}/places/{world.places[place].id}"


VISIT = {
    "started_at": "2025-06-03T15:30", "ended_at": "2025-06-03T16:45", "weather": "dry, mild",
    "light": "daylight", "young_people_10_13": 4, "young_people_14_15": 12,
    "young_people_16_17": 6, "adults_present": 3, "staff_guardians_present": 1,
    "guardianship": "low", "lighting": "good", "sight_lines": "poor", "cctv": "present_working",
    "signs_of_dealing": True, "felt_safe": "Staff at the counter", "felt_unsafe": "Side alley",
    "notes": "Groups moved on at 16:20",
}


# --- site visits ---------------------------------------------------------------------

def test_record_and_list_a_site_visit(pr: Api, world: World, session: Session) -> None:
    r = pr.send("POST", _base(world) + "/observations", VISIT)
    assert r.status_code == 201, r.json
    obs = r.json
    # A naive time is UK local time: 15:30 BST on 3 June.
    assert obs["started_at"] == "2025-06-03T15:30:00+01:00"
    assert obs["young_people"] == 22 and obs["concerns"] == ["signs of dealing"]
    assert obs["observer"] == "practitioner" and obs["version"] == 1
    row = session.get_one(Observation, obs["id"])
    assert row.started_at == dt.datetime(2025, 6, 3, 14, 30, tzinfo=dt.UTC)
    pr.send("POST", _base(world) + "/observations", {**VISIT, "started_at": "2025-07-01T10:00",
                                                      "ended_at": None})
    listed = pr.get(_base(world) + "/observations").json
    assert [o["started_at"][:10] for o in listed] == ["2025-07-01", "2025-06-03"]  # newest first
    event = session.scalar(select(AuditEvent).where(AuditEvent.entity == "observation",
                                                    AuditEvent.entity_id == str(obs["id"])))
    assert event is not None and event.action == "create"
    assert event.user_email == "practitioner@test.invalid"
    assert event.detail == {"place_id": world.places["cafe"].id}


@pytest.mark.parametrize("change, field", [
    ({"ended_at": "2025-06-03T15:00"}, "ended_at"),
    ({"young_people_14_15": -1}, "young_people_14_15"),
    ({"adults_present": "3"}, "adults_present"),
    ({"light": "twilight"}, "light"),
    ({"cctv": "maybe"}, "cctv"),
    ({"started_at": None}, "started_at"),
    ({"observer_id": 1}, "observer_id"),
])
def test_invalid_site_visits_are_refused(pr: Api, world: World, session: Session,
                                         change: dict[str, Any], field: str) -> None:
    r = pr.send("POST", _base(world) + "/observations", {**VISIT, **change})
    assert r.status_code == 422
    assert field in r.json.get("details", {}), r.json
    assert session.scalar(select(Observation.id)) is None  # nothing half-written


def test_edit_a_visit_with_its_version_and_refuse_a_stale_one(pr: Api, world: World,
                                                              session: Session) -> None:
    obs = pr.send("POST", _base(world) + "/observations", VISIT).json
    url = f"/api/v1/pilots/{world.pilot.id}/observations/{obs['id']}"
    r = pr.send("PATCH", url, {"version": 1, "adults_present": 5, "guardianship": "moderate"})
    assert r.status_code == 200 and r.json["version"] == 2
    assert r.json["adults_present"] == 5 and r.json["young_people_14_15"] == 12
    stale = pr.send("PATCH", url, {"version": 1, "adults_present": 9})
    assert stale.status_code == 409 and stale.json["details"]["current_version"] == 2
    assert pr.get(url).json["adults_present"] == 5
    # Moving the end before the start is refused against the stored start.
    r = pr.send("PATCH", url, {"version": 2, "ended_at": "2025-06-03T09:00"})
    assert r.status_code == 422
    assert pr.send("PATCH", url, {"adults_present": 1}).status_code == 422  # version required
    update = session.scalar(select(AuditEvent).where(AuditEvent.entity == "observation",
                                                     AuditEvent.action == "update"))
    assert update is not None and update.detail["fields"] == ["adults_present", "guardianship"]


def test_delete_a_visit(pr: Api, world: World, session: Session) -> None:
    obs = pr.send("POST", _base(world) + "/observations", VISIT).json
    url = f"/api/v1/pilots/{world.pilot.id}/observations/{obs['id']}"
    assert pr.send("DELETE", url + "?version=7").status_code == 409
    assert pr.send("DELETE", url + "?version=1").status_code == 204
    assert pr.get(url).status_code == 404
    assert session.scalar(select(AuditEvent.id).where(
        AuditEvent.entity == "observation", AuditEvent.action == "delete")) is not None


def test_roles_on_site_visits(client: Any, auth: AuthActions, world: World) -> None:
    reviewer = Api(client, auth, "partner_reviewer@test.invalid")
    assert reviewer.get(_base(world) + "/observations").status_code == 200
    assert reviewer.send("POST", _base(world) + "/observations", VISIT).status_code == 403
    auth.logout()
    outsider = Api(client, auth, "outsider@test.invalid")
    assert outsider.get(_base(world) + "/observations").status_code == 404
    assert outsider.send("POST", _base(world) + "/observations", VISIT).status_code == 404
    # A place of another pilot is not found through one's own pilot either.
    other = f"/api/v1/pilots/{world.other_pilot.id}/places/{world.places['cafe'].id}"
    assert outsider.get(other + "/observations").status_code == 404


# --- safety factors ------------------------------------------------------------------

def _evidence(pr: Api, world: World, session: Session) -> dict[str, int]:
    inc = _incident(session, world.pilot.id, world.places["cafe"])
    session.commit()
    obs = pr.send("POST", _base(world) + "/observations", VISIT).json
    eng = pr.send("POST", f"/api/v1/pilots/{world.pilot.id}/engagement", {
        "held_on": "2025-06-10", "with_group": "children", "group_description": "Year 9 group",
        "summary": "They avoid the side alley", "place_ids": [world.places["cafe"].id]}).json
    return {"incident": inc.id, "observation": obs["id"], "engagement": eng["id"]}


def test_add_a_factor_with_evidence(pr: Api, world: World, session: Session) -> None:
    ev = _evidence(pr, world, session)
    r = pr.send("POST", _base(world) + "/factors", {
        "quadrant": "risk", "statement": "Dealing by the side entrance after school",
        "weight": 3, "confidence": "high", "voice": "professional",
        "incident_ids": [ev["incident"]], "observation_ids": [ev["observation"]],
        "engagement_ids": [ev["engagement"]]})
    assert r.status_code == 201, r.json
    f = r.json
    assert f["evidence_counts"] == {"incidents": 1, "observations": 1, "engagements": 1}
    assert f["has_evidence"] and f["assessment_id"] is None
    bare = pr.send("POST", _base(world) + "/factors", {
        "quadrant": "resource", "statement": "Library staff know the young people by name"}).json
    assert bare["has_evidence"] is False and bare["weight"] == 1  # allowed, flagged
    listed = pr.get(_base(world) + "/factors").json
    assert [x["quadrant"] for x in listed] == ["risk", "resource"]
    row = session.get_one(SafetyFactor, f["id"])
    assert [i.id for i in row.incidents] == [ev["incident"]]
    event = session.scalar(select(AuditEvent).where(AuditEvent.entity == "safety_factor",
                                                    AuditEvent.entity_id == str(f["id"])))
    assert event is not None and event.detail["evidence"]["incidents"] == 1


def test_evidence_from_another_pilot_is_refused(pr: Api, world: World, session: Session) -> None:
    foreign = _incident(session, world.other_pilot.id, None)
    other_place = Place(pilot_id=world.other_pilot.id, name="Elsewhere", kind="online")
    session.add(other_place)
    session.flush()
    foreign_obs = Observation(place_id=other_place.id, started_at=clock.now())
    session.add(foreign_obs)
    session.commit()
    for field, ident in (("incident_ids", foreign.id), ("observation_ids", foreign_obs.id),
                         ("engagement_ids", 999_999)):
        r = pr.send("POST", _base(world) + "/factors", {
            "quadrant": "risk", "statement": "x", field: [ident]})
        assert r.status_code == 422 and field in r.json["details"], (field, r.json)
    assert session.scalar(select(SafetyFactor.id)) is None


@pytest.mark.parametrize("change, field", [
    ({"weight": 4}, "weight"), ({"weight": -1}, "weight"), ({"quadrant": "danger"}, "quadrant"),
    ({"voice": "gang"}, "voice"), ({"confidence": "total"}, "confidence"),
    ({"statement": ""}, "statement"), ({"incident_ids": ["1"]}, "incident_ids"),
])
def test_invalid_factors_are_refused(pr: Api, world: World, change: dict[str, Any],
                                     field: str) -> None:
    r = pr.send("POST", _base(world) + "/factors", {"quadrant": "risk", "statement": "s",
                                                    **change})
    assert r.status_code == 422 and field in r.json["details"], r.json


def test_edit_a_factor_with_optimistic_locking(pr: Api, world: World, session: Session) -> None:
    ev = _evidence(pr, world, session)
    f = pr.send("POST", _base(world) + "/factors", {"quadrant": "risk", "statement": "Old",
                                                    "weight": 1}).json
    url = f"/api/v1/pilots/{world.pilot.id}/factors/{f['id']}"
    r = pr.send("PATCH", url, {"version": 1, "weight": 2, "statement": "New wording"})
    assert r.status_code == 200 and r.json["version"] == 2 and r.json["weight"] == 2
    # Another practitioner still holding version 1 gets 409, and nothing changes.
    stale = pr.send("PATCH", url, {"version": 1, "weight": 0})
    assert stale.status_code == 409 and "changed by someone else" in stale.json["message"]
    assert pr.get(url).json["weight"] == 2
    # Linking evidence alone is a change too: it bumps the version.
    r = pr.send("PATCH", url, {"version": 2, "incident_ids": [ev["incident"]]})
    assert r.status_code == 200 and r.json["version"] == 3
    assert r.json["evidence_counts"]["incidents"] == 1
    events = session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "safety_factor", AuditEvent.action == "update")
        .order_by(AuditEvent.id)).all()
    assert [e.detail["fields"] for e in events] == [["statement", "weight"], ["incident_ids"]]
    assert events[0].detail["before"] == {"weight": 1}
    assert pr.send("DELETE", url + "?version=3").status_code == 204
    assert pr.get(url).status_code == 404


def test_roles_on_factors(client: Any, auth: AuthActions, world: World, pr: Api) -> None:
    f = pr.send("POST", _base(world) + "/factors", {"quadrant": "risk", "statement": "s"}).json
    url = f"/api/v1/pilots/{world.pilot.id}/factors/{f['id']}"
    auth.logout()
    reviewer = Api(client, auth, "partner_reviewer@test.invalid")
    assert reviewer.get(url).status_code == 200
    assert reviewer.send("PATCH", url, {"version": 1, "weight": 3}).status_code == 403
    assert reviewer.send("DELETE", url).status_code == 403
    assert reviewer.send("POST", _base(world) + "/factors",
                         {"quadrant": "risk", "statement": "s"}).status_code == 403
    auth.logout()
    outsider = Api(client, auth, "outsider@test.invalid")
    assert outsider.get(url).status_code == 404
    assert outsider.get(f"/api/v1/pilots/{world.other_pilot.id}/factors/{f['id']}"
                        ).status_code == 404


# --- the place page ------------------------------------------------------------------

def _page(world: World, place: str = "cafe") -> str:
    return f"/pilots/{world.pilot.id}/places/{world.places[place].id}"


def test_place_page_shows_the_evidence(pr: Api, world: World, session: Session) -> None:
    inc = _incident(session, world.pilot.id, world.places["cafe"],
                    description="Synthetic: two boys seen passing a package")
    session.commit()
    html = pr.get(_page(world)).get_data(as_text=True)
    assert "Test Cafe" in html and "Fast-food restaurant" in html
    assert 'id="incident-count">1<' in html
    assert "passing a package" in html  # owning team reads restricted text
    read = session.scalar(select(AuditEvent).where(AuditEvent.entity == "incident",
                                                   AuditEvent.action == "read"))
    assert read is not None and read.personal_data
    assert f'<option value="{inc.id}">' in html  # offered as factor evidence
    assert 'id="visit-form"' in html and 'id="factor-form"' in html
    assert 'type="application/json" id="place-data"' in html


def test_partner_reviewer_reads_the_page_without_restricted_text_or_forms(
    client: Any, auth: AuthActions, world: World, session: Session
) -> None:
    _incident(session, world.pilot.id, world.places["cafe"],
              description="Synthetic restricted detail")
    session.commit()
    auth.login("partner_reviewer@test.invalid")
    html = client.get(_page(world)).get_data(as_text=True)
    assert "Test Cafe" in html and "Synthetic restricted detail" not in html
    assert 'id="visit-form"' not in html and 'id="factor-form"' not in html
    token = auth.csrf_token("/")
    r = client.post(_page(world) + "/factors", data={
        "csrf_token": token, "quadrant": "risk", "statement": "s", "weight": "1"})
    assert r.status_code == 403


def test_outsider_gets_404_for_the_page(client: Any, auth: AuthActions, world: World) -> None:
    auth.login("outsider@test.invalid")
    assert client.get(_page(world)).status_code == 404
    assert client.get(f"/pilots/{world.other_pilot.id}/places/{world.places['cafe'].id}"
                      ).status_code == 404


def test_xss_in_a_factor_statement_is_rendered_inert(pr: Api, world: World) -> None:
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    assert pr.send("POST", _base(world) + "/factors",
                   {"quadrant": "risk", "statement": payload}).status_code == 201
    html = pr.get(_page(world)).get_data(as_text=True)
    assert payload not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "no evidence linked" in html.lower()


def test_forms_on_the_page_record_a_visit_and_a_factor(pr: Api, world: World,
                                                       session: Session) -> None:
    inc = _incident(session, world.pilot.id, world.places["cafe"])
    session.commit()
    page = _page(world)
    r = pr.client.post(page + "/observations", data={
        "csrf_token": pr.token, "started_at": "2025-06-03T15:30", "ended_at": "",
        "light": "dusk", "young_people_14_15": "7", "guardianship": "low", "lighting": "poor",
        "sight_lines": "adequate", "cctv": "none", "signs_of_drug_use": "on",
        "felt_unsafe": "Nobody in charge"})
    assert r.status_code == 302 and r.headers["Location"].endswith(page + "#visits")
    obs = session.scalar(select(Observation))
    assert obs is not None and obs.young_people_14_15 == 7 and obs.signs_of_drug_use
    r = pr.client.post(page + "/factors", data={
        "csrf_token": pr.token, "quadrant": "risk", "statement": "Drug use after dark",
        "weight": "2", "confidence": "medium", "voice": "professional",
        "incident_ids": [str(inc.id)], "observation_ids": [str(obs.id)]})
    assert r.status_code == 302
    html = pr.get(page).get_data(as_text=True)
    risk = html[html.index('id="quadrant-risk"'):html.index('id="quadrant-resilience"')]
    assert "Drug use after dark" in risk and "1 incident · 1 visit · 0 engagement" in risk
    assert len(re.findall(r'class="dot on"', risk)) == 2


def test_a_refused_form_keeps_what_was_typed(pr: Api, world: World, session: Session) -> None:
    r = pr.client.post(_page(world) + "/observations", data={
        "csrf_token": pr.token, "started_at": "2025-06-03T15:30", "ended_at": "2025-06-03T14:00",
        "light": "dusk", "guardianship": "low", "lighting": "poor", "sight_lines": "adequate",
        "cctv": "none", "young_people_10_13": "3", "felt_safe": "Kept text"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "Not saved" in html and "ended_at" in html and "Kept text" in html
    assert session.scalar(select(Observation.id)) is None
    # The field at fault says so to a screen reader, and points at the message (role=alert).
    ended = re.search(r'<input type="datetime-local" name="ended_at"[^>]*>', html)
    assert ended and 'aria-invalid="true"' in ended.group(0)
    assert 'aria-describedby="form-error"' in ended.group(0)
    assert 'id="form-error"' in html and 'role="alert"' in html
    started = re.search(r'<input type="datetime-local" name="started_at"[^>]*>', html)
    assert started and "aria-invalid" not in started.group(0)


def test_a_stale_factor_edit_on_the_page_is_409(pr: Api, world: World) -> None:
    f = pr.send("POST", _base(world) + "/factors", {"quadrant": "risk", "statement": "A"}).json
    url = f"{_page(world)}/factors/{f['id']}"
    ok = pr.client.post(url, data={"csrf_token": pr.token, "version": "1", "statement": "B",
                                   "weight": "3"})
    assert ok.status_code == 302
    stale = pr.client.post(url, data={"csrf_token": pr.token, "version": "1", "statement": "C",
                                      "weight": "0"})
    assert stale.status_code == 409 and "changed by someone else" in stale.get_data(as_text=True)
    got = pr.get(f"/api/v1/pilots/{world.pilot.id}/factors/{f['id']}").json
    assert (got["statement"], got["weight"]) == ("B", 3)


def test_openapi_lists_the_evidence_routes(client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/pilots/{pilot_id}/places/{place_id}/factors"])
    assert {"get", "patch", "delete"} <= set(
        paths["/api/v1/pilots/{pilot_id}/observations/{observation_id}"])
