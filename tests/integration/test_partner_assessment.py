"""A partner reads an assessment: incident and people counts under the partners'
disclosure control, no incident ids, no pseudonyms of people present, no rates or profiles
built on exact counts, and a summary that speaks of safety maps only through the combined
picture above the threshold — the same on the page, in the API and in the comparison.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Point, box
from sqlalchemy.orm import Session

from locmap.models import Incident, Person, Presence, SafetyFactor, SafetyMap, SafetyMapArea
from locmap.services import accounts, assessments
from tests import factories

CAFE = (-1.49, 52.505)
OVER_CAFE = MultiPolygon([box(-1.4905, 52.5045, -1.4895, 52.5055)])


def _incidents(session: Session, pilot_id: int, n: int,
               where: tuple[float, float]) -> list[Incident]:
    t0 = dt.datetime(2025, 1, 2, 16, tzinfo=dt.UTC)
    rows = [Incident(pilot_id=pilot_id, location=from_shape(Point(*where), srid=4326),
                     occurred_at=t0 + dt.timedelta(days=3 * i, hours=i % 6),
                     time_precision="exact", category="asb", severity=2) for i in range(n)]
    session.add_all(rows)
    return rows


@pytest.fixture
def submitted(session: Session, world: factories.World) -> dict[str, Any]:
    """Two submitted versions of the cafe's assessment: 3 incidents at the cafe (a small
    count, 2 of them linked to the factor), 12 in the ring, 3 young people present, one
    young person's map colouring the cafe red.
    """
    pid, cafe = world.pilot.id, world.places["cafe"]
    at_cafe = _incidents(session, pid, 3, CAFE)
    _incidents(session, pid, 12, (-1.493, 52.5052))
    _incidents(session, pid, 8, (-1.499, 52.5085))
    people = [Person(pilot_id=pid, pseudonym=f"YP-9{i}", kind="young_person",
                     age_band="14-15") for i in range(3)]
    session.add_all(people)
    session.flush()
    session.add_all(Presence(person_id=p.id, place_id=cafe.id, since=dt.date(2024, 1, 1))
                    for p in people)
    session.add(SafetyMap(pilot_id=pid, drawn_on=dt.date(2025, 6, 1), period="2025", areas=[
        SafetyMapArea(geom=from_shape(OVER_CAFE, srid=4326), rating="red")]))
    session.add(SafetyFactor(place_id=cafe.id, quadrant="risk", statement="Fights nearby",
                             weight=3, voice="professional", incidents=at_cafe[:2]))
    session.commit()
    team = accounts.actor_for(session, world.users["practitioner"], None)
    v1 = assessments.start_assessment(session, team, pid, cafe.id)
    assessments.submit_assessment(session, team, pid, v1.id)
    v2 = assessments.new_version(session, team, pid, v1.id)
    assessments.submit_assessment(session, team, pid, v2.id)
    session.commit()
    return {"pilot": pid, "v1": v1.id, "v2": v2.id, "pseudonyms": [p.pseudonym for p in people]}


def _get(client: Any, auth: Any, who: str, url: str) -> Any:
    auth.login(f"{who}@test.invalid")
    r = client.get(url)
    auth.logout()
    assert r.status_code == 200, url
    return r


def test_partner_gets_suppressed_counts_and_no_pseudonyms(client: Any, auth: Any,
                                                          submitted: dict[str, Any]) -> None:
    url = f"/api/v1/pilots/{submitted['pilot']}/assessments/{submitted['v2']}"
    team = _get(client, auth, "practitioner", url).get_json()
    partner = _get(client, auth, "partner_reviewer", url).get_json()

    # The owning team: exact counts, the incident ids, the pseudonyms, the rates.
    t = team["indicators"]
    assert t["suppressed"] is False
    assert (t["incidents"]["place"], t["incidents"]["ring"]) == (3, 12)
    assert len(t["incidents"]["place_ids"]) == 3
    assert sorted(t["people_present"]["young_people"]) == sorted(submitted["pseudonyms"])
    assert t["people_present"]["by_kind"] == {"young_person": 3}
    assert t["indicators"] is not None
    assert team["factors"][0]["evidence"]["incidents"] == 2
    assert len(team["factors"][0]["incident_ids"]) == 2

    # A partner: the dashboard's disclosure rule (3 withheld, 12 → 10, 8 → 10), no ids,
    # no pseudonyms, nothing derived from the exact counts.
    p = partner["indicators"]
    assert p["suppressed"] is True
    assert p["incidents"] == {"place": "[c]", "ring": 10, "locality": 10, "place_ids": None}
    assert p["people_present"]["young_people"] is None
    assert p["people_present"]["pseudonyms_withheld"] is True
    assert p["people_present"]["by_kind"] == {"young_person": "[c]"}
    assert p["indicators"] is None
    assert all(c["z"] is None and c["count"] in (0, "[c]") or c["count"] % 5 == 0
               for c in (p["hotspots"] or {}).get("place_cells", []))
    # The incidents linked to a factor are a count too; their ids are the owning team's.
    assert partner["factors"][0]["evidence"]["incidents"] == "[c]"
    assert partner["factors"][0]["incident_ids"] is None
    assert partner["quadrants"]["risk"][0]["evidence"]["incidents"] == "[c]"
    assert partner["unevidenced"] == team["unevidenced"] == []
    text = json.dumps(partner)
    for pseudonym in submitted["pseudonyms"]:
        assert pseudonym not in text


def test_partner_page_shows_the_api_numbers(client: Any, auth: Any,
                                            submitted: dict[str, Any]) -> None:
    url = f"/pilots/{submitted['pilot']}/assessments/{submitted['v2']}"
    html = _get(client, auth, "partner_reviewer", url).get_data(as_text=True)
    counts = re.search(r'<p id="incident-counts">(.*?)</p>', html, re.S)
    assert counts and counts.group(1).startswith("[c] incidents at the place, 10 incidents in the")
    assert 'id="partner-figures"' in html and 'id="heatmap"' not in html
    assert "[c] incidents · 0 visits" in html  # the factor's linked incidents
    blob = re.search(r'<script type="application/json" id="assessment-data">(.*?)</script>',
                     html, re.S)
    assert blob
    data = json.loads(blob.group(1))
    assert data["indicators"]["incidents"]["place_ids"] is None
    for pseudonym in submitted["pseudonyms"]:
        assert pseudonym not in html
    team = _get(client, auth, "practitioner", url).get_data(as_text=True)
    assert '<p id="incident-counts">3 incidents at the place, 12 incidents in the' in team
    assert "2 incidents · 0 visits" in team
    assert any(p in team for p in submitted["pseudonyms"])  # the owning team's data blob


def test_partner_summary_uses_only_the_combined_picture(client: Any, auth: Any,
                                                        submitted: dict[str, Any]) -> None:
    url = f"/api/v1/pilots/{submitted['pilot']}/assessments/{submitted['v2']}"
    team = _get(client, auth, "practitioner", url).get_json()["summary"]
    partner = _get(client, auth, "partner_reviewer", url).get_json()["summary"]
    # One young person's map coloured the cafe red: the team's text may say so ...
    assert "young people coloured the place red" in team
    assert "1 of 3 incidents at the place are not linked" in team
    assert "(risk, weight 3, professional voice; 2 incidents" in team
    # ... a partner's never: one map is below the threshold, and no incident count is told.
    assert "red" not in partner and "incidents at the place are not linked" not in partner
    assert partner.startswith("The factors that weigh most at Test Cafe")
    assert "(risk, weight 3, professional voice; [c] incidents" in partner
    page = _get(client, auth, "partner_reviewer",
                f"/pilots/{submitted['pilot']}/assessments/{submitted['v2']}")
    assert "coloured the place red" not in page.get_data(as_text=True)


def test_partner_comparison_figures_are_suppressed(client: Any, auth: Any,
                                                   submitted: dict[str, Any]) -> None:
    url = (f"/api/v1/pilots/{submitted['pilot']}/assessments/{submitted['v1']}"
           f"/compare/{submitted['v2']}")
    rows = {r["figure"]: r for r in _get(client, auth, "partner_reviewer", url)
            .get_json()["indicators"]}
    assert rows["incidents at the place"]["before"] == "[c]"
    assert rows["rate ratio, place vs ring"]["after"] is None
    team = {r["figure"]: r for r in _get(client, auth, "practitioner", url)
            .get_json()["indicators"]}
    assert team["incidents at the place"]["after"] == 3


def test_the_configured_threshold_holds_in_the_plan(client: Any, auth: Any, app: Any,
                                                    session: Session,
                                                    world: factories.World) -> None:
    """A partnership that withholds counts below 15: a factor citing 7 incidents reads
    "[c]" to a partner in the plan (whose assessment part once used the default of 5,
    which gives 5), and 7 to the owning team."""
    from locmap.services import plans, reviews

    pid, park = world.pilot.id, world.places["park"]
    cited = _incidents(session, pid, 7, (-1.494, 52.5025))
    session.add(SafetyFactor(place_id=park.id, quadrant="risk", statement="Dealing at dusk",
                             weight=3, voice="professional", incidents=cited))
    session.commit()
    team = accounts.actor_for(session, world.users["practitioner"], None)
    version = assessments.start_assessment(session, team, pid, park.id)
    assessments.submit_assessment(session, team, pid, version.id)
    plan = plans.create_plan(session, team, pid, version.id)
    plans.add_action(session, team, plan.id, {
        "description": "Ask the owner to light the path", "category": "do_things_differently",
        "lead": "coordinator", "due_on": "2026-03-01"}, pilot_id=pid)
    reviews.submit_plan(session, team, pid, plan.id)
    session.commit()
    url = f"/api/v1/pilots/{pid}/plans/{plan.id}"
    app.config["LOCMAP_SUPPRESSION_THRESHOLD"] = 15
    partner = _get(client, auth, "partner_reviewer", url).get_json()
    assert [f["evidence"]["incidents"] for f in partner["factors"]] == ["[c]"]
    owner = _get(client, auth, "practitioner", url).get_json()
    assert [f["evidence"]["incidents"] for f in owner["factors"]] == [7]
