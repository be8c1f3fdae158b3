"""The plan version diff covers every part: start, actions field by field (progress notes
and the factors each answers too), gap reasons, KPIs and their measurements (issue 16);
partners read KPI counts as partners see every count; the review page says it in words."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy.orm import Session

from locmap.models import (
    KPI,
    Action,
    Assessment,
    ContextWeight,
    KPIMeasurement,
    Plan,
    PlanGapReason,
    SafetyFactor,
    action_factor,
)
from locmap.services import accounts, review_history
from tests.factories import World

_Q1 = (dt.date(2025, 1, 6), dt.date(2025, 4, 5))
_Q2 = (dt.date(2025, 4, 6), dt.date(2025, 7, 5))

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
               lead="Streets team", due_on=dt.date(2025, 4, 1), status="in_progress",
               progress_notes="Two lamps replaced"),
        Action(plan_id=v2.id, description="Youth club evenings", category="connect_people"),
        KPI(plan_id=v1.id, kind="b", name="Incidents at the place", baseline=12, target=7),
        KPI(plan_id=v1.id, kind="d", name="Feels safe", baseline=0.4, target=0.6),
        KPI(plan_id=v2.id, kind="b", name="Incidents at the place", baseline=12, target=3),
        KPI(plan_id=v2.id, kind="custom", name="Youth club attendance", baseline=0,
            target=20),
    ])
    session.flush()
    cafe = world.places["cafe"].id
    door, dark, staff = (SafetyFactor(place_id=cafe, assessment_id=a.id, quadrant=q,
                                      statement=st, weight=3, voice="professional")
                         for q, st in (("risk", "Dealing near the door"),
                                       ("vulnerability", "Dark alley"),
                                       ("resource", "Staff willing to help")))
    session.add_all([door, dark, staff])
    session.flush()
    acts = {(x.plan_id, x.description): x.id for x in session.query(Action)}
    light1, light2 = acts[(v1.id, "Fix the lighting")], acts[(v2.id, "Fix the lighting")]
    session.execute(action_factor.insert(), [
        {"action_id": light1, "factor_id": dark.id},
        {"action_id": light2, "factor_id": dark.id},
        {"action_id": light2, "factor_id": door.id}])
    session.add_all([
        PlanGapReason(plan_id=v1.id, factor_id=door.id, reason="Police lead on this"),
        PlanGapReason(plan_id=v1.id, context_name="School", reason="Covered by the school"),
        PlanGapReason(plan_id=v2.id, context_name="School", reason="The school's own plan"),
    ])
    kpi = {(k.plan_id, k.name): k for k in session.query(KPI)}
    inc1, inc2 = (kpi[(v, "Incidents at the place")] for v in (v1.id, v2.id))
    session.add_all([
        KPIMeasurement(kpi_id=inc1.id, period_start=_Q1[0], period_end=_Q1[1], value=9,
                       source="police"),
        KPIMeasurement(kpi_id=inc2.id, period_start=_Q1[0], period_end=_Q1[1], value=3,
                       source="police"),
        KPIMeasurement(kpi_id=inc2.id, period_start=_Q2[0], period_end=_Q2[1], value=12,
                       source="police"),
    ])
    session.flush()
    return v1, v2


def _diff(session: Session, world: World, role: str, v2: Plan) -> dict[str, Any]:
    actor = accounts.actor_for(session, world.users[role])
    out = review_history.history(session, actor, world.pilot.id, "plan", v2.id, threshold=5)
    return next(v for v in out["versions"] if v["id"] == v2.id)["diff"]


def test_every_part_of_a_plan_is_diffed(session: Session, world: World) -> None:
    v1, v2 = _plans(session, world)
    d = _diff(session, world, "practitioner", v2)
    assert d["starts_on"] == {"before": dt.date(2025, 1, 6), "after": dt.date(2025, 2, 3),
                              "before_text": "6 Jan 2025", "after_text": "3 Feb 2025"}
    assert d["actions_added"] == ["Youth club evenings"]
    assert d["actions_removed"] == ["Patrols"]
    (lighting,) = d["actions_changed"]
    assert {(c["field"], c["before"], c["after"], c["before_text"], c["after_text"])
            for c in lighting["changes"]} == {
        ("lead", "Council", "Streets team", "Council", "Streets team"),
        ("due on", dt.date(2025, 3, 1), dt.date(2025, 4, 1), "1 Mar 2025", "1 Apr 2025"),
        ("status", "planned", "in_progress", "Planned", "In progress"),
        ("progress notes", None, "Two lamps replaced", "—", "Two lamps replaced"),
        ("answers", "Dark alley", "Dark alley; Dealing near the door",
         "Dark alley", "Dark alley; Dealing near the door")}
    assert d["kpis_added"] == ["Youth club attendance"]
    assert d["kpis_removed"] == ["Feels safe"]
    (incidents,) = d["kpis_changed"]
    assert [(c["field"], c["before"], c["after"]) for c in incidents["changes"]] == [
        ("target", 7, 3)]
    assert [(m["kpi"], m["change"], m["period_start"], m["before"], m["after"])
            for m in d["measurements_changed"]] == [
        ("Incidents at the place", "changed", _Q1[0], 9, 3),
        ("Incidents at the place", "added", _Q2[0], None, 12)]
    assert d["measurements_changed"][0]["period"] == "6 Jan 2025 – 5 Apr 2025"
    assert d["gap_reasons_added"] == []
    assert d["gap_reasons_removed"] == [{"subject": "factor “Dealing near the door”",
                                         "reason": "Police lead on this"}]
    assert d["gap_reasons_changed"] == [{"subject": "context School",
                                         "before": "Covered by the school",
                                         "after": "The school's own plan"}]


def test_a_partner_reads_kpi_counts_as_partners_see_them(session: Session,
                                                         world: World) -> None:
    v1, v2 = _plans(session, world)
    d = _diff(session, world, "partner_reviewer", v2)
    (incidents,) = d["kpis_changed"]
    # 7 rounds to 5; 3 is withheld, as on every partner page.
    assert [(c["field"], c["before"], c["after"], c["after_text"])
            for c in incidents["changes"]] == [("target", 5, "[c]", "[c]")]
    # Measurements too: 9 → 3 reads 10 → [c]; 12 reads 10.
    assert [(m["before"], m["after"]) for m in d["measurements_changed"]] == [
        (10, "[c]"), (None, 10)]


def test_a_change_a_partner_cannot_see_is_not_listed_for_them(session: Session,
                                                              world: World) -> None:
    v1, v2 = _plans(session, world)
    k2 = session.query(KPI).filter_by(plan_id=v2.id, name="Incidents at the place").one()
    k2.target = 6  # 7 → 6: both read 5 (rounded) by a partner
    (m1,) = [m for m in k2.measurements if m.period_start == _Q1[0]]
    m1.value = 11  # 9 → 11: both read 10
    session.flush()
    d = _diff(session, world, "partner_reviewer", v2)
    assert d["kpis_changed"] == []
    assert [m["change"] for m in d["measurements_changed"]] == ["added"]
    owner = _diff(session, world, "practitioner", v2)
    assert [c["field"] for c in owner["kpis_changed"][0]["changes"]] == ["target"]


def test_the_review_page_says_the_plan_changes_in_words(
        client: Any, auth: Any, session: Session, world: World) -> None:
    v1, v2 = _plans(session, world)
    v2.status = "in_review"
    # The page shows the assessment's weighting: it has one, as every submitted one does.
    session.add(ContextWeight(assessment_id=v2.assessment_id, name="Test Cafe", share=100,
                              reason="Where the dealing is", kind="place"))
    session.commit()
    auth.login("partner_reviewer@test.invalid")
    html = client.get(f"/pilots/{world.pilot.id}/plans/{v2.id}/review").get_data(as_text=True)
    assert "Plan start: 6 Jan 2025 → 3 Feb 2025" in html
    assert "status Planned → In progress" in html and "in_progress" not in html
    assert "due on 1 Mar 2025 → 1 Apr 2025" in html
    assert "progress notes — → Two lamps replaced" in html
    assert "answers Dark alley → Dark alley; Dealing near the door" in html
    assert "Reason for no action on the factor “Dealing near the door” withdrawn" in html
    assert "Covered by the school → The school&#39;s own plan" in html
    assert "6 Jan 2025 – 5 Apr 2025: 10 → [c]" in html
    # The KPI table: a withheld target reads [c] with its explanation, not "—".
    row = re.search(r"<tr><td>Incidents at the place.*?</tr>", html, flags=re.S)
    assert row and "[c]" in row.group(0) and "—" not in row.group(0)
    assert 'id="withheld-note"' in html
