"""Administration as the pages and the API are used (issue 15 audit): forms posted back as
they are rendered, an admin managing a pilot's members without being one, mail failures,
link expiry, agencies and pilot names."""

from __future__ import annotations

import datetime as dt
import logging
import re
import socket
from html.parser import HTMLParser
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.db import Database
from locmap.models import Agency, AuditEvent, Membership, ReviewPoint, User
from locmap.pgserver import drop_database
from locmap.services import admin
from locmap.services.permissions import Actor
from tests import factories

OPERATOR = Actor(user_id=None, email="test-operator", is_admin=True)


def _csrf(client: Any, path: str = "/") -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).get_data(as_text=True))
    assert m, path
    return m.group(1)


def _api(client: Any, method: str, url: str, body: Any = None) -> Any:
    return client.open(url, method=method, json=body, headers={"X-CSRFToken": _csrf(client)})


class _Form(HTMLParser):
    """The fields of one form (by id) as a browser would submit them unchanged."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.fields = form_id, False, {}
        self.types: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        elif tag == "input" and self.inside and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields[str(a["name"])] = a.get("value") or ""
            self.types[str(a["name"])] = a.get("type") or "text"

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def _form(html: str, form_id: str) -> _Form:
    parser = _Form(form_id)
    parser.feed(html)
    assert parser.fields, f"no form #{form_id}"
    return parser


def test_timeline_form_posts_back_as_rendered(client: Any, auth: Any, session: Session,
                                              world: factories.World) -> None:
    pilot = world.pilot
    first = min(pilot.review_points, key=lambda r: r.due_on)
    first.held_on, first.minutes = first.due_on, "Met at the library"
    session.commit()
    auth.login("admin@test.invalid")
    url = f"/admin/pilots/{pilot.id}"
    form = _form(client.get(url).get_data(as_text=True), "timeline-form")
    # What an <input type="date"> can show: the ISO date, not "6 Jan 2025".
    assert form.types["start_date"] == "date"
    assert form.fields["start_date"] == pilot.start_date.isoformat()
    r = client.post(url, data={**form.fields, "duration_months": "24"})
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    session.expire_all()
    assert pilot.duration_months == 24 and pilot.start_date == dt.date(2025, 1, 6)
    points = list(session.scalars(select(ReviewPoint).where(
        ReviewPoint.pilot_id == pilot.id).order_by(ReviewPoint.due_on)))
    assert points[0].id == first.id and points[0].minutes == "Met at the library"
    assert len(points) == 8  # every 3 months for 24


def test_admin_who_is_no_member_lists_and_removes_members(
        client: Any, auth: Any, session: Session, world: factories.World) -> None:
    pilot = world.pilot
    admin_id = world.users["admin"].id
    assert session.scalar(select(Membership.id).where(
        Membership.pilot_id == pilot.id, Membership.user_id == admin_id)) is None
    auth.login("admin@test.invalid")
    base = f"/api/v1/pilots/{pilot.id}/members"
    r = client.get(base)
    assert r.status_code == 200, r.get_json()
    by_email = {m["email"]: m for m in r.get_json()}
    reviewer = by_email["partner_reviewer@test.invalid"]
    peer = by_email["peer_assessor@test.invalid"]

    # Over the API.
    assert _api(client, "DELETE", f"{base}/{reviewer['id']}").status_code == 204
    assert session.get(Membership, reviewer["id"]) is None
    assert "partner_reviewer@test.invalid" not in {m["email"] for m in client.get(base).get_json()}
    # Another pilot's membership id under this pilot: absent.
    other = session.scalar(select(Membership.id).where(
        Membership.pilot_id == world.other_pilot.id))
    assert _api(client, "DELETE", f"{base}/{other}").status_code == 404

    # Through the page.
    page = f"/pilots/{pilot.id}/members"
    assert client.get(page).status_code == 200
    r = client.post(f"{page}/remove", data={"csrf_token": _csrf(client, page),
                                            "membership_id": str(peer["id"])})
    assert r.status_code == 302
    assert session.get(Membership, peer["id"]) is None
    assert "peer_assessor@test.invalid" not in client.get(page).get_data(as_text=True)

    # Both removals audited by the admin, on the membership, naming the user.
    events = list(session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "membership", AuditEvent.action == "delete",
        AuditEvent.pilot_id == pilot.id)))
    assert {(e.entity_id, e.user_id) for e in events} == {
        (str(reviewer["id"]), admin_id), (str(peer["id"]), admin_id)}
    assert {e.detail["user_id"] for e in events} == {reviewer["user_id"], peer["user_id"]}

    # A practitioner of the pilot still may not.
    auth.logout()
    auth.login("practitioner@test.invalid")
    assert client.get(base).status_code == 403


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refusing_mail_relay_shows_the_link_with_a_warning(
        client: Any, auth: Any, session: Session, world: factories.World,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("LOCMAP_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LOCMAP_SMTP_PORT", str(_closed_port()))
    monkeypatch.setenv("LOCMAP_SMTP_STARTTLS", "0")
    auth.login("admin@test.invalid")
    with caplog.at_level(logging.WARNING, logger="locmap.services.admin"):
        r = client.post("/admin/users", data={"csrf_token": _csrf(client, "/admin/users"),
                                              "email": "unmailed@test.invalid",
                                              "name": "Not Mailed"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200, html[:1500]
    assert 'id="mail-error"' in html and "could not be sent" in html
    link = re.search(r'id="invite-link" readonly value="([^"]+)"', html)
    assert link and "/invite/" in link.group(1)
    assert "was not emailed" in caplog.text and "unmailed@test.invalid" not in caplog.text
    # The link works though the email failed.
    assert client.get("/" + link.group(1).split("/", 3)[3]).status_code == 200

    uid = session.scalar(select(User.id).where(User.email == "unmailed@test.invalid"))
    r = _api(client, "POST", f"/api/v1/admin/users/{uid}/reset-link")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["emailed"] is False and "127.0.0.1" in body["mail_error"]
    page = client.post(f"/admin/users/{uid}", data={
        "csrf_token": _csrf(client, f"/admin/users/{uid}"), "action": "reset"})
    assert page.status_code == 200 and 'id="mail-error"' in page.get_data(as_text=True)


def test_an_invitation_expires_after_seven_days(client: Any, auth: Any, session: Session,
                                                world: factories.World) -> None:
    made = clock.now()
    _, link = admin.invite_user(session, OPERATOR, email="week@test.invalid", name="A Week")
    session.commit()
    assert abs(link.expires_at - made - dt.timedelta(days=7)) < dt.timedelta(seconds=5)
    with clock.frozen(made + dt.timedelta(days=6, hours=23)):
        assert client.get(link.path).status_code == 200
    with clock.frozen(made + dt.timedelta(days=7, minutes=1)):
        assert client.get(link.path).status_code == 410
        r = client.post(link.path, data={"password": "a long new secret",
                                         "confirm": "a long new secret",
                                         "csrf_token": _csrf(client, "/login")})
        assert r.status_code == 410


def test_agency_rename_rekind_and_deactivate(client: Any, auth: Any, session: Session,
                                             world: factories.World) -> None:
    school = Agency(name="Test School", kind="school")
    session.add(school)
    session.commit()
    auth.login("admin@test.invalid")
    # Through the page: renamed and made a voluntary-sector agency, still active.
    r = client.post(f"/admin/agencies/{school.id}", data={
        "csrf_token": _csrf(client, "/admin/agencies"), "name": "Test Academy",
        "kind": "voluntary", "active": "1"})
    assert r.status_code == 302
    session.expire_all()
    assert (school.name, school.kind, school.active) == ("Test Academy", "voluntary", True)
    # Deactivated on the page (the box unticked): no longer offered, nor accepted.
    r = client.post(f"/admin/agencies/{school.id}", data={
        "csrf_token": _csrf(client, "/admin/agencies"), "name": "Test Academy",
        "kind": "voluntary"})
    assert r.status_code == 302
    session.expire_all()
    assert school.active is False
    users_page = client.get("/admin/users").get_data(as_text=True)
    assert f'value="{school.id}"' not in users_page
    r = _api(client, "POST", "/api/v1/admin/users", {"email": "late@test.invalid",
                                                     "agency_id": school.id})
    assert r.status_code == 422 and "deactivated" in r.get_json()["message"]
    # Over the API: reactivated, re-kinded and renamed; a clash is refused.
    r = _api(client, "PATCH", f"/api/v1/admin/agencies/{school.id}",
             {"name": "Test School", "kind": "school", "active": True})
    assert r.status_code == 200
    assert r.get_json() == {"id": school.id, "name": "Test School", "kind": "school",
                            "active": True}
    session.add(Agency(name="Test Police Force", kind="police"))
    session.commit()
    r = _api(client, "PATCH", f"/api/v1/admin/agencies/{school.id}",
             {"name": "test police force"})
    assert r.status_code == 422 and "already exists" in r.get_json()["message"]
    r = _api(client, "PATCH", f"/api/v1/admin/agencies/{school.id}", {"kind": "bakery"})
    assert r.status_code == 422
    changes = [e.detail for e in session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "agency", AuditEvent.entity_id == str(school.id),
        AuditEvent.action == "update").order_by(AuditEvent.id))]
    assert changes[0] == {"name": "Test Academy", "kind": "voluntary"}
    assert changes[1] == {"active": False}
    # Not for anyone else.
    auth.logout()
    auth.login("coordinator@test.invalid")
    assert _api(client, "PATCH", f"/api/v1/admin/agencies/{school.id}",
                {"active": False}).status_code == 403


def test_pilot_names_are_unique_ignoring_case(client: Any, auth: Any, session: Session,
                                              world: factories.World) -> None:
    auth.login("admin@test.invalid")
    r = _api(client, "POST", "/api/v1/admin/pilots", {
        "name": "  TEST   pilot ", "start_date": "2026-01-05",
        "locality": factories.locality_geojson()})
    assert r.status_code == 422
    message = r.get_json()["message"]
    assert "A pilot called 'Test Pilot' already exists" in message and "ignoring case" in message
    # Renaming the other pilot to this one's name in other letters: refused on the page.
    url = f"/admin/pilots/{world.other_pilot.id}"
    r = client.post(url, data={"csrf_token": _csrf(client, url), "action": "details",
                               "name": "test PILOT", "description": ""})
    assert r.status_code == 422 and "already exists" in r.get_data(as_text=True)
    # Its own name in other letters is a rename, not a clash.
    r = _api(client, "PATCH", f"/api/v1/admin/pilots/{world.other_pilot.id}",
             {"name": "OTHER pilot"})
    assert r.status_code == 200 and r.get_json()["name"] == "OTHER pilot"


def test_init_setup_link_makes_the_first_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    """`locmap init --link` on an empty database prints a one-time link; redeemed, the
    admin logs in and every page opens; the link does not work twice.
    """
    from locmap.cli import main
    from locmap.web import create_app
    from tests.conftest import AuthActions, _fresh_database

    url = _fresh_database("initlink")
    try:
        monkeypatch.setenv("DATABASE_URL", url)
        result = CliRunner().invoke(main, ["init", "--email", "First@North.invalid",
                                           "--link", "--base-url", "https://lm.test.invalid"])
        assert result.exit_code == 0, result.output
        found = re.search(r"https://lm\.test\.invalid(/invite/\S+)", result.output)
        assert found, result.output
        path = found.group(1)
        db = Database(url)
        try:
            app = create_app({"DATABASE": db, "SESSION_COOKIE_SECURE": False})
            c = app.test_client()
            assert c.get(path).status_code == 200
            r = c.post(path, data={"password": "the first admin phrase",
                                   "confirm": "the first admin phrase",
                                   "csrf_token": _csrf(c, path)})
            assert r.status_code == 302, r.get_data(as_text=True)[:1000]
            assert c.get(path).status_code == 410
            auth = AuthActions(c)
            assert auth.login("first@north.invalid", "the first admin phrase").status_code == 302
            assert c.get("/admin").status_code == 200
        finally:
            db.dispose()
    finally:
        drop_database(url)


def test_the_admin_overview_counts_users_without_reading_them(
        client: Any, auth: Any, session: Session, world: factories.World) -> None:
    auth.login("admin@test.invalid")
    before = session.scalar(select(func.max(AuditEvent.id))) or 0
    r = client.get("/admin")
    active = session.scalar(select(func.count()).select_from(User).where(User.active))
    assert r.status_code == 200 and f"{active} active accounts" in r.get_data(as_text=True)
    assert not session.scalars(select(AuditEvent).where(
        AuditEvent.id > before, AuditEvent.personal_data.is_(True))).all()
    # The users page is a read of them, and says so.
    client.get("/admin/users")
    assert session.scalar(select(AuditEvent.personal_data).where(
        AuditEvent.id > before, AuditEvent.entity == "user_list")) is True
