"""Every kind of context (issue 19) on PostGIS: a peer group seeded from a network group, a
school's self-assessment and its comparison, an online space with its incidents; the
context section's 409 on a stale form, its audit, who may write it, submitting through the
places' own rules, plans and the PDF for these kinds, and no page labels a child.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.errors import Conflict, Forbidden, InvalidData
from locmap.models import AuditEvent, Incident, Person, Place
from locmap.services import assessments, contexts, network, plans, report
from locmap.services.accounts import actor_for
from tests.factories import World
from tests.integration.test_pathway_words import FORBIDDEN

AREAS = [k for k, _, _ in contexts.SCHOOL_AREAS]
PROMPTS = [k for k, _, _ in contexts.PEER_GROUP_PROMPTS]


def _actors(session: Session, world: World) -> dict[str, Any]:
    return {k: actor_for(session, u) for k, u in world.users.items()}


def _group(session: Session, world: World, a: dict[str, Any]) -> None:
    """YP-001 and YP-002 friends who spend time at the park: the network's Group A."""
    pid = world.pilot.id
    network.set_purpose(session, a["coordinator"], pid, purpose="Safer park",
                        lawful_basis="Children Act 1989 s.17")
    other = Person(pilot_id=pid, pseudonym="YP-002", kind="young_person", age_band="14-15")
    session.add(other)
    session.flush()
    assert world.person is not None
    network.create_relationship(session, a["practitioner"], pid, person_a_id=world.person.id,
                                person_b_id=other.id, type="friend", strength=3)
    for person in (world.person.id, other.id):
        network.create_presence(session, a["practitioner"], pid, person_id=person,
                                place_id=world.places["park"].id, frequency="daily")


def _school(session: Session, world: World) -> Place:
    school = Place(pilot_id=world.pilot.id, name="Test Academy", kind="school",
                   geom=from_shape(Point(-1.491, 52.504), srid=4326))
    session.add(school)
    session.flush()
    return school


def _submit(session: Session, actor: Any, world: World, a_id: int) -> None:
    a = session.get_one(assessments.Assessment, a_id)
    assessments.update_assessment(session, actor, world.pilot.id, a_id, {"add_factor": {
        "quadrant": "resource", "statement": "A youth worker the group trusts",
        "weight": 2}}, version=a.version)
    assessments.submit_assessment(session, actor, world.pilot.id, a_id)


def test_peer_group_seeded_from_the_network(session: Session, world: World) -> None:
    a = _actors(session, world)
    pid = world.pilot.id
    _group(session, world, a)
    with pytest.raises(InvalidData, match="No Group Z"):
        contexts.seed_peer_group(session, a["practitioner"], pid, "Group Z")
    draft = contexts.seed_peer_group(session, a["practitioner"], pid, "Group A",
                                     as_of=dt.date(2025, 6, 1))
    session.commit()
    place = session.get_one(Place, draft.place_id)
    assert place.kind == "peer_group" and place.geom is None
    s = contexts.section(session, a["partner_reviewer"], pid, draft.id, threshold=5)
    assert s["young_people"] == ["YP-001", "YP-002"]
    assert [p["name"] for p in s["places"]] == ["Test Park"]
    assert [q["key"] for q in s["prompts"]] == PROMPTS
    assert "Group A on 2025-06-01" in s["source_group"]
    # Only the owning team writes; a stale form is refused with 409 and loses nothing.
    with pytest.raises(Forbidden):
        contexts.update_section(session, a["partner_reviewer"], pid, draft.id,
                                {"within_group": "x"}, version=draft.version)
    session.rollback()
    v = draft.version
    contexts.update_section(session, a["practitioner"], pid, draft.id,
                            {"within_group": "Close, loyal friends"}, version=v)
    session.commit()
    with pytest.raises(Conflict):
        contexts.update_section(session, a["coordinator"], pid, draft.id,
                                {"within_group": "Older text"}, version=v)
    session.rollback()
    assert contexts.section(session, a["practitioner"], pid, draft.id, threshold=5)["prompts"][0][
        "text"] == "Close, loyal friends"
    # Submitting needs every prompt answered, then the places' rules (a safety factor).
    with pytest.raises(InvalidData, match="Relationships with other groups"):
        _submit(session, a["practitioner"], world, draft.id)
    session.rollback()
    fresh = session.get_one(assessments.Assessment, draft.id)
    contexts.update_section(session, a["practitioner"], pid, draft.id,
                            {k: f"Written about {k}" for k in PROMPTS}, version=fresh.version)
    _submit(session, a["practitioner"], world, draft.id)
    session.commit()
    audit = session.scalars(select(AuditEvent).where(
        AuditEvent.entity.in_(["context_profile", "peer_group_people"]))).all()
    assert {e.entity for e in audit} == {"context_profile", "peer_group_people"}
    assert any(e.detail.get("changed") == ["context_section"] for e in session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "assessment")))
    # A plan of the peer group, and its PDF data carrying the context section.
    plan = plans.create_plan(session, a["practitioner"], pid, draft.id)
    assert plan.assessment_id == draft.id
    data = report.report_data(session, a["partner_reviewer"], pid, "assessment", draft.id,
                              threshold=5)
    assert data["context"]["kind"] == "peer_group" and data["map"] is None


