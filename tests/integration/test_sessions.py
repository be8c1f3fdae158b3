"""Server-side login sessions (issue 14): the cookie carries a random token, the database
its hash; logout, deactivation and a password change end a session at once, wherever a
copy of the cookie is; idle and absolute timeouts; CSRF unchanged."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from locmap import clock
from locmap.models import AuditEvent, User, UserSession
from locmap.services import accounts
from tests import factories
from tests.conftest import AuthActions
from tests.factories import World

EMAIL = "practitioner@test.invalid"


def _client(app: Flask) -> tuple[Any, AuthActions]:
    c = app.test_client()
    return c, AuthActions(c)


def _signed_in(client: Any) -> bool:
    r = client.get("/")
    if r.status_code == 302:
        assert "/login" in r.headers["Location"]
        return False
    assert r.status_code == 200
    return True


def _copy_cookie(src: Any, dst: Any) -> None:
    cookie = src.get_cookie("session")
    assert cookie is not None
    dst.set_cookie("session", cookie.value)


def _cookie_payload(app: Flask, client: Any) -> dict[str, Any]:
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    data: dict[str, Any] = serializer.loads(client.get_cookie("session").value)
    return data


def test_the_cookie_holds_a_random_token_and_the_database_only_its_hash(
        app: Flask, world: World, session: Session) -> None:
    c, auth = _client(app)
    assert auth.login(EMAIL).status_code == 302
    token = _cookie_payload(app, c)["_user_id"]
    assert len(token) >= 40 and token != str(world.users["practitioner"].id)
    row = session.scalar(select(UserSession).where(
        UserSession.user_id == world.users["practitioner"].id))
    assert row is not None and row.token_hash == hashlib.sha256(token.encode()).digest()
    assert row.revoked_at is None and row.remote_addr == "127.0.0.1"


def test_a_cookie_copied_before_logout_gets_the_login_page_after_it(
        app: Flask, world: World) -> None:
    a, auth_a = _client(app)
    b = app.test_client()
    auth_a.login(EMAIL)
    _copy_cookie(a, b)
    assert _signed_in(b)  # the copy works while the session lives
    auth_a.logout()
    assert not _signed_in(a)
    assert not _signed_in(b)  # ... and not after logout
    assert b.get("/api/v1/pilots").status_code == 401
    assert "Log in to locmap" in b.get("/login").get_data(as_text=True)


def test_deactivating_a_user_ends_an_open_session(app: Flask, world: World,
                                                  session: Session) -> None:
    a, auth_a = _client(app)
    b, auth_b = _client(app)
    auth_a.login(EMAIL)
    auth_b.login("coordinator@test.invalid")
    # What an admin screen that only clears the flag does: the next request is refused.
    session.execute(update(User).where(User.email == EMAIL).values(active=False))
    session.commit()
    assert not _signed_in(a)
    assert a.get("/api/v1/pilots").status_code == 401
    # The service also ends every session row at once.
    coordinator = world.users["coordinator"]
    accounts.set_active(session, None, coordinator, False)
    session.commit()
    assert not _signed_in(b)
    assert session.scalar(select(UserSession.revoked_at).where(
        UserSession.user_id == coordinator.id)) is not None


def test_changing_the_password_ends_the_other_sessions(app: Flask, world: World,
                                                        session: Session) -> None:
    a, auth_a = _client(app)
    b, auth_b = _client(app)
    auth_a.login(EMAIL)
    auth_b.login(EMAIL)
    new = "a new long passphrase"
    token = auth_b.csrf_token("/account")
    r = b.post("/account/password", data={"current_password": "wrong password here",
                                          "new_password": new, "new_password_again": new,
                                          "csrf_token": token})
    assert r.status_code == 422 and "current password is not right" in r.get_data(as_text=True)
    assert _signed_in(a)
    r = b.post("/account/password", data={
        "current_password": factories.PASSWORD, "new_password": "password1234",
        "new_password_again": "password1234", "csrf_token": token})
    assert r.status_code == 422 and "list of common passwords" in r.get_data(as_text=True)
    r = b.post("/account/password", data={"current_password": factories.PASSWORD,
                                          "new_password": new, "new_password_again": new,
                                          "csrf_token": token})
    assert r.status_code == 302
    assert _signed_in(b)  # the session that made the change goes on
    assert not _signed_in(a)
    assert auth_a.login(EMAIL).status_code == 401
    assert auth_a.login(EMAIL, new).status_code == 302
    # An operator's reset ends every session, the changer's too.
    accounts.reset_password(session, None, EMAIL, "yet another passphrase")
    session.commit()
    assert not _signed_in(a) and not _signed_in(b)
    assert session.scalar(select(AuditEvent.detail).where(
        AuditEvent.action == "password_set").order_by(AuditEvent.id.desc()).limit(1)) == {
        "sessions_ended": 2}


def test_idle_timeout_and_last_seen_written_at_most_once_a_minute(
        app: Flask, world: World, session: Session) -> None:
    c, auth = _client(app)
    start = clock.now()
    with clock.frozen(start):
        auth.login(EMAIL)
    row = session.scalar(select(UserSession).where(
        UserSession.user_id == world.users["practitioner"].id))
    assert row is not None

    def seen() -> dt.datetime:
        session.expire_all()
        return session.scalar(select(UserSession.last_seen_at).where(
            UserSession.id == row.id))

    with clock.frozen(start + dt.timedelta(seconds=40)):
        assert _signed_in(c)
    assert seen() == start  # under a minute: no write
    with clock.frozen(start + dt.timedelta(minutes=29)):
        assert _signed_in(c)
    assert seen() == start + dt.timedelta(minutes=29)
    with clock.frozen(start + dt.timedelta(minutes=58)):
        assert _signed_in(c)  # 29 minutes after the last request
    with clock.frozen(start + dt.timedelta(minutes=88, seconds=1)):
        assert not _signed_in(c)  # 30 minutes idle
    with clock.frozen(start + dt.timedelta(minutes=60)):
        assert _signed_in(c)  # (the clock back inside the window: the same row)


def test_absolute_timeout_ends_a_busy_session_and_login_purges_expired_ones(
        app: Flask, world: World, session: Session) -> None:
    app.config["LOCMAP_SESSION_ABSOLUTE_HOURS"] = 1
    c, auth = _client(app)
    start = clock.now()
    with clock.frozen(start):
        auth.login(EMAIL)
    for minutes in (20, 40, 59):
        with clock.frozen(start + dt.timedelta(minutes=minutes)):
            assert _signed_in(c), minutes
    with clock.frozen(start + dt.timedelta(minutes=61)):
        assert not _signed_in(c)  # busy all along, but an hour since the login
        user_id = world.users["practitioner"].id
        assert session.scalar(select(UserSession.id).where(UserSession.user_id == user_id))
        other, other_auth = _client(app)
        other_auth.login("coordinator@test.invalid")  # any login purges expired sessions
        session.expire_all()
        assert session.scalar(select(UserSession.id).where(
            UserSession.user_id == user_id)) is None
        assert _signed_in(other)


def test_csrf_still_guards_every_post(app: Flask, world: World) -> None:
    c, auth = _client(app)
    auth.login(EMAIL)
    assert c.post("/logout").status_code == 400
    assert c.post("/account/sessions/end-others").status_code == 400
    assert _signed_in(c)
    assert c.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert _signed_in(c)
    assert auth.logout().status_code == 302
    assert not _signed_in(c)


def test_account_page_lists_open_sessions_and_signs_out_the_others(
        app: Flask, world: World) -> None:
    a, auth_a = _client(app)
    b, auth_b = _client(app)
    auth_a.login(EMAIL)
    auth_b.login(EMAIL)
    page = b.get("/account").get_data(as_text=True)
    assert page.count("<tr><td>") == 2 and page.count("this one") == 1
    assert "Two-factor sign-in" in page and "Change your password" in page
    assert 'href="/account"' in b.get("/").get_data(as_text=True)  # linked from the header
    r = b.post("/account/sessions/end-others", data={"csrf_token": auth_b.csrf_token("/")})
    assert r.status_code == 302
    assert "Signed out of 1 other session." in b.get("/account").get_data(as_text=True)
    assert _signed_in(b) and not _signed_in(a)
