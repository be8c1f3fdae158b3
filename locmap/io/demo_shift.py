"""Move the demo town's dates so that its story ends on the day the demo is loaded.

The files in ``geodata/demo`` describe one fixed "today" (``reference_today`` in
``pilot.json``). Loading the demo on another day (the *anchor*) moves every date by the
same whole number of weeks, so the pilot is always part-way through, the same review
point is always due soon, and weekday and time-of-day profiles stay exact:

* dates (``held_on``, ``since``, a date of birth) move by ``weeks`` × 7 days;
* exact timestamps move by the same days in local wall-clock time (Europe/London), so an
  incident at 15:30 after school stays at 15:30 across a change of summer time;
* day-precision timestamps (midnight UTC) move by the same days and stay at midnight;
* month-precision timestamps (the 1st, like police open data) move by whole calendar
  months (``months``) and stay on the 1st: the month in which most of that month's
  exactly-timed incidents land.

The number of weeks is the floor of the days between the reference day and the anchor
divided by 7: the moved reference day is at most six days before the anchor and never
after it, so nothing in the files lands in the future.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from locmap.clock import LOCAL_TZ
from locmap.timeline import add_months

__all__ = ["DemoShift"]

# The day whose moved month sets ``months``: mid-month, so that a month of incidents
# maps to the month holding most of its moved days.
_MID_MONTH = 15


@dataclass(frozen=True)
class DemoShift:
    """How far the demo's dates move: ``weeks`` for dates and times, ``months`` for
    month-precision data.

    Examples
    --------
    >>> s = DemoShift.between(dt.date(2025, 12, 24), dt.date(2026, 12, 1))
    >>> s.weeks, s.months, s.date(dt.date(2025, 12, 24))
    (48, 11, datetime.date(2026, 11, 25))
    >>> s.month(dt.date(2025, 1, 1))
    datetime.date(2025, 12, 1)
    >>> s.local(dt.datetime(2025, 1, 13, 15, 30)).isoformat()
    '2025-12-15T15:30:00'
    """

    reference: dt.date
    weeks: int
    months: int

    @classmethod
    def between(cls, reference: dt.date, anchor: dt.date) -> DemoShift:
        weeks = (anchor - reference).days // 7
        mid = reference.replace(day=_MID_MONTH)
        moved = mid + dt.timedelta(weeks=weeks)
        months = (moved.year - mid.year) * 12 + moved.month - mid.month
        return cls(reference=reference, weeks=weeks, months=months)

    @property
    def today(self) -> dt.date:
        """The moved reference day: the story's "today", 0–6 days before the anchor."""
        return self.date(self.reference)

    def date(self, day: dt.date) -> dt.date:
        return day + dt.timedelta(weeks=self.weeks)

    def month(self, day: dt.date) -> dt.date:
        """The first of the month that month-precision data of ``day``'s month move to."""
        return add_months(day.replace(day=1), self.months)

    def local(self, wall: dt.datetime) -> dt.datetime:
        """A naive local wall-clock time moved by ``weeks`` (still naive, still local)."""
        return wall + dt.timedelta(weeks=self.weeks)

    def instant(self, wall: dt.datetime) -> dt.datetime:
        """A naive local wall-clock time, moved, as an aware UTC instant.

        A wall time that the move lands in the spring-forward gap is read with the
        offset before the change (``fold=0``), the same on every run.
        """
        return self.local(wall).replace(tzinfo=LOCAL_TZ).astimezone(dt.UTC)

    def timestamp(self, value: dt.datetime, precision: str = "exact") -> dt.datetime:
        """An aware timestamp from the files moved according to its precision."""
        utc = value.astimezone(dt.UTC)
        if precision == "month":
            return dt.datetime.combine(self.month(utc.date()), utc.timetz())
        if precision == "day":
            return utc + dt.timedelta(weeks=self.weeks)
        wall = utc.astimezone(LOCAL_TZ).replace(tzinfo=None)
        return self.instant(wall)

    def quarter(self, label: str) -> str:
        """A ``YYYY-Qn`` period label moved with its quarter's middle day.

        Drawings of one quarter stay together under one label, and consecutive quarters
        stay consecutive.
        """
        year, q = int(label[:4]), int(label[-1])
        mid = self.date(dt.date(year, 3 * q - 1, _MID_MONTH))
        return f"{mid.year}-Q{(mid.month - 1) // 3 + 1}"
