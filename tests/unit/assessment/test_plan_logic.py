"""Plan logic on hand-built data whose answers are known by construction."""

from __future__ import annotations

import datetime as dt

import pytest

from locmap.assessment.plan_logic import (
    ActionRef,
    FactorRef,
    Period,
    ReasonRef,
    baseline_period,
    find_gaps,
    incident_stats,
    is_overdue,
    perception,
    period_containing,
    periods,
    reach,
)

D = dt.date
FACTORS = [FactorRef(1, 3, "Dealing by the door"), FactorRef(2, 2, "No staff after 4pm"),
           FactorRef(3, 1, "Bins overflow"), FactorRef(4, 0, "Bus stop")]


def _subjects(gaps: list) -> list:
    return [g.factor_id or g.context_name for g in gaps]


def test_weighty_factors_and_weightiest_context_are_gaps_heaviest_first() -> None:
    assert _subjects(find_gaps(FACTORS, ["Library"], [], [])) == [1, 2, "Library"]


def test_a_weight_three_factor_is_a_gap_until_an_action_links_it() -> None:
    gaps = find_gaps(FACTORS, [], [ActionRef((2,))], [])
    assert _subjects(gaps) == [1]
    assert gaps[0].weight == 3 and gaps[0].label == "Dealing by the door"
    assert find_gaps(FACTORS, [], [ActionRef((1, 2))], []) == []


def test_a_written_reason_closes_a_gap() -> None:
    assert _subjects(find_gaps(FACTORS, ["Library"], [], [ReasonRef(factor_id=1)])) == [
        2, "Library"]
    assert _subjects(find_gaps(FACTORS, ["Library"], [],
                               [ReasonRef(context_name="Library")])) == [1, 2]


def test_a_dropped_action_meets_nothing() -> None:
    dropped = ActionRef((1, 2), "Library", status="dropped")
    assert _subjects(find_gaps(FACTORS, ["Library"], [dropped], [])) == [1, 2, "Library"]
    done = ActionRef((1, 2), "Library", status="done")
    assert find_gaps(FACTORS, ["Library"], [done], []) == []


def test_each_tied_weightiest_context_needs_its_own_action() -> None:
    gaps = find_gaps([], ["Library", "Group B"], [ActionRef((), "Group B")], [])
    assert _subjects(gaps) == ["Library"]
    assert gaps[0].kind == "context"


def test_overdue_means_past_due_and_not_closed() -> None:
    today = D(2025, 6, 1)
    assert is_overdue(D(2025, 5, 31), "planned", today)
    assert is_overdue(D(2025, 5, 31), "in_progress", today)
    assert not is_overdue(D(2025, 6, 1), "planned", today)  # due today is not yet late
    assert not is_overdue(D(2025, 5, 31), "done", today)
    assert not is_overdue(D(2025, 5, 31), "dropped", today)
    assert not is_overdue(None, "planned", today)


def test_quarterly_periods_align_to_the_plan_start() -> None:
    got = periods(D(2025, 3, 1), D(2025, 11, 30))  # the third quarter ends that day
    assert [(p.start, p.end) for p in got] == [
        (D(2025, 3, 1), D(2025, 5, 31)), (D(2025, 6, 1), D(2025, 8, 31))]
    assert all(p.months == 3.0 for p in got)
    running = periods(D(2025, 3, 1), D(2025, 11, 30), complete_only=False)
    assert running[-1] == Period(D(2025, 9, 1), D(2025, 11, 30))
    assert len(periods(D(2025, 3, 1), D(2025, 11, 30), 1)) == 8  # March to October
    assert period_containing(D(2025, 3, 1), D(2025, 7, 4)) == Period(D(2025, 6, 1),
                                                                     D(2025, 8, 31))
    assert period_containing(D(2025, 3, 1), D(2025, 2, 28)) == Period(D(2024, 12, 1),
                                                                      D(2025, 2, 28))
    with pytest.raises(ValueError, match="at least one month"):
        periods(D(2025, 3, 1), D(2025, 12, 1), 0)


# A hand-checked fixture: plan starts 1 March 2025, so the baseline is 1 March 2024 to
# 28 February 2025 (12 months) and the first quarter is March to May 2025.
INCIDENTS = [
    (D(2024, 2, 29), 5),                          # before the baseline: ignored
    (D(2024, 3, 1), 2), (D(2024, 7, 10), 4), (D(2024, 12, 31), 3),
    (D(2025, 1, 15), 1), (D(2025, 2, 28), 5),     # baseline: these 5
    (D(2025, 3, 1), 2), (D(2025, 5, 31), 4),      # Q1: 2 incidents, mean 3
    (D(2025, 6, 1), 1),                           # Q2: 1 incident
]


def test_kpi_b_baseline_and_period_values() -> None:
    start = D(2025, 3, 1)
    base = baseline_period(start)
    assert (base.start, base.end, base.months) == (D(2024, 3, 1), D(2025, 2, 28), 12.0)
    b = incident_stats(INCIDENTS, base)
    assert b.count == 5
    assert b.mean_severity == pytest.approx((2 + 4 + 3 + 1 + 5) / 5)
    assert b.per_month == pytest.approx(5 / 12)
    q1, q2 = periods(start, D(2025, 9, 1))
    s1, s2 = incident_stats(INCIDENTS, q1), incident_stats(INCIDENTS, q2)
    assert (s1.count, s1.mean_severity, s1.per_month) == (2, 3.0, pytest.approx(2 / 3))
    assert (s2.count, s2.mean_severity, s2.per_month) == (1, 1.0, pytest.approx(1 / 3))
    empty = incident_stats([], q1)
    assert (empty.count, empty.mean_severity, empty.per_month) == (0, None, 0.0)


def test_reach_and_perception_per_period() -> None:
    q = Period(D(2025, 3, 1), D(2025, 5, 31))
    assert reach([(D(2025, 3, 1), 40), (D(2025, 5, 31), 12), (D(2025, 6, 1), 99)], q) == 52
    ratings = [(D(2025, 4, 1), "green")] * 3 + [(D(2025, 4, 1), "red"),
                                                (D(2025, 4, 1), "amber"),
                                                (D(2025, 7, 1), "red")]
    assert perception(ratings, q) == pytest.approx(100 * (3 - 1) / 5)
    assert perception([], q) is None


def test_strengths_are_not_gaps() -> None:
    """A resilience or resource factor (a strength) needs no action, however weighty."""
    from locmap.assessment.plan_logic import FactorRef, find_gaps

    factors = [FactorRef(1, 3, "Dealing outside", "risk"),
               FactorRef(2, 2, "Isolated after dark", "vulnerability"),
               FactorRef(3, 3, "Staff know the young people", "resilience"),
               FactorRef(4, 3, "Youth club next door", "resource")]
    assert [g.factor_id for g in find_gaps(factors, [], [], [])] == [1, 2]
    assert not FactorRef(3, 3, quadrant="resilience").needs_action
