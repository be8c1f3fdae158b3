"""The one clock: every "now" and "today" in locmap comes from here.

locmap is about dates — an 18-month pilot, review points every 3 months, "overdue"
actions, incidents in the last quarter — so code that asks the machine for the date
directly behaves differently on every day it runs. Everything asks :func:`now` or
:func:`today` instead, and tests, the demo and a rehearsal can move the clock:

* ``LOCMAP_CLOCK=2031-06-30`` (or a full ISO timestamp) in the environment shifts the
  clock of the whole process so that it reads that day (at the real time of day) when
  the process starts; time keeps running from there, so timeouts and durations behave.
* :func:`set_clock` does the same in code, and :func:`frozen` is a context manager for
  tests that need one fixed instant.

"Today" is the date in the partnership's own time zone (Europe/London): an incident at
23:30 on a summer evening belongs to that evening, not to the next UTC day.

Database defaults (``server_default=now()``) are not the clock: the models also set
their timestamps from :func:`now` in Python, and SQL that compares with "today" takes
the date as a bound parameter.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

__all__ = ["LOCAL_TZ", "LOCAL_TZ_NAME", "now", "real_now", "today", "local_now", "set_clock",
           "reset_clock", "frozen", "parse_clock", "EARLIEST_EVENT", "event_date_problem"]

# The partnership's time zone, the one definition (SQL takes the name, Python the zone).
LOCAL_TZ_NAME = "Europe/London"
LOCAL_TZ = ZoneInfo(LOCAL_TZ_NAME)

_lock = threading.Lock()
_offset = dt.timedelta(0)
_frozen: dt.datetime | None = None
# Records of what happened (incidents, visits, engagement) fall between this day and
# tomorrow (a visit logged just after midnight in another time zone). Anything outside is
# a typo or hostile, and one such date would stretch every time axis to millennia.
EARLIEST_EVENT = dt.date(1990, 1, 1)


def _real_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def real_now() -> dt.datetime:
    """The machine's real time, never moved: only for what is checked against another
    device's clock (a two-factor code from the user's phone), not for anything locmap
    records or compares with its own timestamps.
    """
    return _real_now()


def now() -> dt.datetime:
    """The current instant, timezone-aware in UTC, as the (possibly moved) clock reads it."""
    if _frozen is not None:
        return _frozen
    return _real_now() + _offset


def local_now() -> dt.datetime:
    """:func:`now` in the partnership's time zone (Europe/London)."""
    return now().astimezone(LOCAL_TZ)


def today() -> dt.date:
    """Today's date in the partnership's time zone."""
    return local_now().date()


def event_date_problem(value: dt.date | dt.datetime) -> str | None:
    """Why ``value`` cannot be the date of something that happened, or None if it can.

    The one window every boundary applies (API, forms, importers): from
    :data:`EARLIEST_EVENT` to tomorrow, by the moved clock.

    >>> event_date_problem(dt.date(1989, 12, 31))
    'dates before 1 January 1990 are not accepted'
    >>> with frozen("2031-06-30T12:00:00+00:00"):
    ...     event_date_problem(dt.datetime(2031, 7, 2, 9, tzinfo=dt.UTC))
    'it is in the future (after 1 July 2031)'
    """
    day = value
    if isinstance(value, dt.datetime):
        try:
            day = value.astimezone(LOCAL_TZ).date()
        except OverflowError:  # 0001-01-01 or 9999-12-31 moved across midnight
            day = value.date()
    if day < EARLIEST_EVENT:
        return f"dates before {EARLIEST_EVENT.day} {EARLIEST_EVENT:%B %Y} are not accepted"
    latest = today() + dt.timedelta(days=1)
    if day > latest:
        return f"it is in the future (after {latest.day} {latest:%B %Y})"
    return None


def parse_clock(text: str) -> dt.datetime:
    """Read ``2031-06-30`` or ``2031-06-30T09:00:00+00:00`` as an aware UTC instant.

    A bare date keeps the real time of day, so a clock moved to another day still ticks
    through the day as usual.

    >>> parse_clock("2031-06-30T09:00:00+00:00").isoformat()
    '2031-06-30T09:00:00+00:00'
    >>> parse_clock("2031-06-30").astimezone(LOCAL_TZ).date()
    datetime.date(2031, 6, 30)
    >>> parse_clock("tomorrow")
    Traceback (most recent call last):
    ...
    ValueError: LOCMAP_CLOCK must be an ISO date or timestamp, not 'tomorrow'.
    """
    text = text.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            real_local = _real_now().astimezone(LOCAL_TZ)
            moved = dt.datetime.combine(day, real_local.timetz().replace(tzinfo=None))
            return moved.replace(tzinfo=LOCAL_TZ).astimezone(dt.UTC)
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"LOCMAP_CLOCK must be an ISO date or timestamp, not {text!r}."
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    return value.astimezone(dt.UTC)


def set_clock(at: dt.datetime | dt.date | str | None) -> None:
    """Move the running clock so that it reads ``at`` now (``None``: the real clock)."""
    global _offset, _frozen
    with _lock:
        _frozen = None
        if at is None:
            _offset = dt.timedelta(0)
            return
        if isinstance(at, str):
            target = parse_clock(at)
        elif isinstance(at, dt.datetime):
            target = at if at.tzinfo else at.replace(tzinfo=LOCAL_TZ)
        else:
            target = parse_clock(at.isoformat())
        _offset = target - _real_now()


def reset_clock() -> None:
    """Back to the environment's clock (``LOCMAP_CLOCK``) or the real one."""
    set_clock(os.environ.get("LOCMAP_CLOCK") or None)


@contextmanager
def frozen(at: dt.datetime | dt.date | str) -> Iterator[dt.datetime]:
    """Stop the clock at ``at`` for the duration of the block (tests)."""
    global _frozen
    if isinstance(at, str):
        instant = parse_clock(at)
    elif isinstance(at, dt.datetime):
        instant = at if at.tzinfo else at.replace(tzinfo=LOCAL_TZ)
    else:
        instant = dt.datetime.combine(at, dt.time(12), tzinfo=LOCAL_TZ)
    previous = _frozen
    _frozen = instant.astimezone(dt.UTC)
    try:
        yield _frozen
    finally:
        _frozen = previous


reset_clock()
