"""Time limits on analyses: no request may hold a worker (and the database) for minutes.

An analysis (impact, displacement watch, a place's indicators) runs inside
:func:`analysis_time_limit`: PostgreSQL's ``statement_timeout`` is set for the
transaction (``set_config(..., true)``, i.e. ``SET LOCAL``) to what is left of the budget,
and :meth:`Budget.check` between the steps of a long analysis re-arms it with the remaining
time or stops at once when none is left. A cancelled statement (SQLSTATE 57014) becomes
:class:`~locmap.errors.TooSlow`, answered as a 503 with a message that says what to narrow,
instead of a request that hangs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from locmap.errors import TooSlow

__all__ = ["ANALYSIS_SECONDS", "Budget", "analysis_time_limit", "configure"]

# Default budget of one analysis request, seconds (LOCMAP_ANALYSIS_SECONDS).
ANALYSIS_SECONDS = 30.0
_QUERY_CANCELED = "57014"
_SET = text("SELECT set_config('statement_timeout', :v, true)")
_GET = text("SELECT current_setting('statement_timeout')")


def configure(seconds: float) -> None:
    """Set the budget of every analysis (the app factory calls this from its settings)."""
    global ANALYSIS_SECONDS
    if not seconds > 0:
        raise ValueError("The analysis time limit must be a positive number of seconds.")
    ANALYSIS_SECONDS = float(seconds)


def _cancelled(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        orig = getattr(exc, "orig", None)
        if getattr(orig, "sqlstate", None) == _QUERY_CANCELED or \
                getattr(exc, "sqlstate", None) == _QUERY_CANCELED:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _message(what: str, seconds: float) -> str:
    return (f"This analysis took too long ({what} ran past its limit of {seconds:g} s) and "
            "was stopped. Narrow it (a smaller distance, fewer feature layers, a shorter "
            "period) or ask an administrator to simplify very detailed place outlines.")


class Budget:
    """The time left to one analysis."""

    def __init__(self, session: Session, seconds: float, what: str) -> None:
        self.session, self.seconds, self.what = session, seconds, what
        self.deadline = time.monotonic() + seconds

    def check(self) -> None:
        """Stop if the budget is spent, else give the next statements what is left."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TooSlow(_message(self.what, self.seconds), details={"seconds": self.seconds})
        self.session.execute(_SET, {"v": f"{max(1, int(left * 1000))}ms"})


@contextmanager
def analysis_time_limit(session: Session, what: str,
                        seconds: float | None = None) -> Iterator[Budget]:
    """Run the block's statements under a time limit (the transaction's
    ``statement_timeout``), restored afterwards; a cancelled statement is :class:`TooSlow`.
    """
    limit = ANALYSIS_SECONDS if seconds is None else seconds
    before = session.scalar(_GET)
    budget = Budget(session, limit, what)
    budget.check()
    try:
        yield budget
    except DBAPIError as exc:
        # The transaction is aborted: its rollback undoes the setting.
        if _cancelled(exc):
            raise TooSlow(_message(what, limit), details={"seconds": limit}) from exc
        raise
    except BaseException:
        session.execute(_SET, {"v": before})
        raise
    session.execute(_SET, {"v": before})
