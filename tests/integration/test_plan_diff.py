"""The plan version diff covers every part: start, actions field by field, KPIs (issue 16);
partners read KPI counts as partners see every count."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from locmap.models import KPI, Action, Assessment, Plan
from locmap.services import accounts, review_history
from tests.factories import World

_SAFER = "enhance_safe_behaviours_and_locations"


def _plans(session: Session, world: World) -> tuple[Plan, Plan]:
    a = Assessment(place_id=world.places["cafe"].id, version_no=1, status="approved")
    session.add(a)
    session.flush()
    v1 = Plan(assessment_id=a.id, version_no=1, status="approved",
              starts_on=dt.date(2025, 1, 6))
    session.add(v1)
    session.flush()
    v2 = Plan(assessment_id=a.id, version_no=2, status="draft", parent_id=v1.id,
              starts_on=dt.date(2025, 2, 3))
    session.add(v2)
    session.flush()
    session.add_all([
        Action(plan_id=v1.id, description="Fix the lighting", category=_SAFER,
               lead="Council", due_on=dt.date(2025, 3, 1)),
        Action(plan_id=v1.id, description="Patrols", category="allocate_resources"),
        Action(plan_id=v2.id, description="Fix the lighting", category=_SAFER,
               lead="Streets team", due_on=dt.date(2025, 4, 1)),
        Action(plan_id=v2.id, description="Youth club evenings", category="connect_people"),
        KPI(plan_id=v1.id, kind="b", name="Incidents at the place", baseline=12, target=7),
        KPI(plan_id=v1.id, kind="d", name="Feels safe", baseline=0.4, target=0.6),
        KPI(plan_id=v2.id, kind="b", name="Incidents at the place", baseline=12, target=3),
        KPI(plan_id=v2.id, kind="custom", name="Youth club attendance", baseline=0,
            target=20),
    ])
    session.flush()
    return v1, v2


def _diff(session: Session, world: World, role: str, v2: Plan) -> dict[str, Any]:
    actor = accounts.actor_for(session, world.users[role])
    out = review_history.history(session, actor, world.pilot.id, "plan", v2.id)
    return next(v for v in out["versions"] if v["id"] == v2.id)["diff"]


def test_every_part_of_a_plan_is_diffed(session: Session, world: World) -> None:
    v1, v2 = _plans(session, world)
    d = _diff(session, world, "practitioner", v2)
    assert d["starts_on"] == {"before": dt.date(2025, 1, 6), "after": dt.date(2025, 2, 3)}
    assert d["actions_added"] == ["Youth club evenings"]
    assert d["actions_removed"] == ["Patrols"]
    (lighting,) = d["actions_changed"]
    assert {(c["field"], c["before"], c["after"]) for c in lighting["changes"]} == {
        ("lead", "Council", "Streets team"),
        ("due on", dt.date(2025, 3, 1), dt.date(2025, 4, 1))}
    assert d["kpis_added"] == ["Youth club attendance"]
    assert d["kpis_removed"] == ["Feels safe"]
    (incidents,) = d["kpis_changed"]
    assert incidents["changes"] == [{"field": "target", "before": 7, "after": 3}]


def test_a_partner_reads_kpi_counts_as_partners_see_them(session: Session,
                                                         world: World) -> None:
    v1, v2 = _plans(session, world)
    (incidents,) = _diff(session, world, "partner_reviewer", v2)["kpis_changed"]
    # 7 rounds to 5; 3 is withheld, as on every partner page.
    assert incidents["changes"] == [{"field": "target", "before": 5, "after": "[c]"}]
