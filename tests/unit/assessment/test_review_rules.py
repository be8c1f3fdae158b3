"""The approval rules and timeline flags, by construction."""

from __future__ import annotations

import datetime as dt

import pytest

from locmap.assessment.review_rules import (
    Decision,
    Request,
    action_overdue,
    approval_state,
    kpi_trend,
    review_point_status,
)

T = dt.datetime(2026, 3, 1, 9, 0)
POLICE, CSP = 10, 20


def _d(reviewer: int, agency: int | None, decision: str, minutes: int = 0) -> Decision:
    return Decision(reviewer, agency, decision, T + dt.timedelta(minutes=minutes))


def test_all_named_needs_every_named_reviewer() -> None:
    reqs = [Request(reviewer_id=1), Request(reviewer_id=2)]
    one = approval_state("all_named", reqs, [_d(1, POLICE, "approve")])
    assert (one.state, one.approved, one.outstanding) == ("awaiting", False, (("reviewer", 2),))
    both = approval_state("all_named", reqs, [_d(1, POLICE, "approve"), _d(2, CSP, "approve")])
    assert both.approved and both.state == "approved" and both.approvals == (1, 2)


def test_latest_decision_counts_and_comments_do_not() -> None:
    reqs = [Request(reviewer_id=1)]
    ds = [_d(1, POLICE, "request_changes", 0), _d(1, POLICE, "approve", 5),
          _d(1, POLICE, "comment", 10)]
    assert approval_state("all_named", reqs, ds).approved
    ds = [_d(1, POLICE, "approve", 0), _d(1, POLICE, "request_changes", 5)]
    st = approval_state("all_named", reqs, ds)
    assert (st.state, st.approved, st.changes_by) == ("changes_requested", False, (1,))


def test_changes_requested_blocks_approval_even_when_others_approve() -> None:
    reqs = [Request(reviewer_id=1), Request(reviewer_id=2)]
    st = approval_state("all_named", reqs, [_d(1, POLICE, "approve"),
                                            _d(2, CSP, "request_changes")])
    assert st.state == "changes_requested" and not st.approved


def test_one_per_agency_needs_one_approval_of_each_agency() -> None:
    reqs = [Request(agency_id=POLICE), Request(agency_id=CSP)]
    police_only = approval_state("one_per_agency", reqs, [_d(1, POLICE, "approve")])
    assert not police_only.approved and police_only.outstanding == (("agency", CSP),)
    both = approval_state("one_per_agency", reqs, [_d(1, POLICE, "approve"),
                                                   _d(3, CSP, "approve")])
    assert both.approved


def test_one_per_agency_groups_named_reviewers_by_agency() -> None:
    reqs = [Request(reviewer_id=1, reviewer_agency_id=POLICE),
            Request(reviewer_id=2, reviewer_agency_id=POLICE)]
    assert approval_state("one_per_agency", reqs, [_d(1, POLICE, "approve")]).approved
    assert not approval_state("all_named", reqs, [_d(1, POLICE, "approve")]).approved


def test_decisions_from_outside_the_request_do_not_count() -> None:
    reqs = [Request(agency_id=POLICE)]
    st = approval_state("one_per_agency", reqs, [_d(3, CSP, "approve"),
                                                 _d(4, CSP, "request_changes")])
    assert st.state == "awaiting" and st.changes_by == ()


def test_no_requests_and_bad_input() -> None:
    assert approval_state("all_named", [], []).state == "not_requested"
    with pytest.raises(ValueError, match="unknown approval rule"):
        approval_state("majority", [Request(reviewer_id=1)], [])
    with pytest.raises(ValueError, match="names a reviewer or an agency"):
        Request(reviewer_id=1, agency_id=POLICE)


def test_review_point_status() -> None:
    today = dt.date(2026, 11, 22)
    assert review_point_status(dt.date(2025, 4, 6), None, today) == "overdue"
    assert review_point_status(dt.date(2025, 4, 6), dt.date(2025, 4, 10), today) == "held"
    assert review_point_status(dt.date(2026, 11, 30), None, today) == "due"
    assert review_point_status(dt.date(2026, 11, 22), None, today) == "due"
    assert review_point_status(dt.date(2027, 2, 1), None, today) == "upcoming"


def test_action_overdue_and_kpi_trend() -> None:
    today = dt.date(2026, 11, 22)
    assert action_overdue("planned", dt.date(2026, 11, 21), today)
    assert not action_overdue("planned", today, today)
    assert not action_overdue("dropped", dt.date(2026, 1, 1), today)
    assert not action_overdue("planned", None, today)
    assert kpi_trend([30, 20], "decrease") == "improving"
    assert kpi_trend([30, 40], "decrease") == "worsening"
    assert kpi_trend([100, 200], "increase") == "improving"
    assert kpi_trend([5], "increase") == "no data"
    with pytest.raises(ValueError):
        kpi_trend([1, 2], "up")


def test_required_agencies_and_a_minimum_add_to_either_rule() -> None:
    """Issue 15: the pilot names agencies that must approve and a least number of
    approvals, whoever the version was sent to."""
    reqs = [Request(reviewer_id=1)]
    decisions = [_d(1, CSP, "approve")]
    assert approval_state("all_named", reqs, decisions).approved
    for rule in ("all_named", "one_per_agency"):
        s = approval_state(rule, reqs, decisions, required_agencies=[POLICE])
        assert not s.approved and s.outstanding == (("agency", POLICE),)
        s = approval_state(rule, reqs, [*decisions, _d(7, POLICE, "approve", 1)],
                           required_agencies=[POLICE])
        assert s.approved and s.approvals == (1, 7)
    s = approval_state("all_named", reqs, decisions, min_approvals=3)
    assert not s.approved and s.outstanding == (("approvals", 2),)
    # Not asked and of no required agency: an approval does not count towards the minimum.
    s = approval_state("all_named", reqs, [*decisions, _d(8, None, "approve", 1)],
                       min_approvals=2)
    assert not s.approved
    s = approval_state("all_named", reqs, [*decisions, _d(7, POLICE, "approve", 1)],
                       required_agencies=[POLICE], min_approvals=2)
    assert s.approved
    # Nothing requested yet: still not requested, whatever the pilot requires.
    assert approval_state("all_named", [], [], required_agencies=[POLICE]).state == \
        "not_requested"
