"""Plans through the API: made from a submitted assessment, actions, gaps, locking, roles,
versions and exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from locmap.errors import Conflict
from locmap.models import Agency, AuditEvent, SafetyFactor
from locmap.models.plan import Plan
from locmap.services import accounts, plans
from tests import factories


def _csrf(client: Any) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True))
    assert m
    return m.group(1)


def api(client: Any, method: str, url: str, json: Any = None) -> Any:
    return client.open(url, method=method, json=json, headers={"X-CSRFToken": _csrf(client)})


def make_assessment(session: Session, world: factories.World) -> dict[str, Any]:
    """The cafe's working set: weight 3, 2 and 1 factors (copied by the assessment)."""
    cafe = world.places["cafe"]
    session.add_all([
        SafetyFactor(place_id=cafe.id, quadrant="risk", statement="Dealing near the door",
                     weight=3),
        SafetyFactor(place_id=cafe.id, quadrant="vulnerability", statement="No staff after 4pm",
                     weight=2),
        SafetyFactor(place_id=cafe.id, quadrant="resource", statement="Bins overflow",
                     weight=1),
    ])
    session.add(Agency(name="Test Burger Bar Ltd", kind="business"))
    session.commit()
    return {"pilot": world.pilot.id, "place": cafe.id}


@pytest.fixture
def ctx(session: Session, world: factories.World, client: Any, auth: Any) -> dict[str, Any]:
    c = make_assessment(session, world)
    auth.login("practitioner@test.invalid")
    base = f"/api/v1/pilots/{c['pilot']}"
    r = api(client, "POST", f"{base}/places/{c['place']}/assessments")
    assert r.status_code == 201, r.get_json()
    c["assessment"] = r.get_json()["id"]
    c["base"] = base
    return c


def _submit(client: Any, ctx: dict[str, Any]) -> None:
    r = api(client, "POST", f"{ctx['base']}/assessments/{ctx['assessment']}/submit", {})
    assert r.status_code == 200, r.get_json()


