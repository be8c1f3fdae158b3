"""Incidents at each place by quarter: the board's pack's time series (issue 19).

The four quarters ending at a completed quarter end, one row per live place of the pilot,
counted as everywhere else (:func:`locmap.queries.at_place.place_counts`: inside a
polygon, or within reach of a point or line; an online space's tagged incidents). The
owning team gets exact counts; partners get the table protected as the dashboard's are
(:func:`locmap.assessment.disclosure.protect`: every count rounded to base 5, small ones
withheld with the cells that would give them away, totals included).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.assessment.disclosure import MARK, WITHHELD, TableSpec, protect
from locmap.models import Place
from locmap.queries import at_place
from locmap.services.permissions import Actor, require

__all__ = ["QUARTERS", "quarters_to", "incidents_by_quarter"]

QUARTERS = 4


def quarters_to(end: dt.date, n: int = QUARTERS) -> list[tuple[dt.date, dt.date]]:
    """The ``n`` quarters (first day, last day) ending at the quarter end ``end``, oldest
    first.

    >>> [f"{a}..{b}" for a, b in quarters_to(dt.date(2025, 6, 30), 2)]
    ['2025-01-01..2025-03-31', '2025-04-01..2025-06-30']
    """
    out = []
    last = end
    for _ in range(n):
        first = dt.date(last.year, last.month - 2, 1)
        out.append((first, last))
        last = first - dt.timedelta(days=1)
    return out[::-1]


def _label(first: dt.date) -> str:
    return f"{first.year} Q{(first.month - 1) // 3 + 1}"


def _moment(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), clock.LOCAL_TZ)


def incidents_by_quarter(session: Session, actor: Actor, pilot_id: int, end: dt.date, *,
                         partner: bool, threshold: int) -> dict[str, Any]:
    """Columns and rows (place, a count per quarter, the four together; a last row of
    totals) and the notes to print under them; partners' figures protected.
    """
    require(actor, pilot_id, "evidence.view")
    quarters = quarters_to(end)
    names = dict(session.execute(select(Place.id, Place.name).where(
        Place.pilot_id == pilot_id, Place.deleted_at.is_(None))).tuples().all())
    by_quarter = [at_place.place_counts(session, pilot_id, since=_moment(a),
                                        until=_moment(b + dt.timedelta(days=1)))
                  for a, b in quarters]
    places = sorted(names, key=lambda i: (names[i], i))
    counts = [[q.get(pid, 0) for q in by_quarter] for pid in places]
    columns = ["Place", *[_label(a) for a, _ in quarters], "The four quarters"]
    if not places:
        return {"columns": columns, "rows": [], "notes": ["The pilot has no places."]}
    if partner:
        table = protect([TableSpec("incidents", counts)], threshold=threshold
                        ).tables["incidents"]
        shown = [[MARK if f == WITHHELD or v is None else v for v, f in zip(vr, fr, strict=True)]
                 for vr, fr in zip(table.values, table.flags, strict=True)]
        notes = ["Partner version: counts rounded to the nearest 5, totals rounded on their "
                 f"own; counts from 1 to {threshold - 1} withheld ({MARK}) with the cells "
                 "that would give them away."]
    else:
        shown = [[*row, sum(row)] for row in counts]
        shown.append([*[sum(col) for col in zip(*counts, strict=True)], sum(map(sum, counts))])
        notes = ["Exact counts (the owning team's version)."]
    rows = [[names[pid], *shown[i]] for i, pid in enumerate(places)]
    rows.append(["All places (summed)", *shown[-1]])
    notes.append("Incidents at a place: inside its outline, or within reach of a point or "
                 "line; an incident near two places counts at each, so places do not add "
                 "up to the pilot's incidents.")
    return {"columns": columns, "rows": rows, "notes": notes}
