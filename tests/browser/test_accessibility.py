"""Every page, for every role, checked with axe-core in the browser: no serious or critical
WCAG 2.2 A/AA violation.

The pages are not a hand-picked list: each role logs in and follows every same-origin link
the app offers it (navigation, tabs, rows), as the newcomer crawl does, visiting each kind of
page once per role (a kind is a route with its numbers as ``N``). Every role is checked on
its own; a kind of page another role of the same audience has had checked is checked again
only when this role's copy differs in what it is made of (its headings, forms, controls,
tables: :func:`_shape`), which is where role-dependent content lives — the same page with
another name in the header is not checked twice (docs/accessibility.md). axe-core is vendored into
the test tooling (``tests/browser/vendor/axe-core``, MPL-2.0) and injected into each page; the
app never serves it.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections import deque
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from locmap.db import Database
from locmap.models import Agency, Pilot, User
from locmap.services import partner_forms
from locmap.services.accounts import actor_for
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = ("serious", "critical")
MAX_PAGES = 120
# Every demo role, grouped by the pages they are shown: the roles of one audience see the
# same templates, so a kind of page one of them has had checked is checked again for the
# next only when its shape differs (each role crawls all of its own links, so a page only it
# reaches is checked, and so is a page that shows it other forms or controls).
AUDIENCES = {
    "owning team": ["coordinator@demo.locmap.invalid", "practitioner@demo.locmap.invalid",
                    "peer.assessor@demo.locmap.invalid"],
    "partner": ["reviewer.police@demo.locmap.invalid", "reviewer.csp@demo.locmap.invalid"],
    "admin": ["admin@demo.locmap.invalid"],
    "auditor": ["auditor@demo.locmap.invalid"],
}
# Links that end the session or leave the pages (their own tests cover them).
SKIP = re.compile(r"/logout|/static/|/api/|/tiles/|\.(csv|pdf|xlsx|gpkg|graphml|zip|pbf|json)$")
HREF = re.compile(r'<a\b[^>]*\bhref="([^"#][^"]*)"', re.I)


def _kind(url: str) -> str:
    """A URL's route: numbers in the path as ``N``, and the names of its query arguments
    but for a table's sort order (a table sorted by another column is the same page)."""
    parts = urllib.parse.urlsplit(url)
    path = re.sub(r"/\d+(?=/|$|\.)", "/N", parts.path)
    keys = sorted({k for k, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
                   if not k.startswith("sort")})
    return path + "?" + "&".join(keys)


_PART = re.compile(r"<(h[1-6]|form|input|select|textarea|button|table|details|dialog|nav|"
                   r"section|fieldset)\b([^>]*)>", re.I)
_ATTR = re.compile(r'\b(id|class|name|type|role|aria-[a-z]+)="([^"]*)"', re.I)


def _shape(html: str) -> str:
    """What a page is made of, whoever is looking: its headings, landmarks, forms, controls
    and tables with their ids, classes, names, types and roles (no text, no values), the
    numbers in ids as N. Two roles' copies of a page with the same shape differ only in
    text, which axe's findings on the first copy already cover (contrast is per class)."""
    parts = []
    for tag, attrs in _PART.findall(html):
        kept = sorted((k.lower(), re.sub(r"\d+", "N", v)) for k, v in _ATTR.findall(attrs)
                      if not (k.lower() == "name" and v == "csrf_token"))
        parts.append(tag.lower() + repr(kept))
    return "\n".join(parts)


def _pages(page: Any, base: str) -> list[tuple[str, str]]:
    """Every kind of HTML page this session reaches from the home page, once each, with
    its :func:`_shape`."""
    request = page.context.request
    found: list[tuple[str, str]] = []
    kinds: set[str] = set()
    queue = deque([base + "/"])
    while queue and len(found) < MAX_PAGES:
        url = queue.popleft()
        kind = _kind(url)
        if kind in kinds:
            continue
        kinds.add(kind)
        response = request.get(url, max_redirects=0, timeout=120_000)
        if response.status != 200 or "text/html" not in response.headers.get("content-type", "") \
                or "attachment" in response.headers.get("content-disposition", ""):
            continue  # not a page (a download, such as the shareable HTML map)
        html = response.text()
        found.append((url, _shape(html)))
        for href in HREF.findall(html):
            target = urllib.parse.urljoin(url, href.replace("&amp;", "&")).split("#")[0]
            path = urllib.parse.urlsplit(target).path
            if target.startswith(base + "/") and not SKIP.search(path) \
                    and _kind(target) not in kinds:
                queue.append(target)
    return found