def test_school_self_assessment_and_comparison(session: Session, world: World) -> None:
    a = _actors(session, world)
    pid = world.pilot.id
    school = _school(session, world)
    with pytest.raises(InvalidData, match="Test Park is not a school"):
        contexts.start_school(session, a["practitioner"], pid, world.places["park"].id)
    first = contexts.start_school(session, a["practitioner"], pid, school.id)
    session.commit()
    with pytest.raises(InvalidData, match="red, amber or green"):
        contexts.update_section(session, a["practitioner"], pid, first.id,
                                {"policy": {"rating": "purple"}}, version=first.version)
    session.rollback()
    first = session.get_one(assessments.Assessment, first.id)
    contexts.update_section(session, a["practitioner"], pid, first.id, {
        k: {"rating": "red" if k == "policy" else "amber", "evidence": f"Seen: {k}"}
        for k in AREAS}, version=first.version)
    _submit(session, a["practitioner"], world, first.id)
    second = assessments.new_version(session, a["practitioner"], pid, first.id)
    s = contexts.section(session, a["practitioner"], pid, second.id, threshold=5)
    assert s["areas"][1]["rating"] == "red"  # the new version starts from its parent's
    answers = {ar["key"]: {"rating": ar["rating"], "evidence": ar["evidence"]}
               for ar in s["areas"]}
    answers["policy"] = {"rating": "green", "evidence": "New policy adopted"}
    answers["response"] = {"rating": "red", "evidence": "Slow responses this term"}
    contexts.update_section(session, a["practitioner"], pid, second.id, answers,
                            version=second.version)
    session.commit()
    d = contexts.compare_school(session, a["partner_reviewer"], pid, first.id, second.id)
    change = {r["key"]: r["change"] for r in d["areas"]}
    assert change["policy"] == "better" and change["response"] == "worse"
    assert (d["better"], d["worse"]) == (1, 1)
    other = assessments.start_assessment(session, a["practitioner"], pid,
                                         world.places["cafe"].id)
    with pytest.raises(InvalidData, match="same school"):
        contexts.compare_school(session, a["practitioner"], pid, first.id, other.id)


def test_online_space_profile_and_incident_indicators(session: Session,
                                                      world: World) -> None:
    a = _actors(session, world)
    pid = world.pilot.id
    with pytest.raises(InvalidData, match="platform"):
        contexts.create_online(session, a["practitioner"], pid, {"channel": "Year 10"})
    draft = contexts.create_online(session, a["practitioner"], pid, {
        "platform": "A messaging app", "channel": "Year 10 group",
        "moderation_contact": "Trust and safety team", "reporting_route": "In-app report"})
    place = session.get_one(Place, draft.place_id)
    assert place.name == "A messaging app · Year 10 group" and place.geom is None
    for i in range(7):
        session.add(Incident(pilot_id=pid, place_id=place.id, category="cse" if i else "asb",
                             location=from_shape(Point(-1.49, 52.505), srid=4326),
                             occurred_at=dt.datetime(2025, 3, 1 + i, 20, tzinfo=dt.UTC)))
    session.commit()
    team = contexts.section(session, a["practitioner"], pid, draft.id, threshold=5)
    assert team["indicators"]["incidents"] == 7
    assert [(c["category"], c["n"]) for c in team["indicators"]["by_category"]] == [
        ("cse", 6), ("asb", 1)]
    assert {f["key"]: f["value"] for f in team["fields"]}["reporting_route"] == "In-app report"
    partner = contexts.section(session, a["partner_reviewer"], pid, draft.id, threshold=5)
    assert partner["indicators"]["incidents"] == 5 and partner["indicators"]["by_category"] == []
    v = team["profile_version"]
    contexts.update_profile(session, a["practitioner"], pid, place.id, {
        "platform": "A messaging app", "channel": "Year 10 group (renamed)", "version": v})
    session.commit()
    with pytest.raises(Conflict):
        contexts.update_profile(session, a["coordinator"], pid, place.id, {
            "platform": "Other", "version": v})


