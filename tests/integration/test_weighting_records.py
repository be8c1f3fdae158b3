"""Context weighting linked to the pilot's records (issue 19) on PostGIS: a context refers
to a place, peer group, school or online space of the pilot; its kind is the record's;
another pilot's or an absent id is refused alike (service, API and page form); the
assessment page links to the record and the record's page lists the assessments in which
it is weighted with its share, for the owning team and for partners (no pseudonyms).
"""

from __future__ import annotations

from typing import Any

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from locmap import clock
from locmap.errors import InvalidData, NotFound
from locmap.models import Assessment, ContextProfile, Place
from locmap.services import assessments, weighting_records
from locmap.services.accounts import actor_for
from tests.factories import World


def _peer_group(session: Session, world: World) -> Place:
    assert world.person is not None
    peer = Place(pilot_id=world.pilot.id, name="Station peer group", kind="peer_group")
    session.add(peer)
    session.flush()
    session.add(ContextProfile(place_id=peer.id, pilot_id=world.pilot.id, kind="peer_group",
                               member_ids=[world.person.id], shared_place_ids=[],
                               details={}))
    session.flush()
    return peer


def _foreign(session: Session, world: World) -> Place:
    p = Place(pilot_id=world.other_pilot.id, name="Other Pilot Library", kind="library",
              geom=from_shape(Point(-1.392, 52.505), srid=4326))
    session.add(p)
    session.flush()
    return p


def _draft(session: Session, actor: Any, world: World) -> Assessment:
    return assessments.start_assessment(session, actor, world.pilot.id,
                                        world.places["cafe"].id)


def test_a_context_refers_to_a_record_of_the_pilot(session: Session, world: World) -> None:
    pid = world.pilot.id
    prac = actor_for(session, world.users["practitioner"])
    peer, foreign = _peer_group(session, world), _foreign(session, world)
    a = _draft(session, prac, world)
    first = assessments.weighting_of(session, a).contexts[0]
    # The assessed place itself is the first context, linked to its record.
    assert (first.name, first.kind, first.place_id) == ("Test Cafe", "place",
                                                       world.places["cafe"].id)
    # A blank name takes the record's; the kind sent is overridden by the record's.
    assessments.update_assessment(session, prac, pid, a.id, {"add_context": {
        "name": "", "share": 40, "reason": "Meets at the cafe", "kind": "home",
        "place_id": peer.id}}, version=a.version)
    got = assessments.weighting_of(session, a).contexts[1]
    assert (got.name, got.kind, got.place_id, got.share) == (
        "Station peer group", "peer_group", peer.id, 40)
    # Another pilot's record and an absent one are refused alike, and nothing is written.
    for bad in (foreign.id, 2**31 - 1):
        with pytest.raises(NotFound, match="No such context in this pilot"):
            assessments.update_assessment(session, prac, pid, a.id, {"add_context": {
                "name": "Elsewhere", "share": 10, "reason": "x", "place_id": bad}},
                version=a.version)
    # A deleted place is no longer offered nor accepted.
    park = world.places["park"]
    park.deleted_at = clock.now()
    session.flush()
    with pytest.raises(NotFound):
        assessments.update_assessment(session, prac, pid, a.id, {"add_context": {
            "name": "", "share": 10, "reason": "x", "place_id": park.id}}, version=a.version)
    assert "Test Park" not in str(weighting_records.choices(session, pid))
    # The same record twice is a 422.
    with pytest.raises(InvalidData, match="weighted already"):
        assessments.update_assessment(session, prac, pid, a.id, {"add_context": {
            "name": "The group again", "share": 10, "reason": "x", "place_id": peer.id}},
            version=a.version)
    assert [c.name for c in assessments.weighting_of(session, a).contexts] == [
        "Test Cafe", "Station peer group"]


def test_record_page_lists_where_it_is_weighted_and_versions_keep_links(
        session: Session, world: World) -> None:
    pid = world.pilot.id
    prac = actor_for(session, world.users["practitioner"])
    partner = actor_for(session, world.users["partner_reviewer"])
    peer = _peer_group(session, world)
    a = _draft(session, prac, world)
    assessments.update_assessment(session, prac, pid, a.id, {"contexts": [
        {"name": "Test Cafe", "share": 70, "reason": "The place",
         "place_id": world.places["cafe"].id},
        {"name": "The group", "share": 30, "reason": "Meets here", "place_id": peer.id}]},
        version=a.version)
    for who in (prac, partner):
        rows = weighting_records.weighted_in(session, who, pid, peer.id)
        assert [(r["place"], r["version_no"], r["share"]) for r in rows] == [
            ("Test Cafe", 1, 30)]
        assert "YP-001" not in str(rows)
    # The assessed place's own assessments are not "weighted in" it.
    assert weighting_records.weighted_in(session, prac, pid, world.places["cafe"].id) == []
    view = assessments.assessment_view(session, partner, pid, a.id, threshold=5)
    record = view["context_weighting"]["contexts"][1]["record"]
    assert (record["id"], record["name"], record["kind"]) == (
        peer.id, "Station peer group", "peer_group")
    assert "YP-001" not in str(view["context_weighting"])
    # Another pilot's member reads nothing of it.
    with pytest.raises(NotFound):
        weighting_records.weighted_in(session, actor_for(session, world.users["outsider"]),
                                      pid, peer.id)
    # A new version keeps the links; unlinking shows in the comparison.
    assessments.update_assessment(session, prac, pid, a.id, {"add_factor": {
        "quadrant": "risk", "statement": "Dealing at the door", "weight": 2}},
        version=a.version)
    assessments.submit_assessment(session, prac, pid, a.id)
    v2 = assessments.new_version(session, prac, pid, a.id)
    assert [c.place_id for c in assessments.weighting_of(session, v2).contexts] == [
        world.places["cafe"].id, peer.id]
    assessments.update_assessment(session, prac, pid, v2.id, {"contexts": [
        {"name": "Test Cafe", "share": 70, "reason": "The place",
         "place_id": world.places["cafe"].id},
        {"name": "The group", "share": 30, "reason": "Meets here"}]}, version=v2.version)
    d = assessments.compare_assessments(session, prac, pid, a.id, v2.id, threshold=5)
    assert d["context_weighting"]["records_changed"] == ["The group"]
    assert [r["version_no"] for r in weighting_records.weighted_in(
        session, prac, pid, peer.id)] == [1]


