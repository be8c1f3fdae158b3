"""Recording a peer network through the API: pseudonyms, identities, validation, privacy."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.models import AuditEvent, Identity, Person, Presence, Relationship
from tests.conftest import AuthActions
from tests.factories import World

NAME = "Testy Quillborne"  # the synthetic identity that build_world records for YP-001


def _h(auth: AuthActions) -> dict[str, str]:
    return {"X-CSRFToken": auth.csrf_token("/")}


def _purpose(client: Any, auth: AuthActions, pid: int) -> None:
    r = client.put(f"/api/v1/pilots/{pid}/network/purpose", headers=_h(auth),
                   json={"purpose": "Understand who meets at the park to make it safer.",
                         "lawful_basis": "Children Act 1989 s.47; UK GDPR 6(1)(e), 9(2)(g)."})
    assert r.status_code == 200, r.json


def _add(client: Any, auth: AuthActions, pid: int, **body: Any) -> Any:
    return client.post(f"/api/v1/pilots/{pid}/people", headers=_h(auth), json=body)


def test_recording_waits_for_purpose_then_numbers_pseudonyms(
    auth: AuthActions, client: Any, world: World
) -> None:
    pid = world.pilot.id
    auth.login("peer_assessor@test.invalid")
    r = _add(client, auth, pid, kind="young_person")
    assert r.status_code == 409 and "lawful basis" in r.json["message"]
    _purpose(client, auth, pid)
    kinds = ("young_person", "young_person", "adult_of_concern", "trusted_adult",
             "adult_of_concern")
    got = [_add(client, auth, pid, kind=k).json["pseudonym"] for k in kinds]
    # YP-001 already exists in the world, so young people continue from 002.
    assert got == ["YP-002", "YP-003", "AD-001", "TA-001", "AD-002"]
    assert client.get(f"/api/v1/pilots/{pid}/network/purpose").json["purpose"].startswith(
        "Understand")


def test_person_with_links_places_and_identity_then_patch_and_delete(
    auth: AuthActions, client: Any, world: World, session: Session
) -> None:
    pid = world.pilot.id
    auth.login("peer_assessor@test.invalid")
    _purpose(client, auth, pid)
    r = _add(client, auth, pid, kind="adult_of_concern", age_band="25+",
             identity={"name": "Orwin Fakesby", "date_of_birth": "1990-02-03"},
             links=[{"pseudonym": "yp-001", "type": "exploitative", "valence": "harmful",
                     "strength": 3}],
             places=[{"place_id": world.places["cafe"].id, "frequency": "daily"}])
    assert r.status_code == 201, r.json
    body = r.json
    assert body["pseudonym"] == "AD-001" and "identity" not in body
    assert body["relationships"][0]["person_b"] == "YP-001"
    assert body["presences"][0]["place"] == "Test Cafe"
    assert session.get(Identity, body["id"]).name == "Orwin Fakesby"
    url = f"/api/v1/pilots/{pid}/people/{body['id']}"
    r = client.patch(url, headers=_h(auth), json={"version": body["version"], "age_band": "18-24"})
    assert r.status_code == 200 and r.json["age_band"] == "18-24"
    stale = client.patch(url, headers=_h(auth),
                         json={"version": body["version"], "kind": "young_person"})
    assert stale.status_code == 409
    assert client.delete(url, headers=_h(auth)).status_code == 204
    assert session.get(Person, body["id"]) is None
    assert session.scalars(select(Relationship).where(Relationship.pilot_id == pid)).all() == []
    assert session.scalars(select(Presence)).all() == []


def test_invalid_records_are_refused_whole(
    auth: AuthActions, client: Any, world: World, session: Session
) -> None:
    pid, yp = world.pilot.id, world.person.id
    auth.login("practitioner@test.invalid")
    _purpose(client, auth, pid)
    rel = f"/api/v1/pilots/{pid}/relationships"
    self_tie = client.post(rel, headers=_h(auth),
                           json={"person_a_id": yp, "person_b_id": yp, "type": "friend"})
    assert self_tie.status_code == 422 and "person_b_id" in self_tie.json["details"]
    other = _add(client, auth, pid, kind="young_person").json["id"]
    weak = client.post(rel, headers=_h(auth), json={"person_a_id": yp, "person_b_id": other,
                                                    "type": "friend", "strength": 4})
    assert weak.status_code == 422 and "strength" in weak.json["details"]
    pres = client.post(f"/api/v1/pilots/{pid}/presences", headers=_h(auth),
                       json={"person_id": yp, "place_id": 999999})
    assert pres.status_code == 422 and "place_id" in pres.json["details"]
    # Quick entry with one bad place writes nothing, not even the person.
    before = session.scalar(select(Person.id).order_by(Person.id.desc()))
    r = _add(client, auth, pid, kind="young_person", links=[{"pseudonym": "YP-001"}],
             places=[{"place_id": world.places["park"].id}, {"place_id": 999999}])
    assert r.status_code == 422
    assert session.scalar(select(Person.id).order_by(Person.id.desc())) == before
    unknown = _add(client, auth, pid, kind="young_person", links=[{"pseudonym": "YP-999"}])
    assert unknown.status_code == 422 and "YP-999" in unknown.json["message"]
    ok = client.post(rel, headers=_h(auth), json={"person_a_id": yp, "person_b_id": other,
                                                  "type": "friend", "valence": "protective"})
    assert ok.status_code == 201 and ok.json["person_a"] == "YP-001"


def test_partner_reviewer_reads_pseudonyms_but_cannot_record(
    auth: AuthActions, client: Any, world: World
) -> None:
    pid = world.pilot.id
    auth.login("peer_assessor@test.invalid")
    _purpose(client, auth, pid)
    auth.logout()
    auth.login("partner_reviewer@test.invalid")
    assert _add(client, auth, pid, kind="young_person").status_code == 403
    for path in ("people", "relationships", "presences", "network/analysis",
                 f"people/{world.person.id}"):
        r = client.get(f"/api/v1/pilots/{pid}/{path}")
        assert r.status_code == 200, path
        assert NAME not in r.get_data(as_text=True)
    assert client.get(f"/api/v1/pilots/{pid}/people/{world.person.id}?identity=true"
                      ).status_code == 403


def test_outsider_gets_404(auth: AuthActions, client: Any, world: World) -> None:
    pid = world.pilot.id
    auth.login("outsider@test.invalid")
    for path in ("relationships", "presences", "network/analysis", "network/export.gexf"):
        assert client.get(f"/api/v1/pilots/{pid}/{path}").status_code == 404
    assert _add(client, auth, pid, kind="young_person").status_code == 404


def test_identity_read_by_peer_assessor_is_audited(
    auth: AuthActions, client: Any, world: World, session: Session
) -> None:
    auth.login("peer_assessor@test.invalid")
    r = client.get(f"/api/v1/pilots/{world.pilot.id}/people/{world.person.id}?identity=true")
    assert r.json["identity"]["name"] == NAME
    events = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "read_identity", AuditEvent.entity_id == str(world.person.id))).all()
    assert [e.user_email for e in events] == ["peer_assessor@test.invalid"]
    assert events[0].personal_data


def test_analysis_and_exports_hold_pseudonyms_only(
    auth: AuthActions, client: Any, world: World, session: Session
) -> None:
    pid = world.pilot.id
    auth.login("peer_assessor@test.invalid")
    _purpose(client, auth, pid)
    cafe = world.places["cafe"].id
    _add(client, auth, pid, kind="young_person", identity={"name": "Pella Notreal"},
         links=[{"pseudonym": "YP-001"}], places=[{"place_id": cafe}])
    _add(client, auth, pid, kind="adult_of_concern", identity={"name": "Crispin Madeup"},
         links=[{"pseudonym": "YP-001", "valence": "harmful", "type": "exploitative"},
                {"pseudonym": "YP-002", "valence": "harmful", "type": "exploitative"}])
    analysis = client.get(f"/api/v1/pilots/{pid}/network/analysis?as_of=2025-06-01")
    assert analysis.status_code == 200
    data = analysis.json
    assert data["groups"]["groups"][0]["pseudonyms"] == ["YP-001", "YP-002"]
    adult = data["concerns"]["adults_of_concern"][0]
    assert adult["pseudonym"] == "AD-001" and len(adult["young_people"]) == 2
    for fmt in ("graphml", "gexf"):
        r = client.get(f"/api/v1/pilots/{pid}/network/export.{fmt}")
        assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
        text = r.get_data(as_text=True)
        assert "AD-001" in text and "Test Cafe" in text and "No names" in text
        for name in (NAME, "Pella Notreal", "Crispin Madeup"):
            assert name not in text
            assert name not in analysis.get_data(as_text=True)
    exports = session.scalars(select(AuditEvent).where(AuditEvent.action == "export",
                                                       AuditEvent.entity == "network")).all()
    assert sorted(e.detail["format"] for e in exports) == ["gexf", "graphml"]
    bad = client.get(f"/api/v1/pilots/{pid}/network/analysis?as_of=2025-01-01"
                     "&compare_with=2025-06-01")
    assert bad.status_code == 422


def test_case_fields_recorded_by_the_owning_team_and_never_shown_to_partners(
        auth: AuthActions, client: Any, world: World, session: Session) -> None:
    pid = world.pilot.id
    assert world.person is not None
    url = f"/api/v1/pilots/{pid}/people/{world.person.id}"
    auth.login("practitioner@test.invalid")
    version = client.get(url).json["version"]
    r = client.patch(url, headers=_h(auth), json={
        "version": version, "exploitation_category": "cce", "case_status": "child_in_need",
        "last_risk_assessment_on": "2026-10-01"})
    assert r.status_code == 200, r.json
    assert r.json["case_status"] == "child_in_need"
    body = client.get(url).json
    assert (body["exploitation_category"], body["last_risk_assessment_on"]) == (
        "cce", "2026-10-01")
    # Vocabulary and dates are checked; nothing is half-written.
    version = body["version"]
    assert client.patch(url, headers=_h(auth), json={
        "version": version, "case_status": "gang_member"}).status_code == 422
    assert client.patch(url, headers=_h(auth), json={
        "version": version, "last_risk_assessment_on": "2999-01-01"}).status_code == 422
    adult = _add(client, auth, pid, kind="adult_of_concern", age_band="25+")
    if adult.status_code == 409:  # the pilot needs its purpose first
        _purpose(client, auth, pid)
        adult = _add(client, auth, pid, kind="adult_of_concern", age_band="25+")
    a_url = f"/api/v1/pilots/{pid}/people/{adult.json['id']}"
    r = client.patch(a_url, headers=_h(auth), json={
        "version": adult.json["version"], "case_status": "open_case"})
    assert r.status_code == 422 and "young people only" in r.json["message"]
    session.expire_all()
    assert session.get(Person, world.person.id).case_status == "child_in_need"
    auth.logout()
    # A partner reviewer sees the pseudonym, not the case fields beside it, and cannot edit.
    auth.login("partner_reviewer@test.invalid")
    body = client.get(url).json
    assert body["pseudonym"] == "YP-001"
    assert not {"exploitation_category", "case_status", "last_risk_assessment_on"} & set(body)
    assert client.patch(url, headers=_h(auth), json={
        "version": body["version"], "case_status": "not_open"}).status_code == 403
