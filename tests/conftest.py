"""Fixtures: one real PostGIS database per test session, one rolled-back transaction per test.

The database is created on the server locmap itself would use (``DATABASE_URL``, the
local server, or the private cluster), migrated with Alembic, and dropped at the end.
Each test runs inside an outer transaction that is rolled back; the app's sessions join
it through savepoints (SQLAlchemy 2 "Joining a Session into an External Transaction").

Least privilege, as in production: the session's database belongs to ``locmap_owner``,
which runs the migrations; the tests and the app under test connect as ``locmap_app``
(``database_url`` is that role's URL), so the whole suite proves the app works with row
access only. Fixtures that create databases or extensions use the server's superuser
(``_fresh_database``). The test server must let the two roles log in without a password
(trust or peer auth), as the embedded default does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from locmap.config import load_settings
from locmap.db import Database, upgrade
from locmap.pgserver import (
    APP_ROLE,
    OWNER_ROLE,
    drop_database,
    ensure_database,
    ensure_roles,
    resolve_url,
    role_url,
)
from tests import factories

os.environ.setdefault("LOCMAP_COOKIE_SECURE", "0")
# The seeded admins and auditors sign in with the password alone, as in the demo;
# tests/integration/test_totp.py turns the requirement on where it is the subject.
os.environ.setdefault("LOCMAP_REQUIRE_TOTP_FOR_ADMINS", "0")
# The tests need no key file in ./var (whose mode locmap checks: config.check_private).
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-" + "x" * 32)


def _fresh_database(suffix: str, *, owner: str | None = None) -> str:
    """A new database with PostGIS; its URL connects as the server's superuser."""
    settings = load_settings()
    base = make_url(resolve_url(settings.database_url, settings.data_dir))
    name = f"locmap_test_{os.getpid()}_{suffix}_{uuid.uuid4().hex[:6]}"
    url = base.set(database=name).render_as_string(hide_password=False)
    if owner:
        ensure_roles(url)
    ensure_database(url, owner=owner)
    return url


def _copy_database(template_url: str, suffix: str) -> str:
    """A new database copied from an idle one (CREATE DATABASE … TEMPLATE: a file copy,
    far quicker than migrating and loading again); its URL connects as the superuser."""
    import psycopg

    url = make_url(template_url)
    name = f"locmap_test_{os.getpid()}_{suffix}_{uuid.uuid4().hex[:6]}"
    admin = url.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            psycopg.sql.Identifier(name), psycopg.sql.Identifier(url.database or "")))
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2 with argon2-cffi's test profile (CHEAPEST) in this process: the fixtures
    create and log in hundreds of users, and the production cost (~0.2 s a hash) made a
    third of the suite's time. Subprocesses (the newcomer's server, workers) keep the real
    cost; test_auth's equal-cost test puts it back for itself."""
    from argon2 import PasswordHasher, profiles

    from locmap.services import accounts

    real = (accounts._hasher, accounts._DUMMY_HASH)
    accounts._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    accounts._DUMMY_HASH = accounts._hasher.hash("not a real password")
    yield
    accounts._hasher, accounts._DUMMY_HASH = real


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """The app role's URL of a database the owner role migrated to head."""
    admin_url = _fresh_database("main", owner=OWNER_ROLE)
    upgrade(role_url(admin_url, OWNER_ROLE), app_role=APP_ROLE)
    # A test that waits on a lock another connection of its own holds fails after two
    # minutes instead of hanging the suite (the audit chain's lock made one do so).
    eng = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{make_url(admin_url).database}" '
                             "SET lock_timeout = '120s'")
    eng.dispose()
    yield role_url(admin_url, APP_ROLE)
    drop_database(admin_url)


@pytest.fixture(scope="session")
def demo_database() -> Iterator[dict[str, str]]:
    """A committed database holding the demo town anchored to 2026-12-01 (its "admin",
    "owner" and "app" URLs), loaded once per session, for tests that need real data outside
    a rolled-back transaction (backup and restore, migrations carrying data). They may
    change it but must leave it at head.
    """
    import datetime as dt

    from locmap.services.demo import load_demo

    admin = _fresh_database("demo", owner=OWNER_ROLE)
    owner, app = role_url(admin, OWNER_ROLE), role_url(admin, APP_ROLE)
    upgrade(owner, app_role=APP_ROLE)
    db = Database(app)
    with db.session() as s:
        load_demo(s, anchor=dt.date(2026, 12, 1))
    db.dispose()
    yield {"admin": admin, "owner": owner, "app": app}
    drop_database(admin)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = create_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def db(connection: Connection, database_url: str, engine: Engine) -> Database:
    return Database(database_url, bind=connection, engine=engine)


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with db.sessionmaker() as s:
        yield s


