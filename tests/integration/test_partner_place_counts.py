"""A partner sees one figure for a place's incidents, wherever it is shown (issue 14).

Partner figures are at completed quarter ends only: the place page's header, the pilot
page's place list, the places API and the pilot card all count incidents up to the last
completed quarter end, withheld below the threshold and rounded to base 5. Incidents of the
quarter under way change none of them (two days could otherwise be differenced); the owning
team sees the exact count to date.
"""

from __future__ import annotations

import datetime as dt
import html as html_
import re
from typing import Any

import pytest
from sqlalchemy.orm import Session

from locmap import clock
from locmap.models import Incident
from tests.conftest import AuthActions
from tests.factories import World

TODAY = dt.date(2025, 5, 15)  # the last completed quarter ended on 31 Mar 2025


@pytest.fixture
def counted(session: Session, world: World) -> dict[str, Any]:
    """At the cafe: 7 incidents before 31 Mar 2025 and 6 after it (13 to date). At the
    park: 3 before it (withheld) and 9 after it."""
    cafe, park = world.places["cafe"], world.places["park"]

    def add(place_id: int, point: str, when: dt.datetime, n: int, ref: str) -> None:
        for i in range(n):
            session.add(Incident(pilot_id=world.pilot.id, place_id=place_id,
                                 location=f"SRID=4326;POINT({point})",
                                 occurred_at=when + dt.timedelta(hours=i), category="asb",
                                 severity=2, external_ref=f"{ref}-{i}"))

    add(cafe.id, "-1.49 52.505", dt.datetime(2025, 2, 10, 12, tzinfo=dt.UTC), 7, "C1")
    add(cafe.id, "-1.49 52.505", dt.datetime(2025, 4, 20, 12, tzinfo=dt.UTC), 6, "C2")
    add(park.id, "-1.494 52.5025", dt.datetime(2025, 3, 30, 12, tzinfo=dt.UTC), 3, "P1")
    add(park.id, "-1.494 52.5025", dt.datetime(2025, 5, 2, 12, tzinfo=dt.UTC), 9, "P2")
    session.commit()
    return {"pid": world.pilot.id, "cafe": cafe.id, "park": park.id}


def _header(client: Any, pid: int, place_id: int) -> str:
    html = client.get(f"/pilots/{pid}/places/{place_id}").get_data(as_text=True)
    m = re.search(r'id="incident-count">([^<]*)<', html)
    assert m, "no incident count in the place header"
    return m.group(1)


def _badges(client: Any, pid: int) -> dict[int, str]:
    html = client.get(f"/pilots/{pid}").get_data(as_text=True)
    return {int(i): html_.unescape(b) for i, b in re.findall(
        r'data-place-id="(\d+)"[^>]*>.*?<span class="badge"[^>]*>([^<]*)</span>', html, re.S)}


def test_partner_header_list_api_and_card_show_the_same_quarter_end_figure(
        client: Any, auth: AuthActions, counted: dict[str, Any]) -> None:
    pid, cafe, park = counted["pid"], counted["cafe"], counted["park"]
    with clock.frozen(TODAY):
        auth.login("partner_reviewer@test.invalid")
        features = {f["id"]: f["properties"] for f in
                    client.get(f"/api/v1/pilots/{pid}/places").get_json()["features"]}
        one = client.get(f"/api/v1/pilots/{pid}/places/{cafe}").get_json()["properties"]
        badges = _badges(client, pid)
        # The cafe: 7 by the quarter end -> 5 (13 to date would read 15).
        assert _header(client, pid, cafe) == "5"
        assert features[cafe]["incidents"] == one["incidents"] == 5
        assert features[cafe]["incidents_label"] == one["incidents_label"] == "about 5"
        assert badges[cafe] == "~5"
        page = client.get(f"/pilots/{pid}/places/{cafe}").get_data(as_text=True)
        assert "to 31 Mar 2025" in page
        # The park: 3 by the quarter end -> withheld everywhere (12 to date would read 10).
        assert _header(client, pid, park) == "fewer than 5"
        assert features[park]["incidents"] is None
        assert features[park]["incidents_label"] == "fewer than 5"
        assert badges[park] == "<5"
        # The pilot card: 10 by the quarter end -> 10 (25 to date).
        card = client.get(f"/api/v1/pilots/{pid}").get_json()
        assert (card["incidents"], card["incidents_label"], card["incidents_as_of"]) == \
            (10, "about 10", "2025-03-31")
        auth.logout()

        auth.login("practitioner@test.invalid")
        assert _header(client, pid, cafe) == "13" and _header(client, pid, park) == "12"
        features = {f["id"]: f["properties"] for f in
                    client.get(f"/api/v1/pilots/{pid}/places").get_json()["features"]}
        assert (features[cafe]["incidents"], features[park]["incidents"]) == (13, 12)
        assert "incidents_label" not in features[cafe]


def test_a_new_incident_in_the_quarter_under_way_changes_no_partner_figure(
        client: Any, auth: AuthActions, session: Session, counted: dict[str, Any]) -> None:
    pid, cafe = counted["pid"], counted["cafe"]
    with clock.frozen(TODAY):
        auth.login("partner_reviewer@test.invalid")
        before = (_header(client, pid, cafe), _badges(client, pid),
                  client.get(f"/api/v1/pilots/{pid}/places").get_json())
        for i in range(3):
            session.add(Incident(pilot_id=pid, place_id=cafe,
                                 location="SRID=4326;POINT(-1.49 52.505)",
                                 occurred_at=dt.datetime(2025, 5, 10, 12, i, tzinfo=dt.UTC),
                                 category="asb", severity=2, external_ref=f"NEW-{i}"))
        session.commit()
        after = (_header(client, pid, cafe), _badges(client, pid),
                 client.get(f"/api/v1/pilots/{pid}/places").get_json())
        assert after == before
