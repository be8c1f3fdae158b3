"""Pure logic of a plan: gaps, overdue actions and the KPI periods and values.

A plan answers its assessment. Every safety factor the practitioners weighted 2 or 3, and
the weightiest context of the context weighting (each of them when tied), must be met by
an action or by a written reason why not; until then it is a *gap*. An action that was
dropped no longer meets anything. KPIs are measured per period — quarterly by default,
aligned to the plan's start — and the data-derived ones (incidents at the place,
awareness reach, safety-map perception) are computed here from plain dated values; the
baseline is the 12 months before the plan starts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from locmap.assessment import perceived_safety
from locmap.timeline import add_months

__all__ = [
    "GAP_WEIGHT", "STRENGTHS", "BASELINE_MONTHS", "FactorRef", "ActionRef", "ReasonRef", "Gap",
    "Period", "IncidentStats", "find_gaps", "is_overdue", "periods", "period_containing",
    "baseline_period", "incident_stats", "reach", "perception",
]

GAP_WEIGHT = 2
# Quadrants that describe what keeps young people safe: built on, never a gap to close.
STRENGTHS = ("resilience", "resource")
BASELINE_MONTHS = 12
_CLOSED = ("done", "dropped")


@dataclass(frozen=True)
class FactorRef:
    """A safety factor of the assessment version the plan answers."""

    id: int
    weight: int
    statement: str = ""
    quadrant: str = "risk"

    @property
    def needs_action(self) -> bool:
        """A weighty vulnerability or risk; a strength (resilience, resource) needs none."""
        return self.weight >= GAP_WEIGHT and self.quadrant not in STRENGTHS


@dataclass(frozen=True)
class ActionRef:
    """What an action addresses: linked factor ids and an optional context name."""

    factor_ids: tuple[int, ...]
    context_name: str | None = None
    status: str = "planned"


@dataclass(frozen=True)
class ReasonRef:
    """A written reason for not acting on one factor or one context."""

    factor_id: int | None = None
    context_name: str | None = None


@dataclass(frozen=True)
class Gap:
    """A weighty factor or the weightiest context that has neither an action nor a reason."""

    kind: str  # "factor" or "context"
    factor_id: int | None
    context_name: str | None
    label: str
    weight: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return asdict(self)


def find_gaps(factors: Sequence[FactorRef], weightiest: Sequence[str],
              actions: Iterable[ActionRef], reasons: Iterable[ReasonRef]) -> list[Gap]:
    """Return the gaps of a plan: weighty factors first (heaviest first), then contexts.

    Parameters
    ----------
    factors : sequence of FactorRef
        The assessment version's factors; only vulnerabilities and risks of weight
        ``GAP_WEIGHT`` (2) or more count — strengths need no action.
    weightiest : sequence of str
        Name(s) of the weightiest context (several when tied).
    actions : iterable of ActionRef
        The plan's actions; dropped ones meet nothing.
    reasons : iterable of ReasonRef
        Written reasons for not acting.

    Returns
    -------
    list of Gap

    Examples
    --------
    >>> f = [FactorRef(1, 3, "Dealing"), FactorRef(2, 1, "Bins"),
    ...      FactorRef(3, 3, "Youth worker on site", "resource")]
    >>> [g.label for g in find_gaps(f, ["Library"], [], [])]
    ['Dealing', 'Library']
    >>> find_gaps(f, ["Library"], [ActionRef((1,), "Library")], [])
    []
    """
    live = [a for a in actions if a.status != "dropped"]
    reasons = list(reasons)
    met_f = {fid for a in live for fid in a.factor_ids}
    met_f |= {r.factor_id for r in reasons if r.factor_id is not None}
    met_c = {a.context_name for a in live if a.context_name}
    met_c |= {r.context_name for r in reasons if r.context_name}
    weighty = sorted((f for f in factors if f.needs_action),
                     key=lambda f: (-f.weight, f.id))
    gaps = [Gap("factor", f.id, None, f.statement, f.weight) for f in weighty if f.id not in met_f]
    gaps += [Gap("context", None, name, name) for name in weightiest if name not in met_c]
    return gaps


def is_overdue(due_on: dt.date | None, status: str, today: dt.date) -> bool:
    """True when the action is past its due date and neither done nor dropped.

    Examples
    --------
    >>> is_overdue(dt.date(2025, 1, 1), "in_progress", dt.date(2025, 1, 2))
    True
    >>> is_overdue(dt.date(2025, 1, 1), "done", dt.date(2025, 1, 2))
    False
    """
    return due_on is not None and due_on < today and status not in _CLOSED


@dataclass(frozen=True)
class Period:
    """A measurement period, both ends inclusive."""

    start: dt.date
    end: dt.date

    @property
    def months(self) -> float:
        """Length in months (whole months exactly; otherwise days / (365.25 / 12))."""
        n = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month
        for k in (n, n + 1):
            if add_months(self.start, k) == self.end + dt.timedelta(days=1):
                return float(k)
        return ((self.end - self.start).days + 1) / (365.25 / 12)

    def contains(self, day: dt.date) -> bool:
        """True when ``day`` falls in the period."""
        return self.start <= day <= self.end


def _period(starts_on: dt.date, index: int, months: int) -> Period:
    start = add_months(starts_on, index * months)
    return Period(start, add_months(starts_on, (index + 1) * months) - dt.timedelta(days=1))


def periods(starts_on: dt.date, until: dt.date, months: int = 3, *,
            complete_only: bool = True) -> list[Period]:
    """Periods of ``months`` from ``starts_on``, those ending before ``until`` (or all that
    have begun by ``until`` when ``complete_only`` is False).

    Examples
    --------
    >>> [(p.start.isoformat(), p.end.isoformat()) for p in
    ...  periods(dt.date(2025, 1, 15), dt.date(2025, 7, 14))]
    [('2025-01-15', '2025-04-14')]
    """
    if months < 1:
        raise ValueError("a period is at least one month")
    out: list[Period] = []
    while True:
        p = _period(starts_on, len(out), months)
        if (p.end >= until) if complete_only else (p.start > until):
            return out
        out.append(p)


def period_containing(starts_on: dt.date, day: dt.date, months: int = 3) -> Period:
    """The period of the plan's grid holding ``day`` (before the start: the grid extended back).

    Examples
    --------
    >>> period_containing(dt.date(2025, 1, 1), dt.date(2025, 5, 9)).start
    datetime.date(2025, 4, 1)
    """
    if months < 1:
        raise ValueError("a period is at least one month")
    k = ((day.year - starts_on.year) * 12 + day.month - starts_on.month) // months + 1
    while _period(starts_on, k, months).start > day:
        k -= 1
    return _period(starts_on, k, months)


def baseline_period(starts_on: dt.date) -> Period:
    """The 12 months before the plan starts."""
    return Period(add_months(starts_on, -BASELINE_MONTHS), starts_on - dt.timedelta(days=1))


@dataclass(frozen=True)
class IncidentStats:
    """Known incidents at the place in one period."""

    count: int
    mean_severity: float | None
    per_month: float

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return asdict(self)


def incident_stats(incidents: Iterable[tuple[dt.date, int]], period: Period) -> IncidentStats:
    """Count, mean severity and incidents per month of the ``(date, severity)`` pairs in
    ``period``.

    Examples
    --------
    >>> p = Period(dt.date(2025, 1, 1), dt.date(2025, 3, 31))
    >>> incident_stats([(dt.date(2025, 1, 5), 2), (dt.date(2025, 3, 1), 4),
    ...                 (dt.date(2025, 4, 1), 5)], p)
    IncidentStats(count=2, mean_severity=3.0, per_month=0.6666666666666666)
    """
    sev = [s for d, s in incidents if period.contains(d)]
    return IncidentStats(len(sev), sum(sev) / len(sev) if sev else None,
                         len(sev) / period.months)


def reach(activities: Iterable[tuple[dt.date, int]], period: Period) -> int:
    """People reached by awareness raising held in ``period``."""
    return sum(n for d, n in activities if period.contains(d))


def perception(ratings: Iterable[tuple[dt.date, str]], period: Period) -> float | None:
    """Green minus red, as a percentage of the rated safety-map areas drawn in ``period``
    (None when nothing was rated): +100 all green, -100 all red.

    Examples
    --------
    >>> p = Period(dt.date(2025, 1, 1), dt.date(2025, 3, 31))
    >>> perception([(dt.date(2025, 2, 1), r) for r in ("green", "green", "amber", "red")], p)
    25.0
    """
    return perceived_safety.score(r for d, r in ratings if period.contains(d))
