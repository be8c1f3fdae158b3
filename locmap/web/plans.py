"""Plan pages: make a plan from a submitted assessment, edit its actions, gap reasons and
KPIs, enter measurements and compute the data-derived ones, with a chart per KPI.

Edits are plain HTML forms posting to one endpoint with an ``op`` (they work without
JavaScript); ``static/js/plan.js`` only draws the KPI charts from a JSON block.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from locmap.errors import Conflict, InvalidData
from locmap.services import assessments, kpis, plans, reviews
from locmap.services.permissions import can, require
from locmap.vocab import ACTION_STATUSES, FRAMEWORK_DOMAINS, PLAN_CATEGORIES
from locmap.web.context import actor, db_session, login_required, suppression_threshold

bp = Blueprint("plans", __name__)

_ACTION_FORM = ("description", "category", "domain", "context_name", "lead", "due_on",
                "status", "progress_notes")


@bp.route("/pilots/<int:pilot_id>/assessments/<int:assessment_id>/plans",
          methods=["GET", "POST"])
@login_required
def for_assessment(pilot_id: int, assessment_id: int) -> Any:
    s, a = db_session(), actor()
    if request.method == "POST":
        try:
            p = plans.create_plan(s, a, pilot_id, assessment_id,
                                  starts_on=plans.parse_date(request.form.get("starts_on"),
                                                             "starts_on"))
        except Conflict as exc:
            flash(exc.message, "error")
            return redirect(url_for(".view", pilot_id=pilot_id,
                                    plan_id=exc.details["plan_id"]))
        except InvalidData as exc:
            s.rollback()
            flash(exc.message, "error")
            return redirect(url_for(".for_assessment", pilot_id=pilot_id,
                                    assessment_id=assessment_id))
        return redirect(url_for(".view", pilot_id=pilot_id, plan_id=p.id))
    from locmap.services import assessments

    av = assessments.assessment_view(s, a, pilot_id, assessment_id,
                                     threshold=suppression_threshold())
    rows = plans.list_plans(s, a, pilot_id, assessment_id)
    return render_template("plan_list.html", pilot_id=pilot_id, place=av["place"],
                           assessment=av, rows=rows, can_edit=can(a, pilot_id, "plan.edit"),
                           **_labels(pilot_id, [av["id"]], rows))


@bp.route("/pilots/<int:pilot_id>/places/<int:place_id>/plans")
@login_required
def for_place(pilot_id: int, place_id: int) -> Any:
    s, a = db_session(), actor()
    rows = plans.place_plans(s, a, pilot_id, place_id)
    place = assessments.place_header(s, a, pilot_id, place_id)
    return render_template("plan_list.html", pilot_id=pilot_id,
                           place={"id": place_id, "name": place.name if place else ""},
                           assessment=None, rows=rows, can_edit=False,
                           **_labels(pilot_id, [r["assessment_id"] for r in rows], rows))


def _labels(pilot_id: int, assessment_ids: list[int],
            plan_rows: list[dict[str, Any]]) -> dict[str, dict[int, str]]:
    """The one status of each version a plan list shows (assessments and plans)."""
    s, a = db_session(), actor()
    return {"assessment_labels": reviews.version_labels(s, a, pilot_id, "assessment",
                                                        assessment_ids),
            "plan_labels": reviews.version_labels(s, a, pilot_id, "plan",
                                                  [r["id"] for r in plan_rows])}


@bp.route("/pilots/<int:pilot_id>/plans/<int:plan_id>")
@login_required
def view(pilot_id: int, plan_id: int) -> Any:
    s, a = db_session(), actor()
    d = plans.plan_detail(s, a, plan_id, pilot_id=pilot_id, threshold=suppression_threshold())
    factor_names = {f["id"]: f["statement"] for f in d["factors"]}
    return render_template(
        "plan.html", p=d, pilot_id=pilot_id, can_edit=can(a, pilot_id, "plan.edit"),
        state_label=reviews.version_label(s, a, pilot_id, "plan", plan_id),
        assessment_label=reviews.version_label(s, a, pilot_id, "assessment",
                                               d["assessment"]["id"]),
        categories=PLAN_CATEGORIES, domains=FRAMEWORK_DOMAINS, statuses=ACTION_STATUSES,
        factor_names=factor_names,
        chart_data={"starts_on": d["starts_on"], "review_points": d["review_points"],
                    "kpis": d["kpis"]})


def _int(name: str, *, optional: bool = False) -> int | None:
    raw = request.form.get(name, "")
    if raw == "" and optional:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidData(f"{name} must be a whole number.") from exc


def _action_fields() -> dict[str, Any]:
    f = request.form
    data: dict[str, Any] = {k: f[k] for k in _ACTION_FORM if k in f}
    if "owner_agency_id" in f:
        data["owner_agency_id"] = _int("owner_agency_id", optional=True)
    if "factor_ids" in f or "factors_sent" in f:
        try:
            data["factor_ids"] = [int(x) for x in f.getlist("factor_ids")]
        except ValueError as exc:
            raise InvalidData("factor_ids must be factor ids.") from exc
    return data


def _apply(op: str, pilot_id: int, plan_id: int) -> str:
    s, a, f = db_session(), actor(), request.form
    if op == "add_action":
        plans.add_action(s, a, plan_id, _action_fields(), pilot_id=pilot_id)
        return "#actions"
    if op == "update_action":
        plans.update_action(s, a, _int("action_id") or 0, _action_fields(),
                            version=_int("version"), pilot_id=pilot_id)
        return "#actions"
    if op == "delete_action":
        plans.delete_action(s, a, _int("action_id") or 0, pilot_id=pilot_id)
        return "#actions"
    if op == "gap_reason":
        plans.write_gap_reason(s, a, plan_id, reason=f.get("reason", ""),
                               factor_id=_int("factor_id", optional=True),
                               context_name=f.get("context_name") or None, pilot_id=pilot_id)
        return "#gaps"
    if op == "add_kpi":
        kpis.add_kpi(s, a, plan_id, {k: f.get(k, "") for k in ("name", "unit", "baseline",
                                                                 "target", "direction")},
                     pilot_id=pilot_id)
        return "#kpis"
    if op == "update_kpi":
        kpis.update_kpi(s, a, _int("kpi_id") or 0,
                        {k: f.get(k, "") for k in ("baseline", "target", "direction")},
                        version=_int("version"), pilot_id=pilot_id)
        return "#kpis"
    if op == "measurement":
        kpis.add_measurement(s, a, _int("kpi_id") or 0,
                             {k: f.get(k, "") for k in ("period_start", "value", "source")},
                             pilot_id=pilot_id)
        return "#kpis"
    if op == "compute":
        out = kpis.compute_kpis(s, a, plan_id, pilot_id=pilot_id)
        flash(f"Computed {out['periods']} complete quarter(s) and the baselines.", "info")
        return "#kpis"
    raise InvalidData(f"Unknown change {op!r}.")


@bp.route("/pilots/<int:pilot_id>/plans/<int:plan_id>/edit", methods=["POST"])
@login_required
def edit(pilot_id: int, plan_id: int) -> Any:
    s = db_session()
    require(actor(), pilot_id, "plan.edit")  # 404/403 before the form is read
    op = request.form.get("op", "")
    target = url_for(".view", pilot_id=pilot_id, plan_id=plan_id)
    if op == "new_version":
        try:
            new = plans.new_plan_version(s, actor(), plan_id)
        except Conflict as exc:
            flash(exc.message, "error")
            return redirect(target)
        return redirect(url_for(".view", pilot_id=pilot_id, plan_id=new.id))
    if op == "submit":
        try:
            reviews.submit_plan(s, actor(), pilot_id, plan_id)
        except (InvalidData, Conflict) as exc:
            flash(exc.message, "error")
            return redirect(target)
        flash("Submitted: the plan is frozen for review. Choose its reviewers below.", "info")
        return redirect(url_for("reviews.review_page", pilot_id=pilot_id, kinds="plans",
                                subject_id=plan_id))
    try:
        anchor = _apply(op, pilot_id, plan_id)
    except (InvalidData, Conflict) as exc:
        s.rollback()
        flash(exc.message, "error")
        anchor = ""
    return redirect(target + anchor)