def _plan(client: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    _submit(client, ctx)
    r = api(client, "POST", f"{ctx['base']}/assessments/{ctx['assessment']}/plans",
            {"starts_on": "2025-03-01"})
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


def test_a_draft_assessment_cannot_have_a_plan(client: Any, ctx: dict[str, Any],
                                               session: Session) -> None:
    r = api(client, "POST", f"{ctx['base']}/assessments/{ctx['assessment']}/plans", {})
    assert r.status_code == 422
    assert "submit this draft first" in r.get_json()["message"]
    assert session.scalar(select(Plan.id).where(Plan.assessment_id == ctx["assessment"])) is None


def test_plan_starts_as_draft_with_four_kpis_and_gaps_shrink(client: Any,
                                                             ctx: dict[str, Any]) -> None:
    p = _plan(client, ctx)
    assert (p["version_no"], p["status"], p["starts_on"]) == (1, "draft", "2025-03-01")
    assert [k["kind"] for k in p["kpis"]] == ["a", "b", "c", "d"]
    by_statement = {f["statement"]: f["id"] for f in p["factors"]}
    gaps_url = f"{ctx['base']}/plans/{p['id']}/gaps"
    gaps = api(client, "GET", gaps_url).get_json()["gaps"]
    assert [(g["kind"], g["label"]) for g in gaps] == [
        ("factor", "Dealing near the door"), ("factor", "No staff after 4pm"),
        ("context", "Test Cafe")]
    # A second plan for the same assessment version is refused.
    r = api(client, "POST", f"{ctx['base']}/assessments/{ctx['assessment']}/plans", {})
    assert r.status_code == 409 and r.get_json()["details"]["plan_id"] == p["id"]

    r = api(client, "POST", f"{ctx['base']}/plans/{p['id']}/actions", {
        "description": "Bystander training for staff", "category": "build_resilience",
        "domain": "partnerships", "factor_ids": [by_statement["Dealing near the door"]],
        "lead": "Sam Example", "due_on": "2025-06-30"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["overdue"] is True  # due mid-2025, still planned
    gaps = api(client, "GET", gaps_url).get_json()["gaps"]
    assert [g["label"] for g in gaps] == ["No staff after 4pm", "Test Cafe"]

    r = api(client, "POST", f"{ctx['base']}/plans/{p['id']}/gap-reasons",
            {"factor_id": by_statement["No staff after 4pm"],
             "reason": "Staffing is the owner's decision; raised at the partnership board"})
    assert r.status_code == 201
    r = api(client, "POST", f"{ctx['base']}/plans/{p['id']}/gap-reasons",
            {"factor_id": by_statement["Bins overflow"], "reason": "Not weighty"})
    assert r.status_code == 422  # weight 1 factors are never gaps
    r = api(client, "POST", f"{ctx['base']}/plans/{p['id']}/actions", {
        "description": "Pop-up youth club", "category": "enhance_safe_behaviours_and_locations",
        "context_name": "Test Cafe"})
    assert r.status_code == 201
    assert api(client, "GET", gaps_url).get_json()["gaps"] == []


def test_action_validation_and_optimistic_locking(client: Any, ctx: dict[str, Any],
                                                  session: Session) -> None:
    p = _plan(client, ctx)
    url = f"{ctx['base']}/plans/{p['id']}/actions"
    bad = [{"description": "x", "category": "wishful_thinking"},
           {"description": "x", "category": "connect_people", "factor_ids": [999999]},
           {"description": "x", "category": "connect_people", "context_name": "Nowhere"},
           {"description": "x", "category": "connect_people", "owner_agency_id": 999999}]
    for body in bad:
        assert api(client, "POST", url, body).status_code == 422, body
    owner = session.scalar(select(Agency.id).where(Agency.name == "Test Burger Bar Ltd"))
    a = api(client, "POST", url, {"description": "Turn the WiFi back on after 6pm",
                                  "category": "do_things_differently",
                                  "owner_agency_id": owner}).get_json()
    assert a["owner_agency"] == "Test Burger Bar Ltd" and a["overdue"] is False
    aurl = f"{ctx['base']}/actions/{a['id']}"
    r = api(client, "PATCH", aurl, {"version": a["version"], "status": "in_progress",
                                    "progress_notes": "Agreed with the manager"})
    assert r.status_code == 200 and r.get_json()["version"] == a["version"] + 1
    r = api(client, "PATCH", aurl, {"version": a["version"], "status": "done"})
    assert r.status_code == 409
    assert api(client, "GET", url).get_json()[0]["status"] == "in_progress"
    assert api(client, "DELETE", aurl).status_code == 204
    assert api(client, "GET", url).get_json() == []


def test_partner_reviewer_cannot_edit_and_outsider_sees_nothing(
        client: Any, auth: Any, ctx: dict[str, Any]) -> None:
    p = _plan(client, ctx)
    auth.logout()
    auth.login("partner_reviewer@test.invalid")
    assert api(client, "GET", f"{ctx['base']}/plans/{p['id']}").status_code == 200
    r = api(client, "POST", f"{ctx['base']}/plans/{p['id']}/actions",
            {"description": "x", "category": "connect_people"})
    assert r.status_code == 403
    assert api(client, "POST", f"{ctx['base']}/plans/{p['id']}/kpis/compute").status_code == 403
    auth.logout()
    auth.login("outsider@test.invalid")
    assert api(client, "GET", f"{ctx['base']}/plans/{p['id']}").status_code == 404
    assert api(client, "GET", f"{ctx['base']}/plans/{p['id']}/gaps").status_code == 404


def test_only_drafts_change_and_a_new_version_copies_everything(
        client: Any, ctx: dict[str, Any], session: Session, world: factories.World) -> None:
    p = _plan(client, ctx)
    fid = p["factors"][0]["id"]
    a = api(client, "POST", f"{ctx['base']}/plans/{p['id']}/actions", {
        "description": "Youth club", "category": "connect_people", "factor_ids": [fid]}
    ).get_json()
    kpi = p["kpis"][0]
    api(client, "POST", f"{ctx['base']}/kpis/{kpi['id']}/measurements",
        {"period_start": "2025-03-01", "value": 4, "source": "Family plans register"})
    plan = session.get_one(Plan, p["id"])
    session.refresh(plan)
    plan.status = "approved"  # as the review workflow would
    session.commit()
    r = api(client, "PATCH", f"{ctx['base']}/actions/{a['id']}",
            {"version": a["version"], "description": "Changed"})
    assert r.status_code == 409
    r = api(client, "PATCH", f"{ctx['base']}/actions/{a['id']}",
            {"version": a["version"], "status": "done"})
    assert r.status_code == 200  # delivery continues after approval
    actor = accounts.actor_for(session, world.users["practitioner"], None)
    with pytest.raises(Conflict):
        plans.assert_editable(plan)
    new = plans.new_plan_version(session, actor, p["id"])
    d = plans.plan_detail(session, actor, new.id, today=dt.date(2025, 4, 1), threshold=5)
    assert (d["version_no"], d["parent_id"], d["status"]) == (2, p["id"], "draft")
    assert [(x["description"], x["factor_ids"], x["status"]) for x in d["actions"]] == [
        ("Youth club", [fid], "done")]
    assert d["kpis"][0]["measurements"][0]["value"] == 4.0
    assert d["kpis"][0]["measurements"][0]["period_end"] == "2025-05-31"
    assert [v["version_no"] for v in d["versions"]] == [2, 1]


def test_exports_are_neutralised_and_audited(client: Any, ctx: dict[str, Any],
                                             session: Session) -> None:
    p = _plan(client, ctx)
    api(client, "POST", f"{ctx['base']}/plans/{p['id']}/actions", {
        "description": "=HYPERLINK(\"http://evil.invalid\")", "category": "connect_people",
        "lead": "+44 lead"})
    r = client.get(f"{ctx['base']}/plans/{p['id']}/export.csv?table=actions")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0][:2] == ["action_id", "description"]
    assert rows[1][1] == "'=HYPERLINK(\"http://evil.invalid\")" and rows[1][7] == "'+44 lead"
    r = client.get(f"{ctx['base']}/plans/{p['id']}/export.xlsx")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.data))
    cell = wb["actions"]["B2"]
    assert cell.value == "'=HYPERLINK(\"http://evil.invalid\")" and cell.data_type == "s"
    assert wb["measurements"].max_row == 1  # header only: nothing measured yet
    assert client.get(f"{ctx['base']}/plans/{p['id']}/export.csv?table=people"
                      ).status_code == 422
    events = session.scalars(select(AuditEvent).where(
        AuditEvent.entity == "plan", AuditEvent.action == "export")).all()
    assert [e.detail["format"] for e in events] == ["csv:actions", "xlsx"]