def test_pages_forms_409_and_no_labels(client: Any, auth: Any, session: Session,
                                       world: World) -> None:
    a = _actors(session, world)
    pid = world.pilot.id
    _group(session, world, a)
    school = _school(session, world)
    session.commit()
    auth.login("practitioner@test.invalid")
    page = client.get(f"/pilots/{pid}/contexts")
    assert page.status_code == 200 and "Group A" in page.get_data(as_text=True)
    token = auth.csrf_token(f"/pilots/{pid}/contexts")
    r = client.post(f"/pilots/{pid}/contexts/peer-groups",
                    data={"csrf_token": token, "group": "Group A", "name": "Station group"})
    assert r.status_code == 302
    peer_id = int(r.headers["Location"].split("/assessments/")[1].split("#")[0])
    view = client.get(f"/pilots/{pid}/assessments/{peer_id}").get_data(as_text=True)
    assert "Relationships with adults" in view and "YP-002" in view
    peer = session.get_one(assessments.Assessment, peer_id)
    form = {"csrf_token": token, "kind": "peer_group", "version": str(peer.version),
            **{k: f"About {k}" for k in PROMPTS}}
    assert client.post(f"/pilots/{pid}/assessments/{peer_id}/context",
                       data=form).status_code == 302
    stale = client.post(f"/pilots/{pid}/assessments/{peer_id}/context",
                        data={**form, "within_group": "My unsaved words"})
    assert stale.status_code == 409 and "My unsaved words" in stale.get_data(as_text=True)
    r = client.post(f"/pilots/{pid}/contexts/schools",
                    data={"csrf_token": token, "place_id": str(school.id)})
    school_id = int(r.headers["Location"].split("/assessments/")[1].split("#")[0])
    bad = client.post(f"/pilots/{pid}/contexts/online",
                      data={"csrf_token": token, "channel": "Kept channel"})
    assert bad.status_code == 422 and "Kept channel" in bad.get_data(as_text=True)
    r = client.post(f"/pilots/{pid}/contexts/online",
                    data={"csrf_token": token, "platform": "A video app"})
    online_id = int(r.headers["Location"].split("/assessments/")[1].split("#")[0])
    pages = [f"/pilots/{pid}/contexts", f"/pilots/{pid}/assessments/{peer_id}",
             f"/pilots/{pid}/assessments/{school_id}", f"/pilots/{pid}/assessments/{online_id}"]
    for who in ("practitioner", "partner_reviewer"):
        auth.login(f"{who}@test.invalid")
        for url in pages:
            resp = client.get(url)
            assert resp.status_code == 200, url
            text = resp.get_data(as_text=True).lower()
            assert not [w for w in FORBIDDEN if w in text], url
    # The partner reads but is offered no form.
    assert 'id="context-form"' not in client.get(pages[1]).get_data(as_text=True)
    token = auth.csrf_token(f"/pilots/{pid}/contexts")
    assert client.post(f"/pilots/{pid}/contexts/online",
                       data={"csrf_token": token, "platform": "x"}).status_code == 403


def test_section_form_takes_the_kind_from_the_stored_context(
        client: Any, auth: Any, session: Session, world: World) -> None:
    """A form whose hidden ``kind`` names the other kind is read as the stored context's:
    a peer group's answers are kept (not blanked by reading school fields) and a school's
    ratings are read as ratings."""
    a = _actors(session, world)
    pid = world.pilot.id
    _group(session, world, a)
    peer = contexts.seed_peer_group(session, a["practitioner"], pid, "Group A")
    school = contexts.start_school(session, a["practitioner"], pid, _school(session, world).id)
    session.commit()
    auth.login("practitioner@test.invalid")
    token = auth.csrf_token(f"/pilots/{pid}/contexts")
    r = client.post(f"/pilots/{pid}/assessments/{peer.id}/context", data={
        "csrf_token": token, "kind": "school", "version": str(peer.version),
        **{k: f"About {k}" for k in PROMPTS}, "rating_policy": "red"})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    session.expire_all()
    s = contexts.section(session, a["practitioner"], pid, peer.id, threshold=5)
    assert s is not None and s["kind"] == "peer_group"
    assert [q["text"] for q in s["prompts"]] == [f"About {k}" for k in PROMPTS]
    r = client.post(f"/pilots/{pid}/assessments/{school.id}/context", data={
        "csrf_token": token, "kind": "peer_group",
        "version": str(session.get_one(assessments.Assessment, school.id).version),
        "rating_policy": "amber", "evidence_policy": "Named in the policy",
        "within_group": "not a school field"})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    session.expire_all()
    s = contexts.section(session, a["practitioner"], pid, school.id, threshold=5)
    assert s is not None
    policy = next(ar for ar in s["areas"] if ar["key"] == "policy")
    assert (policy["rating"], policy["evidence"]) == ("amber", "Named in the policy")
