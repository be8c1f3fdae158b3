"""Listening (engagement records) and awareness raising, through the API and the page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.models import AuditEvent, AwarenessActivity, EngagementRecord, Place
from tests.conftest import AuthActions
from tests.factories import World
from tests.integration.test_evidence import Api


@pytest.fixture
def pr(client: Any, auth: AuthActions, world: World) -> Api:
    return Api(client, auth, "practitioner@test.invalid")


def _url(world: World, what: str) -> str:
    return f"/api/v1/pilots/{world.pilot.id}/{what}"


def _listening(world: World, **kw: Any) -> dict[str, Any]:
    return {"held_on": "2025-05-20", "with_group": "businesses",
            "group_description": "Shift managers at two takeaways",
            "summary": "Groups arrive when the WiFi is on; staff feel unsupported",
            "place_ids": [world.places["cafe"].id], **kw}


def test_record_and_list_engagement(pr: Api, world: World, session: Session) -> None:
    r = pr.send("POST", _url(world, "engagement"),
                _listening(world, place_ids=[world.places["cafe"].id, world.places["park"].id]))
    assert r.status_code == 201, r.json
    assert [p["name"] for p in r.json["places"]] == ["Test Cafe", "Test Park"]
    pr.send("POST", _url(world, "engagement"),
            _listening(world, held_on="2025-06-01", with_group="children",
                       place_ids=[world.places["park"].id]))
    everything = pr.get(_url(world, "engagement")).json
    assert [e["held_on"] for e in everything] == ["2025-06-01", "2025-05-20"]
    at_cafe = pr.get(_url(world, "engagement") + f"?place_id={world.places['cafe'].id}").json
    assert [e["with_group"] for e in at_cafe] == ["businesses"]
    event = session.scalar(select(AuditEvent).where(AuditEvent.entity == "engagement_record")
                           .order_by(AuditEvent.id))
    assert event is not None and event.action == "create"
    assert event.detail["with_group"] == "businesses"


@pytest.mark.parametrize("change, field", [
    ({"with_group": "a named child"}, "with_group"),
    ({"place_ids": []}, "place_ids"),
    ({"summary": ""}, "summary"),
    ({"held_on": "next tuesday"}, "held_on"),
    ({"held_on": (clock.today() + dt.timedelta(days=30)).isoformat()}, "held_on"),
    ({"group_description": "x" * 301}, "group_description"),
])
def test_invalid_engagement_is_refused(pr: Api, world: World, session: Session,
                                       change: dict[str, Any], field: str) -> None:
    r = pr.send("POST", _url(world, "engagement"), _listening(world, **change))
    assert r.status_code == 422 and field in r.json["details"], r.json
    assert session.scalar(select(EngagementRecord.id)) is None


def test_places_of_another_pilot_are_refused(pr: Api, world: World, session: Session) -> None:
    elsewhere = Place(pilot_id=world.other_pilot.id, name="Elsewhere", kind="online")
    session.add(elsewhere)
    session.commit()
    for what, body in (("engagement", _listening(world)),
                       ("awareness", {"held_on": "2025-05-01", "audience": "staff",
                                      "reached": 5})):
        body["place_ids"] = [world.places["cafe"].id, elsewhere.id]
        r = pr.send("POST", _url(world, what), body)
        assert r.status_code == 422 and "place_ids" in r.json["details"], r.json
    assert session.scalar(select(EngagementRecord.id)) is None
    assert session.scalar(select(AwarenessActivity.id)) is None


def test_record_awareness_and_its_reach(pr: Api, world: World, session: Session) -> None:
    r = pr.send("POST", _url(world, "awareness"), {
        "held_on": "2025-04-02", "audience": "Library staff", "method": "Bystander training",
        "reached": 14, "place_ids": [world.places["park"].id]})
    assert r.status_code == 201 and r.json["reached"] == 14
    assert pr.send("POST", _url(world, "awareness"), {
        "held_on": "2025-04-02", "audience": "x", "reached": -3,
        "place_ids": [world.places["park"].id]}).status_code == 422
    listed = pr.get(_url(world, "awareness") + f"?place_id={world.places['park'].id}").json
    assert [a["audience"] for a in listed] == ["Library staff"]
    assert pr.get(_url(world, "awareness") + f"?place_id={world.places['cafe'].id}").json == []
    event = session.scalar(select(AuditEvent).where(AuditEvent.entity == "awareness_activity"))
    assert event is not None and event.detail["reached"] == 14


def test_roles_on_listening(client: Any, auth: AuthActions, world: World) -> None:
    reviewer = Api(client, auth, "partner_reviewer@test.invalid")
    assert reviewer.get(_url(world, "engagement")).status_code == 200
    assert reviewer.send("POST", _url(world, "engagement"), _listening(world)).status_code == 403
    assert reviewer.send("POST", _url(world, "awareness"), {
        "held_on": "2025-04-02", "audience": "x", "place_ids": [world.places["park"].id]}
    ).status_code == 403
    auth.logout()
    outsider = Api(client, auth, "outsider@test.invalid")
    assert outsider.get(_url(world, "engagement")).status_code == 404
    assert outsider.get(_url(world, "awareness")).status_code == 404


def test_page_forms_link_the_place(pr: Api, world: World, session: Session) -> None:
    cafe, park = world.places["cafe"], world.places["park"]
    page = f"/pilots/{world.pilot.id}/places/{cafe.id}"
    r = pr.client.post(page + "/engagement", data={
        "csrf_token": pr.token, "held_on": "2025-05-20", "with_group": "families",
        "group_description": "Parents' coffee morning", "summary": "Worried about the alley",
        "place_ids": [str(cafe.id), str(park.id)]})
    assert r.status_code == 302 and r.headers["Location"].endswith("#listening")
    rec = session.scalar(select(EngagementRecord))
    assert rec is not None and sorted(p.id for p in rec.places) == sorted([cafe.id, park.id])
    r = pr.client.post(page + "/awareness", data={
        "csrf_token": pr.token, "held_on": "2025-05-21", "audience": "Counter staff",
        "method": "Briefing", "reached": "6", "place_ids": [str(cafe.id)]})
    assert r.status_code == 302
    html = pr.get(page).get_data(as_text=True)
    assert "Parents&#39; coffee morning" in html and "Counter staff" in html
    # The record is offered as evidence for a new factor.
    assert f'<option value="{rec.id}">20 May 2025 · families' in html
