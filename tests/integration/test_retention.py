"""Retention (issue 15): rules per pilot and by default; a run erases what is past its
period from every table (and the map's counts), keeps what is inside it, audits counts
and ids, and leaves the audit chain intact. Dates are fixed (``on=``), never today's.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from locmap.cli import main
from locmap.errors import Conflict, Forbidden, InvalidData
from locmap.models import (
    AuditEvent,
    EngagementRecord,
    Identity,
    Incident,
    Observation,
    Person,
    Presence,
    Relationship,
    incident_person,
)
from locmap.services import audit, imports, retention
from locmap.services.permissions import Actor
from tests import factories

ADMIN = Actor(user_id=None, email="test-operator", is_admin=True)
UTC = dt.UTC


def _csrf(client: Any, path: str = "/") -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).get_data(as_text=True))
    assert m, path
    return m.group(1)


def _incident(session: Session, pilot_id: int, when: dt.datetime, text_: str) -> Incident:
    i = Incident(pilot_id=pilot_id, location=from_shape(Point(-1.49, 52.505), srid=4326),
                 occurred_at=when, category="asb", severity=3, description=text_,
                 external_ref=f"REF-{when:%Y%m%d}")
    session.add(i)
    session.flush()
    return i


def _populate(session: Session, w: factories.World) -> dict[str, Any]:
    """A closed pilot (closed 1 June 2025) with two people, ties, a presence, incidents,
    visits and listening records of several ages; the other pilot stays open.
    """
    pilot, park = w.pilot, w.places["park"]
    pilot.status, pilot.closed_on = "closed", dt.date(2025, 6, 1)
    yp1 = w.person
    assert yp1 is not None
    yp2 = Person(pilot_id=pilot.id, pseudonym="YP-002", kind="young_person", age_band="16-17")
    other = Person(pilot_id=w.other_pilot.id, pseudonym="YP-001", kind="young_person")
    session.add_all([yp2, other])
    session.flush()
    session.add_all([
        Identity(person_id=yp2.id, name="Second Testperson", case_reference="T-2"),
        Identity(person_id=other.id, name="Open Pilot Person", case_reference="O-1"),
        Relationship(pilot_id=pilot.id, person_a_id=yp1.id, person_b_id=yp2.id,
                     type="friend", source="a named source"),
        Presence(person_id=yp2.id, place_id=park.id, times="after school", notes="with YP-001"),
    ])
    old = _incident(session, pilot.id, dt.datetime(2019, 6, 1, 12, tzinfo=UTC), "very old")
    middle = _incident(session, pilot.id, dt.datetime(2022, 6, 1, 12, tzinfo=UTC), "middling")
    recent = _incident(session, pilot.id, dt.datetime(2025, 6, 1, 12, tzinfo=UTC), "recent")
    session.execute(incident_person.insert().values(incident_id=middle.id, person_id=yp2.id))
    visits = [Observation(place_id=park.id, started_at=dt.datetime(y, 3, 1, 18, tzinfo=UTC),
                          felt_unsafe=f"felt unsafe {y}", notes=f"notes {y}", weather="rain")
              for y in (2022, 2025)]
    talks = [EngagementRecord(pilot_id=pilot.id, held_on=dt.date(y, 3, 1), with_group="children",
                              summary=f"what they said {y}", group_description="a group")
             for y in (2022, 2025)]
    session.add_all(visits + talks)
    session.flush()
    return {"yp1": yp1.id, "yp2": yp2.id, "other": other.id, "old": old.id,
            "middle": middle.id, "recent": recent.id, "visits": [v.id for v in visits],
            "talks": [t.id for t in talks]}


def _cells(session: Session, pilot_id: int) -> int:
    return session.scalar(text("SELECT coalesce(sum(n), 0) FROM map_cell_count "
                               "WHERE pilot_id = :p AND zoom = (SELECT min(zoom) FROM "
                               "map_cell_count)"), {"p": pilot_id}) or 0


def test_a_run_erases_what_is_past_its_period_and_nothing_else(
        session: Session, world: factories.World) -> None:
    ids = _populate(session, world)
    pid = world.pilot.id
    retention.set_rule(session, ADMIN, None, {
        "identity_months": 6, "person_months": 12, "incident_text_months": 24,
        "visit_text_months": 24, "engagement_text_months": 24}, version=0)
    retention.set_rule(session, ADMIN, pid, {"incident_months": 60}, version=0)
    assert _cells(session, pid) == 3

    # A dry run lists and changes nothing.
    on = dt.date(2026, 1, 1)
    dry = retention.run(session, ADMIN, dry_run=True, on=on)
    found = {f.kind.key: f.ids for f in dry.findings if f.pilot_id == pid}
    assert found == {"identity_months": sorted([ids["yp1"], ids["yp2"]]),
                     "incident_text_months": [ids["old"], ids["middle"]],
                     "incident_months": [ids["old"]],
                     "visit_text_months": [ids["visits"][0]],
                     "engagement_text_months": [ids["talks"][0]]}
    assert not [f for f in dry.findings if f.pilot_id != pid]  # the open pilot: nothing
    assert session.scalar(select(func.count()).select_from(Identity)) == 3
    before = session.scalar(select(func.max(AuditEvent.id)))

    done = retention.run(session, ADMIN, on=on)
    assert done.total == 2 + 1 + 1 + 1 + 1  # the old incident is deleted, not also cleared
    # Identities of the closed pilot are gone; its pseudonyms and the open pilot's stay.
    assert session.scalars(select(Identity.person_id)).all() == [ids["other"]]
    assert session.scalar(select(func.count()).select_from(Person)
                          .where(Person.pilot_id == pid)) == 2
    # The very old incident is gone (and from the map's counts); the middling one keeps
    # its place and time without its text; the recent one is untouched.
    assert session.get(Incident, ids["old"]) is None
    middle = session.get(Incident, ids["middle"])
    assert middle is not None and (middle.description, middle.external_ref) == ("", None)
    recent = session.get(Incident, ids["recent"])
    assert recent is not None and recent.description == "recent"
    assert _cells(session, pid) == 2
    old_visit, new_visit = (session.get(Observation, i) for i in ids["visits"])
    assert old_visit and (old_visit.felt_unsafe, old_visit.notes, old_visit.weather) == ("", "", "")
    assert new_visit and new_visit.felt_unsafe == "felt unsafe 2025"
    old_talk, new_talk = (session.get(EngagementRecord, i) for i in ids["talks"])
    assert old_talk and (old_talk.summary, old_talk.group_description) == ("", "")
    assert new_talk and new_talk.summary == "what they said 2025"

    # Audited with counts and ids, never the content; the chain still verifies.
    events = session.scalars(select(AuditEvent).where(AuditEvent.id > before)
                             .order_by(AuditEvent.id)).all()
    by_kind = {e.detail["kind"]: e for e in events if e.detail.get("retention")}
    assert by_kind["identity_months"].action == "delete"
    assert by_kind["identity_months"].detail["count"] == 2
    assert by_kind["identity_months"].detail["ids"] == sorted([ids["yp1"], ids["yp2"]])
    assert by_kind["incident_text_months"].detail["ids"] == [ids["middle"]]
    assert by_kind["incident_months"].detail["ids"] == [ids["old"]]
    assert all(e.pilot_id == pid for e in by_kind.values())
    dump = " ".join(str(e.detail) for e in events)
    assert "Testy" not in dump and "middling" not in dump and "felt unsafe" not in dump
    assert audit.safe_detail(by_kind["incident_months"].detail)["cutoff"] == "2021-01-01"
    assert audit.verify_chain(session).ok

    # Half a year later the people go too, with their ties, presences and incident links.
    later = retention.run(session, ADMIN, on=dt.date(2026, 7, 1))
    assert {f.kind.key for f in later.findings} == {"person_months"}
    assert session.scalar(select(func.count()).select_from(Person)
                          .where(Person.pilot_id == pid)) == 0
    for table in (Relationship, Presence):
        assert session.scalar(select(func.count()).select_from(table)) == 0
    assert session.scalar(select(func.count()).select_from(incident_person)) == 0
    assert session.get(Person, ids["other"]) is not None
    assert retention.run(session, ADMIN, on=dt.date(2026, 7, 1)).findings == []
    assert audit.verify_chain(session).ok


def test_rules_are_validated_versioned_and_for_admins(
        session: Session, world: factories.World) -> None:
    coordinator = Actor(user_id=world.users["coordinator"].id, email="c@test.invalid",
                        roles={world.pilot.id: frozenset({"coordinator"})})
    with pytest.raises(Forbidden):
        retention.set_rule(session, coordinator, world.pilot.id, {"person_months": 1},
                           version=0)
    with pytest.raises(Forbidden):
        retention.run(session, coordinator, dry_run=True)
    with pytest.raises(InvalidData, match="0 to 600"):
        retention.set_rule(session, ADMIN, None, {"person_months": 601}, version=0)
    with pytest.raises(InvalidData, match="whole number"):
        retention.set_rule(session, ADMIN, None, {"person_months": "six"}, version=0)
    saved = retention.set_rule(session, ADMIN, None, {"person_months": "36"}, version=0)
    assert saved["version"] == 1 and saved["person_months"] == 36
    with pytest.raises(Conflict):
        retention.set_rule(session, ADMIN, None, {"person_months": 12}, version=0)
    # An open pilot's people are never erased, whatever the rule.
    retention.set_rule(session, ADMIN, None, {"identity_months": 0, "person_months": 0},
                       version=1)
    assert retention.run(session, ADMIN, dry_run=True, on=dt.date(2100, 1, 1)).findings == []


def test_retention_page_and_api(client: Any, auth: Any, session: Session,
                                world: factories.World) -> None:
    ids = _populate(session, world)
    session.commit()
    auth.login("coordinator@test.invalid")
    assert client.get("/admin/retention").status_code == 403
    assert client.get("/api/v1/admin/retention").status_code == 403
    auth.logout()
    auth.login("admin@test.invalid")
    page = client.get("/admin/retention")
    assert page.status_code == 200 and "Nothing is past its period" in page.get_data(as_text=True)
    csrf = {"X-CSRFToken": _csrf(client)}
    r = client.put("/api/v1/admin/retention/default", json={"identity_months": 1},
                   headers=csrf)
    assert r.status_code == 422 and r.get_json()["details"]["version"] == "required"
    r = client.put("/api/v1/admin/retention/default", json={"identity_months": 1,
                                                            "version": 0}, headers=csrf)
    assert r.status_code == 200 and r.get_json()["version"] == 1
    r = client.put("/api/v1/admin/retention/default", json={"identity_months": 2,
                                                            "version": 0}, headers=csrf)
    assert r.status_code == 409
    # The pilot closed in June 2025: a month later its identities are due (any today
    # after that; the rule does not depend on the date the test runs beyond it).
    page = client.get("/admin/retention").get_data(as_text=True)
    assert 'id="retention-preview"' in page and "Identities" in page
    r = client.post("/api/v1/admin/retention/run", json={"dry_run": True}, headers=csrf)
    assert r.status_code == 200 and r.get_json()["total"] >= 2
    assert session.scalar(select(func.count()).select_from(Identity)) == 3
    token = _csrf(client, "/admin/retention")
    r = client.post("/admin/retention", data={"action": "run", "csrf_token": token})
    assert r.status_code == 422 and "confirm" in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Identity)) == 3
    r = client.post("/admin/retention", data={"action": "run", "confirm": "1",
                                              "csrf_token": token})
    assert r.status_code == 302
    session.expire_all()
    assert session.scalars(select(Identity.person_id)).all() == [ids["other"]]
    # The page saves a pilot's own rule (empty fields: the default's).
    r = client.post("/admin/retention", data={
        "action": "save", "scope": str(world.pilot.id), "version": "0",
        "person_months": "24", "identity_months": "", "csrf_token": token})
    assert r.status_code == 302
    rules = client.get("/api/v1/admin/retention").get_json()
    mine = next(p for p in rules["pilots"] if p["id"] == world.pilot.id)
    assert mine["rule"]["person_months"] == 24 and mine["effective"]["identity_months"] == 1
    stale = client.post("/admin/retention", data={
        "action": "save", "scope": str(world.pilot.id), "version": "0",
        "person_months": "12", "csrf_token": token})
    assert stale.status_code == 409


def test_cli_shows_and_dry_runs(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    shown = runner.invoke(main, ["retention", "show"])
    assert shown.exit_code == 0 and "(default)" in shown.output, shown.output
    dry = runner.invoke(main, ["retention", "run", "--dry-run"])
    assert dry.exit_code == 0 and dry.output.startswith("retention on"), dry.output


def test_the_worker_runs_retention_nightly(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scheduled job, on a database of its own (it erases for real and commits)."""
    from locmap import jobs
    from locmap.db import Database, upgrade
    from locmap.pgserver import drop_database
    from tests.conftest import _fresh_database

    url = _fresh_database("retention")
    try:
        upgrade(url)
        db = Database(url)
        with db.session() as s:
            pilot = factories.make_pilot(s, "Closed Pilot")
            pilot.status, pilot.closed_on = "closed", dt.date(2020, 1, 1)
            yp = Person(pilot_id=pilot.id, pseudonym="YP-001", kind="young_person")
            s.add(yp)
            s.flush()
            s.add(Identity(person_id=yp.id, name="Nightly Testchild"))
            retention.set_rule(s, ADMIN, None, {"identity_months": 1}, version=0)
        assert "locmap:retention" in jobs.make_app(url).tasks
        monkeypatch.setenv("LOCMAP_RETENTION_CRON", "off")
        assert "locmap:retention" not in jobs.make_app(url).tasks
        monkeypatch.setattr(jobs, "_database", db)
        summary = jobs.retention_task(0)
        assert "erased 1 record" in summary and "Closed Pilot" in summary
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(Identity)) == 0
            event = s.scalars(select(AuditEvent).where(AuditEvent.action == "delete",
                                                       AuditEvent.entity == "identity")).one()
            assert event.user_email == "worker:retention" and event.detail["count"] == 1
            assert audit.verify_chain(s).ok
        assert "nothing is past its period" in jobs.retention_task(0)
        db.dispose()
    finally:
        drop_database(url)


