"""Partners never read records one by one (issue 14): incidents only as suppressed
aggregates, no free text of visits, engagement, relationship sources or presence times,
no network export — while the owning team keeps every record.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.orm import Session

from locmap import clock
from locmap.models import EngagementRecord, Incident, Person, Presence, Relationship
from locmap.queries.incidents import cell_size_deg
from locmap.services.incidents import PARTNER_CELL_ZOOM
from tests.conftest import AuthActions
from tests.factories import World

OWNING_TEAM = ("coordinator", "practitioner", "peer_assessor")
VISIT = {"started_at": "2025-06-03T15:30", "ended_at": "2025-06-03T16:45",
         "weather": "dry", "light": "daylight", "felt_safe": "Staff at the counter",
         "felt_unsafe": "Side alley", "notes": "Groups moved on at 16:20"}


def _as(auth: AuthActions, role: str) -> dict[str, str]:
    if auth.client.get("/").status_code == 200:  # logged in
        auth.logout()
    auth.login(f"{role}@test.invalid")
    return {"X-CSRFToken": auth.csrf_token("/")}


def _quarter_ago(n: int) -> dt.datetime:
    """Noon on the 10th of the middle month of the quarter ``n`` quarters before this one."""
    today = clock.today()
    q = (today.year * 4 + (today.month - 1) // 3) - n
    return dt.datetime(q // 4, (q % 4) * 3 + 2, 10, 12, tzinfo=dt.UTC)


@pytest.fixture
def seeded(session: Session, world: World) -> dict[str, Any]:
    """7 incidents in the park (one map cell) and 2 at the cafe, in a completed quarter;
    a relationship with its source; a presence with its times; an engagement record."""
    when = _quarter_ago(2)
    park, cafe = world.places["park"], world.places["cafe"]
    for i in range(7):
        session.add(Incident(pilot_id=world.pilot.id, place_id=park.id,
                             location=f"SRID=4326;POINT({-1.4945 + i * 0.0001} 52.5025)",
                             occurred_at=when + dt.timedelta(hours=i), category="asb",
                             severity=2, external_ref=f"PARK-{i}", description="Synthetic."))
    for i in range(2):
        session.add(Incident(pilot_id=world.pilot.id, place_id=cafe.id,
                             location="SRID=4326;POINT(-1.49 52.505)", occurred_at=when,
                             category="drugs", severity=4, external_ref=f"CAFE-{i}"))
    other = Person(pilot_id=world.pilot.id, pseudonym="YP-002", kind="young_person",
                   age_band="14-15")
    session.add(other)
    session.flush()
    assert world.person is not None
    session.add(Relationship(pilot_id=world.pilot.id, person_a_id=world.person.id,
                             person_b_id=other.id, type="friend", source="Told by Mum"))
    session.add(Presence(person_id=world.person.id, place_id=park.id, times="Fri 22:00",
                         source="School nurse"))
    rec = EngagementRecord(pilot_id=world.pilot.id, held_on=dt.date(2025, 4, 2),
                           with_group="children", group_description="Year 9 girls",
                           summary="They avoid the side alley.")
    rec.places = [park]
    session.add(rec)
    session.commit()
    return {"pid": world.pilot.id, "park": park.id, "cafe": cafe.id}


def _incident_id(session: Session) -> int:
    from sqlalchemy import select
    return int(session.scalar(select(Incident.id).where(Incident.external_ref == "PARK-0")))


def test_partner_gets_403_for_incident_records_the_team_gets_them(
    client: Any, auth: AuthActions, seeded: dict[str, Any], session: Session
) -> None:
    base = f"/api/v1/pilots/{seeded['pid']}/incidents"
    one = f"{base}/{_incident_id(session)}"
    _as(auth, "partner_reviewer")
    assert client.get(f"{base}?place_id={seeded['park']}&date_from=2020-01-01"
                      ).status_code == 403
    assert client.get(one).status_code == 403
    for role in OWNING_TEAM:
        _as(auth, role)
        page = client.get(f"{base}?place_id={seeded['park']}").get_json()
        assert page["total"] == 7 and page["items"][0]["external_ref"].startswith("PARK-")
        assert client.get(one).get_json()["external_ref"] == "PARK-0"


def test_partner_map_is_whole_cells_withheld_below_5_rounded_to_5(
    client: Any, auth: AuthActions, seeded: dict[str, Any]
) -> None:
    url = f"/api/v1/pilots/{seeded['pid']}/incidents/map?zoom=19&bbox="
    bbox = "-1.496,52.501,-1.488,52.506"
    _as(auth, "practitioner")
    team = client.get(url + bbox).get_json()
    assert team["mode"] == "points" and team["total"] == 9
    _as(auth, "partner_reviewer")
    got = client.get(url + bbox).get_json()
    assert got["mode"] == "clusters" and got["suppressed"] and got["withheld"]
    # The park's 7 incidents share one cell and read "5"; the cafe's 2 are withheld.
    assert [f["properties"]["count"] for f in got["features"]] == [5]
    assert got["total"] == 5
    # The cell is placed at its centre on the partner grid, not on an incident.
    cell = cell_size_deg(PARTNER_CELL_ZOOM)
    lon, lat = got["features"][0]["geometry"]["coordinates"]
    assert abs((lon / cell) % 1 - 0.5) < 1e-3 and abs((lat / cell) % 1 - 0.5) < 1e-3
    # Moving the view's edge through the cell changes nothing (cells are always whole),
    # nor does narrowing the dates inside the quarter or asking for an hour.
    assert client.get(url + "-1.4944,52.501,-1.488,52.5026").get_json()["features"] == \
        got["features"]
    day = _quarter_ago(2).date().isoformat()
    narrowed = client.get(url + bbox + f"&date_from={day}&date_to={day}&hour_from=14"
                          ).get_json()
    assert narrowed["features"] == got["features"]


def test_partner_sees_no_free_text_the_team_does(
    client: Any, auth: AuthActions, seeded: dict[str, Any]
) -> None:
    pid, park = seeded["pid"], seeded["park"]
    h = _as(auth, "practitioner")
    assert client.post(f"/api/v1/pilots/{pid}/places/{park}/observations", json=VISIT,
                       headers=h).status_code == 201
    paths = {"visits": f"/api/v1/pilots/{pid}/places/{park}/observations",
             "engagement": f"/api/v1/pilots/{pid}/engagement",
             "relationships": f"/api/v1/pilots/{pid}/relationships",
             "presences": f"/api/v1/pilots/{pid}/presences"}
    hidden = {"visits": ("felt_safe", "felt_unsafe", "notes"),
              "engagement": ("summary", "group_description"),
              "relationships": ("source",), "presences": ("times", "source")}
    secrets = ("Side alley", "side alley", "Year 9 girls", "Told by Mum", "Fri 22:00",
               "School nurse")
    for role in OWNING_TEAM:
        _as(auth, role)
        for kind, path in paths.items():
            rows = client.get(path).get_json()
            assert rows and all(k in rows[0] for k in hidden[kind]), (role, kind)
    _as(auth, "partner_reviewer")
    for kind, path in paths.items():
        r = client.get(path)
        assert r.status_code == 200
        rows = r.get_json()
        assert rows and not any(k in rows[0] for k in hidden[kind]), kind
        assert not any(s in r.get_data(as_text=True) for s in secrets), kind


def test_network_export_is_for_the_owning_team(
    client: Any, auth: AuthActions, seeded: dict[str, Any]
) -> None:
    url = f"/api/v1/pilots/{seeded['pid']}/network/export."
    _as(auth, "partner_reviewer")
    assert client.get(url + "graphml").status_code == 403
    assert client.get(url + "gexf").status_code == 403
    _as(auth, "coordinator")
    assert client.get(url + "graphml").status_code == 200


def test_partner_pages_show_aggregates_and_no_records(
    client: Any, auth: AuthActions, seeded: dict[str, Any]
) -> None:
    pid = seeded["pid"]
    _as(auth, "partner_reviewer")
    places = client.get(f"/api/v1/pilots/{pid}/places").get_json()["features"]
    by_id = {f["id"]: f["properties"] for f in places}
    assert by_id[seeded["park"]]["incidents"] == 5
    assert by_id[seeded["cafe"]]["incidents"] is None
    assert by_id[seeded["cafe"]]["incidents_label"] == "fewer than 5"
    page = client.get(f"/pilots/{pid}/places/{seeded['park']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="incident-summary"' in html
    assert "PARK-" not in html and 'id="incident-list"' not in html
    assert "They avoid the side alley" not in html
    cafe = client.get(f"/pilots/{pid}/places/{seeded['cafe']}").get_data(as_text=True)
    assert "fewer than 5" in cafe and "CAFE-" not in cafe
    for path in (f"/pilots/{pid}", f"/pilots/{pid}/network"):
        assert client.get(path).status_code == 200, path
    assert "export.graphml" not in client.get(f"/pilots/{pid}/network").get_data(as_text=True)
    _as(auth, "practitioner")
    html = client.get(f"/pilots/{pid}/places/{seeded['park']}").get_data(as_text=True)
    assert 'id="incident-list"' in html and "PARK-0" in html
    assert "They avoid the side alley" in html
    assert "export.graphml" in client.get(f"/pilots/{pid}/network").get_data(as_text=True)


def test_a_factors_linked_incidents_are_a_withheld_count_for_partners(
    client: Any, auth: AuthActions, seeded: dict[str, Any], session: Session
) -> None:
    """A safety factor citing the cafe's two incidents: the team reads which ones (the
    page lists each by date and category); a partner reads "[c]" and no incident."""
    from sqlalchemy import select

    pid, cafe = seeded["pid"], seeded["cafe"]
    ids = sorted(session.scalars(select(Incident.id).where(
        Incident.external_ref.in_(["CAFE-0", "CAFE-1"]))))
    headers = _as(auth, "practitioner")
    made = client.post(f"/api/v1/pilots/{pid}/places/{cafe}/factors", headers=headers, json={
        "quadrant": "risk", "statement": "Dealing from the back door", "incident_ids": ids})
    assert made.status_code == 201, made.get_json()
    factor = made.get_json()["id"]
    team = client.get(f"/api/v1/pilots/{pid}/factors/{factor}").get_json()
    assert team["incident_ids"] == ids and team["evidence_counts"]["incidents"] == 2
    assert "Incident " in client.get(f"/pilots/{pid}/places/{cafe}").get_data(as_text=True)
    _as(auth, "partner_reviewer")
    for read in (client.get(f"/api/v1/pilots/{pid}/factors/{factor}").get_json(),
                 client.get(f"/api/v1/pilots/{pid}/places/{cafe}/factors").get_json()[0]):
        assert read["incident_ids"] is None
        assert read["evidence_counts"]["incidents"] == "[c]"
        assert read["statement"] == "Dealing from the back door"
    html = client.get(f"/pilots/{pid}/places/{cafe}").get_data(as_text=True)
    assert "Dealing from the back door" in html and "[c] incidents" in html
    assert "Incident " not in html and "(severity 4)" not in html
