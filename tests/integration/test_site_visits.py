"""Site visits on the place page: the light from the sun, young adults counted, and a
visit changed or deleted from the page (issue 16)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.models import AuditEvent, Observation
from tests.conftest import AuthActions
from tests.factories import World
from tests.integration.test_evidence import VISIT, Api, _base, _page


@pytest.fixture
def pr(client: Any, auth: AuthActions, world: World) -> Api:
    return Api(client, auth, "practitioner@test.invalid")


def _visit(pr: Api, world: World, **change: Any) -> dict[str, Any]:
    body = {k: v for k, v in {**VISIT, **change}.items() if v is not ...}
    r = pr.send("POST", _base(world) + "/observations", body)
    assert r.status_code == 201, r.json
    return r.json


def test_light_left_to_the_time_is_read_from_the_sun(pr: Api, world: World) -> None:
    # 19:10 on a December evening is dark (the form's old default said "daylight").
    evening = _visit(pr, world, started_at="2025-12-10T19:10", ended_at=None, light=...)
    assert evening["light"] == "dark"
    dusk = _visit(pr, world, started_at="2025-12-10T16:10", ended_at=None, light=None)
    assert dusk["light"] == "dusk"
    noon = _visit(pr, world, started_at="2025-12-10T12:00", ended_at=None, light=...)
    assert noon["light"] == "daylight"
    # What the practitioner chose is kept, even against the sun.
    chosen = _visit(pr, world, started_at="2025-12-10T19:10", ended_at=None, light="dusk")
    assert chosen["light"] == "dusk"


def test_changing_the_start_with_light_left_to_the_time_reads_the_sun_again(
        pr: Api, world: World) -> None:
    v = _visit(pr, world, started_at="2025-12-10T12:00", ended_at=None, light=...)
    r = pr.send("PATCH", f"/api/v1/pilots/{world.pilot.id}/observations/{v['id']}",
                {"version": v["version"], "started_at": "2025-12-10T19:10", "light": None})
    assert r.status_code == 200, r.json
    assert r.json["light"] == "dark"


def test_young_adults_aged_18_to_24_are_counted(pr: Api, world: World,
                                                session: Session) -> None:
    v = _visit(pr, world, young_people_18_24=5)
    assert v["young_people_18_24"] == 5
    assert v["young_people"] == 4 + 12 + 6 + 5
    assert session.get_one(Observation, v["id"]).young_people_18_24 == 5
    bad = pr.send("POST", _base(world) + "/observations", {**VISIT, "young_people_18_24": -1})
    assert bad.status_code == 422


def test_the_page_offers_the_sun_and_the_18_to_24_band(pr: Api, world: World) -> None:
    html = pr.get(_page(world)).get_data(as_text=True)
    assert "From the sun at the start time" in html
    assert "Sunrise " in html and ", sunset " in html
    assert 'name="young_people_18_24"' in html


def test_edit_a_visit_from_the_page(pr: Api, world: World, session: Session) -> None:
    v = _visit(pr, world)  # signs of dealing ticked
    html = pr.get(_page(world)).get_data(as_text=True)
    assert f'id="visit-{v["id"]}-form"' in html and "Edit or delete this visit" in html
    r = pr.client.post(f"{_page(world)}/observations/{v['id']}", data={
        "csrf_token": pr.token, "version": str(v["version"]),
        "_checkboxes": "signs_of_dealing signs_of_drug_use", "signs_of_drug_use": "on",
        "started_at": "2025-06-03T15:30", "light": "dusk", "guardianship": "low",
        "lighting": "good", "sight_lines": "poor", "cctv": "present_working",
        "young_people_10_13": "4", "young_people_14_15": "12", "young_people_16_17": "6",
        "young_people_18_24": "2", "adults_present": "3", "staff_guardians_present": "1",
        "felt_safe": "Staff at the counter", "felt_unsafe": "Side alley", "notes": "Changed"})
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    row = session.get_one(Observation, v["id"])
    session.refresh(row)
    # The unticked box reads as "no", the ticked one as "yes".
    assert (row.signs_of_dealing, row.signs_of_drug_use) == (False, True)
    assert (row.light, row.young_people_18_24, row.notes) == ("dusk", 2, "Changed")
    assert row.version == 2
    # The same form sent again from the old page is a conflict, not an overwrite.
    stale = pr.client.post(f"{_page(world)}/observations/{v['id']}", data={
        "csrf_token": pr.token, "version": str(v["version"]), "notes": "Stale"})
    assert stale.status_code == 409
    assert "changed by someone else" in stale.get_data(as_text=True)
    session.refresh(row)
    assert row.notes == "Changed"


def test_delete_a_visit_from_the_page(pr: Api, world: World, session: Session) -> None:
    v = _visit(pr, world)
    stale = pr.client.post(f"{_page(world)}/observations/{v['id']}/delete",
                           data={"csrf_token": pr.token, "version": "7", "confirm": "on"})
    assert stale.status_code == 409
    assert session.get(Observation, v["id"]) is not None
    r = pr.client.post(f"{_page(world)}/observations/{v['id']}/delete",
                       data={"csrf_token": pr.token, "version": str(v["version"]),
                             "confirm": "on"})
    assert r.status_code == 302
    assert session.scalar(select(Observation.id).where(Observation.id == v["id"])) is None
    assert session.scalar(select(AuditEvent.id).where(
        AuditEvent.action == "delete", AuditEvent.entity == "observation",
        AuditEvent.entity_id == str(v["id"]))) is not None


def test_a_partner_cannot_edit_or_delete_a_visit(client: Any, auth: AuthActions, pr: Api,
                                                 world: World, session: Session) -> None:
    v = _visit(pr, world)
    auth.logout()
    auth.login("partner_reviewer@test.invalid")
    token = auth.csrf_token("/")
    html = client.get(_page(world)).get_data(as_text=True)
    assert "Edit or delete this visit" not in html
    r = client.post(f"{_page(world)}/observations/{v['id']}/delete",
                    data={"csrf_token": token, "version": "1", "confirm": "on"})
    assert r.status_code == 403
    assert session.get(Observation, v["id"]) is not None


# --- the way to an assessment --------------------------------------------------------

def test_the_place_page_and_overview_lead_to_starting_an_assessment(
        pr: Api, world: World, client: Any, auth: AuthActions) -> None:
    html = pr.get(_page(world)).get_data(as_text=True)
    start = f"/pilots/{world.pilot.id}/places/{world.places['cafe'].id}/assessments/new"
    assert f'href="{start}" id="start-assessment-link">Start an assessment' in html
    overview = pr.get(f"/pilots/{world.pilot.id}/overview").get_data(as_text=True)
    assert f'href="{start}"' in overview
    r = pr.client.post(start, data={"csrf_token": pr.token})
    assert r.status_code == 302
    html = pr.get(_page(world)).get_data(as_text=True)
    assert 'id="assessment-link">Assessment v1</a> <span class="state state-draft">draft' in html
    assert 'id="start-assessment-link"' not in html  # carry on with the draft instead
    auth.logout()
    auth.login("partner_reviewer@test.invalid")
    html = client.get(_page(world)).get_data(as_text=True)
    assert 'id="assessment-link"' in html and 'id="start-assessment-link"' not in html
    assert 'id="start-assessment"' not in client.get(start).get_data(as_text=True)


def test_workspace_evidence_links_name_their_place(pr: Api, world: World) -> None:
    html = pr.get(f"/pilots/{world.pilot.id}").get_data(as_text=True)
    names = re.findall(r'class="place-evidence-link"[^>]*>evidence'
                       r'<span class="visually-hidden"> at ([^<]+)</span>', html)
    assert len(names) == len(world.places) and len(set(names)) == len(names)
