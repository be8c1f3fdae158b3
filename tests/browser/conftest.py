"""Browser fixtures: the app on a free loopback port over a migrated database holding the
demo town, driven by Debian's chromium through Playwright (no downloaded browser)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from locmap.db import Database, upgrade
from locmap.pgserver import drop_database
from locmap.services.demo import load_demo
from tests.conftest import _fresh_database

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


@pytest.fixture(scope="session")
def demo_db() -> Iterator[Database]:
    url = _fresh_database("browser")
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        load_demo(s)
    yield db
    db.dispose()
    drop_database(url)


@pytest.fixture(scope="session")
def live_server(demo_db: Database) -> Iterator[str]:
    from locmap.web import create_app

    app = create_app({"DATABASE": demo_db, "SESSION_COOKIE_SECURE": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    yield pg
    context.close()


def login(page: Any, email: str, password: str = "demo-password") -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
