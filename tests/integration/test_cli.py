"""The ``locmap`` command against the test database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from locmap.cli import main
from locmap.db import grant_app_role
from locmap.models import Membership, Pilot, User
from locmap.pgserver import APP_ROLE, OWNER_ROLE, role_url
from tests.factories import PASSWORD, make_pilot


@pytest.fixture
def runner(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    yield CliRunner()


def test_help_on_every_group(runner: CliRunner) -> None:
    for args in ([], ["db"], ["user"], ["user", "add"], ["pilot"], ["demo"], ["serve"],
                 ["backup"], ["restore"]):
        r = runner.invoke(main, [*args, "--help"])
        assert r.exit_code == 0 and "Usage" in r.output, args


def test_serve_documents_every_setting(runner: CliRunner) -> None:
    r = runner.invoke(main, ["serve", "--help"])
    for name in ("--workers", "LOCMAP_WEB_WORKERS", "--threads", "LOCMAP_WEB_THREADS",
                 "--timeout", "LOCMAP_WEB_TIMEOUT", "GUNICORN_CMD_ARGS", "--host", "--port"):
        assert name in r.output, name


def test_db_upgrade_runs_as_the_owner_and_grants_the_app(
    runner: CliRunner, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner_url = role_url(database_url, OWNER_ROLE)
    owner = create_engine(owner_url)
    with owner.begin() as conn:  # a grant gone missing; the upgrade must put it back
        conn.execute(text(f"REVOKE INSERT ON audit_event FROM {APP_ROLE}"))
    monkeypatch.setenv("DATABASE_OWNER_URL", owner_url)
    eng = create_engine(database_url)
    try:
        r = runner.invoke(main, ["db", "upgrade"])
        assert r.exit_code == 0 and "database at head" in r.output, r.output
        with eng.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar() == APP_ROLE
            assert conn.execute(text(
                "SELECT has_table_privilege('audit_event', 'INSERT') "
                "AND NOT has_table_privilege('audit_event', 'DELETE')")).scalar()
    finally:
        grant_app_role(owner_url, APP_ROLE)
        owner.dispose()
        eng.dispose()


def test_user_add_with_a_pilot_role(runner: CliRunner, database_url: str) -> None:
    eng = create_engine(database_url)
    with Session(eng) as s:
        make_pilot(s, "CLI Pilot")
        s.commit()
    r = runner.invoke(main, ["user", "add", "cli.user@test.invalid", "--role", "practitioner",
                             "--pilot", "CLI Pilot", "--password-stdin"], input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    with Session(eng) as s:
        user = s.scalar(select(User).where(User.email == "cli.user@test.invalid"))
        assert user is not None and user.password_hash.startswith("$argon2id$")
        roles = s.scalars(select(Membership.role).where(Membership.user_id == user.id)).all()
        assert roles == ["practitioner"]
        s.delete(user)
        s.delete(s.scalar(select(Pilot).where(Pilot.name == "CLI Pilot")))
        s.commit()
    eng.dispose()


def test_user_mistakes_end_cleanly(runner: CliRunner) -> None:
    r = runner.invoke(main, ["user", "add", "x@test.invalid", "--role", "practitioner"])
    assert r.exit_code == 2 and "needs --pilot" not in r.output and "pilot role" in r.output
    r = runner.invoke(main, ["user", "add", "x@test.invalid", "--role", "practitioner",
                             "--pilot", "No Such Pilot", "--password-stdin"],
                      input=PASSWORD + "\n")
    assert r.exit_code == 1 and "No pilot called 'No Such Pilot'" in r.output
    assert "Traceback" not in r.output
    r = runner.invoke(main, ["user", "add", "short@test.invalid", "--role", "admin",
                             "--password-stdin"], input="short\n")
    assert r.exit_code == 1 and "at least 12 characters" in r.output
    r = runner.invoke(main, ["user", "add", "eleven@test.invalid", "--role", "admin",
                             "--password-stdin"], input="elevenchars\n")  # 11: one short
    assert r.exit_code == 1 and "at least 12 characters" in r.output


def test_pilot_list(runner: CliRunner) -> None:
    r = runner.invoke(main, ["pilot", "list"])
    assert r.exit_code == 0
