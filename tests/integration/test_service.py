"""locmap as a service: /healthz, a trusted reverse proxy, gunicorn's settings, and
``locmap serve`` / ``locmap demo`` as real processes that stop cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from locmap.cli import main
from locmap.cli.serve import (
    ACCESS_LOG_FORMAT,
    KEEPALIVE_S,
    _server,
    plain_http_on_loopback,
)
from locmap.db import WEB_APP_NAME, WORKER_APP_NAME, Database, grant_app_role, upgrade
from locmap.models import AuditEvent
from locmap.pgserver import APP_ROLE, OWNER_ROLE, drop_database, role_url
from tests.conftest import AuthActions, _fresh_database
from tests.factories import PASSWORD, World

# --- /healthz -------------------------------------------------------------------------


def _health_app(url: str, **config: Any) -> Any:
    from locmap.web import create_app

    return create_app({"DATABASE": Database(url), "TESTING": True, **config})


@pytest.fixture(scope="module")
def spare_url() -> Iterator[str]:
    """A database at head where a worker table can come and go (superuser's URL); the
    owner migrated it and the app role got its grants, as in production."""
    url = _fresh_database("health", owner=OWNER_ROLE)
    upgrade(role_url(url, OWNER_ROLE), app_role=APP_ROLE)
    yield url
    drop_database(url)


def test_healthz_needs_no_login_and_shows_no_case_data(client: Any) -> None:
    r = client.get("/healthz")
    body = r.get_json()
    assert r.status_code == 200, body
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["migrations"] == "head" and body["current_revision"] == body["head_revision"]
    assert body["worker"] == "none"  # the queue's tables exist (0005); no worker has run
    assert set(body) == {"status", "database", "migrations", "current_revision",
                         "head_revision", "worker", "require_worker", "backup"}
    assert body["backup"] == {"state": "off"}  # no LOCMAP_BACKUP_DIR: no scheduled backups
    assert r.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in r.headers


def test_healthz_is_503_when_the_schema_is_behind() -> None:
    url = _fresh_database("behind")
    try:
        upgrade(url, "0003")
        app = _health_app(url)
        r = app.test_client().get("/healthz")
        assert r.status_code == 503
        body = r.get_json()
        assert body["status"] == "fail" and body["database"] == "ok"
        assert body["migrations"] == "behind" and body["current_revision"] == "0003"
        app.extensions["locmap_db"].dispose()
    finally:
        drop_database(url)


def test_healthz_is_503_when_the_schema_version_cannot_be_read(spare_url: str) -> None:
    owner_url = role_url(spare_url, OWNER_ROLE)
    eng = create_engine(owner_url)
    with eng.begin() as conn:
        conn.execute(text(f"REVOKE SELECT ON alembic_version FROM {APP_ROLE}"))
    try:
        app = _health_app(role_url(spare_url, APP_ROLE))
        r = app.test_client().get("/healthz")
        app.extensions["locmap_db"].dispose()
        assert r.status_code == 503
        assert (r.get_json()["database"], r.get_json()["migrations"]) == ("ok", "unknown")
    finally:
        grant_app_role(owner_url, APP_ROLE)
        eng.dispose()


def test_healthz_is_503_when_the_database_is_unreachable() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = _health_app(f"postgresql+psycopg://postgres@127.0.0.1:{port}/none")
    r = app.test_client().get("/healthz")
    assert r.status_code == 503
    assert r.get_json()["database"] == "unreachable"


def test_healthz_reports_the_worker_and_requires_it_only_when_told(
    spare_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner_url, app_url = role_url(spare_url, OWNER_ROLE), role_url(spare_url, APP_ROLE)
    eng = create_engine(owner_url)

    def sql(statement: str) -> None:
        with eng.begin() as conn:
            conn.execute(text(statement))

    def probe(**config: Any) -> tuple[int, str]:
        app = _health_app(app_url, **config)
        r = app.test_client().get("/healthz")
        app.extensions["locmap_db"].dispose()
        return r.status_code, r.get_json()["worker"]

    # procrastinate's table comes with migration 0005; take the app's right to read it
    # away to see health say "unknown" rather than fail.
    sql(f"REVOKE SELECT ON procrastinate_workers FROM {APP_ROLE}")
    try:
        assert probe() == (200, "unknown")  # the app role may not read it
        grant_app_role(owner_url, APP_ROLE)  # what every upgrade does
        assert probe() == (200, "none")
        assert probe(LOCMAP_REQUIRE_WORKER=True) == (503, "none")
        sql("INSERT INTO procrastinate_workers DEFAULT VALUES")
        assert probe(LOCMAP_REQUIRE_WORKER=True) == (200, "ok")
        sql("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '5 minutes'")
        assert probe() == (200, "stale")
        monkeypatch.setenv("LOCMAP_REQUIRE_WORKER", "1")  # the setting, from the environment
        assert probe() == (503, "stale")
    finally:
        sql("DELETE FROM procrastinate_workers")
        grant_app_role(owner_url, APP_ROLE)
        eng.dispose()


# --- a trusted reverse proxy ----------------------------------------------------------


def _login_from(client: Any, auth: AuthActions, forwarded: str | None) -> None:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    r = client.post("/login", data={"email": "practitioner@test.invalid", "password": PASSWORD,
                                    "csrf_token": auth.csrf_token()},
                    headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert r.status_code == 302


def _last_login_address(session: Session) -> str:
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "login")
                            .order_by(AuditEvent.id.desc())).first()
    assert event is not None
    return str(event.remote_addr)


@pytest.mark.parametrize("hops, forwarded, recorded", [
    (0, "203.0.113.7", "10.0.0.2"),  # no proxy configured: a forged header is ignored
    (1, "203.0.113.7", "203.0.113.7"),
    (1, "203.0.113.7, 198.51.100.1", "198.51.100.1"),  # one hop trusted: the nearest
    (2, "203.0.113.7, 198.51.100.1", "203.0.113.7"),
])
def test_the_audit_trail_records_the_client_behind_trusted_proxies(
    db: Database, session: Session, world: World, hops: int, forwarded: str, recorded: str
) -> None:
    from locmap.web import create_app

    app = create_app({"DATABASE": db, "TESTING": True, "SESSION_COOKIE_SECURE": False,
                      "LOCMAP_TRUSTED_PROXIES": hops})
    client = app.test_client()
    _login_from(client, AuthActions(client), forwarded)
    assert _last_login_address(session) == recorded


def test_trusted_proxies_from_the_environment(
    db: Database, session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from locmap.web import create_app

    monkeypatch.setenv("LOCMAP_TRUSTED_PROXIES", "1")
    client = create_app({"DATABASE": db, "TESTING": True}).test_client()
    _login_from(client, AuthActions(client), "203.0.113.9")
    assert _last_login_address(session) == "203.0.113.9"


def test_a_bad_setting_is_one_line(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    from click.testing import CliRunner

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LOCMAP_TRUSTED_PROXIES", "the load balancer")
    r = CliRunner().invoke(main, ["serve", "--port", "1"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "LOCMAP_TRUSTED_PROXIES must be a whole number" in r.output
    monkeypatch.delenv("LOCMAP_TRUSTED_PROXIES")
    r = CliRunner().invoke(main, ["serve", "--workers", "0"])
    assert r.exit_code == 2 and "--workers" in r.output


# --- gunicorn settings ----------------------------------------------------------------


def test_gunicorn_cmd_args_override_defaults_but_not_options(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--workers 3 --timeout 45 --max-requests 500")
    defaults = {"workers": 5, "threads": 4, "timeout": 120, "bind": ["127.0.0.1:5000"]}
    server = _server(None, defaults, explicit={"timeout": 60})
    assert server.cfg.workers == 3  # GUNICORN_CMD_ARGS over the default
    assert server.cfg.timeout == 60  # an option (or LOCMAP_WEB_TIMEOUT) over both
    assert server.cfg.max_requests == 500  # any other gunicorn setting gets through
    assert server.cfg.threads == 4


@pytest.mark.parametrize("host, env, plain", [
    ("127.0.0.1", {}, True), ("::1", {}, True), ("localhost", {}, True),
    ("127.0.0.1", {"LOCMAP_TRUSTED_PROXIES": "0"}, True),
    ("127.0.0.1", {"LOCMAP_TRUSTED_PROXIES": "1"}, False),  # a TLS proxy on this machine
    ("0.0.0.0", {}, False), ("192.0.2.10", {}, False), ("app.council.example", {}, False),
])
def test_the_secure_cookie_is_dropped_only_for_plain_local_http(
    host: str, env: dict[str, str], plain: bool
) -> None:
    assert plain_http_on_loopback(host, env) is plain


# --- real processes -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc: no extra dependency)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _children_settled(pid: int, expected: int, limit: float = 30) -> list[int]:
    """The descendants of ``pid`` once there are ``expected`` of them (gunicorn forks its
    workers one after another: the first may answer /healthz before the last exists), or
    what there is when ``limit`` seconds have passed."""
    deadline = time.monotonic() + limit
    children = _children(pid)
    while len(children) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        children = _children(pid)
    return children


def _wait_healthy(proc: subprocess.Popen[bytes], port: int, log: Path, limit: float) -> dict:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server stopped early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                body: dict = json.loads(r.read())
                return body
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    pytest.fail(f"/healthz did not answer 200 within {limit} s:\n{log.read_text()[-3000:]}")


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "locmap.cli", *args], env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def _stop_and_check(proc: subprocess.Popen[bytes], sig: int, children: list[int]) -> None:
    proc.send_signal(sig)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:  # pragma: no cover - the failure being tested for
        for pid in [proc.pid, *children]:
            os.kill(pid, signal.SIGKILL)
        pytest.fail("the server did not stop within 60 s")
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)], "a child process outlived the server"


@pytest.mark.slow
def test_serve_runs_gunicorn_workers_with_an_access_log(
    database_url: str, tmp_path: Path
) -> None:
    port, log = _free_port(), tmp_path / "serve.log"
    env = dict(os.environ, DATABASE_URL=database_url, LOCMAP_DATA_DIR=str(tmp_path),
               LOCMAP_WEB_THREADS="2", GUNICORN_CMD_ARGS="--workers 3")
    proc = _start(["serve", "--port", str(port), "--workers", "2"], env, log)
    try:
        assert _wait_healthy(proc, port, log, 120)["status"] == "ok"
        children = _children_settled(proc.pid, 2)
        assert len(children) == 2  # the option beats GUNICORN_CMD_ARGS
        time.sleep(1)  # and no third worker follows
        assert len(_children(proc.pid)) == 2
    finally:
        if proc.poll() is None:
            _stop_and_check(proc, signal.SIGTERM, _children(proc.pid))
    output = log.read_text()
    assert f"http://127.0.0.1:{port}/" in output and "workers: 2, threads: 2" in output
    assert f"keep-alive: {KEEPALIVE_S} s" in output and KEEPALIVE_S > 2
    assert "Control socket" not in output
    # Common log format, then the request time in milliseconds.
    assert re.search(r'^127\.0\.0\.1 - - \[[^\]]+\] "GET /healthz HTTP/1\.1" 200 \d+ \d+$',
                     output, re.MULTILINE), output[-2000:]
    assert ACCESS_LOG_FORMAT.endswith("%(M)s")


def _application_names(url: str, limit: float = 30) -> set[str]:
    """The application_names connected to the database, once both locmap ones are there
    (the worker may still be connecting when /healthz first answers)."""
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + limit
        while True:
            with engine.connect() as conn:
                names = set(conn.scalars(text(
                    "SELECT application_name FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")))
            if {WEB_APP_NAME, WORKER_APP_NAME} <= names or time.monotonic() > deadline:
                return names
            time.sleep(0.5)
    finally:
        engine.dispose()


@pytest.mark.slow
def test_demo_starts_web_and_worker_and_ctrl_c_stops_both(tmp_path: Path) -> None:
    admin_url = _fresh_database("demo", owner=OWNER_ROLE)
    port, log = _free_port(), tmp_path / "demo.log"
    env = dict(os.environ, DATABASE_URL=role_url(admin_url, APP_ROLE),
               DATABASE_OWNER_URL=role_url(admin_url, OWNER_ROLE),
               LOCMAP_DATA_DIR=str(tmp_path), LOCMAP_WEB_WORKERS="1")
    env.pop("GUNICORN_CMD_ARGS", None)
    env.pop("PGAPPNAME", None)
    proc = _start(["demo", "--port", str(port)], env, log)
    try:
        assert _wait_healthy(proc, port, log, 300)["status"] == "ok"
        children = _children(proc.pid)
        commands = [_cmdline(pid) for pid in children]
        if "worker" in main.commands:
            assert any("locmap.cli worker" in c for c in commands), commands
        # Each process's connections say whose they are in pg_stat_activity.
        assert _application_names(admin_url) >= {WEB_APP_NAME, WORKER_APP_NAME}
        assert len(children) >= 1  # at least the gunicorn worker
        _stop_and_check(proc, signal.SIGINT, children)  # what Ctrl-C sends
        assert proc.returncode == 0, log.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        drop_database(admin_url)
