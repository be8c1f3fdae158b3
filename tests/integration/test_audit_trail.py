"""The audit trail (issues 14 and 15): access events a failure cannot erase, refusals,
409 copies, truthful exports, hourly page views, the auditor's search and the hash chain.

Most tests run in the usual rolled-back transaction. The ones about transactions and the
chain itself (own transaction, concurrent appends, the migration) commit real rows to the
session's database, which is allowed: the trail is append-only and every committed row is
a valid link, so nothing another test checks changes.
"""

from __future__ import annotations

import csv
import io
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from locmap.cli import main as cli
from locmap.db import Database, upgrade
from locmap.models import AuditEvent
from locmap.pgserver import OWNER_ROLE, drop_database, role_url
from locmap.services import audit
from locmap.services.permissions import Actor
from tests import factories
from tests.conftest import _fresh_database


@pytest.fixture(scope="module")
def app_engine(database_url: str) -> Iterator[Engine]:
    eng = create_engine(database_url)
    yield eng
    eng.dispose()


def _events(session: Session, **where: Any) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(*[getattr(AuditEvent, k) == v for k, v in where.items()])
    return list(session.scalars(stmt.order_by(AuditEvent.id)))


def _login(client: Any, email: str) -> str:
    from tests.conftest import AuthActions

    auth = AuthActions(client)
    assert auth.login(email).status_code == 302
    return auth.csrf_token("/")


# -- access events survive the request's failure ------------------------------------------

def test_access_is_committed_apart_and_writes_roll_back(database_url: str,
                                                        app_engine: Engine) -> None:
    """Production path (a session on an engine): a read is committed at once on its own
    connection; after a write has taken the chain lock, a read is written in the request
    and again after its rollback; the write itself rolls back."""
    marker = uuid.uuid4().hex[:12]
    who = Actor(user_id=None, email="own-tx@test.invalid")
    db = Database(database_url)
    try:
        with db.sessionmaker() as s:
            audit.record(s, who, "read", "own_tx_test", f"{marker}-1", personal_data=True)
            with app_engine.connect() as other:  # committed already, seen from outside
                assert other.scalar(text("SELECT count(*) FROM audit_event WHERE "
                                         "entity_id = :m"), {"m": f"{marker}-1"}) == 1
            audit.record(s, who, "update", "own_tx_test", f"{marker}-2")
            s.flush()  # the write holds the chain lock from here to the end
            audit.record(s, who, "read", "own_tx_test", f"{marker}-3", personal_data=True)
            seen_inside = s.scalar(select(AuditEvent.id).where(
                AuditEvent.entity_id == f"{marker}-3"))
            s.rollback()  # the request failed
    finally:
        db.dispose()
    with app_engine.connect() as other:
        kept = other.execute(text("SELECT entity_id, action FROM audit_event WHERE "
                                  "entity_id LIKE :m ORDER BY id"), {"m": f"{marker}-%"}).all()
    assert seen_inside is not None
    assert [tuple(r) for r in kept] == [(f"{marker}-1", "read"), (f"{marker}-3", "read")]


def test_refusals_are_recorded_though_the_request_rolls_back(
        client: Any, session: Session, world: factories.World) -> None:
    _login(client, "partner_reviewer@test.invalid")
    pid, other = world.pilot.id, world.other_pilot.id
    assert client.get(f"/api/v1/pilots/{pid}/incidents").status_code == 403
    assert client.get(f"/pilots/{other}/dashboard").status_code == 404
    refused = _events(session, action="refused")
    got = [(e.user_email, e.pilot_id, e.detail["status"], e.detail["path"]) for e in refused]
    assert got == [
        ("partner_reviewer@test.invalid", pid, 403, f"/api/v1/pilots/{pid}/incidents"),
        ("partner_reviewer@test.invalid", other, 404, f"/pilots/{other}/dashboard"),
    ]


def test_a_409_that_returns_the_record_is_audited_as_a_read(
        client: Any, session: Session, world: factories.World) -> None:
    token = _login(client, "practitioner@test.invalid")
    h = {"X-CSRFToken": token}
    base = f"/api/v1/pilots/{world.pilot.id}"
    cafe = world.places["cafe"].id
    obs = client.post(f"{base}/places/{cafe}/observations", headers=h, json={
        "started_at": "2025-02-04T17:00:00+00:00", "notes": "Boys by the door"}).get_json()
    assert client.patch(f"{base}/observations/{obs['id']}", headers=h,
                        json={"version": obs["version"], "weather": "rain"}).status_code == 200
    stale = client.patch(f"{base}/observations/{obs['id']}", headers=h,
                         json={"version": obs["version"], "weather": "dry"})
    assert stale.status_code == 409
    assert stale.get_json()["details"]["current"]["notes"] == "Boys by the door"
    reads = _events(session, action="read", entity="observation", entity_id=str(obs["id"]))
    assert len(reads) == 1 and reads[0].personal_data and reads[0].detail["status"] == 409


