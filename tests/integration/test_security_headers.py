"""The Content-Security-Policy and HSTS on every kind of response (issue 14): images
only from this site and the configured tile server (never ``*``), no inline styles,
forms and requests to this site only; HSTS when the session cookie is Secure."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from locmap.db import Database
from locmap.web import create_app
from tests.conftest import AuthActions
from tests.factories import World

WEB = Path(__file__).resolve().parents[2] / "locmap" / "web"


def _csp(response: Any) -> dict[str, set[str]]:
    """The policy as directive -> set of sources."""
    out: dict[str, set[str]] = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        assert name not in out, f"directive {name} given twice"
        out[name] = set(sources)
    return out


def _app(db: Database, **config: Any) -> Any:
    return create_app({"DATABASE": db, "TESTING": True, "SESSION_COOKIE_SECURE": False, **config})


def test_every_kind_of_response_carries_the_tight_policy(client: Any, auth: AuthActions,
                                                         world: World) -> None:
    auth.login("practitioner@test.invalid")
    responses = {
        "page": client.get(f"/pilots/{world.pilot.id}"),
        "api": client.get(f"/api/v1/pilots/{world.pilot.id}/places"),
        "not found": client.get("/no-such-page"),
        "static": client.get("/static/js/locmap.js"),
    }
    assert [r.status_code for r in responses.values()] == [200, 200, 404, 200]
    for kind, r in responses.items():
        csp = _csp(r)
        assert csp["img-src"] == {"'self'", "data:", "blob:"}, kind
        assert csp["form-action"] == {"'self'"}, kind
        assert csp["connect-src"] == {"'self'"}, kind
        assert csp["script-src"] == {"'self'"}, kind
        assert csp["object-src"] == {"'none'"}, kind
        assert "'unsafe-inline'" not in csp["style-src"] and "'self'" in csp["style-src"], kind
        assert not any("*" == s for sources in csp.values() for s in sources), kind
        assert "Strict-Transport-Security" not in r.headers, kind


@pytest.mark.parametrize("tile_url, source", [
    ("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png", "https://*.tile.openstreetmap.org"),
    ("http://tiles.internal:8080/osm/{z}/{x}/{y}.png", "http://tiles.internal:8080"),
    ("/tiles/{z}/{x}/{y}.png", None),  # served by this site: 'self' already covers it
])
def test_the_configured_tile_server_may_serve_images(db: Database, tile_url: str,
                                                     source: str | None) -> None:
    r = _app(db, LOCMAP_TILE_URL=tile_url).test_client().get("/login")
    img = _csp(r)["img-src"]
    assert img == {"'self'", "data:", "blob:"} | ({source} if source else set())
    # MapLibre fetches raster tiles (issue 17): the tile server, and nothing else, too.
    assert _csp(r)["connect-src"] == {"'self'"} | ({source} if source else set())


@pytest.mark.parametrize("tile_url", [
    "https://a.{s}.example.org/{z}/{x}/{y}.png",   # placeholder not the first label
    "ftp://tiles.example.org/{z}/{x}/{y}.png",
    "https://tiles.example.org;script-src *;/{z}.png",  # would inject a directive
    "https://*/{z}/{x}/{y}.png",
])
def test_a_tile_url_the_policy_cannot_express_stops_the_app(db: Database, tile_url: str) -> None:
    with pytest.raises(ValueError, match="LOCMAP_TILE_URL"):
        _app(db, LOCMAP_TILE_URL=tile_url)


def test_hsts_when_the_session_cookie_is_secure(db: Database) -> None:
    r = _app(db, SESSION_COOKIE_SECURE=True).test_client().get("/login")
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_the_only_inline_style_allowed_is_cytoscapes_own(client: Any) -> None:
    # The hash in the policy is that of the one <style> the vendored Cytoscape injects: a
    # new Cytoscape with another rule would otherwise be silently refused.
    vendored = (WEB / "static/vendor/cytoscape/cytoscape.min.js").read_text()
    rule = re.search(r'textContent="\."\+o\+"( \{[^"]*\})"', vendored)
    assert rule, "Cytoscape no longer injects its container rule: drop the hash from the CSP"
    text = ".__________cytoscape_container" + rule.group(1)
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    sources = _csp(client.get("/login"))["style-src"]
    assert sources == {"'self'", f"'sha256-{digest}'"}


def test_no_page_template_has_an_inline_style_or_script() -> None:
    # The CSP refuses both; the PDF report (report/) is rendered by WeasyPrint, not served.
    offenders = [
        f"{p.relative_to(WEB)}:{n}"
        for p in (WEB / "templates").rglob("*.html") if "report" not in p.parts
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"\sstyle=|<style|\son[a-z]+=|<script>|javascript:", line)
    ]
    assert offenders == []
