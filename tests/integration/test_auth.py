"""Logins, roles, CSRF and the audit of personal data, through the real app."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.models import AuditEvent
from tests import factories
from tests.conftest import AuthActions
from tests.factories import World


def test_pages_need_a_login(client: Any, world: World) -> None:
    r = client.get(f"/pilots/{world.pilot.id}")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = client.get("/api/v1/pilots")
    assert r.status_code == 401 and r.json["error"] == "unauthenticated"


def test_login_with_wrong_password_is_refused_and_audited(
    auth: AuthActions, world: World, session: Session
) -> None:
    r = auth.login("practitioner@test.invalid", "wrong password!")
    assert r.status_code == 401
    assert b"Wrong email or password" in r.data
    failures = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "login_failed")
    ).all()
    assert [e.user_email for e in failures] == ["practitioner@test.invalid"]


def test_login_logout(auth: AuthActions, client: Any, world: World) -> None:
    r = auth.login("practitioner@test.invalid")
    assert r.status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert "Test Pilot" in home and "Other Pilot" not in home
    auth.logout()
    assert client.get("/").status_code == 302


def test_login_does_not_redirect_off_site(auth: AuthActions, client: Any, world: World) -> None:
    token = auth.csrf_token()
    r = client.post("/login?next=//evil.example/x", data={
        "email": "practitioner@test.invalid", "password": "correct horse battery",
        "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/"


def test_post_without_csrf_token_is_refused(client: Any, world: World) -> None:
    r = client.post("/login", data={"email": "practitioner@test.invalid",
                                    "password": "correct horse battery"})
    assert r.status_code == 400 and b"CSRF" in r.data


def test_non_member_gets_404_for_pages_and_api(auth: AuthActions, client: Any,
                                               world: World) -> None:
    auth.login("outsider@test.invalid")
    pid = world.pilot.id
    for path in (f"/pilots/{pid}", f"/api/v1/pilots/{pid}", f"/api/v1/pilots/{pid}/places",
                 f"/api/v1/pilots/{pid}/people", f"/api/v1/pilots/{pid}/people/{world.person.id}"):
        assert client.get(path).status_code == 404, path
    # …while their own pilot answers.
    assert client.get(f"/api/v1/pilots/{world.other_pilot.id}").status_code == 200
    assert [p["name"] for p in client.get("/api/v1/pilots").json] == ["Other Pilot"]


def test_admin_and_auditor_see_no_case_data(auth: AuthActions, client: Any, world: World) -> None:
    for who in ("admin", "auditor"):
        auth.login(f"{who}@test.invalid")
        assert client.get(f"/api/v1/pilots/{world.pilot.id}/places").status_code == 404
        auth.logout()


def test_member_sees_places_as_geojson(auth: AuthActions, client: Any, world: World) -> None:
    auth.login("partner_reviewer@test.invalid")
    fc = client.get(f"/api/v1/pilots/{world.pilot.id}/places").json
    assert fc["type"] == "FeatureCollection"
    by_name = {f["properties"]["name"]: f for f in fc["features"]}
    assert set(by_name) == {"Test Park", "Test Cafe", "Test group chat"}
    assert by_name["Test group chat"]["geometry"] is None
    assert by_name["Test Cafe"]["geometry"] == {"type": "Point", "coordinates": [-1.49, 52.505]}
    ring = by_name["Test Park"]["geometry"]["coordinates"][0]
    # RFC 7946: exterior rings counter-clockwise (positive signed area).
    area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False))
    assert area > 0


def test_reading_a_person_is_audited(auth: AuthActions, client: Any, world: World,
                                     session: Session) -> None:
    auth.login("practitioner@test.invalid")
    url = f"/api/v1/pilots/{world.pilot.id}/people/{world.person.id}"
    body = client.get(url).json
    assert body["pseudonym"] == "YP-001" and "identity" not in body
    body = client.get(url + "?identity=true").json
    assert body["identity"]["name"] == "Testy Quillborne"
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "person",
                                 AuditEvent.entity_id == str(world.person.id))
        .order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in events] == ["read", "read_identity"]
    assert all(e.personal_data and e.user_email == "practitioner@test.invalid" for e in events)


def test_partner_reviewer_never_sees_an_identity(auth: AuthActions, client: Any,
                                                 world: World) -> None:
    auth.login("partner_reviewer@test.invalid")
    url = f"/api/v1/pilots/{world.pilot.id}/people/{world.person.id}"
    assert client.get(url).json["pseudonym"] == "YP-001"
    r = client.get(url + "?identity=true")
    assert r.status_code == 403
    assert "Quillborne" not in r.get_data(as_text=True)


def test_invalid_query_gets_422(auth: AuthActions, client: Any, world: World) -> None:
    auth.login("practitioner@test.invalid")
    r = client.get(f"/api/v1/pilots/{world.pilot.id}/people/{world.person.id}?identity=maybe")
    assert r.status_code == 422 and "identity" in r.json["details"]


def test_openapi_document_describes_the_api(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/pilots/{pilot_id}/places" in doc["paths"]
    person = doc["paths"]["/api/v1/pilots/{pilot_id}/people/{person_id}"]["get"]
    assert any(p["name"] == "identity" for p in person["parameters"])
    assert "Person" in doc["components"]["schemas"]


def test_security_headers(client: Any) -> None:
    r = client.get("/login")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"


def test_session_cookie_is_httponly_and_samesite(auth: AuthActions, world: World) -> None:
    r = auth.login("practitioner@test.invalid")
    cookie = r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_repeated_failures_lock_the_account(auth: AuthActions, world: World) -> None:
    for _ in range(10):
        auth.login("coordinator@test.invalid", "wrong password!")
    # The right password no longer works during the lock-out window.
    assert auth.login("coordinator@test.invalid").status_code == 401


def test_one_address_spraying_many_accounts_is_throttled(
    session: Any, world: World
) -> None:
    """Password spraying: 30 emails from one address, then even a right password fails."""
    from locmap.services import accounts

    for i in range(accounts.ADDRESS_FAILURES):
        assert accounts.authenticate(session, f"sprayed{i}@test.invalid", "Summer2026!",
                                     "198.51.100.7") is None
    assert accounts.authenticate(session, "coordinator@test.invalid", factories.PASSWORD,
                                 "198.51.100.7") is None
    # Another address is not affected, and the locked answer costs a hash like any other.
    assert accounts.authenticate(session, "coordinator@test.invalid", factories.PASSWORD,
                                 "198.51.100.8") is not None


def test_a_locked_account_answers_as_slowly_as_a_wrong_password(
    session: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from argon2 import PasswordHasher

    from locmap.services import accounts

    # The production cost, not the suite's cheap test profile (conftest.py).
    real = PasswordHasher()
    monkeypatch.setattr(accounts, "_hasher", real)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", real.hash("not a real password"))
    world.users["peer_assessor"].password_hash = real.hash(factories.PASSWORD)
    session.flush()
    for _ in range(accounts.LOCKOUT_FAILURES):
        accounts.authenticate(session, "practitioner@test.invalid", "wrong password!")
    started = time.perf_counter()
    assert accounts.authenticate(session, "practitioner@test.invalid", "wrong password!") is None
    locked_s = time.perf_counter() - started
    started = time.perf_counter()
    assert accounts.authenticate(session, "peer_assessor@test.invalid", "wrong password!") is None
    wrong_s = time.perf_counter() - started
    # Both run one argon2 verification; without it the locked answer was ~15x faster.
    assert locked_s > wrong_s / 3


def test_not_found_says_the_same_whether_absent_or_not_yours(
    client: Any, auth: AuthActions, world: World
) -> None:
    """No existence oracle: another pilot's plan and a plan that never existed read alike."""
    auth.login("outsider@test.invalid")
    theirs = client.get(f"/pilots/{world.pilot.id}/plans/1")
    mine_absent = client.get(f"/pilots/{world.other_pilot.id}/plans/999999")
    assert theirs.status_code == mine_absent.status_code == 404
    # The pages differ only in the CSRF token's signing time (a new second, a new token),
    # wherever the page carries it (its meta tag, the log-out form).
    def without_token(html: bytes) -> bytes:
        token = re.search(rb'name="csrf-token" content="([^"]+)"', html)
        assert token
        return html.replace(token.group(1), b"TOKEN")

    assert without_token(theirs.get_data()) == without_token(mine_absent.get_data())
    api_theirs = client.get(f"/api/v1/pilots/{world.pilot.id}/places")
    api_absent = client.get(f"/api/v1/pilots/{world.other_pilot.id}/places/999999")
    assert api_theirs.status_code == api_absent.status_code == 404
    assert api_theirs.get_json() == api_absent.get_json()
