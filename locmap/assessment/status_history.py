"""What status each version of an assessment or plan had at a past moment.

The lifecycle (draft → in review → approved → superseded, :mod:`locmap.services.lifecycle`)
stores the moments it moves on: a version is created, ``submitted_at``, ``approved_at``;
it is superseded when a child version is submitted while it is still in review, or when
another version of the same place is approved after it. So the status of every version
at any moment follows from those dates alone — which the board's pack needs for the
statuses as they stood at its period end, not when it is made. Pure: no Flask, no
SQLAlchemy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["VersionDates", "status_at", "latest_at", "current_at"]


@dataclass(frozen=True)
class VersionDates:
    """One version of one place's assessment (or plan) and the moments it moved on."""

    id: int
    version_no: int
    parent_id: int | None
    created_at: dt.datetime
    submitted_at: dt.datetime | None = None
    approved_at: dt.datetime | None = None


def _before(t: dt.datetime | None, at: dt.datetime) -> bool:
    return t is not None and t < at


def status_at(versions: Sequence[VersionDates], at: dt.datetime) -> dict[int, str]:
    """The status of each version of one place's chain that existed before `at`.

    Parameters
    ----------
    versions : sequence of VersionDates
        Every version of one place's assessment (or every plan version of one place).
    at : datetime
        The moment (aware, like the stored dates); a version created at or after it did
        not exist yet and is left out.

    Returns
    -------
    dict
        Version id → ``"draft"``, ``"in_review"``, ``"approved"`` or ``"superseded"``.

    Examples
    --------
    >>> t = [dt.datetime(2026, m, 1, tzinfo=dt.timezone.utc) for m in range(1, 8)]
    >>> v1 = VersionDates(1, 1, None, t[0], submitted_at=t[1], approved_at=t[2])
    >>> v2 = VersionDates(2, 2, 1, t[3], submitted_at=t[4], approved_at=t[5])
    >>> status_at([v1, v2], t[4])
    {1: 'approved', 2: 'draft'}
    >>> status_at([v1, v2], t[6])
    {1: 'superseded', 2: 'approved'}
    """
    alive = [v for v in versions if v.created_at < at]
    approvals = [v.approved_at for v in alive
                 if v.approved_at is not None and v.approved_at < at]
    out = {}
    for v in alive:
        if v.approved_at is not None and v.approved_at < at:
            later = any(a > v.approved_at for a in approvals)
            out[v.id] = "superseded" if later else "approved"
        elif _before(v.submitted_at, at):
            child_submitted = any(c.parent_id == v.id and _before(c.submitted_at, at)
                                  for c in alive)
            out[v.id] = "superseded" if child_submitted else "in_review"
        else:
            out[v.id] = "draft"
    return out


def latest_at(versions: Sequence[VersionDates], at: dt.datetime) -> VersionDates | None:
    """The newest version (highest number) that existed before `at`, or None.

    >>> t = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    >>> latest_at([VersionDates(1, 1, None, t), VersionDates(2, 2, 1, t)], t) is None
    True
    """
    alive = [v for v in versions if v.created_at < at]
    return max(alive, key=lambda v: v.version_no) if alive else None


def current_at(versions: Sequence[VersionDates], at: dt.datetime) -> VersionDates | None:
    """The current version at `at` as the overview names it: the newest (by id) that was
    not superseded then.

    >>> t = [dt.datetime(2026, m, 1, tzinfo=dt.timezone.utc) for m in range(1, 5)]
    >>> v1 = VersionDates(1, 1, None, t[0], submitted_at=t[1])
    >>> v2 = VersionDates(2, 2, 1, t[1], submitted_at=t[2])
    >>> current_at([v1, v2], t[3]).id, current_at([v1, v2], t[2]).id
    (2, 2)
    """
    status = status_at(versions, at)
    live = [v for v in versions if status.get(v.id, "superseded") != "superseded"]
    return max(live, key=lambda v: v.id) if live else None
