"""Browser fixtures: the app on a free loopback port over a migrated database holding the
demo town, driven by Debian's chromium through Playwright (no downloaded browser)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from werkzeug.serving import make_server

from locmap.db import Database, upgrade
from locmap.pgserver import drop_database
from locmap.services.demo import load_demo
from tests.conftest import _copy_database, _fresh_database

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# No GPU here: WebGL (MapLibre's base map) runs on SwiftShader, ANGLE's CPU renderer.
CHROMIUM_ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def _demo_template() -> Iterator[str]:
    """The demo town, migrated and loaded once per test process: the source of each test
    file's own copy. Nothing connects to it after loading (a template must be idle)."""
    url = _fresh_database("browser_tpl")
    upgrade(url)
    db = Database(url)
    with db.session() as s:
        load_demo(s)
    db.dispose()
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def demo_db(_demo_template: str) -> Iterator[Database]:
    """A copy of the demo town for one test file (CREATE DATABASE … TEMPLATE, a file copy):
    what one file's tests add never reaches another file's, whatever order they run in."""
    url = _copy_database(_demo_template, "browser")
    db = Database(url)
    yield db
    db.dispose()
    drop_database(url)


@pytest.fixture(scope="module")
def live_server(demo_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from locmap.web import create_app

    # Its own data folder: nothing a test does lands in the checkout's ./var.
    app = create_app({"DATABASE": demo_db, "SESSION_COOKIE_SECURE": False,
                      "LOCMAP_DATA_DIR": str(tmp_path_factory.mktemp("data"))})
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


_VERTICES = "document.querySelectorAll('.leaflet-marker-pane .leaflet-editing-icon').length"


def draw_polygon(page: Any, corners: list[tuple[float, float]]) -> None:
    """Draw a polygon with Leaflet.draw by clicking its corners, then its first corner.

    Leaflet.draw ignores a click that comes within 50 ms of the previous vertex (its
    `_disableNewMarkers` guard), and a busy renderer can deliver two queued clicks that
    close together: so each corner is clicked until its vertex marker is on the map."""
    page.click(".leaflet-draw-draw-polygon")
    for n, (x, y) in enumerate(corners, start=1):
        for _ in range(3):
            page.mouse.click(x, y)
            try:
                page.wait_for_function(f"n => {_VERTICES} >= n", arg=n, timeout=3000)
                break
            except PlaywrightTimeout:
                continue
        else:
            raise AssertionError(f"Leaflet.draw took no vertex at corner {n} ({x}, {y})")
    page.mouse.click(*corners[0])  # closing the ring finishes the polygon
