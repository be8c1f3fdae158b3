"""A partnership starts from an empty database (issue 15): `locmap init` → the admin creates
two agencies, three users, a pilot whose locality is drawn on the map, and its members →
the coordinator sets their password from the invitation, sees the empty pilot with its
review points and adds a practitioner. And the same set-up scripted with the CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from werkzeug.serving import make_server

from locmap.cli import main
from locmap.db import Database, upgrade
from locmap.models import Membership, Pilot, ReviewPoint, User
from locmap.pgserver import drop_database
from tests.browser.conftest import draw_polygon
from tests.conftest import _fresh_database

pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "first admin passphrase"  # noqa: S105 - synthetic


@pytest.fixture(scope="module")
def empty_db() -> Iterator[tuple[str, Database]]:
    url = _fresh_database("firstrun")
    upgrade(url)
    db = Database(url)
    yield url, db
    db.dispose()
    drop_database(url)


@pytest.fixture(scope="module")
def empty_server(empty_db: tuple[str, Database]) -> Iterator[str]:
    from locmap.web import create_app

    app = create_app({"DATABASE": empty_db[1], "SESSION_COOKIE_SECURE": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def _login(page: Any, email: str, password: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector(".who-name")


def _invite(page: Any, email: str, name: str, agency: str) -> str:
    page.goto("/admin/users")
    page.fill("#invite-form input[name=email]", email)
    page.fill("#invite-form input[name=name]", name)
    page.select_option("#invite-form select[name=agency_id]", label=agency)
    page.click("#invite-form button[type=submit]")
    link = str(page.input_value("#invite-link"))
    assert "/invite/" in link
    return link


def test_a_partnership_starts_from_an_empty_database(
        browser: Any, empty_db: tuple[str, Database], empty_server: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, db = empty_db
    context = browser.new_context(base_url=empty_server, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    # Nothing is reachable until an admin exists.
    r = page.goto("/login")
    assert r is not None and r.status == 503
    assert "locmap init" in page.locator("#setup-needed").inner_text()

    monkeypatch.setenv("DATABASE_URL", url)
    result = CliRunner().invoke(main, ["init", "--email", "Admin@northtown.invalid",
                                       "--name", "Ada Admin", "--password-stdin"],
                                input=ADMIN_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    again = CliRunner().invoke(main, ["init", "--email", "second@northtown.invalid", "--link"])
    assert again.exit_code == 1 and "already exists" in again.output

    _login(page, "admin@northtown.invalid", ADMIN_PASSWORD)
    assert "Administration" in page.locator("#no-pilots").inner_text()
    page.click("#nav-admin")
    page.click("text=Manage agencies")
    for name, kind in (("Northtown Children's Services", "children_services"),
                       ("Northtown Police", "police")):
        page.fill("#agency-form input[name=name]", name)
        page.select_option("#agency-form select[name=kind]", kind)
        page.click("#agency-form button[type=submit]")
        page.wait_for_selector(f"#agency-table input[value=\"{name}\"]")
    page.fill("#agency-form input[name=name]", "northtown police")
    page.click("#agency-form button[type=submit]")
    assert "already exists" in page.locator("#form-error").inner_text()

    links = {
        "coordinator": _invite(page, "cora@northtown.invalid", "Cora Coordinator",
                               "Northtown Children's Services"),
        "practitioner": _invite(page, "pat@northtown.invalid", "Pat Practitioner",
                                "Northtown Children's Services"),
        "reviewer": _invite(page, "rae@northtown.invalid", "Rae Reviewer", "Northtown Police"),
    }
    assert page.locator("#user-table tbody tr").count() == 4

    page.goto("/admin")
    page.click("#new-pilot")
    page.fill("input[name=name]", "Northtown Centre")
    page.fill("textarea[name=description]", "Harm around the bus station")
    page.fill("input[name=start_date]", "2026-01-05")
    page.wait_for_selector("#locality-map[data-locality-ready]")
    box = page.locator("#locality-map").bounding_box()
    x0, y0 = box["x"] + 200, box["y"] + 150
    corners = [(x0, y0), (x0 + 300, y0), (x0 + 300, y0 + 200), (x0, y0 + 200)]
    draw_polygon(page, corners)
    page.wait_for_selector("#locality-map[data-locality-drawn]")
    assert json.loads(page.input_value("#locality-input"))["type"] == "Polygon"
    page.click("#create-pilot")
    page.wait_for_selector("#member-form")
    assert "6 review points" in page.locator(".flash").inner_text()
    for email, role in (("cora@northtown.invalid", "coordinator"),
                        ("rae@northtown.invalid", "partner_reviewer")):
        page.fill("#member-form input[name=email]", email)
        page.select_option("#member-form select[name=role]", role)
        page.click("#member-form button[type=submit]")
        page.wait_for_selector(f"#member-table td:has-text('{email}')")
    page.click("button.linkish:has-text('Log out')")
    page.wait_for_selector("text=You are logged out.")  # posted after the field queue is emptied

    # The coordinator opens the invitation, chooses a password and logs in.
    page.goto(links["coordinator"])
    page.fill("input[name=password]", "cora's own passphrase")
    page.fill("input[name=confirm]", "cora's own passphrase")
    page.click("#invite-form button[type=submit]")
    page.wait_for_selector("input[name=email]")
    _login(page, "cora@northtown.invalid", "cora's own passphrase")
    page.click("#pilot-list a:has-text('Northtown Centre')")
    page.wait_for_selector("ol.reviews li")
    assert page.locator("ol.reviews li").count() == 6
    assert page.locator("#place-count").inner_text() == "0"
    page.click("#members-link")
    page.fill("#member-form input[name=email]", "pat@northtown.invalid")
    page.select_option("#member-form select[name=role]", "practitioner")
    page.click("#member-form button[type=submit]")
    page.wait_for_selector("#member-table td:has-text('pat@northtown.invalid')")
    # The link works once.
    r = page.goto(links["coordinator"])
    assert r is not None and r.status == 410
    context.close()

    with db.session() as s:
        pilot = s.scalar(select(Pilot).where(Pilot.name == "Northtown Centre"))
        assert pilot is not None
        roles = dict(s.execute(select(User.email, Membership.role).join(
            Membership, Membership.user_id == User.id).where(
                Membership.pilot_id == pilot.id)).tuples().all())
        assert roles == {"cora@northtown.invalid": "coordinator",
                         "rae@northtown.invalid": "partner_reviewer",
                         "pat@northtown.invalid": "practitioner"}
        assert s.scalar(select(ReviewPoint.due_on).where(ReviewPoint.pilot_id == pilot.id)
                        .order_by(ReviewPoint.due_on).limit(1)).isoformat() == "2026-04-05"


def test_scripted_set_up_with_the_cli(empty_db: tuple[str, Database], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    url, db = empty_db
    monkeypatch.setenv("DATABASE_URL", url)
    run = CliRunner()
    r = run.invoke(main, ["agency", "add", "Southtown School", "--kind", "school"])
    assert r.exit_code == 0, r.output
    r = run.invoke(main, ["agency", "add", "Southtown School", "--kind", "school"])
    assert r.exit_code == 1 and "already exists" in r.output
    r = run.invoke(main, ["user", "invite", "sam@southtown.invalid", "--name", "Sam",
                          "--agency", "Southtown School", "--base-url", "https://lm.invalid"])
    assert r.exit_code == 0 and "https://lm.invalid/invite/" in r.output, r.output
    area = tmp_path / "southtown.geojson"
    area.write_text(json.dumps({"type": "Polygon", "coordinates": [[
        [-1.3, 52.4], [-1.29, 52.4], [-1.29, 52.41], [-1.3, 52.41], [-1.3, 52.4]]]}))
    r = run.invoke(main, ["pilot", "create", "Southtown", "--locality", str(area),
                          "--start", "2026-03-02", "--months", "12"])
    assert r.exit_code == 0 and "4 review points" in r.output, r.output
    r = run.invoke(main, ["member", "add", "sam@southtown.invalid", "--pilot", "Southtown",
                          "--role", "practitioner"])
    assert r.exit_code == 0, r.output
    r = run.invoke(main, ["member", "add", "nobody@southtown.invalid", "--pilot", "Southtown",
                          "--role", "practitioner"])
    assert r.exit_code == 1 and "No active user" in r.output and "Traceback" not in r.output
