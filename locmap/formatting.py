"""Dates, times and counts as people read them: the one set of Jinja filters that every
page (:mod:`locmap.web`) and the printed report (:mod:`locmap.io.report_pdf`) use.

Times are stored in UTC and shown in the partnership's zone (:data:`locmap.clock.LOCAL_TZ`,
Europe/London), so a visit at 19:10 in July reads 19:10, not 18:10. Services hand pages
either ``datetime``/``date`` objects or ISO strings (their JSON-ready dicts); every filter
takes both. A missing value is an em dash, never "None" and never a 500.

========== ======================================== ===============================
filter     example                                  reads
========== ======================================== ===============================
``when``   ``{{ a.submitted_at|when }}``            1 Dec 2026, 19:12
``day``    ``{{ p.due_on|day }}``                   1 Dec 2026
``month``  ``{{ "2025-01"|month }}``                January 2025
``num``    ``{{ ci_low|num("%.2f") }}``             0.42 (— when None)
``count``  ``{{ n|count("incident") }}``            1 incident, 2,078 incidents
========== ======================================== ===============================
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from locmap.clock import LOCAL_TZ

__all__ = ["MISSING", "FILTERS", "local", "when", "day", "month", "num", "count"]

MISSING = "—"

# Nouns whose plural is not the noun plus "s".
_PLURALS = {"person": "people", "activity": "activities", "city": "cities",
            "reply": "replies", "analysis": "analyses", "category": "categories"}


def local(value: Any) -> dt.datetime | dt.date | None:
    """``value`` (datetime, date or ISO string) in Europe/London; a naive datetime is UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = (dt.date.fromisoformat(value) if len(value) == 10
                     else dt.datetime.fromisoformat(value))
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(LOCAL_TZ)
    if isinstance(value, dt.date):
        return value
    return None


def day(value: Any) -> str:
    """``1 Dec 2026`` (the local date of a moment)."""
    v = local(value)
    if v is None:
        return MISSING if value in (None, "") else str(value)
    return f"{v.day} {v:%b %Y}"


def when(value: Any) -> str:
    """``1 Dec 2026, 19:12`` in Europe/London; a bare date reads as :func:`day`."""
    v = local(value)
    if v is None:
        return MISSING if value in (None, "") else str(value)
    if not isinstance(v, dt.datetime):
        return day(v)
    return f"{v.day} {v:%b %Y, %H:%M}"


def month(value: Any) -> str:
    """``January 2025`` from ``"2025-01"``, a date or a datetime."""
    if isinstance(value, str) and len(value) == 7:
        value = value + "-01"
    v = local(value)
    if v is None:
        return MISSING if value in (None, "") else str(value)
    return f"{v:%B %Y}"


def num(value: Any, fmt: str = "%.2f") -> str:
    """``fmt % value``, or an em dash for None, NaN or infinity (an estimate that does not
    exist is shown as missing, not as a crash).
    """
    if value is None or isinstance(value, bool):
        return MISSING
    try:
        x = float(value)
    except (TypeError, ValueError):
        return MISSING
    if not math.isfinite(x):
        return MISSING
    return fmt % x


def count(value: Any, singular: str, plural: str | None = None) -> str:
    """``1 incident``, ``0 incidents``, ``2,078 incidents``; an em dash with the plural
    noun for a missing (e.g. suppressed) count.
    """
    many = plural or _PLURALS.get(singular) or singular + "s"
    if value is None:
        return f"{MISSING} {many}"
    if isinstance(value, str):
        return f"{value} {many}"
    n = int(value) if float(value).is_integer() else float(value)
    return f"{n:,} {singular if n == 1 else many}"


FILTERS = {"when": when, "day": day, "month": month, "num": num, "count": count}
