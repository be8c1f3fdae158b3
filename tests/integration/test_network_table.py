"""The peer network as tables: the same people, groups, ties and place counts as the
graph and the map, pseudonyms only, sortable by any column, for every member role."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.models import AuditEvent
from tests.conftest import AuthActions
from tests.factories import World


def _form(auth: AuthActions, **fields: Any) -> dict[str, Any]:
    return {"csrf_token": auth.csrf_token("/"), **fields}


def _record(auth: AuthActions, client: Any, world: World) -> None:
    pid, park = world.pilot.id, world.places["park"].id
    cafe = world.places["cafe"].id
    assert client.post(f"/pilots/{pid}/network/purpose", data=_form(
        auth, purpose="Make the park safer", lawful_basis="Children Act 1989 s.17")
    ).status_code == 302
    # YP-001 (the world's) nowhere; YP-002 a friend at the park and the cafe;
    # YP-003 a friend of YP-002 at the park; AD-001 harmful to YP-001 and YP-002.
    client.post(f"/pilots/{pid}/network/people", data=_form(
        auth, kind="young_person", link_0="YP-001", link_0_type="friend",
        link_0_strength="3", place=[str(park), str(cafe)]))
    client.post(f"/pilots/{pid}/network/people", data=_form(
        auth, kind="young_person", link_0="YP-002", link_0_type="friend",
        link_0_strength="1", place=str(park)))
    client.post(f"/pilots/{pid}/network/people", data=_form(
        auth, kind="adult_of_concern", link_0="YP-001", link_0_type="exploitative",
        link_0_valence="harmful", link_1="YP-002", link_1_type="exploitative",
        link_1_valence="harmful", place=str(cafe)))


def _rows(html: str, table: str) -> list[list[str]]:
    body = re.search(rf'<table class="data" id="{table}">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert body, table
    cell = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in cell.findall(r)]
            for r in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)]


def test_tables_show_what_the_graph_and_the_map_show(
    auth: AuthActions, client: Any, world: World, session: Session
) -> None:
    pid = world.pilot.id
    auth.login("practitioner@test.invalid")
    _record(auth, client, world)
    r = client.get(f"/pilots/{pid}/network/table")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "Testy Quillborne" not in html  # identities never reach the tables
    for table in ("people-table", "groups-table", "ties-table", "places-table"):
        assert re.search(rf'id="{table}">\s*<caption>', html), table
    people = {row[0]: row for row in _rows(html, "people-table")}
    assert set(people) == {"YP-001", "YP-002", "YP-003", "AD-001"}
    assert people["YP-002"][6] == "Test Cafe, Test Park"
    assert people["AD-001"][1] == "Adult of concern"

    graph = client.get(f"/pilots/{pid}/network").get_data(as_text=True)
    found = re.search(r'id="network-data">(.*?)</script>', graph, re.S)
    assert found
    data = json.loads(found.group(1))
    ties = _rows(html, "ties-table")
    assert len(ties) == len(data["edges"]) == 4
    assert 'id="network-table-link"' in graph
    friends = next(t for t in ties if {t[0], t[1]} == {"YP-001", "YP-002"})
    assert friends[2:] == ["friend", "neutral", "3", "—"]
    harm = next(t for t in ties if {t[0], t[1]} == {"YP-002", "AD-001"})
    assert harm[2:] == ["exploitative", "harmful", "2", "Test Cafe"]
    groups = {row[0]: row for row in _rows(html, "groups-table")}
    assert {n["data"]["group"] for n in data["nodes"]} - {""} == set(groups)

    m = client.get(f"/pilots/{pid}/network/map").get_data(as_text=True)
    assert 'id="network-table-link"' in m
    found = re.search(r'id="network-map-data">(.*?)</script>', m, re.S)
    assert found
    usage = {u["name"]: u["groups"] for u in json.loads(found.group(1))["usage"]}
    places = {row[0]: row for row in _rows(html, "places-table")}
    for name, groups_there in usage.items():
        shown = ", ".join(f"{g['label']} ({g['members']})" for g in groups_there) or "—"
        assert places[name][2] == shown
    assert places["Test Cafe"][3] == "1"  # one adult of concern there

    events = session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "network_table")).all()
    assert events and events[0].action == "view"


def test_columns_sort_both_ways_and_say_so(
    auth: AuthActions, client: Any, world: World
) -> None:
    pid = world.pilot.id
    auth.login("practitioner@test.invalid")
    _record(auth, client, world)
    html = client.get(f"/pilots/{pid}/network/table?sort_ties=strength").get_data(as_text=True)
    assert [t[4] for t in _rows(html, "ties-table")] == ["1", "2", "2", "3"]
    assert 'aria-sort="ascending"' in html and "sorted by strength (ascending)" in html
    assert "sort_ties=-strength" in html  # the heading now sorts the other way
    html = client.get(f"/pilots/{pid}/network/table?sort_ties=-strength&sort_people=-pseudonym"
                      ).get_data(as_text=True)
    assert [t[4] for t in _rows(html, "ties-table")] == ["3", "2", "2", "1"]
    assert [p[0] for p in _rows(html, "people-table")] == ["YP-003", "YP-002", "YP-001", "AD-001"]
    # An unknown column is ignored, not an error.
    assert client.get(f"/pilots/{pid}/network/table?sort_ties=nope").status_code == 200


def test_partner_reads_the_tables_outsider_gets_404(
    auth: AuthActions, client: Any, world: World
) -> None:
    pid = world.pilot.id
    auth.login("partner_reviewer@test.invalid")
    r = client.get(f"/pilots/{pid}/network/table")
    assert r.status_code == 200 and "YP-001" in r.get_data(as_text=True)
    assert "Testy Quillborne" not in r.get_data(as_text=True)
    auth.logout()
    auth.login("outsider@test.invalid")
    assert client.get(f"/pilots/{pid}/network/table").status_code == 404