def test_exports_with_restricted_text_say_they_hold_personal_data(
        client: Any, session: Session, world: factories.World) -> None:
    _login(client, "practitioner@test.invalid")
    assert client.get(f"/api/v1/pilots/{world.pilot.id}/export.csv").status_code == 200
    (event,) = _events(session, action="export", entity="pilot")
    assert event.detail["restricted_text"] is True and event.personal_data is True


def test_dashboard_and_network_views_at_most_once_an_hour(
        client: Any, session: Session, world: factories.World) -> None:
    _login(client, "coordinator@test.invalid")
    pid = world.pilot.id
    for _ in range(2):
        assert client.get(f"/pilots/{pid}/dashboard").status_code == 200
        assert client.get(f"/pilots/{pid}/network").status_code == 200
    views = [(e.entity, e.pilot_id) for e in _events(session, action="view")]
    assert sorted(views) == [("dashboard", pid), ("network", pid)]
    # Another user's view of the same page is their own event.
    other = client.application.test_client()
    _login(other, "practitioner@test.invalid")
    assert other.get(f"/pilots/{pid}/dashboard").status_code == 200
    assert len(_events(session, action="view", entity="dashboard")) == 2


# -- the auditor's page ------------------------------------------------------------------

def test_the_auditor_searches_and_sees_no_case_data(
        client: Any, session: Session, world: factories.World) -> None:
    pid, person = world.pilot.id, world.person
    c = client
    _login(c, "practitioner@test.invalid")
    r = c.get(f"/api/v1/pilots/{pid}/people/{person.id}?identity=true")
    assert r.status_code == 200 and "Testy Quillborne" in r.get_data(as_text=True)
    c.get(f"/api/v1/pilots/{pid}/people")  # a list: the whole pilot, them included
    assert c.get(f"/pilots/{pid}/network").status_code == 200  # draws every pseudonym
    # A hostile "email" typed into the login form lands in the trail.
    audit.record(session, Actor(user_id=None, email="=HYPERLINK(\"http://x\")"),
                 "login_failed", "user", detail={"email": "=HYPERLINK(\"http://x\")"})
    session.commit()

    app_client = c.application.test_client()
    _login(app_client, "auditor@test.invalid")
    page = app_client.get("/api/v1/audit/events?action=read_identity").get_json()
    assert [(e["entity"], e["entity_id"], e["user_email"]) for e in page["items"]] == [
        ("person", str(person.id), "practitioner@test.invalid")]
    who = app_client.get(f"/api/v1/audit/who-has-seen?pilot_id={pid}&pseudonym=YP-001")
    body = who.get_data(as_text=True)
    assert who.status_code == 200 and "Testy Quillborne" not in body
    seen = who.get_json()
    assert seen["identity_reads"] == 1 and seen["readers"] == ["practitioner@test.invalid"]
    assert {(e["action"], e["scope"]) for e in seen["items"]} >= {
        ("read_identity", "this person"), ("read", "whole pilot"), ("view", "whole pilot")}
    html = app_client.get(f"/audit/who-has-seen?pilot_id={pid}&pseudonym=YP-001")
    assert html.status_code == 200 and "Testy Quillborne" not in html.get_data(as_text=True)
    # The page and the CSV: filters, keyset pages, formula cells neutralised, no free text.
    first = app_client.get("/api/v1/audit/events?limit=1").get_json()
    second = app_client.get(f"/api/v1/audit/events?limit=1&before_id="
                            f"{first['next_before_id']}").get_json()
    assert second["items"][0]["id"] < first["items"][0]["id"]
    assert app_client.get("/audit?action=login_failed").status_code == 200
    rows = list(csv.reader(io.StringIO(
        app_client.get("/audit/export.csv?action=login_failed").get_data(as_text=True))))
    assert rows[0][:5] == ["id", "at", "user_id", "user_email", "action"]
    assert rows[1][3] == "'=HYPERLINK(\"http://x\")"
    assert "HYPERLINK" not in rows[1][9]  # the detail's email is withheld
    assert _events(session, action="export", entity="audit_event")


def test_safe_detail_keeps_ids_and_labels_only() -> None:
    assert audit.safe_detail({"ids": [1, 2], "fields": ["description"], "email": "a@b",
                              "message": "Tom said", "name": "Jo's house", "list": 3}) == {
        "ids": [1, 2], "fields": ["description"], "list": 3,
        "withheld": ["email", "message", "name"]}


def test_who_may_read_the_trail(client: Any, world: factories.World) -> None:
    for email, status in (("coordinator@test.invalid", 403), ("auditor@test.invalid", 200),
                          ("admin@test.invalid", 200)):
        c = client.application.test_client()
        _login(c, email)
        assert c.get("/api/v1/audit/events").status_code == status, email
        page = c.get("/audit")
        assert page.status_code == status, email
        nav = c.get("/").get_data(as_text=True)
        assert ('class="nav-audit"' in nav) is (status == 200), email


# -- tamper evidence ---------------------------------------------------------------------

