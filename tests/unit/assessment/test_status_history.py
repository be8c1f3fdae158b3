"""Statuses at a past moment from the lifecycle's dates, with answers known by construction."""

import datetime as dt

from locmap.assessment.status_history import VersionDates, current_at, latest_at, status_at

T = [dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=10 * i) for i in range(12)]


def test_a_version_moves_from_draft_to_review_to_approved():
    v = VersionDates(1, 1, None, T[0], submitted_at=T[2], approved_at=T[4])
    assert [status_at([v], t)[1] for t in (T[1], T[2], T[3], T[4], T[5])] == [
        "draft", "draft", "in_review", "in_review", "approved"]  # a moment is strictly after
    assert status_at([v], T[0]) == {}  # created at that very moment: not yet


def test_a_child_submitted_supersedes_a_parent_in_review_not_an_approved_one():
    in_review = VersionDates(1, 1, None, T[0], submitted_at=T[1])
    child = VersionDates(2, 2, 1, T[2], submitted_at=T[4])
    assert status_at([in_review, child], T[3]) == {1: "in_review", 2: "draft"}
    assert status_at([in_review, child], T[5]) == {1: "superseded", 2: "in_review"}
    approved = VersionDates(1, 1, None, T[0], submitted_at=T[1], approved_at=T[2])
    assert status_at([approved, child], T[5]) == {1: "approved", 2: "in_review"}


def test_a_later_approval_supersedes_the_approved_version():
    v1 = VersionDates(1, 1, None, T[0], submitted_at=T[1], approved_at=T[2])
    v2 = VersionDates(2, 2, 1, T[3], submitted_at=T[4], approved_at=T[6])
    assert status_at([v1, v2], T[5]) == {1: "approved", 2: "in_review"}
    assert status_at([v1, v2], T[7]) == {1: "superseded", 2: "approved"}


def test_latest_and_current_at_a_moment():
    v1 = VersionDates(1, 1, None, T[0], submitted_at=T[1], approved_at=T[2])
    v2 = VersionDates(2, 2, 1, T[3], submitted_at=T[4], approved_at=T[6])
    assert latest_at([v1, v2], T[2]).id == 1 and latest_at([v1, v2], T[4]).id == 2
    assert latest_at([v1, v2], T[0]) is None
    assert current_at([v1, v2], T[5]).id == 2 and current_at([v1, v2], T[7]).id == 2
    only_old = VersionDates(3, 1, None, T[0], submitted_at=T[1])
    newer = VersionDates(4, 2, 3, T[2], submitted_at=T[3])
    assert current_at([only_old, newer], T[2]).id == 3  # v2 not yet created