def test_closing_a_pilot_records_the_day_and_reopening_clears_it(
        session: Session, world: factories.World) -> None:
    from locmap import clock
    from locmap.services import pilot_admin

    with clock.frozen("2026-03-15T12:00:00+00:00"):
        pilot_admin.set_status(session, ADMIN, world.pilot.id, "closed")
    assert world.pilot.closed_on == dt.date(2026, 3, 15)
    pilot_admin.set_status(session, ADMIN, world.pilot.id, "archived")  # still that day
    assert world.pilot.closed_on == dt.date(2026, 3, 15)
    pilot_admin.set_status(session, ADMIN, world.pilot.id, "active")
    assert world.pilot.closed_on is None


def test_cleared_incident_text_leaves_no_police_reference_and_reimports_dedupe(
        session: Session, world: factories.World, tmp_path: Path) -> None:
    """The police reference is cleared from ``external_ref`` and never sat in
    ``dedupe_key`` (a one-way hash), and the same month imported again adds nothing.
    """
    from tests.integration.test_import_police import practitioner, rows_month, write_csv

    pid = world.pilot.id
    path = write_csv(tmp_path / "2025-03-street.csv", rows_month("2025-03"))
    first = imports.import_police(session, practitioner(session, world), pid, path)
    assert first.rows_accepted == 7
    crime_id = "a" * 63 + "1"
    keys = set(session.scalars(select(Incident.dedupe_key).where(Incident.pilot_id == pid)))
    assert len(keys) == 7 and all(k.startswith(("sha256:", "row:")) for k in keys)
    assert not any(crime_id in k for k in keys)
    # A plain key that a source other than police.uk left (the demo keys by reference).
    plain = _incident(session, pid, dt.datetime(2024, 1, 5, 12, tzinfo=UTC), "plain key")
    plain.dedupe_key = "CR/0001/24"
    session.flush()

    retention.set_rule(session, ADMIN, pid, {"incident_text_months": 6}, version=0)
    done = retention.run(session, ADMIN, on=dt.date(2026, 1, 1))
    assert [len(f.ids) for f in done.findings
            if f.pilot_id == pid and f.kind.key == "incident_text_months"] == [8]
    rows = session.execute(select(Incident.external_ref, Incident.dedupe_key, Incident.description)
                           .where(Incident.pilot_id == pid)).all()
    assert {(ref, text_) for ref, _, text_ in rows} == {(None, "")}
    after = {k for _, k, _ in rows}
    assert keys < after and not any("CR/0001/24" in k for k in after)
    assert session.get(Incident, plain.id).dedupe_key.startswith("sha256:")  # type: ignore[union-attr]
    assert not [f for f in retention.run(session, ADMIN, dry_run=True,
                                         on=dt.date(2026, 1, 1)).findings if f.pilot_id == pid]

    again = imports.import_police(session, practitioner(session, world), pid, path)
    assert again.rows_accepted == 0
    assert again.options["summary"]["rows_already_present"] == 7
