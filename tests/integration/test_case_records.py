"""Children's case records on PostGIS: the case-status CSV previewed row by row and applied
without its bad rows, a stale preview refused, the owning team's export of the children
linked to a place, and who may do either.

The clock is frozen (dates in the future are refused), so nothing depends on today.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import Conflict, Forbidden, InvalidData
from locmap.models import AuditEvent, Identity, Person, Presence
from locmap.services import case_records
from locmap.services.accounts import actor_for
from tests.factories import World

TODAY = dt.datetime(2025, 7, 15, 10, tzinfo=clock.LOCAL_TZ)


def _people(session: Session, world: World) -> dict[str, Person]:
    """YP-001 (case T-1, the world's), YP-002 (T-2), YP-003 (T-3), an adult (A-1)."""
    yp2 = Person(pilot_id=world.pilot.id, pseudonym="YP-002", kind="young_person",
                 age_band="16-17", case_status="early_help")
    adult = Person(pilot_id=world.pilot.id, pseudonym="AD-001", kind="adult_of_concern",
                   age_band="25+")
    yp3 = Person(pilot_id=world.pilot.id, pseudonym="YP-003", kind="young_person",
                 age_band="14-15")
    session.add_all([yp2, yp3, adult])
    session.flush()
    session.add_all([Identity(person_id=yp2.id, name="Second Quillborne", case_reference="T-2"),
                     Identity(person_id=yp3.id, name="Third Quillborne", case_reference="T-3"),
                     Identity(person_id=adult.id, name="Adult Quillborne",
                              case_reference="A-1")])
    session.commit()
    return {"yp1": world.person, "yp2": yp2, "adult": adult}


CSV = """case_reference,case_status,exploitation_category,last_risk_assessment_on
T-1,Child in need,cce,2025-06-02
t-2,early_help,,01/07/2025
NOPE-9,open_case,,
T-1,open_case,,
A-1,open_case,,
T-3,not a status,cse_1,2025-13-01
"""


def test_preview_reports_each_row_and_apply_writes_only_the_good_ones(
        session: Session, world: World) -> None:
    p = _people(session, world)
    a = actor_for(session, world.users["practitioner"])
    with clock.frozen(TODAY):
        pre = case_records.preview(session, a, world.pilot.id, CSV)
        session.commit()
        assert (pre["rows"], pre["changing"], pre["errors"]) == (6, 2, 4)
        errors = {r["line"]: r["error"] for r in pre["report"] if r["error"]}
        assert "No young person" in errors[4] and "same case reference as line 2" in errors[5]
        assert "young people only" in errors[6]
        assert "not one of" in errors[7] and "not a date" in errors[7]
        assert pre["report"][0]["changes"] == {"case_status": "child_in_need",
                                               "exploitation_category": "cce",
                                               "last_risk_assessment_on": "2025-06-02"}
        # Nothing is written by a preview.
        session.refresh(p["yp1"])
        assert p["yp1"].case_status is None
        done = case_records.apply(session, a, world.pilot.id, CSV, pre["digest"])
        session.commit()
    assert done["changed"] == 2
    session.refresh(p["yp1"])
    session.refresh(p["yp2"])
    assert (p["yp1"].case_status, p["yp1"].exploitation_category,
            p["yp1"].last_risk_assessment_on) == ("child_in_need", "cce", dt.date(2025, 6, 2))
    assert (p["yp2"].case_status, p["yp2"].last_risk_assessment_on) == (
        "early_help", dt.date(2025, 7, 1))
    assert p["adult"].case_status is None
    updates = session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "person", AuditEvent.action == "update")).all()
    assert {e.entity_id for e in updates} >= {str(p["yp1"].id), str(p["yp2"].id)}


def test_a_stale_preview_is_refused_and_bad_files_say_why(session: Session,
                                                           world: World) -> None:
    p = _people(session, world)
    a = actor_for(session, world.users["practitioner"])
    with clock.frozen(TODAY):
        pre = case_records.preview(session, a, world.pilot.id, CSV)
        p["yp1"].case_status = "looked_after"  # someone else's edit since the preview
        session.commit()
        with pytest.raises(Conflict):
            case_records.apply(session, a, world.pilot.id, CSV, pre["digest"])
        session.rollback()
        for bad in ("name,status\nx,y\n", "case_reference,colour\nT-1,red\n",
                    "case_reference\n", ""):
            with pytest.raises(InvalidData):
                case_records.preview(session, a, world.pilot.id, bad)
        future = "case_reference,last_risk_assessment_on\nT-1,2025-08-01\n"
        assert "future" in case_records.preview(
            session, a, world.pilot.id, future)["report"][0]["error"]
    session.refresh(p["yp1"])
    assert p["yp1"].case_status == "looked_after"


