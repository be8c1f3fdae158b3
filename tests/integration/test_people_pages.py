"""The people list and a person's page: identity on request (audited), case fields, and
relationships and places added, changed, ended and deleted (issue 16)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.models import AuditEvent, Identity, Person, Presence, Relationship
from tests.conftest import AuthActions
from tests.factories import World


@pytest.fixture
def two(session: Session, world: World) -> dict[str, Any]:
    """YP-001 of the world, and YP-002 and an adult with a tie and a place."""
    yp2 = Person(pilot_id=world.pilot.id, pseudonym="YP-002", kind="young_person",
                 age_band="16-17")
    adult = Person(pilot_id=world.pilot.id, pseudonym="AD-001", kind="adult_of_concern",
                   age_band="25+")
    session.add_all([yp2, adult])
    session.flush()
    session.add(Identity(person_id=yp2.id, name="Rowan Testerly"))
    rel = Relationship(pilot_id=world.pilot.id, person_a_id=world.person.id,
                       person_b_id=yp2.id, type="friend", valence="neutral", strength=2,
                       source="session 1", since=dt.date(2025, 2, 1))
    pres = Presence(person_id=world.person.id, place_id=world.places["park"].id,
                    frequency="weekly", times="after school", since=dt.date(2025, 2, 1))
    session.add_all([rel, pres])
    session.flush()
    return {"yp2": yp2, "adult": adult, "rel": rel, "pres": pres}


def _login(auth: AuthActions, role: str = "practitioner") -> str:
    auth.login(f"{role}@test.invalid")
    return auth.csrf_token("/")


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_the_list_searches_pseudonyms_and_names(client: Any, auth: AuthActions,
                                                world: World, two: dict[str, Any],
                                                session: Session) -> None:
    _login(auth)
    url = f"/pilots/{world.pilot.id}/network/people"
    html = client.get(url).get_data(as_text=True)
    assert all(p in html for p in ("YP-001", "YP-002", "AD-001"))
    assert "Testy Quillborne" not in html and "Rowan Testerly" not in html
    only = client.get(url + "?q=yp-00").get_data(as_text=True)
    assert "YP-002" in only and "AD-001" not in only
    by_name = client.get(url + "?q=rowan&by_name=1").get_data(as_text=True)
    assert "YP-002" in by_name and "YP-001" not in by_name
    search = _events(session, "search_identity")
    assert len(search) == 1 and search[0].personal_data
    assert "rowan" not in str(search[0].detail).lower()  # what was searched is not kept
    # Wildcards are text, not patterns.
    assert "Nobody matches" in client.get(url + "?q=%25").get_data(as_text=True)


def test_the_person_page_shows_the_identity_only_on_request(
        client: Any, auth: AuthActions, world: World, two: dict[str, Any],
        session: Session) -> None:
    _login(auth)
    url = f"/pilots/{world.pilot.id}/people/{two['yp2'].id}"
    html = client.get(url).get_data(as_text=True)
    assert "Rowan Testerly" not in html and 'id="show-identity"' in html
    assert not _events(session, "read_identity")
    shown = client.get(url + "?identity=1").get_data(as_text=True)
    assert "Rowan Testerly" in shown
    assert [e.entity_id for e in _events(session, "read_identity")] == [str(two["yp2"].id)]
    # A coordinator has no identity.read: the page never shows it, even when asked.
    auth.logout()
    _login(auth, "coordinator")
    assert "Rowan Testerly" not in client.get(url + "?identity=1").get_data(as_text=True)


def test_case_fields_are_saved_from_the_page(client: Any, auth: AuthActions, world: World,
                                             two: dict[str, Any], session: Session) -> None:
    token = _login(auth)
    yp2 = two["yp2"]
    url = f"/pilots/{world.pilot.id}/people/{yp2.id}/case"
    on = (clock.today() - dt.timedelta(days=10)).isoformat()
    r = client.post(url, data={"csrf_token": token, "version": str(yp2.version),
                               "age_band": "16-17", "exploitation_category": "cce",
                               "case_status": "open_case", "last_risk_assessment_on": on})
    assert r.status_code == 302, r.get_data(as_text=True)[:3000]
    session.refresh(yp2)
    assert (yp2.exploitation_category, yp2.case_status,
            yp2.last_risk_assessment_on.isoformat()) == ("cce", "open_case", on)
    listed = client.get(f"/api/v1/pilots/{world.pilot.id}/people/records?q=YP-002").json
    assert listed[0]["case_status"] == "open_case"
    future = (clock.today() + dt.timedelta(days=3)).isoformat()
    bad = client.post(url, data={"csrf_token": token, "version": str(yp2.version),
                                 "last_risk_assessment_on": future})
    assert bad.status_code == 422 and "future" in bad.get_data(as_text=True)


def test_relationships_are_added_changed_ended_and_deleted(
        client: Any, auth: AuthActions, world: World, two: dict[str, Any],
        session: Session) -> None:
    token = _login(auth)
    me = world.person
    rel = two["rel"]
    page = f"/pilots/{world.pilot.id}/people/{me.id}"
    r = client.post(page + "/relationships", data={
        "csrf_token": token, "other_id": str(two["adult"].id), "type": "associate",
        "valence": "harmful", "strength": "3", "source": "visit", "since": "2025-03-01"})
    assert r.status_code == 302
    added = session.scalar(select(Relationship).where(
        Relationship.person_b_id == two["adult"].id))
    assert added is not None and added.valence == "harmful"
    html = client.get(page).get_data(as_text=True)
    assert "AD-001" in html and "YP-002" in html
    edit = f"/pilots/{world.pilot.id}/relationships/{rel.id}"
    r = client.post(edit, data={"csrf_token": token, "person_id": str(me.id),
                                "version": str(rel.version), "type": "friend",
                                "valence": "protective", "strength": "3", "source": "s2",
                                "since": "2025-02-01", "until": ""})
    assert r.status_code == 302
    session.refresh(rel)
    assert (rel.valence, rel.strength, rel.version) == ("protective", 3, 2)
    stale = client.post(edit, data={"csrf_token": token, "person_id": str(me.id),
                                    "version": "1", "end": "1"})
    assert stale.status_code == 409
    r = client.post(edit, data={"csrf_token": token, "person_id": str(me.id),
                                "version": "2", "end": "1"})
    assert r.status_code == 302
    session.refresh(rel)
    assert rel.until == clock.today()
    r = client.post(f"{edit}/delete", data={"csrf_token": token, "person_id": str(me.id),
                                            "confirm": "on"})
    assert r.status_code == 302
    session.expunge(rel)
    assert session.scalar(select(Relationship.id).where(Relationship.id == rel.id)) is None


def test_places_are_added_changed_ended_and_deleted(
        client: Any, auth: AuthActions, world: World, two: dict[str, Any],
        session: Session) -> None:
    token = _login(auth, "peer_assessor")
    me, pres = world.person, two["pres"]
    page = f"/pilots/{world.pilot.id}/people/{me.id}"
    r = client.post(page + "/presences", data={
        "csrf_token": token, "place_id": str(world.places["cafe"].id),
        "frequency": "daily", "times": "evenings", "source": "", "since": ""})
    assert r.status_code == 302
    assert session.scalar(select(Presence).where(
        Presence.place_id == world.places["cafe"].id)).frequency == "daily"
    api = f"/api/v1/pilots/{world.pilot.id}/presences/{pres.id}"
    changed = client.open(api, method="PATCH", json={"version": 1, "times": "weekends"},
                          headers={"X-CSRFToken": token})
    assert changed.status_code == 200 and changed.json["version"] == 2
    edit = f"/pilots/{world.pilot.id}/presences/{pres.id}"
    r = client.post(edit, data={"csrf_token": token, "person_id": str(me.id),
                                "version": "2", "end": "1"})
    assert r.status_code == 302
    session.refresh(pres)
    assert pres.until == clock.today() and pres.times == "weekends"
    r = client.post(f"{edit}/delete", data={"csrf_token": token, "person_id": str(me.id),
                                            "confirm": "on"})
    assert r.status_code == 302
    session.expunge(pres)
    assert session.scalar(select(Presence.id).where(Presence.id == pres.id)) is None


def test_partners_never_reach_people(client: Any, auth: AuthActions, world: World,
                                     two: dict[str, Any]) -> None:
    _login(auth, "partner_reviewer")
    assert client.get(f"/pilots/{world.pilot.id}/network/people").status_code == 403
    assert client.get(f"/pilots/{world.pilot.id}/people/{two['yp2'].id}").status_code == 403
    assert client.get(f"/api/v1/pilots/{world.pilot.id}/people/records").status_code == 403
    assert client.get(f"/api/v1/pilots/{world.pilot.id}/people").status_code == 200


def test_a_foreign_person_id_changes_nothing(client: Any, auth: AuthActions, world: World,
                                             two: dict[str, Any], session: Session) -> None:
    """The presence or relationship must be the person's named by the form (whose page
    it came from): another person's id, or another pilot's person, answers 404 and
    nothing is changed, ended or deleted.
    """
    token = _login(auth)
    other_pilot = Person(pilot_id=world.other_pilot.id, pseudonym="YP-001",
                         kind="young_person", age_band="14-15")
    session.add(other_pilot)
    session.commit()
    rel, pres = two["rel"], two["pres"]  # YP-001 ↔ YP-002; YP-001 at the park
    foreign = (str(two["adult"].id), str(other_pilot.id))
    base = f"/pilots/{world.pilot.id}"
    posts = [
        (f"{base}/relationships/{rel.id}", {"version": "1", "type": "friend",
                                            "valence": "harmful", "strength": "3",
                                            "source": "x", "since": "2025-02-01"}),
        (f"{base}/relationships/{rel.id}", {"version": "1", "end": "1"}),
        (f"{base}/relationships/{rel.id}/delete", {"confirm": "on"}),
        (f"{base}/presences/{pres.id}", {"version": "1", "frequency": "daily",
                                         "times": "nights", "source": "", "since": ""}),
        (f"{base}/presences/{pres.id}", {"version": "1", "end": "1"}),
        (f"{base}/presences/{pres.id}/delete", {"confirm": "on"}),
        # A form that would be refused anyway is still 404 first (not the other page).
        (f"{base}/relationships/{rel.id}", {"version": "1", "type": "no such type"}),
        (f"{base}/presences/{pres.id}", {"version": "1", "frequency": "hourly"}),
    ]
    before = len(_events(session, "delete")) + len(_events(session, "update"))
    for url, form in posts:
        for person_id in foreign:
            r = client.post(url, data={"csrf_token": token, "person_id": person_id, **form})
            assert r.status_code == 404, (url, person_id, r.status_code)
    session.expire_all()
    rel = session.get(Relationship, rel.id)
    pres = session.get(Presence, pres.id)
    assert rel is not None and (rel.valence, rel.until, rel.version) == ("neutral", None, 1)
    assert pres is not None and (pres.frequency, pres.until, pres.version) == ("weekly",
                                                                              None, 1)
    assert len(_events(session, "delete")) + len(_events(session, "update")) == before
    # The other end of the relationship may act on it from its own page.
    r = client.post(f"{base}/relationships/{rel.id}", data={
        "csrf_token": token, "person_id": str(two["yp2"].id), "version": "1", "end": "1"})
    assert r.status_code == 302