def test_the_chain_links_every_event(session: Session, world: factories.World) -> None:
    who = Actor(user_id=None, email="chain@test.invalid")
    for i in range(3):
        audit.record(session, who, "update", "chain_test", i)
    session.commit()
    rows = _events(session, entity="chain_test")
    assert rows[1].prev_hash == rows[0].hash and rows[2].prev_hash == rows[1].hash
    assert len({r.hash for r in rows}) == 3
    result = audit.verify_chain(session)
    assert result.ok and result.head_id == rows[-1].id and result.head_hash == rows[-1].hash


def test_an_altered_or_deleted_row_is_reported(database_url: str) -> None:
    """As the database owner, who can lift the append-only trigger: change one event's
    detail, then delete another; verification names each (all rolled back)."""
    owner = create_engine(role_url(database_url, OWNER_ROLE))
    try:
        with owner.connect() as conn:
            with Session(bind=conn) as s:
                who = Actor(user_id=None, email="tamper@test.invalid")
                for i in range(4):
                    audit.record(s, who, "update", "tamper_test", i)
                s.flush()
                ids = list(s.scalars(select(AuditEvent.id).where(
                    AuditEvent.entity == "tamper_test").order_by(AuditEvent.id)))
                assert audit.verify_chain(s).ok
                s.execute(text("ALTER TABLE audit_event DISABLE TRIGGER "
                               "audit_event_append_only"))
                s.execute(text("UPDATE audit_event SET detail = '{\"x\": 1}' WHERE id = :i"),
                          {"i": ids[1]})
                altered = audit.verify_chain(s)
                assert (altered.ok, altered.broken_id) == (False, ids[1])
                assert "altered" in altered.reason and f"#{ids[1]}" in altered.message()
                s.execute(text("UPDATE audit_event SET detail = '{}' WHERE id = :i"),
                          {"i": ids[1]})  # put back: the chain verifies again
                assert audit.verify_chain(s).ok
                s.execute(text("DELETE FROM audit_event WHERE id = :i"), {"i": ids[2]})
                cut = audit.verify_chain(s)
                assert (cut.ok, cut.broken_id) == (False, ids[3])
                assert "deleted" in cut.reason
            conn.rollback()
    finally:
        owner.dispose()


def test_two_concurrent_appends_do_not_fork_the_chain(app_engine: Engine) -> None:
    insert = text("INSERT INTO audit_event (action, entity, entity_id, personal_data, detail)"
                  " VALUES ('update', 'fork_test', :m, false, '{}') RETURNING id, prev_hash, "
                  "hash")
    marker = uuid.uuid4().hex[:12]
    out: dict[str, Any] = {}
    with app_engine.connect() as first, app_engine.connect() as second:
        a = first.execute(insert, {"m": f"{marker}-a"}).one()  # holds the chain lock
        pid = second.scalar(text("SELECT pg_backend_pid()"))

        def append() -> None:
            out["b"] = second.execute(insert, {"m": f"{marker}-b"}).one()
            second.commit()

        t = threading.Thread(target=append)
        t.start()
        with app_engine.connect() as watch:  # the second append waits for the first
            for _ in range(100):
                waiting = watch.scalar(text(
                    "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :p"),
                    {"p": pid})
                if waiting:
                    break
                time.sleep(0.05)
        assert waiting and "b" not in out
        first.commit()
        t.join(10)
    b = out["b"]
    assert b.prev_hash == a.hash and b.id > a.id
    with Session(app_engine) as s:
        assert audit.verify_chain(s).ok


def test_the_migration_chains_existing_events_and_the_cli_verifies(
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = _fresh_database("chain")
    eng = create_engine(url)
    try:
        upgrade(url, "0006")
        with eng.begin() as conn:
            for i in range(3):
                conn.execute(text(
                    "INSERT INTO audit_event (user_email, action, entity, entity_id, "
                    "personal_data, detail, remote_addr) VALUES ('old@test.invalid', 'read', "
                    "'person', :i, true, '{\"list\": 2}', '192.0.2.1')"), {"i": str(i)})
        upgrade(url, "0009")
        with Session(eng) as s:
            rows = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
            assert [r.entity_id for r in rows] == ["0", "1", "2"]
            assert rows[0].prev_hash == "0" * 64 and rows[2].prev_hash == rows[1].hash
            second = rows[1].id
            audit.record(s, None, "update", "after_migration", 1)
            s.commit()
            assert audit.verify_chain(s).checked == 4
        monkeypatch.setenv("DATABASE_URL", url)
        ok = CliRunner().invoke(cli, ["audit", "verify"])
        assert ok.exit_code == 0 and "intact: 4 events" in ok.output, ok.output
        with eng.begin() as conn:
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
            conn.execute(text("UPDATE audit_event SET user_email = 'someone@else' "
                              "WHERE entity_id = '1'"))
        broken = CliRunner().invoke(cli, ["audit", "verify"])
        assert broken.exit_code == 1 and f"broken at event #{second}" in broken.output
    finally:
        eng.dispose()
        drop_database(url)


def test_the_verify_button(client: Any, world: factories.World) -> None:
    token = _login(client, "auditor@test.invalid")
    r = client.post("/audit/verify", data={"csrf_token": token})
    assert r.status_code == 200 and "The audit chain is intact" in r.get_data(as_text=True)
