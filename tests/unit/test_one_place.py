"""One idea, one place (issue 16): the partnership's time zone and the 50 m reach are each
defined once; dates on pages go through one set of filters."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

from locmap import clock, formatting

ROOT = Path(__file__).resolve().parents[2] / "locmap"


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """String constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docs.add(id(body[0].value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def test_europe_london_and_the_reach_are_defined_once() -> None:
    zone, reach = [], []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).as_posix()
        text = path.read_text(encoding="utf-8")
        if rel != "locmap/clock.py":
            zone += [f"{rel}:{n}" for n, s in _code_strings(path) if "Europe/London" in s]
            if "ZoneInfo(" in text:
                zone.append(f"{rel}: ZoneInfo(")
        if rel != "locmap/queries/at_place.py":
            reach += [f"{rel}:{i}" for i, line in enumerate(text.splitlines(), 1)
                      if "= 50.0" in line or ", 50.0)" in line]
    assert zone == [] and reach == []
    assert clock.LOCAL_TZ.key == clock.LOCAL_TZ_NAME == "Europe/London"


def test_filters_read_dates_and_counts_for_people() -> None:
    summer = dt.datetime(2026, 7, 1, 18, 10, tzinfo=dt.UTC)
    assert formatting.when(summer) == "1 Jul 2026, 19:10"  # BST
    assert formatting.when("2026-12-01T19:12:56.459402+00:00") == "1 Dec 2026, 19:12"
    assert formatting.day("2026-12-01T23:30:00+00:00") == "1 Dec 2026"
    assert formatting.day(dt.date(2025, 1, 6)) == "6 Jan 2025"
    assert formatting.month("2025-01") == "January 2025"
    assert formatting.when(None) == formatting.day("") == "—"
    assert formatting.count(1, "incident") == "1 incident"
    assert formatting.count(0, "incident") == "0 incidents"
    assert formatting.count(2078, "incident") == "2,078 incidents"
    assert formatting.count(2, "person") == "2 people"
    assert formatting.num(None) == formatting.num(float("nan")) == "—"
    assert formatting.num(0.4213, "%.2f") == "0.42"