def _why(node: dict[str, Any]) -> str:
    """The colours axe measured, for a contrast failure (what to change)."""
    data = next((c.get("data") for c in node.get("any", []) if c.get("data")), None)
    if isinstance(data, dict) and "fgColor" in data:
        return f" {data['fgColor']} on {data['bgColor']} = {data.get('contrastRatio')}"
    return ""


def _violations(page: Any, url: str | None) -> list[str]:
    """axe's serious and critical findings on ``url`` (None: the page as it is now)."""
    if url is not None:
        page.goto(url)
    page.wait_for_load_state("networkidle")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text())
    result = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})).violations", TAGS)
    out = []
    for v in result:
        if v["impact"] in BLOCKING:
            targets = [" ".join(map(str, n["target"])) + _why(n) for n in v["nodes"][:3]]
            out.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])}×) {json.dumps(targets)}")
    return out


@pytest.mark.parametrize("audience", list(AUDIENCES))
def test_every_page_has_no_serious_accessibility_violation(browser: Any, live_server: str,
                                                           audience: str) -> None:
    checked: dict[str, set[str]] = {}  # kind of page -> the shapes already checked
    problems: dict[str, list[str]] = {}
    for email in AUDIENCES[audience]:
        # axe is injected as a script: the app's CSP rightly refuses inline scripts, so this
        # context (and only this one) bypasses it.
        context = browser.new_context(base_url=live_server, bypass_csp=True,
                                      viewport={"width": 1280, "height": 800})
        context.set_default_timeout(120_000)
        page = context.new_page()
        login(page, email)
        page.wait_for_url(lambda u: "/login" not in u)
        urls = _pages(page, live_server)
        assert len(urls) >= 3, f"{email} reached only {urls}"
        assert len(urls) < MAX_PAGES, f"{email}: the crawl did not finish"
        for url, shape in urls:
            if shape in checked.setdefault(_kind(url), set()):
                continue
            checked[_kind(url)].add(shape)
            found = _violations(page, url)
            if found:
                problems[f"{email} {url.removeprefix(live_server)}"] = found
        context.close()
    assert problems == {}, json.dumps(problems, indent=1)


def test_pages_before_login_have_no_serious_accessibility_violation(browser: Any,
                                                                    live_server: str) -> None:
    context = browser.new_context(base_url=live_server, bypass_csp=True)
    page = context.new_page()
    problems = {url: found for url in ("/login", "/accessibility")
                if (found := _violations(page, live_server + url))}
    # The statement is reachable from the login page's footer.
    page.goto("/login")
    page.click("footer >> text=Accessibility")
    expect(page.locator("h1")).to_have_text("Accessibility statement for locmap")
    context.close()
    assert problems == {}, json.dumps(problems, indent=1)


def test_the_skip_link_is_the_first_stop_and_moves_focus_to_the_content(page: Any) -> None:
    login(page, AUDIENCES["owning team"][0])
    page.wait_for_url(lambda u: "/login" not in u)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_pages_the_crawl_cannot_reach_have_no_serious_accessibility_violation(
        browser: Any, live_server: str, demo_db: Database) -> None:
    """The case-status CSV's preview (a posted form; one role: a practitioner) and a
    partner agency's referral form (reached by its link's key, without an account)."""
    with demo_db.session() as s:
        pilot_id = s.scalar(select(Pilot.id).where(Pilot.name == "Eastbrook Town Centre"))
        admin = actor_for(s, s.scalars(select(User).where(User.is_admin)).first())
        assert pilot_id is not None
        key = partner_forms.create_form(s, admin, pilot_id, s.scalar(select(Agency.id))).key
    problems: dict[str, list[str]] = {}
    context = browser.new_context(base_url=live_server, bypass_csp=True)
    page = context.new_page()
    login(page, AUDIENCES["owning team"][1])
    page.wait_for_url(lambda u: "/login" not in u)
    page.goto(f"/pilots/{pilot_id}/case-records")
    page.fill("#case-text", "case_reference,case_status\nNO-SUCH-REF,open_case\n")
    page.click("#preview-case-records")
    page.wait_for_selector("#apply-form")
    if found := _violations(page, None):
        problems["case records preview"] = found
    context.close()
    context = browser.new_context(base_url=live_server, bypass_csp=True)
    page = context.new_page()
    if found := _violations(page, f"{live_server}/refer?key={key}"):
        problems["/refer"] = found
    assert page.locator("form").count() >= 1
    context.close()
    assert problems == {}, json.dumps(problems, indent=1)