class _NoDatabase:
    """Stands for the database between tests: a request outside a test fails loudly."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("the shared test app is used outside a test's `app` fixture")


@pytest.fixture(scope="session")
def _one_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The app, built once per test process: building it compiles ~300 URL rules (about
    half a second), which once per test was minutes of the suite. Its data folder is its
    own (nothing lands in the checkout's ./var)."""
    from locmap.web import create_app

    return create_app({"DATABASE": _NoDatabase(), "TESTING": True,
                       "SESSION_COOKIE_SECURE": False,
                       "LOCMAP_DATA_DIR": str(tmp_path_factory.mktemp("app-data"))})


@pytest.fixture
def app(_one_app: Any, db: Database) -> Iterator[Any]:
    """The app bound to this test's database transaction. Whatever a test changes in its
    configuration, or the app learns while serving it, is put back afterwards, so each
    test starts from the app create_app builds."""
    from locmap.services import limits

    app = _one_app
    config = dict(app.config)
    extensions = dict(app.extensions)
    app.config["DATABASE"] = app.extensions["locmap_db"] = db
    limits.configure(float(app.config["LOCMAP_ANALYSIS_SECONDS"]))
    yield app
    app.config.clear()
    app.config.update(config)
    app.extensions.clear()
    app.extensions.update(extensions)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def world(session: Session) -> factories.World:
    """Two pilots with a member of each role, committed into the test's transaction."""
    w = factories.build_world(session)
    session.commit()
    return w


class AuthActions:
    """Log in and out through the real form, with its CSRF token."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def csrf_token(self, path: str = "/login") -> str:
        html = self.client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf-token" content="([^"]+)"', html)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def login(self, email: str, password: str = factories.PASSWORD) -> Any:
        token = self.csrf_token()
        return self.client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}
        )

    def logout(self) -> Any:
        return self.client.post("/logout", data={"csrf_token": self.csrf_token("/")})


@pytest.fixture
def auth(client: Any) -> AuthActions:
    return AuthActions(client)


# Modules whose outcome depends on the date (timelines, "overdue", quarters, the anchored
# demo, lockout windows, event-date windows). `make test` runs them a second time with
# LOCMAP_CLOCK years ahead; a new date-sensitive test module belongs here.
DATED_MODULES = frozenset({
    "tests/unit/test_clock.py", "tests/unit/test_demo_data.py", "tests/unit/test_demo_shift.py",
    "tests/unit/test_timeline.py",
    "tests/integration/test_admin.py",
    "tests/integration/test_assessment_flow.py", "tests/integration/test_auth.py",
    "tests/integration/test_dashboard.py", "tests/integration/test_demo_anchor.py",
    "tests/integration/test_displacement_demo.py", "tests/integration/test_engagement.py",
    "tests/integration/test_evidence.py", "tests/integration/test_impact_web.py",
    "tests/integration/test_incidents.py", "tests/integration/test_kpi_compute.py",
    "tests/integration/test_network_api.py", "tests/integration/test_network_pages.py",
    "tests/integration/test_plan_api.py", "tests/integration/test_plan_pages.py",
    "tests/integration/test_review_flow.py", "tests/integration/test_timeline_review_points.py",
    "tests/integration/test_retention.py",
    "tests/browser/test_dashboard.py", "tests/browser/test_plan_review.py",
    "tests/browser/test_first_run.py",
})


@pytest.fixture
def figure(record_property: Callable[[str, object], None]) -> Callable[[str], None]:
    """Report a measured figure (a matrix's size, the generated cases): it is printed in
    the run's summary, from every test process, whatever the output capture."""
    def report(text: str) -> None:
        record_property("figure", text)
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = [f"{r.nodeid.split('::')[-1]}: {value}"
             for reports in terminalreporter.stats.values() for r in reports
             if getattr(r, "when", None) == "call"
             for name, value in getattr(r, "user_properties", ()) if name == "figure"]
    if lines:
        terminalreporter.section("figures")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath
    for item in items:
        if str(item.path.relative_to(root)) in DATED_MODULES:
            item.add_marker(pytest.mark.dated)

@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start real ``locmap worker`` processes on a committed database's URL; each is
    stopped (SIGTERM, then SIGKILL) at teardown. Output goes to ``tmp_path/worker-N.log``.
    """
    procs: list[subprocess.Popen[bytes]] = []

    def start(url: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "locmap.cli", "worker", *args],
            env={**os.environ, "DATABASE_URL": url, **env}, stdout=log,
            stderr=subprocess.STDOUT)
        log.close()
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
