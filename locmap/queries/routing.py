"""Which pilot a row belongs to, for SQL that must name it (issue 20 (a)).

On a Citus cluster a statement reaches one worker only if it compares ``pilot_id`` with
a value. Query functions given a place (or factors) name the pilot of the session's scope
(locmap.models.tenancy.scope: a web request under ``/pilots/<id>/``, an import job); a
session without one (scripts, the CLI, tests calling the queries directly) looks the row
up first, a statement every worker answers.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from locmap.models import tenancy

__all__ = ["pilot_of_place", "pilot_of_factor"]

_PLACE = text("SELECT pilot_id FROM place WHERE id = :id")
_FACTOR = text("SELECT pilot_id FROM safety_factor WHERE id = :id")


def pilot_of_place(session: Session, place_id: int) -> int | None:
    """The scoped pilot, else the place's (None when there is no such place)."""
    scoped = tenancy.scoped_pilot(session)
    if scoped is not None:
        return scoped
    pilot_id: int | None = session.scalar(_PLACE, {"id": place_id})
    return pilot_id


def pilot_of_factor(session: Session, factor_id: int) -> int | None:
    """The scoped pilot, else the safety factor's."""
    scoped = tenancy.scoped_pilot(session)
    if scoped is not None:
        return scoped
    pilot_id: int | None = session.scalar(_FACTOR, {"id": factor_id})
    return pilot_id
