"""A pilot's timeline: its end and its review points, from start, duration and interval."""

from __future__ import annotations

import calendar
import datetime as dt

__all__ = ["add_months", "pilot_end", "review_dates"]


def add_months(day: dt.date, months: int) -> dt.date:
    """Return ``day`` moved by whole months, clamped to the month's last day.

    Examples
    --------
    >>> add_months(dt.date(2025, 1, 31), 1)
    datetime.date(2025, 2, 28)
    """
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def pilot_end(start: dt.date, duration_months: int) -> dt.date:
    return add_months(start, duration_months)


def review_dates(start: dt.date, duration_months: int, interval_months: int) -> list[dt.date]:
    """Review points every ``interval_months`` from ``start`` up to and including the end.

    Examples
    --------
    >>> [d.isoformat() for d in review_dates(dt.date(2025, 1, 6), 18, 3)][:2]
    ['2025-04-06', '2025-07-06']
    >>> len(review_dates(dt.date(2025, 1, 6), 18, 3))
    6
    """
    if duration_months < 1 or interval_months < 1:
        raise ValueError("duration and interval must be at least one month")
    return [
        add_months(start, m) for m in range(interval_months, duration_months + 1, interval_months)
    ]