def test_children_linked_to_a_place_for_the_owning_team_only(session: Session,
                                                              world: World) -> None:
    p = _people(session, world)
    park = world.places["park"]
    session.add_all([
        Presence(person_id=p["yp1"].id, place_id=park.id, frequency="weekly"),
        Presence(person_id=p["yp2"].id, place_id=park.id, frequency="daily",
                 until=dt.date(2025, 1, 31)),  # no longer there
        Presence(person_id=p["adult"].id, place_id=park.id, frequency="weekly"),
    ])
    session.commit()
    a = {k: actor_for(session, u) for k, u in world.users.items()}
    with clock.frozen(TODAY):
        text, name = case_records.children_csv(session, a["practitioner"], world.pilot.id,
                                               park.id)
        for who in ("partner_reviewer", "coordinator"):
            with pytest.raises(Forbidden):
                case_records.children_csv(session, a[who], world.pilot.id, park.id)
            with pytest.raises(Forbidden):
                case_records.preview(session, a[who], world.pilot.id, CSV)
    lines = text.lstrip("\ufeff").strip().splitlines()
    assert lines[0] == ",".join(case_records.EXPORT_COLUMNS)
    assert lines[1:] == ["YP-001,T-1,,,,weekly"]
    assert name == f"children-at-place-{park.id}.csv"
    exports = session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "children_at_place")).all()
    assert exports and all(e.personal_data for e in exports)


def test_pages_preview_apply_and_export(client: Any, auth: Any, session: Session,
                                        world: World) -> None:
    _people(session, world)
    auth.login("practitioner@test.invalid")
    base = f"/pilots/{world.pilot.id}/case-records"
    token = auth.csrf_token(base)
    hostile = "case_reference,case_status\n<script>alert(1)</script>,open_case\nT-1,open_case\n"
    with clock.frozen(TODAY):
        page = client.post(f"{base}/preview", data={"csrf_token": token, "csv": hostile})
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and 'id="preview-summary"' in html
        assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
        digest = html.split('name="digest" value="')[1].split('"')[0]
        done = client.post(f"{base}/apply", data={"csrf_token": token, "csv": hostile,
                                                  "digest": digest})
        assert done.status_code == 200 and "1 updated" in done.get_data(as_text=True)
        again = client.post(f"{base}/apply", data={"csrf_token": token, "csv": hostile,
                                                   "digest": digest})
        assert again.status_code == 409
        bad = client.post(f"{base}/preview", data={"csrf_token": token, "csv": "x\n1\n"})
        assert bad.status_code == 422
    csv_ = client.get(f"/pilots/{world.pilot.id}/places/{world.places['park'].id}/children.csv")
    assert csv_.status_code == 200 and csv_.mimetype == "text/csv"
    auth.login("partner_reviewer@test.invalid")
    assert client.get(base).status_code == 403


def test_api_preview_apply_and_export(client: Any, auth: Any, session: Session,
                                      world: World) -> None:
    _people(session, world)
    auth.login("practitioner@test.invalid")
    h = {"X-CSRFToken": auth.csrf_token("/")}
    base = f"/api/v1/pilots/{world.pilot.id}"
    with clock.frozen(TODAY):
        pre = client.post(f"{base}/case-records/preview", json={"csv": CSV}, headers=h)
        assert pre.status_code == 200, pre.get_data(as_text=True)
        body = pre.get_json()
        assert (body["rows"], body["errors"]) == (6, 4) and "version" not in body["report"][0]
        done = client.post(f"{base}/case-records/apply", headers=h,
                           json={"csv": CSV, "digest": body["digest"]})
        assert done.status_code == 200 and done.get_json()["changed"] == 2
        stale = client.post(f"{base}/case-records/apply", headers=h,
                            json={"csv": CSV, "digest": body["digest"]})
        assert stale.status_code == 409
        assert client.post(f"{base}/case-records/preview", json={}, headers=h
                           ).status_code == 422
    got = client.get(f"{base}/places/{world.places['park'].id}/children.csv")
    assert got.status_code == 200 and got.mimetype == "text/csv"
    auth.login("partner_reviewer@test.invalid")
    h = {"X-CSRFToken": auth.csrf_token("/")}
    assert client.post(f"{base}/case-records/preview", json={"csv": CSV},
                       headers=h).status_code == 403
