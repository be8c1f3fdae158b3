"""Subject access (issue 15): one person's export holds their records and no other
person's identity, is for the owning team who read identities and admins, and is audited.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Point, box
from sqlalchemy import create_engine, delete, select
from sqlalchemy.orm import Session

from locmap.cli import main
from locmap.models import (
    AgendaItem,
    Assessment,
    AuditEvent,
    ContextAnswer,
    ContextMeeting,
    ContextReferral,
    HighRiskContext,
    Identity,
    Incident,
    MeetingAction,
    Observation,
    Person,
    Pilot,
    Presence,
    ReferralPerson,
    Relationship,
    SafetyMap,
    SafetyMapArea,
    incident_person,
)
from locmap.services import people
from locmap.services.permissions import Actor
from tests import factories

UTC = dt.UTC
OTHER_NAME = "Orla Elsewhere-Childe"


def _text(pdf: bytes) -> str:
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
                         check=True)
    return out.stdout.decode()


def _rows(z: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(z.read(name).decode("utf-8-sig"))))


@pytest.fixture
def subject(session: Session, world: factories.World) -> dict[str, Any]:
    pilot, park = world.pilot, world.places["park"]
    yp1 = world.person
    assert yp1 is not None
    yp2 = Person(pilot_id=pilot.id, pseudonym="YP-002", kind="young_person", age_band="16-17")
    session.add(yp2)
    session.flush()
    session.add_all([
        Identity(person_id=yp2.id, name=OTHER_NAME, case_reference="T-2"),
        Relationship(pilot_id=pilot.id, person_a_id=yp2.id, person_b_id=yp1.id,
                     type="friend", source="school"),
        Presence(person_id=yp1.id, place_id=park.id, times="after school",
                 notes="=cmd|' /C calc'!A0"),
        Presence(person_id=yp2.id, place_id=park.id, times="weekends"),
        Observation(place_id=park.id, started_at=dt.datetime(2025, 3, 1, 18, tzinfo=UTC),
                    notes="Testy Quillborne was by the swings"),
        Observation(place_id=park.id, started_at=dt.datetime(2025, 3, 2, 18, tzinfo=UTC),
                    notes="YP-0010 is someone else entirely"),
    ])
    linked = Incident(pilot_id=pilot.id, location=from_shape(Point(-1.49, 52.505), srid=4326),
                      occurred_at=dt.datetime(2025, 2, 1, 20, tzinfo=UTC), category="asb",
                      description="YP-001 was threatened")
    unrelated = Incident(pilot_id=pilot.id, location=from_shape(Point(-1.49, 52.505), srid=4326),
                         occurred_at=dt.datetime(2025, 2, 2, 20, tzinfo=UTC),
                         category="asb", description="YP-002 alone")
    session.add_all([linked, unrelated])
    session.flush()
    session.execute(incident_person.insert().values(incident_id=linked.id, person_id=yp1.id))
    # A practitioner looked at the identity once: the export lists that read.
    practitioner = Actor(user_id=world.users["practitioner"].id,
                         email="practitioner@test.invalid",
                         roles={pilot.id: frozenset({"practitioner"})})
    people.get_person(session, practitioner, pilot.id, yp1.id, with_identity=True)
    session.commit()
    return {"pilot": pilot.id, "person": yp1.id, "linked": linked.id,
            "unrelated": unrelated.id}


def test_export_holds_the_persons_records_and_no_one_elses_identity(
        client: Any, auth: Any, session: Session, subject: dict[str, Any]) -> None:
    pid, person = subject["pilot"], subject["person"]
    auth.login("practitioner@test.invalid")
    page = client.get(f"/pilots/{pid}/people/{person}")
    assert 'id="subject-access-link"' in page.get_data(as_text=True)
    found = client.get(f"/pilots/{pid}/subject-access?pseudonym=yp-001")
    assert found.status_code == 200 and 'id="sar-zip"' in found.get_data(as_text=True)
    assert client.get(f"/pilots/{pid}/subject-access?pseudonym=YP-404").status_code == 404

    r = client.get(f"/pilots/{pid}/people/{person}/subject-access.zip")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(r.data))
    assert set(z.namelist()) == {"README.txt", "person.csv", "relationships.csv",
                                 "presences.csv", "incidents.csv", "referrals.csv",
                                 "mentions.csv",
                                 "audit_reads.csv", "summary.pdf"}
    everything = " ".join(z.read(n).decode("utf-8-sig") for n in z.namelist()
                          if n.endswith((".csv", ".txt")))
    assert OTHER_NAME not in everything and "T-2" not in everything
    (me,) = _rows(z, "person.csv")
    assert (me["pseudonym"], me["name"], me["case_reference"]) == (
        "YP-001", "Testy Quillborne", "T-1")
    (tie,) = _rows(z, "relationships.csv")
    assert (tie["with_pseudonym"], tie["type"]) == ("YP-002", "friend")
    (where,) = _rows(z, "presences.csv")
    assert where["place"] == "Test Park" and where["notes"].startswith("'=")  # neutralised
    assert [int(i["id"]) for i in _rows(z, "incidents.csv")] == [subject["linked"]]
    mentions = {(m["record"], m["text"]) for m in _rows(z, "mentions.csv")}
    assert ("incident", "YP-001 was threatened") in mentions
    assert ("site visit", "Testy Quillborne was by the swings") in mentions
    assert not any("YP-0010" in t or "YP-002 alone" in t for _, t in mentions)
    reads = _rows(z, "audit_reads.csv")
    assert [r["action"] for r in reads][:1] == ["read_identity"]
    assert reads[0]["user"] == "practitioner@test.invalid"

    if os.environ.get("LOCMAP_SCREENSHOTS"):  # to look at it
        (Path(os.environ["LOCMAP_SCREENSHOTS"]) / "subject-access.pdf").write_bytes(
            z.read("summary.pdf"))
    pdf = _text(z.read("summary.pdf"))
    assert "YP-001" in pdf and "Testy Quillborne" in pdf and OTHER_NAME not in pdf
    alone = client.get(f"/pilots/{pid}/people/{person}/subject-access.pdf")
    assert alone.status_code == 200 and "Testy Quillborne" in _text(alone.data)

    # Both downloads are audited as exports of the person, with counts and no content.
    exports = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "export", AuditEvent.entity == "person",
        AuditEvent.entity_id == str(person))).all()
    assert sorted(e.detail["format"] for e in exports) == ["pdf", "zip"]
    assert exports[0].detail["kind"] == "subject_access"
    assert exports[0].detail["relationships"] == 1
    assert "Quillborne" not in str(exports[0].detail)


def test_only_the_owning_team_who_read_identities_and_admins_export(
        client: Any, auth: Any, subject: dict[str, Any]) -> None:
    pid, person = subject["pilot"], subject["person"]
    url = f"/api/v1/pilots/{pid}/people/{person}/subject-access"
    for who, status in (("coordinator", 403), ("partner_reviewer", 403), ("outsider", 404),
                        ("auditor", 404)):
        auth.login(f"{who}@test.invalid")
        assert client.get(url).status_code == status, who
        assert client.get(f"/pilots/{pid}/subject-access").status_code == status, who
        auth.logout()
    auth.login("peer_assessor@test.invalid")
    r = client.get(url + "?format=pdf")
    assert r.status_code == 200 and "Testy Quillborne" in _text(r.data)
    assert client.get(url + "?format=xls").status_code == 422
    auth.logout()
    auth.login("admin@test.invalid")
    assert client.get(url).status_code == 404  # the member route: admins use their own
    found = client.get(f"/api/v1/admin/pilots/{pid}/people?pseudonym=YP-001")
    assert found.status_code == 200 and found.get_json()["person_id"] == person
    r = client.get(f"/api/v1/admin/pilots/{pid}/people/{person}/subject-access")
    assert r.status_code == 200
    z = zipfile.ZipFile(io.BytesIO(r.data))
    assert _rows(z, "person.csv")[0]["name"] == "Testy Quillborne"
    # Another pilot's id with this person: not found.
    other = f"/api/v1/admin/pilots/{pid + 1000}/people/{person}/subject-access"
    assert client.get(other).status_code == 404
    page = client.get(f"/pilots/{pid}/subject-access?pseudonym=YP-001")
    assert page.status_code == 200


def test_cli_names_a_missing_pilot(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    r = CliRunner().invoke(main, ["subject-access", "YP-001", "--pilot", "No Such Pilot"])
    assert r.exit_code == 1 and "No pilot called 'No Such Pilot'" in r.output


def test_cli_writes_the_zip(database_url: str, tmp_path: Any,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    eng = create_engine(database_url)
    with Session(eng) as s:
        pilot = factories.make_pilot(s, "CLI SAR Pilot")
        yp = Person(pilot_id=pilot.id, pseudonym="YP-001", kind="young_person")
        s.add(yp)
        s.flush()
        s.add(Identity(person_id=yp.id, name="Cli Testchild", case_reference="C-1"))
        yp_id = yp.id
        s.commit()
    try:
        r = CliRunner().invoke(main, ["subject-access", "yp-001", "--pilot", "CLI SAR Pilot",
                                      "--out", str(tmp_path)])
        assert r.exit_code == 0, r.output
        path = tmp_path / "subject-access-YP-001.zip"
        assert path.stat().st_mode & 0o777 == 0o600
        z = zipfile.ZipFile(path)
        assert _rows(z, "person.csv")[0]["name"] == "Cli Testchild"
        with Session(eng) as s:
            assert s.scalar(select(AuditEvent.id).where(
                AuditEvent.action == "export", AuditEvent.entity == "person",
                AuditEvent.entity_id == str(yp_id))) is not None
    finally:
        with Session(eng) as s:
            s.execute(delete(Pilot).where(Pilot.name == "CLI SAR Pilot"))
            s.commit()
        eng.dispose()


def test_pathway_records_that_link_or_name_the_person_are_exported(
        client: Any, auth: Any, session: Session, subject: dict[str, Any],
        world: factories.World) -> None:
    """Referrals (linked and in free text), MACE agenda items and actions, the high-risk
    contexts log, context answers and safety maps: YP-001's rows appear, YP-002's identity
    never does.
    """
    pid, yp1 = subject["pilot"], subject["person"]
    yp2 = session.scalar(select(Person.id).where(Person.pilot_id == pid,
                                                 Person.pseudonym == "YP-002"))
    linked = ContextReferral(pilot_id=pid, context_kind="place", context_name="Test Park",
                             concern="Older boys wait at the gate", referrer_name="A Teacher",
                             referred_on=dt.date(2025, 3, 3))
    worded = ContextReferral(pilot_id=pid, context_kind="online", context_name="Group chat",
                             concern="Pictures shared of YP-001", referrer_name="A Worker",
                             referred_on=dt.date(2025, 3, 4), threshold_level="targeted",
                             outcome="level_1", screened_at=dt.datetime(2025, 3, 5, tzinfo=UTC),
                             decision_reason="Testy Quillborne named by two pupils")
    theirs = ContextReferral(pilot_id=pid, context_kind="place", context_name="Test Park",
                             concern=f"{OTHER_NAME} seen with YP-002",
                             referrer_name="A Teacher", referred_on=dt.date(2025, 3, 6))
    meeting = ContextMeeting(pilot_id=pid, held_on=dt.date(2025, 3, 10))
    session.add_all([linked, worded, theirs, meeting])
    session.flush()
    session.add_all([ReferralPerson(pilot_id=pid, referral_id=linked.id, person_id=yp1),
                     ReferralPerson(pilot_id=pid, referral_id=theirs.id, person_id=yp2)])
    item = AgendaItem(pilot_id=pid, meeting_id=meeting.id, context_name="Test Park",
                      victim="YP-001", offender="Unknown adult", shared="Seen at night",
                      decision="Refer YP-001's school")
    other_item = AgendaItem(pilot_id=pid, meeting_id=meeting.id, context_name="Cafe",
                            victim=f"YP-002 ({OTHER_NAME})")
    assessment = Assessment(pilot_id=pid, place_id=world.places["chat"].id)
    smap = SafetyMap(pilot_id=pid, drawn_on=dt.date(2025, 3, 12), period="2025-04-06")
    log = HighRiskContext(pilot_id=pid, context_name="Test Park",
                          opened_on=dt.date(2025, 3, 10), reason="YP-001 and others groomed here",
                          latest_decision="Lighting repaired")
    session.add_all([item, other_item, assessment, smap, log])
    session.flush()
    square = MultiPolygon([box(-1.495, 52.502, -1.494, 52.503)])
    session.add_all([
        MeetingAction(pilot_id=pid, item_id=item.id, description="Visit YP-001's family"),
        MeetingAction(pilot_id=pid, item_id=other_item.id, description="Visit YP-002 at home"),
        ContextAnswer(pilot_id=pid, assessment_id=assessment.id, kind="online",
                      answers={"platform": "a chat", "notes": "Testy Quillborne is admin"}),
        SafetyMapArea(pilot_id=pid, safety_map_id=smap.id, rating="red",
                      geom=from_shape(square, srid=4326), reason="Where YP-001 was chased")])
    session.commit()

    auth.login("practitioner@test.invalid")
    r = client.get(f"/pilots/{pid}/people/{yp1}/subject-access.zip")
    assert r.status_code == 200
    z = zipfile.ZipFile(io.BytesIO(r.data))
    assert [int(x["id"]) for x in _rows(z, "referrals.csv")] == [linked.id]
    mentions = {(m["record"], m["field"], int(m["id"])) for m in _rows(z, "mentions.csv")}
    assert {("referral", "concern", worded.id), ("referral", "decision_reason", worded.id),
            ("meeting agenda item", "victim", item.id),
            ("meeting agenda item", "decision", item.id),
            ("high-risk context", "reason", log.id),
            ("assessment context answers", "answers", assessment.id),
            ("safety map area", "reason", smap.areas[0].id)} <= mentions
    assert any(m[0] == "meeting action" for m in mentions)
    everything = " ".join(z.read(n).decode("utf-8-sig") for n in z.namelist()
                          if n.endswith((".csv", ".txt")))
    assert OTHER_NAME not in everything and "YP-002 at home" not in everything
    assert "Older boys wait at the gate" in everything  # the linked referral's concern
    assert OTHER_NAME not in _text(z.read("summary.pdf"))