def _csrf(client: Any, path: str = "/") -> str:
    import re
    m = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).get_data(as_text=True))
    assert m
    return m.group(1)


def test_api_and_pages(client: Any, auth: Any, session: Session, world: World) -> None:
    pid = world.pilot.id
    peer, foreign = _peer_group(session, world), _foreign(session, world)
    session.commit()
    auth.login("practitioner@test.invalid")
    token = _csrf(client)
    base = f"/api/v1/pilots/{pid}"
    a = client.post(f"{base}/places/{world.places['cafe'].id}/assessments",
                    headers={"X-CSRFToken": token}).get_json()
    url = f"{base}/assessments/{a['id']}"

    def patch(body: dict[str, Any]) -> Any:
        return client.patch(url, json={"version": a["version"], **body},
                            headers={"X-CSRFToken": token})

    answers = [patch({"add_context": {"share": 40, "reason": "x", "place_id": v}})
               for v in (foreign.id, 2**31 - 1)]
    assert [r.status_code for r in answers] == [404, 404]
    assert answers[0].get_json() == answers[1].get_json()
    assert "Other Pilot" not in answers[0].get_data(as_text=True)
    # Typed: an id that is no integer is a 422 of the schema.
    assert patch({"add_context": {"share": 40, "reason": "x",
                                  "place_id": "seven"}}).status_code == 422
    r = patch({"add_context": {"share": 40, "reason": "Meets here", "place_id": peer.id}})
    assert r.status_code == 200, r.get_json()
    got = r.get_json()["context_weighting"]["contexts"][1]
    assert (got["name"], got["kind"], got["place_id"]) == ("Station peer group",
                                                          "peer_group", peer.id)
    assert got["record"]["kind_label"] == "Peer group"
    # The page form: a foreign record is said on the page, nothing written.
    page = f"/pilots/{pid}/assessments/{a['id']}"
    version = client.get(url).get_json()["version"]
    r = client.post(f"{page}/edit", data={
        "csrf_token": token, "op": "add_context", "version": version, "name": "",
        "share": "10", "reason": "probe", "place_id": str(foreign.id)},
        follow_redirects=True)
    assert r.status_code == 200 and "No such context in this pilot" in r.get_data(as_text=True)
    r = client.post(f"{page}/edit", data={
        "csrf_token": token, "op": "add_context", "version": version, "name": "",
        "share": "10", "reason": "Where they meet", "place_id": str(world.places["park"].id)},
        follow_redirects=True)
    html = r.get_data(as_text=True)
    assert f'/pilots/{pid}/places/{peer.id}"' in html and "Test Park" in html
    # Save reasons and links: unlinking the park keeps its row by name.
    w = client.get(url).get_json()["context_weighting"]["contexts"]
    assert [c["place_id"] for c in w] == [world.places["cafe"].id, peer.id,
                                          world.places["park"].id]
    version = client.get(url).get_json()["version"]
    r = client.post(f"{page}/edit", data=MultiDict([
        ("csrf_token", token), ("op", "reasons"), ("version", version),
        *[x for c in w for x in (("name", c["name"]), ("share", c["share"]),
                                 ("reason", c["reason"]), ("kind", c["kind"]),
                                 ("place_id", "" if c["name"] == "Test Park"
                                  else c["place_id"]))]]))
    assert r.status_code == 302
    w = client.get(url).get_json()["context_weighting"]["contexts"]
    assert [(c["name"], c["place_id"], c["kind"]) for c in w][2] == ("Test Park", None, "place")
    # The peer group's page lists the assessment with its share, for a partner too.
    for who in ("practitioner", "partner_reviewer"):
        auth.login(f"{who}@test.invalid")
        html = client.get(f"/pilots/{pid}/places/{peer.id}").get_data(as_text=True)
        assert 'id="weighted-in-table"' in html and "Test Cafe · v1" in html
        share = next(c["share"] for c in w if c["place_id"] == peer.id)
        assert f'<td class="share">{share}</td>' in html
        assert "YP-001" not in html
