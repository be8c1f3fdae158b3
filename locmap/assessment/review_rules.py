"""Pure rules of partner review and of the pilot timeline: plain data in, plain data out.

A version submitted for review is approved when the pilot's approval rule is met:
``all_named`` — every named reviewer's *latest* decision is ``approve``;
``one_per_agency`` — for every agency asked, at least one reviewer of that agency has a
latest decision of ``approve``. The pilot may add to either rule (issue 15): agencies
that must approve every version whoever it was sent to (``required_agencies``, met as an
agency request is) and a minimum number of approving reviewers (``min_approvals``).
A reviewer's latest ``request_changes`` outweighs their
earlier approval, and while any requested reviewer's latest decision is
``request_changes`` the version is "changes requested", never approved. Comments
(``decision == "comment"``) never change a reviewer's standing decision.

The timeline helpers say whether a review point is held, overdue, due or upcoming, whether
an action is overdue, and which way a KPI is moving relative to its wanted direction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "RULES", "Request", "Decision", "ApprovalState", "approval_state",
    "review_point_status", "action_overdue", "action_is_mine", "kpi_trend",
]

RULES = ("all_named", "one_per_agency")


@dataclass(frozen=True)
class Request:
    """One review request: a named reviewer XOR an agency (``reviewer_agency_id`` is the
    named reviewer's own agency, which ``one_per_agency`` groups by).
    """

    reviewer_id: int | None = None
    agency_id: int | None = None
    reviewer_agency_id: int | None = None

    def __post_init__(self) -> None:
        if (self.reviewer_id is None) == (self.agency_id is None):
            raise ValueError("a request names a reviewer or an agency, not both or neither")


@dataclass(frozen=True)
class Decision:
    """A review by ``reviewer_id`` (of ``agency_id``) at ``at``; comment, request_changes
    or approve.
    """

    reviewer_id: int
    agency_id: int | None
    decision: str
    at: dt.datetime


@dataclass(frozen=True)
class ApprovalState:
    """Where a version stands: ``state`` is ``approved``, ``changes_requested``,
    ``awaiting`` or ``not_requested``; ``outstanding`` names who still has to approve
    (``("reviewer", id)`` or ``("agency", id)``).
    """

    state: str
    approved: bool
    outstanding: tuple[tuple[str, int], ...] = ()
    changes_by: tuple[int, ...] = ()
    approvals: tuple[int, ...] = field(default=())


def _latest(decisions: Iterable[Decision]) -> dict[int, Decision]:
    """Each reviewer's latest standing decision (comments do not count)."""
    out: dict[int, Decision] = {}
    for d in sorted(decisions, key=lambda d: d.at):
        if d.decision in ("approve", "request_changes"):
            out[d.reviewer_id] = d
    return out


def approval_state(rule: str, requests: Sequence[Request],
                   decisions: Iterable[Decision], *,
                   required_agencies: Iterable[int] = (),
                   min_approvals: int = 0) -> ApprovalState:
    """Evaluate the pilot's approval rule for one version.

    Parameters
    ----------
    rule : {"all_named", "one_per_agency"}
    requests : sequence of Request
        Whom the version was sent to. An agency request is met by any approval from a
        reviewer of that agency under either rule. A named request is met, under
        ``all_named``, by that reviewer's own approval; under ``one_per_agency`` it
        stands for the reviewer's agency, so one approval from that agency meets it.
    decisions : iterable of Decision
    required_agencies : iterable of int
        Agencies that must approve in any case: each is an agency request added to
        ``requests``.
    min_approvals : int
        At least this many in-scope reviewers must approve; while fewer have,
        ``outstanding`` holds ``("approvals", n)`` with the number still needed.

    Returns
    -------
    ApprovalState

    Examples
    --------
    >>> t = dt.datetime(2026, 1, 1)
    >>> reqs = [Request(reviewer_id=1), Request(reviewer_id=2)]
    >>> approval_state("all_named", reqs, [Decision(1, 10, "approve", t)]).state
    'awaiting'
    >>> approval_state("all_named", reqs, [Decision(1, 10, "approve", t),
    ...                                    Decision(2, 11, "approve", t)]).approved
    True
    """
    if rule not in RULES:
        raise ValueError(f"unknown approval rule {rule!r}; expected one of {RULES}")
    if not requests:
        return ApprovalState("not_requested", False)
    requests = [*requests, *(Request(agency_id=a) for a in sorted(set(required_agencies)))]
    latest = _latest(decisions)
    requested_people = {r.reviewer_id for r in requests if r.reviewer_id is not None}
    requested_agencies = {r.agency_id for r in requests if r.agency_id is not None}
    if rule == "one_per_agency":
        grouped = {r.reviewer_id for r in requests
                   if r.reviewer_id is not None and r.reviewer_agency_id is not None}
        requested_agencies |= {r.reviewer_agency_id for r in requests
                               if r.reviewer_id in grouped and r.reviewer_agency_id is not None}
        requested_people -= grouped

    def in_scope(d: Decision) -> bool:
        return d.reviewer_id in requested_people or d.agency_id in requested_agencies

    changes = tuple(sorted(r for r, d in latest.items()
                           if d.decision == "request_changes" and in_scope(d)))
    approvals = tuple(sorted(r for r, d in latest.items()
                             if d.decision == "approve" and in_scope(d)))
    approving_agencies = {latest[r].agency_id for r in approvals}
    outstanding = [("reviewer", r) for r in sorted(requested_people) if r not in approvals]
    outstanding += [("agency", a) for a in sorted(requested_agencies)
                    if a not in approving_agencies]
    if len(approvals) < min_approvals:
        outstanding.append(("approvals", min_approvals - len(approvals)))
    if changes:
        return ApprovalState("changes_requested", False, tuple(outstanding), changes,
                             approvals)
    if outstanding:
        return ApprovalState("awaiting", False, tuple(outstanding), (), approvals)
    return ApprovalState("approved", True, (), (), approvals)


def review_point_status(due_on: dt.date, held_on: dt.date | None, today: dt.date) -> str:
    """``held``, ``overdue`` (past due, not held), ``due`` (within 14 days) or ``upcoming``.

    Examples
    --------
    >>> review_point_status(dt.date(2025, 4, 6), None, dt.date(2026, 11, 22))
    'overdue'
    >>> review_point_status(dt.date(2025, 4, 6), dt.date(2025, 4, 8), dt.date(2026, 11, 22))
    'held'
    """
    if held_on is not None:
        return "held"
    if due_on < today:
        return "overdue"
    if (due_on - today).days <= 14:
        return "due"
    return "upcoming"


def action_overdue(status: str, due_on: dt.date | None, today: dt.date) -> bool:
    """An action not done or dropped whose due date has passed.

    Examples
    --------
    >>> action_overdue("in_progress", dt.date(2026, 1, 1), dt.date(2026, 2, 1))
    True
    >>> action_overdue("done", dt.date(2026, 1, 1), dt.date(2026, 2, 1))
    False
    """
    return status not in ("done", "dropped") and due_on is not None and due_on < today


def action_is_mine(owner_agency_id: int | None, lead: str | None, my_agency: int | None,
                   my_name: str) -> bool:
    """An action a person answers for: their agency owns it, or their name is in its lead
    (a free-text field: "J. Okafor (youth service)"), ignoring case.

    Examples
    --------
    >>> action_is_mine(3, "", 3, "Ana Diaz")
    True
    >>> action_is_mine(None, "ana diaz, library manager", None, "Ana Diaz")
    True
    >>> action_is_mine(4, "Library manager", 3, "")
    False
    """
    return (my_agency is not None and owner_agency_id == my_agency) or (
        bool(my_name) and my_name.casefold() in (lead or "").casefold())


def kpi_trend(values: Sequence[float], direction: str, *, tolerance: float = 0.05) -> str:
    """Which way a KPI is moving: ``improving``, ``worsening``, ``steady`` or ``no data``.

    Compares the latest value with the one before it; a relative change within
    ``tolerance`` is steady. ``direction`` is the wanted one (``increase``/``decrease``).

    Examples
    --------
    >>> kpi_trend([40, 25], "decrease")
    'improving'
    >>> kpi_trend([10, 10.2], "increase")
    'steady'
    """
    if direction not in ("increase", "decrease"):
        raise ValueError("direction must be 'increase' or 'decrease'")
    if len(values) < 2:
        return "no data"
    before, after = float(values[-2]), float(values[-1])
    scale = max(abs(before), 1e-9)
    change = (after - before) / scale
    if abs(change) <= tolerance:
        return "steady"
    better = change > 0 if direction == "increase" else change < 0
    return "improving" if better else "worsening"
