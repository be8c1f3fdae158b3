"""The network pages, the quick-entry form and the demo town's network story."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.models import Person, Pilot, User
from locmap.services import accounts, network
from locmap.services.demo import load_demo
from tests.conftest import AuthActions
from tests.factories import World


def _form(auth: AuthActions, **fields: Any) -> dict[str, Any]:
    return {"csrf_token": auth.csrf_token("/"), **fields}


def test_quick_entry_form_records_and_draws_the_network(
    auth: AuthActions, client: Any, world: World, session: Session
) -> None:
    pid = world.pilot.id
    auth.login("peer_assessor@test.invalid")
    page = client.get(f"/pilots/{pid}/network").get_data(as_text=True)
    assert "No purpose or lawful basis is recorded" in page
    refused = client.post(f"/pilots/{pid}/network/people", data=_form(auth, kind="young_person"))
    assert refused.status_code == 409 and "lawful basis" in refused.get_data(as_text=True)
    ok = client.post(f"/pilots/{pid}/network/purpose", data=_form(
        auth, purpose="Make the park safer <b>now</b>", lawful_basis="Children Act 1989 s.17"))
    assert ok.status_code == 302
    park = world.places["park"].id
    r = client.post(f"/pilots/{pid}/network/people", data=_form(
        auth, kind="young_person", age_band="14-15", link_0="YP-001", link_0_type="friend",
        link_0_valence="neutral", link_0_strength="3", place=str(park),
        **{f"place_{park}_frequency": "daily"}, identity_name="Quenby Invented"))
    assert r.status_code == 302
    r = client.post(f"/pilots/{pid}/network/people", data=_form(
        auth, kind="adult_of_concern", link_0="YP-001", link_0_type="exploitative",
        link_0_valence="harmful", link_1="YP-002", link_1_type="exploitative",
        link_1_valence="harmful"))
    assert r.status_code == 302
    html = client.get(f"/pilots/{pid}/network?as_of=2025-06-01").get_data(as_text=True)
    assert "Make the park safer &lt;b&gt;now&lt;/b&gt;" in html  # escaped, not markup
    assert "Quenby Invented" not in html
    found = re.search(r'id="network-data">(.*?)</script>', html, re.S)
    assert found
    nodes = {n["data"]["label"]: n["data"] for n in json.loads(found.group(1))["nodes"]}
    assert nodes["AD-001"]["reaches"] == ["YP-001", "YP-002"]
    assert nodes["YP-001"]["group"] == nodes["YP-002"]["group"] == "Group A"
    assert re.search(r"<strong>AD-001</strong> linked to 2 young people", html)
    group = client.get(f"/pilots/{pid}/network/groups/A?as_of=2025-06-01")
    text = group.get_data(as_text=True)
    assert group.status_code == 200 and "YP-001" in text and "YP-002" in text
    assert "Test Park" in text and "AD-001" in text
    assert client.get(f"/pilots/{pid}/network/groups/Z").status_code == 404
    m = client.get(f"/pilots/{pid}/network/map?as_of=2025-06-01")
    assert m.status_code == 200 and "network-map-data" in m.get_data(as_text=True)


def test_bad_form_input_writes_nothing(
    auth: AuthActions, client: Any, world: World, session: Session
) -> None:
    pid = world.pilot.id
    auth.login("practitioner@test.invalid")
    client.post(f"/pilots/{pid}/network/purpose",
                data=_form(auth, purpose="p", lawful_basis="b"))
    before = session.scalar(select(Person.id).order_by(Person.id.desc()))
    r = client.post(f"/pilots/{pid}/network/people", data=_form(
        auth, kind="young_person", link_0="YP-777"))
    assert r.status_code == 422 and "YP-777" in r.get_data(as_text=True)
    r = client.post(f"/pilots/{pid}/network/people", data=_form(
        auth, kind="young_person", since="not-a-date"))
    assert r.status_code == 422
    assert session.scalar(select(Person.id).order_by(Person.id.desc())) == before


def test_reviewer_sees_pages_without_forms_and_outsider_gets_404(
    auth: AuthActions, client: Any, world: World
) -> None:
    pid = world.pilot.id
    auth.login("partner_reviewer@test.invalid")
    html = client.get(f"/pilots/{pid}/network").get_data(as_text=True)
    assert 'id="person-form"' not in html and "Testy Quillborne" not in html
    assert client.post(f"/pilots/{pid}/network/people",
                       data=_form(auth, kind="young_person")).status_code == 403
    auth.logout()
    auth.login("outsider@test.invalid")
    assert client.get(f"/pilots/{pid}/network").status_code == 404
    assert client.get(f"/pilots/{pid}/network/map").status_code == 404


def test_demo_network_shows_groups_adults_and_the_shared_library(session: Session) -> None:
    shift = load_demo(session).shift  # the demo's dates move with the day it is loaded
    assert shift is not None
    pilot = session.scalar(select(Pilot).where(Pilot.name == "Eastbrook Town Centre"))
    assert pilot is not None
    user = session.scalar(select(User).where(User.email == "peer.assessor@demo.locmap.invalid"))
    assert user is not None
    actor = accounts.actor_for(session, user)
    result, _ = network.analysis(session, actor, pilot.id, as_of=shift.date(dt.date(2025, 6, 1)))
    assert len(result.groups.groups) >= 3
    adults = [a.pseudonym for a in result.concerns.adults_of_concern]
    assert adults and all(a.startswith("AD-") for a in adults)
    library = next(p for p in result.places.places if p.name == "Eastbrook Library")
    assert library.shared and len(library.groups) >= 2
    # The groups moved from Burger Hub to the library in January 2025.
    assert not any(p.name == "Burger Hub" and p.groups for p in result.places.places)
    before, _ = network.analysis(session, actor, pilot.id, as_of=shift.date(dt.date(2024, 11, 1)))
    burger = next(p for p in before.places.places if p.name == "Burger Hub")
    assert len(burger.groups) >= 2


def test_sampled_connectors_are_labelled_approximate_on_the_page_and_in_the_api(
    auth: AuthActions, client: Any, world: World, session: Session,
    monkeypatch: Any,
) -> None:
    from locmap.models import Relationship
    from locmap.network import connectors

    pid = world.pilot.id
    people = [Person(pilot_id=pid, pseudonym=f"YP-9{i:02}", kind="young_person")
              for i in range(6)]
    session.add_all(people)
    session.flush()
    session.add_all(Relationship(pilot_id=pid, person_a_id=a.id, person_b_id=b.id,
                                 type="friend") for a, b in itertools.pairwise(people))
    session.flush()
    auth.login("practitioner@test.invalid")
    html = client.get(f"/pilots/{pid}/network").get_data(as_text=True)
    assert 'id="connectors-approximate"' not in html  # 7 young people: exact
    monkeypatch.setattr(connectors, "EXACT_MAX_NODES", 3)
    monkeypatch.setattr(connectors, "SAMPLE_SIZE", 2)
    html = client.get(f"/pilots/{pid}/network").get_data(as_text=True)
    assert 'id="connectors-approximate">approximate</span>' in html
    assert "Approximate: betweenness estimated from 2 of 7 young people" in html
    data = client.get(f"/api/v1/pilots/{pid}/network/analysis").get_json()
    assert data["connectors"]["betweenness_exact"] is False
    assert data["connectors"]["betweenness_note"].startswith("Approximate")
