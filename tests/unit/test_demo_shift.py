"""How the demo's dates move with its anchor (locmap/io/demo_shift.py), over many anchors."""

from __future__ import annotations

import datetime as dt

import pytest

from locmap.clock import LOCAL_TZ
from locmap.io.demo_shift import DemoShift

REFERENCE = dt.date(2025, 12, 24)
ANCHORS = [dt.date(2020, 2, 29) + dt.timedelta(days=37 * i) for i in range(120)]


@pytest.mark.parametrize("anchor", ANCHORS)
def test_the_story_moves_as_a_whole(anchor: dt.date) -> None:
    s = DemoShift.between(REFERENCE, anchor)
    assert 0 <= (anchor - s.today).days <= 6  # today in the story, never after the anchor
    assert s.today.weekday() == REFERENCE.weekday()
    # Month-precision data: consecutive months stay consecutive, on the 1st, and each
    # lands where the middle of its month's timed data lands (within a few days).
    firsts = [dt.date(2024 + m // 12, m % 12 + 1, 1) for m in range(24)]
    moved = [s.month(d) for d in firsts]
    assert all(d.day == 1 for d in moved)
    assert all((b.year * 12 + b.month) - (a.year * 12 + a.month) == 1
               for a, b in zip(moved, moved[1:], strict=False))
    for first, month in zip(firsts, moved, strict=True):
        mid = s.date(first.replace(day=15))
        following = s.month(first.replace(month=first.month % 12 + 1, year=first.year
                                          + first.month // 12))
        assert month - dt.timedelta(days=3) <= mid < following + dt.timedelta(days=3)
    # The reference month's police data is never in the future.
    assert s.month(REFERENCE) <= s.today


@pytest.mark.parametrize("anchor", ANCHORS[::10])
def test_exact_times_keep_their_local_hour_and_weekday(anchor: dt.date) -> None:
    s = DemoShift.between(REFERENCE, anchor)
    for wall in (dt.datetime(2025, 1, 13, 15, 30), dt.datetime(2025, 7, 4, 21, 5)):
        utc = wall.replace(tzinfo=LOCAL_TZ).astimezone(dt.UTC)
        local = s.timestamp(utc).astimezone(LOCAL_TZ)
        assert (local.hour, local.minute, local.weekday()) == (wall.hour, wall.minute,
                                                               wall.weekday())
    day = s.timestamp(dt.datetime(2025, 3, 3, tzinfo=dt.UTC), "day")
    assert day.time() == dt.time(0) and day.date() == s.date(dt.date(2025, 3, 3))


def test_quarters_stay_together_and_consecutive() -> None:
    s = DemoShift.between(REFERENCE, dt.date(2031, 6, 30))
    labels = [s.quarter(f"{y}-Q{q}") for y in (2024, 2025) for q in (1, 2, 3, 4)]
    index = [int(x[:4]) * 4 + int(x[-1]) for x in labels]
    assert index == list(range(index[0], index[0] + 8))
