"""The ``locmap`` command against the test database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from locmap.cli import main
from locmap.models import Membership, Pilot, User
from tests.factories import PASSWORD, make_pilot


@pytest.fixture
def runner(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    yield CliRunner()


def test_help_on_every_group(runner: CliRunner) -> None:
    for args in ([], ["db"], ["user"], ["user", "add"], ["pilot"], ["demo"], ["serve"]):
        r = runner.invoke(main, [*args, "--help"])
        assert r.exit_code == 0 and "Usage" in r.output, args


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
    assert r.exit_code == 1 and "at least 10 characters" in r.output


def test_pilot_list(runner: CliRunner) -> None:
    r = runner.invoke(main, ["pilot", "list"])
    assert r.exit_code == 0
