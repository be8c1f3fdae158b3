"""Least privilege: the app's role reads and writes rows but cannot alter tables, disable
the audit trail's trigger, edit the trail, or drop anything; the owner's role can.

``database_url`` is the app role's URL of a database the owner role migrated (see
tests/conftest.py), so these tests see exactly what the running app would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from locmap.db import grant_app_role, upgrade
from locmap.pgserver import (
    APP_ROLE,
    OWNER_ROLE,
    drop_database,
    ensure_database,
    resolve_connections,
    role_url,
)
from tests.conftest import _fresh_database


@pytest.fixture(scope="module")
def app_engine(database_url: str) -> Iterator[Engine]:
    eng = create_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def owner_engine(database_url: str) -> Iterator[Engine]:
    eng = create_engine(role_url(database_url, OWNER_ROLE))
    yield eng
    eng.dispose()


def _refused(engine: Engine, sql: str) -> str:
    """Run ``sql`` in a transaction of its own; return PostgreSQL's refusal message."""
    with engine.connect() as conn, pytest.raises(DBAPIError) as caught:
        conn.execute(text(sql))
    assert caught.value.orig is not None
    assert caught.value.orig.sqlstate == "42501", caught.value  # insufficient_privilege
    return str(caught.value.orig)


def test_the_app_connects_as_a_plain_role(app_engine: Engine) -> None:
    with app_engine.connect() as conn:
        user, superuser = conn.execute(text(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
        )).one()
        owner = conn.execute(text(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'audit_event'")).scalar()
    assert (user, superuser, owner) == (APP_ROLE, False, OWNER_ROLE)


@pytest.mark.parametrize("sql, refusal", [
    ("DELETE FROM audit_event", "permission denied for table audit_event"),
    ("UPDATE audit_event SET action = 'edited'", "permission denied for table audit_event"),
    ("TRUNCATE audit_event", "permission denied for table audit_event"),
    ("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only",
     "must be owner of table audit_event"),
    ("ALTER TABLE audit_event DISABLE TRIGGER ALL", "must be owner of table audit_event"),
    ("DROP TABLE audit_event", "must be owner of table audit_event"),
    ("DROP TABLE pilot CASCADE", "must be owner of table pilot"),
    ("ALTER TABLE incident ADD COLUMN smuggled text", "must be owner of table incident"),
    ("CREATE TABLE smuggled (id int)", "permission denied for schema public"),
    ("UPDATE alembic_version SET version_num = '0001'",
     "permission denied for table alembic_version"),
])
def test_the_app_role_is_refused(app_engine: Engine, sql: str, refusal: str) -> None:
    # Refused by the privilege system itself, not by the append-only trigger (whose
    # message is "audit_event is append-only"): the trigger could be disabled by an owner.
    assert refusal in _refused(app_engine, sql)


def test_the_app_role_does_normal_work(app_engine: Engine) -> None:
    with app_engine.connect() as conn:
        agency = conn.execute(text(
            "INSERT INTO agency (name, kind) VALUES ('Roles test agency', 'police') "
            "RETURNING id")).scalar_one()
        conn.execute(text("UPDATE agency SET name = 'Renamed' WHERE id = :i"), {"i": agency})
        conn.execute(text("DELETE FROM agency WHERE id = :i"), {"i": agency})
        event = conn.execute(text(
            "INSERT INTO audit_event (action, entity, personal_data, detail) "
            "VALUES ('test', 'roles', false, '{}') RETURNING id")).scalar_one()
        seen = conn.execute(text("SELECT action FROM audit_event WHERE id = :i"),
                            {"i": event}).scalar()
        near = conn.execute(text(  # PostGIS functions are the app's to call
            "SELECT ST_DWithin(ST_MakePoint(-0.1, 51.5)::geography, "
            "ST_MakePoint(-0.1, 51.501)::geography, 200)")).scalar()
        conn.rollback()
    assert seen == "test" and near is True


def test_the_owner_keeps_what_the_app_lacks(owner_engine: Engine) -> None:
    with owner_engine.connect() as conn:
        conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
        conn.rollback()  # allowed, and not kept


def test_grants_cover_a_table_a_later_migration_adds(
    database_url: str, app_engine: Engine, owner_engine: Engine
) -> None:
    owner_url = role_url(database_url, OWNER_ROLE)
    with owner_engine.begin() as conn:
        conn.execute(text("CREATE TABLE later_table (id serial PRIMARY KEY, v text)"))
    try:
        assert "permission denied" in _refused(
            app_engine, "INSERT INTO later_table (v) VALUES ('x')")
        grant_app_role(owner_url, APP_ROLE)
        grant_app_role(owner_url, APP_ROLE)  # idempotent
        with app_engine.connect() as conn:
            conn.execute(text("INSERT INTO later_table (v) VALUES ('x')"))
            assert conn.execute(text("SELECT count(*) FROM later_table")).scalar() == 1
            conn.rollback()
        assert "permission denied" in _refused(app_engine, "DELETE FROM audit_event")
    finally:
        with owner_engine.begin() as conn:
            conn.execute(text("DROP TABLE later_table"))


def test_a_database_made_before_the_roles_is_handed_to_the_owner() -> None:
    """An install from before the role split: the superuser owns the database and its
    tables; the next start hands them to locmap_owner so its migrations and grants work."""
    admin_url = _fresh_database("adopt")
    eng = create_engine(admin_url)
    try:
        upgrade(admin_url, "0001")
        ensure_database(admin_url, owner=OWNER_ROLE)
        with eng.connect() as conn:
            owners = set(conn.execute(text(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'spatial_ref_sys'")).scalars())
            fn_owner = conn.execute(text(
                "SELECT pg_get_userbyid(proowner) FROM pg_proc "
                "WHERE proname = 'audit_event_append_only'")).scalar()
            postgis_owner = conn.execute(text(
                "SELECT tableowner FROM pg_tables WHERE tablename = 'spatial_ref_sys'")).scalar()
        assert owners == {OWNER_ROLE} and fn_owner == OWNER_ROLE
        assert postgis_owner != OWNER_ROLE  # PostGIS' own objects stay the superuser's
        upgrade(role_url(admin_url, OWNER_ROLE), app_role=APP_ROLE)  # the rest, as owner
    finally:
        eng.dispose()
        drop_database(admin_url)


def test_which_role_runs_what(tmp_path: Path) -> None:
    app = "postgresql://app_user@db.example/locmap"
    owner = "postgresql://owner_user@db.example/locmap"
    conns = resolve_connections(app, owner, tmp_path)
    assert conns.app_role == "app_user" and "owner_user@" in conns.owner
    # Without DATABASE_OWNER_URL the one URL does both: no separation, no grants.
    same = resolve_connections(app, None, tmp_path)
    assert same.owner == same.app and same.app_role is None


def test_the_app_never_reads_the_owner_url(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from locmap.config import load_settings
    from locmap.db import Database

    monkeypatch.setenv("DATABASE_URL", database_url)
    # Nothing answers there: the app would fail if it tried to use it.
    monkeypatch.setenv("DATABASE_OWNER_URL", "postgresql://owner@127.0.0.1:1/nowhere")
    db = Database.from_settings(load_settings())
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar() == APP_ROLE
    finally:
        db.dispose()


def test_the_apps_connections_compile_no_plans_and_keep_it_after_a_rollback(
        database_url: str) -> None:
    from locmap.db import SESSION_SETTINGS, Database

    db = Database(database_url)
    try:
        assert SESSION_SETTINGS["jit"] == "off"
        for _ in range(2):  # the second session gets the pooled connection back
            with db.session() as s:
                assert s.scalar(text("SHOW jit")) == "off"
                s.rollback()
    finally:
        db.dispose()
