"""Finding a plan version and checking it may change: what plans, KPIs and reviews share.

Kept apart from :mod:`locmap.services.plans` so that :mod:`locmap.services.kpis` (which
plans use to suggest and compute KPIs) can load a plan without importing plans back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import InvalidData, NotFound
from locmap.models import Assessment, Place
from locmap.models.plan import Plan
from locmap.services import lifecycle
from locmap.services.permissions import Actor, require

__all__ = ["LATEST_PLAN_DATE", "parse_date", "plan_pilot", "get_plan", "assert_editable"]

# Plans look ahead (due dates, KPI periods), so their dates may be in the future, but not
# outside a span a plan can mean: 0001-01-01 made quarter arithmetic fail (year 0).
LATEST_PLAN_DATE = dt.date(2100, 12, 31)


def parse_date(value: Any, name: str) -> dt.date | None:
    """A date from a date, an ISO string or nothing (empty → None); bad text, or a date
    outside 1990..2100, → InvalidData.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value))
        except ValueError as exc:
            raise InvalidData(f"{name} must be a date (YYYY-MM-DD).") from exc
    if not clock.EARLIEST_EVENT <= day <= LATEST_PLAN_DATE:
        raise InvalidData(f"{name} must be between {clock.EARLIEST_EVENT:%Y} and "
                          f"{LATEST_PLAN_DATE:%Y}.")
    return day


def plan_pilot(session: Session, plan: Plan) -> int:
    """The pilot that holds the plan's place."""
    return int(session.scalar(select(Place.pilot_id).join(Assessment, Assessment.place_id
                                                          == Place.id)
                              .where(Assessment.id == plan.assessment_id)) or 0)


def get_plan(session: Session, actor: Actor, plan_id: int, *, pilot_id: int | None = None,
             permission: str = "assessment.view") -> Plan:
    """The plan if the actor holds ``permission`` in its pilot (and it is in ``pilot_id``)."""
    plan = session.get(Plan, plan_id)
    pid = plan_pilot(session, plan) if plan is not None else None
    if plan is None or not pid or (pilot_id is not None and pid != pilot_id):
        raise NotFound("No such plan in this pilot.")
    require(actor, pid, permission)
    return plan


def assert_editable(plan: Plan) -> None:
    """Raise :class:`Conflict` unless the plan is a draft."""
    lifecycle.assert_draft(plan, "Plan version")
