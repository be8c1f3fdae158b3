"""The path of `make demo`, walked as a newcomer would: runtime-only install, served, every
page fetched.

`make test` runs with the development lock; a user's `make demo` gets the runtime lock
only. This test builds that runtime-only environment with the very script `make demo`
runs (``scripts/setup.sh demo``, into a separate virtualenv, pip's cache making it quick),
loads the demo into a fresh database with the installed ``locmap`` command, starts the
real server (and the worker, where the command has one), logs in as every demo role the
command prints, follows every link a page offers — navigation, tabs, downloads — and
expects no server error anywhere, and every kind of download to be a real file.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from locmap.pgserver import drop_database
from tests.conftest import _fresh_database

ROOT = Path(__file__).resolve().parents[2]
MAX_PAGES_PER_ROLE = 400
# What each kind of download must start with: a real file, not an error page.
MAGIC = {
    "application/pdf": b"%PDF-",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": b"PK\x03\x04",
    "application/geopackage+sqlite3": b"SQLite format 3\x00",
    "text/csv": b"",
}

pytestmark = pytest.mark.slow


class _Links(HTMLParser):
    """Every href and src of a page (a, link, script, img)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.assets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        d = dict(attrs)
        if tag == "a" and d.get("href"):
            self.links.append(d["href"] or "")
        elif tag in ("script", "img") and d.get("src"):
            self.assets.append(d["src"] or "")
        elif tag == "link" and d.get("href"):
            self.assets.append(d["href"] or "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv built exactly as `make demo` builds .venv: runtime lock, no extras."""
    venv = tmp_path_factory.mktemp("newcomer") / "venv"
    env = {**os.environ, "LOCMAP_VENV": str(venv)}
    env.pop("VIRTUAL_ENV", None)
    subprocess.run(["bash", str(ROOT / "scripts" / "setup.sh"), "demo"], cwd=ROOT, env=env,
                   check=True, timeout=900)
    freeze = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze"],
                            capture_output=True, text=True, check=True).stdout.lower()
    for dev_only in ("pytest==", "playwright==", "mypy==", "esda=="):
        assert dev_only not in freeze, f"{dev_only} leaked into the runtime environment"
    return venv


@pytest.fixture(scope="module")
def served_demo(runtime_venv: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    url = _fresh_database("newcomer")
    data = tmp_path_factory.mktemp("newcomer-data")
    env = {**os.environ, "DATABASE_URL": url, "LOCMAP_DATA_DIR": str(data),
           "LOCMAP_COOKIE_SECURE": "0"}
    env.pop("VIRTUAL_ENV", None)
    locmap = str(runtime_venv / "bin" / "locmap")
    loaded = subprocess.run([locmap, "demo", "--no-serve"], env=env, capture_output=True,
                            text=True, timeout=600)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    logins = re.findall(r"^\s+(\S[^@\n]*?)\s+(\S+@\S+)\s*$", loaded.stdout, re.M)
    assert len(logins) >= 7, loaded.stdout
    password = re.search(r"password for all: (\S+?)\)", loaded.stdout)
    assert password, loaded.stdout
    port = _free_port()
    procs = [subprocess.Popen([locmap, "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)]
    has_worker = subprocess.run([locmap, "worker", "--help"], env=env,
                                capture_output=True).returncode == 0
    if has_worker:
        procs.append(subprocess.Popen([locmap, "worker"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base + "/login")
        yield base, [(role.strip(), email, password.group(1)) for role, email in logins]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        drop_database(url)


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def _get(opener: urllib.request.OpenerDirector, url: str) -> tuple[int, str, bytes]:
    try:
        with opener.open(url, timeout=120) as r:
            return r.status, r.headers.get_content_type(), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get_content_type(), e.read()


def _login(opener: urllib.request.OpenerDirector, base: str, email: str, password: str
           ) -> None:
    status, _, body = _get(opener, base + "/login")
    assert status == 200
    token = re.search(rb'name="csrf-token" content="([^"]+)"', body)
    assert token
    form = urllib.parse.urlencode({"email": email, "password": password,
                                   "csrf_token": token.group(1).decode()}).encode()
    with opener.open(base + "/login", data=form, timeout=60) as r:
        assert r.status == 200
        assert b"Log out" in r.read(), f"{email} could not log in"


PER_KIND = 3


def _kind(url: str) -> str:
    """A URL's route: numbers in the path as ``N``, and the names of its query arguments."""
    parts = urllib.parse.urlsplit(url)
    path = re.sub(r"/\d+(?=/|$|\.)", "/N", parts.path)
    keys = sorted({k for k, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)})
    return path + "?" + "&".join(keys)


def _crawl(opener: urllib.request.OpenerDirector, base: str
           ) -> tuple[dict[str, int], dict[str, bytes], set[str]]:
    """Breadth-first over every same-origin link; returns status per URL, downloads, assets."""
    seen: dict[str, int] = {}
    downloads: dict[str, bytes] = {}
    assets: set[str] = set()
    kinds: dict[str, int] = {}
    skipped: set[str] = set()
    queue = deque([base + "/"])
    while queue and len(seen) < MAX_PAGES_PER_ROLE:
        url = queue.popleft()
        if url in seen:
            continue
        # Every kind of page, a few of each: the demo has thousands of incidents, each
        # with a page, and the incident table links every sort, filter and page.
        kind = _kind(url)
        if kinds.get(kind, 0) >= PER_KIND:
            skipped.add(url)
            continue
        kinds[kind] = kinds.get(kind, 0) + 1
        status, ctype, body = _get(opener, url)
        seen[url] = status
        if ctype != "text/html":
            downloads[ctype] = body
            continue
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        for src in parser.assets:
            assets.add(urllib.parse.urljoin(url, src).split("#")[0])
        for href in parser.links:
            target = urllib.parse.urljoin(url, href).split("#")[0]
            if not target.startswith(base + "/") or "/static/" in target:
                continue
            if target not in seen and target not in skipped:
                queue.append(target)
    return seen, downloads, assets


def test_every_role_reaches_every_page_and_download_without_a_server_error(
    served_demo: tuple[str, list[tuple[str, str, str]]],
) -> None:
    base, logins = served_demo
    errors: list[str] = []
    downloads: dict[str, bytes] = {}
    assets: set[str] = set()
    pages = 0
    for role, email, password in logins:
        opener = _opener()
        _login(opener, base, email, password)
        seen, got, found = _crawl(opener, base)
        pages += len(seen)
        errors += [f"{role}: {status} {url}" for url, status in seen.items() if status >= 500]
        downloads.update(got)
        assets |= found
        assert len(seen) < MAX_PAGES_PER_ROLE, f"{role}: the crawl did not finish"
    assert errors == []
    assert pages > 10 * len(logins)
    for ctype, magic in MAGIC.items():
        assert ctype in downloads, f"no {ctype} download reached from any page"
        assert downloads[ctype].startswith(magic), f"{ctype} is not a real file"
    # GraphML (the network export) is XML.
    graph = [body for ctype, body in downloads.items() if "graphml" in ctype or "xml" in ctype]
    assert graph and graph[0].lstrip().startswith(b"<?xml")
    # Every script, stylesheet and image a page names is served by the app itself.
    opener = _opener()
    assert assets and all(a.startswith(base + "/") for a in assets), sorted(assets)[:5]
    bad = [a for a in sorted(assets) if _get(opener, a)[0] != 200]
    assert bad == []
