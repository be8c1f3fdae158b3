"""Every statement of a pilot's requests names its pilot, so Citus can route it to one worker
(issue 20 (a), docs/scale.md).

The SQL of a representative request set — a place page, an assessment created, submitted
(its indicators snapshot stored) and read back, a police CSV import through the upload,
preview and confirm pages, and the dashboard page and API — is captured with a SQLAlchemy
``before_cursor_execute`` listener. Each statement that touches a table distributed by
pilot (locmap.models.tenancy) must, for every such table it names, either compare that
table's ``pilot_id`` with a value, or join it on ``pilot_id`` to a table that does; an
INSERT must give ``pilot_id``. That is Citus' router condition for co-located tables.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

import locmap.models  # noqa: F401
from locmap.models import tenancy
from locmap.models.base import Base
from tests.conftest import AuthActions
from tests.integration.test_assessment_flow import setup  # noqa: F401
from tests.integration.test_import_police import rows_month, write_csv

DISTRIBUTED = frozenset(Base.metadata.tables) - tenancy.REFERENCE - tenancy.COORDINATOR
_KEYWORDS = frozenset({
    "where", "on", "set", "join", "left", "right", "inner", "outer", "full", "cross",
    "group", "order", "limit", "offset", "returning", "values", "using", "union", "lateral",
    "having", "window", "for", "select", "as", "natural",
})
_REFERENCE = re.compile(r'\b(JOIN|UPDATE|INTO)\s+"?(\w+)"?(?:\s+(?:AS\s+)?"?(\w+)"?)?', re.I)
_FROM_LIST = re.compile(
    r"\bFROM\s+(.*?)(?=\bWHERE\b|\bJOIN\b|\bLEFT\b|\bCROSS\b|\bINNER\b|\bGROUP\b|\bORDER\b"
    r"|\bLIMIT\b|\)|\bON\b|$)", re.I)
_ITEM = re.compile(r'^"?(\w+)"?(?:\s+(?:AS\s+)?"?(\w+)"?)?$', re.I)
_VALUE = r"(?:%\(\w+\)s|\d+|\(|ANY\s*\(|\$\d+)(?:::\w+)?"
_JOIN = re.compile(r"\b(\w+)\.pilot_id\s*=\s*(\w+)\.pilot_id\b")


def _tables(flat: str) -> list[tuple[str, str, str]]:
    """(keyword, table, alias or '') of every table ``flat`` names."""
    found = [(k.upper(), t, a) for k, t, a in _REFERENCE.findall(flat)]
    for segment in _FROM_LIST.findall(flat):
        for item in segment.split(","):
            if m := _ITEM.match(item.strip()):
                found.append(("FROM", m.group(1), m.group(2) or ""))
    return found


def unrouted(sql: str) -> list[str]:
    """The distributed tables (as named in ``sql``) whose rows it does not pin to a pilot:
    each must compare its pilot_id with a value, or equal the pilot_id of one that does."""
    flat = " ".join(sql.split())
    names: dict[str, str] = {}
    for kind, table, alias in _tables(flat):
        if table.lower() not in DISTRIBUTED:
            continue
        if kind == "INTO":
            cols = re.search(rf'INTO "?{table}"?\s*\(([^)]*)\)', flat, re.I)
            if not cols or "pilot_id" not in cols.group(1):
                names[table] = table
            continue
        names[alias if alias and alias.lower() not in _KEYWORDS else table] = table
    if not names:
        return []
    pinned = set()
    for name in names:
        col = rf'\b{re.escape(name)}\.pilot_id\b'
        if len(names) == 1:
            col = rf'(?:\b{re.escape(name)}\.|(?<![\w.]))pilot_id\b'
        if (re.search(rf"{col}\s*(?:=|IN)\s*{_VALUE}", flat, re.I)
                or re.search(rf"{_VALUE}\s*=\s*{col}", flat, re.I)):
            pinned.add(name)
    pairs = _JOIN.findall(flat)
    changed = True
    while changed:
        changed = False
        for a, b in pairs:
            for x, y in ((a, b), (b, a)):
                if x in pinned and y not in pinned:
                    pinned.add(y)
                    changed = True
    return sorted(set(names) - pinned)


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT place.id FROM place WHERE place.id = %(id_1)s::INTEGER", ["place"]),
    ("SELECT place.id FROM place WHERE place.id = %(id_1)s AND place.pilot_id = %(p)s", []),
    ("SELECT a.id FROM assessment AS a JOIN place ON place.id = a.place_id "
     "WHERE place.pilot_id = %(p)s", ["a"]),
    ("SELECT a.id FROM assessment AS a JOIN place ON place.pilot_id = a.pilot_id "
     "AND place.id = a.place_id WHERE place.pilot_id = %(p)s", []),
    ("INSERT INTO incident (pilot_id, location) VALUES (%(pilot_id)s, %(location)s)", []),
    ("INSERT INTO action_factor (action_id, factor_id) VALUES (%(a)s, %(f)s)",
     ["action_factor"]),
    ("SELECT agency.name FROM agency WHERE agency.id = %(id)s", []),
    ("UPDATE plan SET status=%(s)s WHERE plan.id = %(id)s AND plan.pilot_id = %(p)s", []),
    ("DELETE FROM upload WHERE upload.created_at < %(t)s", ["upload"]),
    ("SELECT a.id FROM awareness_activity a WHERE EXISTS (SELECT 1 FROM place, awareness_place "
     "WHERE a.pilot_id = awareness_place.pilot_id AND place.pilot_id = awareness_place.pilot_id"
     " AND place.id = %(id)s) AND a.pilot_id = %(p)s", []),
    ("SELECT f.id FROM feature_layer fl JOIN feature f ON f.layer_id = fl.id "
     "WHERE fl.pilot_id = %(p)s", ["f"]),
])
def test_the_router_check_itself(sql: str, expected: list[str]) -> None:
    assert unrouted(sql) == expected


@pytest.fixture
def captured(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", capture)
    yield statements
    event.remove(engine, "before_cursor_execute", capture)


def _csrf(client: Any) -> str:
    html = client.get("/").get_data(as_text=True)
    m = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert m
    return m.group(1)


def _requests(client: Any, auth: AuthActions, setup: dict[str, Any], tmp_path: Path,  # noqa: F811
              captured: list[str]) -> dict[str, list[str]]:
    """Run the request set; the statements of each request, by the request's name."""
    pid, place = setup["pilot"], setup["place"]
    auth.login("practitioner@test.invalid")
    headers = {"X-CSRFToken": _csrf(client)}
    api = f"/api/v1/pilots/{pid}"
    by_request: dict[str, list[str]] = {}

    def run(name: str, call: Any) -> Any:
        captured.clear()
        response = call()
        assert response.status_code < 400, (name, response.status_code)
        by_request[name] = list(captured)
        return response

    run("place page", lambda: client.get(f"/pilots/{pid}/places/{place}"))
    a = run("start an assessment", lambda: client.post(
        f"{api}/places/{place}/assessments", headers=headers)).get_json()
    run("submit it (stores the snapshot)", lambda: client.post(
        f"{api}/assessments/{a['id']}/submit", json={}, headers=headers))
    run("read the snapshot", lambda: client.get(f"{api}/assessments/{a['id']}"))
    run("assessment page", lambda: client.get(f"/pilots/{pid}/assessments/{a['id']}"))

    content = write_csv(tmp_path / "m.csv", rows_month()).read_bytes()
    token = auth.csrf_token(f"/pilots/{pid}/imports")
    up = run("upload a police CSV", lambda: client.post(
        f"/pilots/{pid}/imports/upload", content_type="multipart/form-data",
        data={"csrf_token": token, "file": (io.BytesIO(content), "2025-03-street.csv")}))
    preview = run("preview it", lambda: client.get(up.location)).get_data(as_text=True)
    confirm = re.search(r'action="([^"]+/confirm)"', preview)
    assert confirm
    token = auth.csrf_token(up.location)
    run("import it", lambda: client.post(confirm.group(1), data={"csrf_token": token}))

    run("dashboard page", lambda: client.get(f"/pilots/{pid}/dashboard"))
    run("dashboard API", lambda: client.get(f"{api}/dashboard"))
    return by_request


def test_a_pilots_requests_are_routed_to_its_worker(
        client: Any, auth: AuthActions, setup: dict[str, Any],  # noqa: F811
        tmp_path: Path, app: Any, captured: list[str]) -> None:
    app.config["LOCMAP_DATA_DIR"] = str(tmp_path / "data")
    by_request = _requests(client, auth, setup, tmp_path, captured)
    assert sum(map(len, by_request.values())) > 50  # the capture saw the requests
    problems = []
    for name, statements in by_request.items():
        for sql in statements:
            if bad := unrouted(sql):
                problems.append(f"[{name}] {', '.join(bad)}: {' '.join(sql.split())[:400]}")
    report = "\n".join(problems)
    assert not problems, f"{len(problems)} statements not routed to one pilot:\n{report}"


def test_the_capture_names_every_distributed_table() -> None:
    """The router check knows the same tables as the schema test."""
    assert {"place", "assessment", "incident", "action_factor"} <= DISTRIBUTED
    assert not {"pilot", "user_account", "audit_event"} & DISTRIBUTED


