"""Two-factor sign-in (TOTP): enrolment from the account page, the code step of a login,
single use and recovery codes, throttling, the admins' and auditors' duty to enrol, and
the operator's reset (issue 14)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.cli import main
from locmap.db import Database
from locmap.models import AuditEvent, User
from locmap.services import accounts
from tests import factories
from tests.conftest import AuthActions
from tests.factories import World

EMAIL = "practitioner@test.invalid"


@pytest.fixture
def totp_app(db: Database) -> Flask:
    from locmap.web import create_app

    return create_app({"DATABASE": db, "TESTING": True, "SESSION_COOKIE_SECURE": False,
                       "LOCMAP_REQUIRE_TOTP_FOR_ADMINS": True})


def _code(secret: str, steps_ahead: int = 0) -> str:
    """The code of the step ``steps_ahead`` from now (the server accepts one either side;
    a later step than the last one used is never a replay)."""
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(clock.real_now()) + steps_ahead)


def _audits(session: Session, action: str) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == action)) or 0


def _enrol(client: Any, auth: AuthActions) -> tuple[str, list[str]]:
    page = client.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert secret and "<svg" in page and "otpauth://totp/locmap:" in page
    r = client.post("/account/two-factor", data={
        "code": _code(secret.group(1)), "csrf_token": auth.csrf_token("/account/two-factor")})
    assert r.status_code == 200, r.get_data(as_text=True)[:400]
    codes = re.findall(r"<li>([0-9a-f]{5}-[0-9a-f]{5})</li>", r.get_data(as_text=True))
    assert len(codes) == 10
    return secret.group(1), codes


def _code_step(client: Any, auth: AuthActions, email: str, code: str) -> Any:
    r = auth.login(email)
    assert r.status_code == 302 and r.headers["Location"].endswith("/login/code")
    return client.post("/login/code", data={"code": code,
                                            "csrf_token": auth.csrf_token("/login/code")})


def test_enrol_then_log_in_with_a_code_once_and_recovery_codes_once(
        totp_app: Flask, world: World, session: Session) -> None:
    c = totp_app.test_client()
    auth = AuthActions(c)
    auth.login(EMAIL)
    page = c.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)  # type: ignore[union-attr]
    # Reloading shows the same pending key; a wrong code does not turn it on.
    assert secret in c.get("/account/two-factor").get_data(as_text=True)
    r = c.post("/account/two-factor", data={"code": "000000" if _code(secret) != "000000"
                                            else "111111",
                                            "csrf_token": auth.csrf_token("/account")})
    assert r.status_code == 422 and _audits(session, "totp_failed") == 1
    secret, recovery = _enrol(c, auth)
    assert _audits(session, "totp_enrol") == 1
    user = session.scalar(select(User).where(User.email == EMAIL))
    assert user is not None and user.totp_enabled_at is not None
    assert all(code not in str(user.totp_recovery) for code in recovery)  # hashes only
    # The key is never shown again.
    assert c.get("/account/two-factor").status_code == 302
    assert secret not in c.get("/account").get_data(as_text=True)
    auth.logout()

    # Password alone is not a login any more.
    r = auth.login(EMAIL)
    assert r.status_code == 302 and r.headers["Location"].endswith("/login/code")
    assert c.get("/").status_code == 302 and "/login" in c.get("/").headers["Location"]
    code = _code(secret, 1)  # the enrolment used the current step
    r = c.post("/login/code", data={"code": code, "csrf_token": auth.csrf_token("/login/code")})
    assert r.status_code == 302 and c.get("/").status_code == 200
    auth.logout()
    # The same code again is a replay.
    other = totp_app.test_client()
    other_auth = AuthActions(other)
    assert _code_step(other, other_auth, EMAIL, code).status_code == 401
    # A recovery code works once.
    assert _code_step(other, other_auth, EMAIL, recovery[0]).status_code == 302
    other_auth.logout()
    assert _code_step(other, other_auth, EMAIL, recovery[0]).status_code == 401
    assert _audits(session, "totp_recovery_used") == 1
    # The code step does not outlive five minutes.
    auth.login(EMAIL)
    with clock.frozen(clock.now() + dt.timedelta(minutes=6)):
        r = c.post("/login/code", data={"code": recovery[1],
                                        "csrf_token": auth.csrf_token("/login")})
        assert r.status_code == 302 and r.headers["Location"].endswith("/login")


def test_wrong_codes_are_throttled_like_passwords(totp_app: Flask, world: World,
                                                 session: Session) -> None:
    c = totp_app.test_client()
    auth = AuthActions(c)
    auth.login(EMAIL)
    secret, recovery = _enrol(c, auth)
    auth.logout()
    for _ in range(accounts.LOCKOUT_FAILURES):
        r = _code_step(c, auth, EMAIL, "12345x")
        assert r.status_code == 401 and "code is not right" in r.get_data(as_text=True)
    assert _audits(session, "totp_failed") == accounts.LOCKOUT_FAILURES
    # Locked: the password step and the right recovery code are both refused now.
    assert auth.login(EMAIL).status_code == 401
    assert _audits(session, "login_locked") == 1


def test_admins_and_auditors_must_enrol_before_anything_else(
        totp_app: Flask, world: World, session: Session) -> None:
    for who in ("admin", "auditor"):
        c = totp_app.test_client()
        auth = AuthActions(c)
        r = auth.login(f"{who}@test.invalid")
        assert r.status_code == 302 and r.headers["Location"].endswith("/account/two-factor")
        for path in ("/", f"/pilots/{world.pilot.id}", "/account", "/waiting"):
            r = c.get(path)
            assert r.status_code == 302, path
            assert r.headers["Location"].endswith("/account/two-factor"), path
        r = c.get("/api/v1/pilots")
        assert r.status_code == 403 and r.json["error"] == "two_factor_required"
        page = c.get("/account/two-factor").get_data(as_text=True)
        assert "Log out" in page and "Set up two-factor sign-in" in page
        _enrol(c, auth)
        assert c.get("/").status_code == 200
        assert c.get("/api/v1/pilots").status_code == 200
    # Without the requirement (the demo's setting) nobody is sent to enrol.
    # (tests/conftest.py runs every other module that way.)


def test_disable_needs_the_password_and_is_audited(totp_app: Flask, world: World,
                                                  session: Session) -> None:
    c = totp_app.test_client()
    auth = AuthActions(c)
    auth.login(EMAIL)
    _enrol(c, auth)
    r = c.post("/account/two-factor/disable", data={
        "password": "not my password", "csrf_token": auth.csrf_token("/account")})
    assert r.status_code == 422 and "stays on" in r.get_data(as_text=True)
    r = c.post("/account/two-factor/disable", data={
        "password": factories.PASSWORD, "csrf_token": auth.csrf_token("/account")})
    assert r.status_code == 302
    assert _audits(session, "totp_disable") == 1
    auth.logout()
    assert auth.login(EMAIL).headers["Location"] == "/"  # no code asked any more


@pytest.fixture
def runner(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    yield CliRunner()


def test_operator_resets_two_factor_from_the_command_line(
        runner: CliRunner, database_url: str) -> None:
    db = Database(database_url)
    email = "lost-phone@test.invalid"
    try:
        r = runner.invoke(main, ["user", "add", email, "--role", "auditor",
                                 "--password-stdin"], input=factories.PASSWORD + "\n")
        assert r.exit_code == 0, r.output
        with db.session() as s:
            user = s.scalar(select(User).where(User.email == email))
            assert user is not None
            user.totp_secret, user.totp_enabled_at = pyotp.random_base32(), clock.now()
            token, _ = accounts.start_session(s, user, accounts.SessionPolicy())
            s.commit()
        r = runner.invoke(main, ["user", "totp-reset", email])
        assert r.exit_code == 0 and "reset" in r.output, r.output
        r = runner.invoke(main, ["user", "totp-reset", "nobody@test.invalid"])
        assert r.exit_code == 1 and "Traceback" not in r.output
        r = runner.invoke(main, ["user", "set-password", email, "--password-stdin"],
                          input="password1234\n")
        assert r.exit_code == 1 and "common passwords" in r.output
        with db.session() as s:
            user = s.scalar(select(User).where(User.email == email))
            assert user is not None and user.totp_secret is None
            assert user.totp_enabled_at is None
            assert accounts.session_user(s, token, accounts.SessionPolicy()) is None
    finally:
        with db.session() as s:
            user = s.scalar(select(User).where(User.email == email))
            if user is not None:
                s.delete(user)
                s.commit()
        db.dispose()


def test_the_secret_is_stored_encrypted_and_another_key_fails_closed(
        totp_app: Flask, world: World, session: Session) -> None:
    """The column holds a token under a key derived from the app's secret key: read raw,
    it shows no base32 secret; with another secret key no code matches."""
    from sqlalchemy import text

    from locmap.crypto import PREFIX, FieldBox

    c = totp_app.test_client()
    auth = AuthActions(c)
    auth.login(EMAIL)
    secret, _ = _enrol(c, auth)
    auth.logout()
    raw = session.execute(text("SELECT totp_secret FROM user_account WHERE email = :e"),
                          {"e": EMAIL}).scalar_one()
    assert raw.startswith(PREFIX) and secret not in raw
    assert not re.search(r"[A-Z2-7]{16,}", raw.removeprefix(PREFIX))
    assert FieldBox(totp_app.config["SECRET_KEY"]).decrypt(raw) == secret

    # The same database under another secret key (a key file lost, SECRET_KEY changed).
    original = totp_app.config["SECRET_KEY"]
    totp_app.config["SECRET_KEY"] = "another-secret-key-" + "y" * 32
    try:
        other = totp_app.test_client()
        assert _code_step(other, AuthActions(other), EMAIL, _code(secret, 1)).status_code == 401
    finally:
        totp_app.config["SECRET_KEY"] = original
