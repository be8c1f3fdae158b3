"""Plans: make one from a submitted assessment, its actions, gaps, KPIs and measurements."""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import Schema, fields, validate

from locmap.services import kpis, plan_exports, plans
from locmap.vocab import ACTION_STATUSES, FRAMEWORK_DOMAINS, PLAN_CATEGORIES
from locmap.web.api import api
from locmap.web.api.schemas import (
    ContextWeightingSchema,
    Date,
    DateTime,
    Figure,
    GeoJSONGeometry,
    VersionFactorSchema,
    WeightiestSchema,
)
from locmap.web.context import actor, db_session, suppression_threshold

_P = "/pilots/<int:pilot_id>"


class PlanCreateSchema(Schema):
    starts_on = Date(metadata={"description": "Defaults to today; the KPI baseline is "
                                      "the 12 months before it"})


class ActionSchema(Schema):
    description = fields.String(required=True, validate=validate.Length(min=1))
    category = fields.String(required=True, validate=validate.OneOf(PLAN_CATEGORIES))
    domain = fields.String(validate=validate.OneOf(FRAMEWORK_DOMAINS))
    context_name = fields.String(allow_none=True)
    owner_agency_id = fields.Integer(allow_none=True)
    lead = fields.String(validate=validate.Length(max=200))
    due_on = Date(allow_none=True)
    status = fields.String(validate=validate.OneOf(ACTION_STATUSES))
    progress_notes = fields.String()
    factor_ids = fields.List(fields.Integer())


class ActionPatchSchema(ActionSchema):
    """The fields to change and the ``version`` read (a stale version answers 409)."""

    version = fields.Integer(required=True)
    description = fields.String(validate=validate.Length(min=1))
    category = fields.String(validate=validate.OneOf(PLAN_CATEGORIES))


class GapReasonSchema(Schema):
    factor_id = fields.Integer(allow_none=True)
    context_name = fields.String(allow_none=True)
    reason = fields.String(required=True, validate=validate.Length(min=1))


class KPISchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    unit = fields.String(validate=validate.Length(max=50))
    baseline = fields.Float(allow_none=True, allow_nan=False)
    target = fields.Float(allow_none=True, allow_nan=False)
    direction = fields.String(validate=validate.OneOf(("increase", "decrease")))


class KPIPatchSchema(KPISchema):
    version = fields.Integer(required=True)
    name = fields.String(validate=validate.Length(min=1, max=200))


class MeasurementSchema(Schema):
    period_start = Date(required=True)
    period_end = Date(metadata={"description": "Defaults to the end of the plan's "
                                       "quarter holding period_start"})
    value = fields.Float(required=True, allow_nan=False)
    source = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ExportQuerySchema(Schema):
    table = fields.String(load_default="actions", validate=validate.OneOf(plan_exports.TABLES))


class PlanHeaderSchema(Schema):
    id = fields.Integer()
    assessment_id = fields.Integer()
    version_no = fields.Integer()
    parent_id = fields.Integer(allow_none=True)
    status = fields.String()
    version = fields.Integer()
    starts_on = Date(allow_none=True)
    submitted_at = DateTime(allow_none=True)
    approved_at = DateTime(allow_none=True)


class ActionOutSchema(Schema):
    id = fields.Integer()
    version = fields.Integer()
    factor_ids = fields.List(fields.Integer())
    description = fields.String()
    category = fields.String()
    domain = fields.String(allow_none=True)
    context_name = fields.String(allow_none=True)
    owner_agency_id = fields.Integer(allow_none=True)
    owner_agency = fields.String(allow_none=True)
    lead = fields.String(allow_none=True)
    due_on = Date(allow_none=True)
    status = fields.String()
    progress_notes = fields.String(allow_none=True)
    overdue = fields.Boolean()


class MeasurementOutSchema(Schema):
    id = fields.Integer()
    period_start = Date()
    period_end = Date()
    value = Figure(allow_none=True, metadata={
        "description": "A number; for a partner a count rounded to base 5, or null when "
                       "withheld"})
    source = fields.String()
    computed = fields.Boolean()
    withheld = fields.Boolean(metadata={"description": "Partner view only."})


class KPIOutSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    name = fields.String()
    unit = fields.String(allow_none=True)
    baseline = Figure(allow_none=True)
    target = Figure(allow_none=True)
    baseline_withheld = fields.Boolean(metadata={
        "description": "Partner view: the baseline is a count below the suppression threshold, "
                       "withheld (null)"})
    target_withheld = fields.Boolean(metadata={
        "description": "Partner view: the target is a count below the suppression threshold, "
                       "withheld (null)"})
    direction = fields.String()
    version = fields.Integer()
    computable = fields.Boolean()
    protected = fields.Boolean()
    measurements = fields.List(fields.Nested(MeasurementOutSchema))


class GapReasonOutSchema(Schema):
    id = fields.Integer()
    factor_id = fields.Integer(allow_none=True)
    context_name = fields.String(allow_none=True)
    reason = fields.String()


class GapSchema(Schema):
    kind = fields.String(metadata={"description": "factor or context"})
    factor_id = fields.Integer(allow_none=True)
    context_name = fields.String(allow_none=True)
    label = fields.String()
    weight = fields.Integer(allow_none=True)


class PlanPlaceSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    geometry = fields.Nested(GeoJSONGeometry, allow_none=True)


class PlanAssessmentSchema(Schema):
    id = fields.Integer()
    version_no = fields.Integer()
    status = fields.String()
    summary = fields.String(allow_none=True)
    submitted_at = DateTime(allow_none=True)


class PlanReviewPointSchema(Schema):
    number = fields.Integer()
    due_on = Date()


class AgencyOptionSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String(allow_none=True)


class GapsSchema(Schema):
    gaps = fields.List(fields.Nested(GapSchema))
    reasons = fields.List(fields.Nested(GapReasonOutSchema))


class PlanSchema(PlanHeaderSchema):
    pilot_id = fields.Integer()
    editable = fields.Boolean()
    place = fields.Nested(PlanPlaceSchema)
    assessment = fields.Nested(PlanAssessmentSchema)
    factors = fields.List(fields.Nested(VersionFactorSchema))
    context_weighting = fields.Nested(ContextWeightingSchema)
    weightiest = fields.Nested(WeightiestSchema)
    actions = fields.List(fields.Nested(ActionOutSchema))
    gaps = fields.List(fields.Nested(GapSchema))
    gap_reasons = fields.List(fields.Nested(GapReasonOutSchema))
    kpis = fields.List(fields.Nested(KPIOutSchema))
    review_points = fields.List(fields.Nested(PlanReviewPointSchema))
    versions = fields.List(fields.Nested(PlanHeaderSchema))
    agencies = fields.List(fields.Nested(AgencyOptionSchema))
    today = Date()


class ComputedKPISchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    written = fields.Integer()
    kept_entered = fields.Integer()
    baseline = Figure(allow_none=True)


class ComputeSchema(Schema):
    periods = fields.Integer()
    kpis = fields.List(fields.Nested(ComputedKPISchema))


def _detail(plan_id: int, pilot_id: int) -> Any:
    return plans.plan_detail(db_session(), actor(), plan_id, pilot_id=pilot_id,
                              threshold=suppression_threshold())


@api.route(f"{_P}/assessments/<int:assessment_id>/plans", summary="Plan versions answering "
           "an assessment version", tag="plans",
           response=PlanHeaderSchema, many=True)
def list_plans(pilot_id: int, assessment_id: int) -> Any:
    return plans.list_plans(db_session(), actor(), pilot_id, assessment_id)


@api.route(f"{_P}/assessments/<int:assessment_id>/plans", "POST", body=PlanCreateSchema,
           status=201, summary="Make draft plan v1 from a submitted assessment", tag="plans",
           permission="plan.edit",
           response=PlanSchema)
def create_plan(pilot_id: int, assessment_id: int, body: dict[str, Any]) -> Any:
    """A draft assessment answers 422; an assessment that already has a plan answers 409.
    The four suggested KPIs are created with the plan.
    """
    p = plans.create_plan(db_session(), actor(), pilot_id, assessment_id,
                          starts_on=body.get("starts_on"))
    return _detail(p.id, pilot_id), 201


@api.route(f"{_P}/plans/<int:plan_id>", summary="A plan with its assessment, actions, gaps "
           "and KPIs", tag="plans",
           response=PlanSchema)
def get_plan(pilot_id: int, plan_id: int) -> Any:
    return _detail(plan_id, pilot_id)


@api.route(f"{_P}/plans/<int:plan_id>/actions", summary="A plan's actions (overdue flagged)",
           tag="plans",
           response=ActionOutSchema, many=True)
def list_actions(pilot_id: int, plan_id: int) -> Any:
    return _detail(plan_id, pilot_id)["actions"]


@api.route(f"{_P}/plans/<int:plan_id>/actions", "POST", body=ActionSchema, status=201,
           summary="Add an action to a draft plan", tag="plans",
           permission="plan.edit",
           response=ActionOutSchema)
def add_action(pilot_id: int, plan_id: int, body: dict[str, Any]) -> Any:
    s = db_session()
    a = plans.add_action(s, actor(), plan_id, body, pilot_id=pilot_id)
    return next(x for x in _detail(plan_id, pilot_id)["actions"] if x["id"] == a.id), 201


@api.route(f"{_P}/actions/<int:action_id>", "PATCH", body=ActionPatchSchema,
           summary="Change an action (versioned)", tag="plans",
           permission="plan.edit",
           response=ActionOutSchema)
def patch_action(pilot_id: int, action_id: int, body: dict[str, Any]) -> Any:
    """A stale ``version`` answers 409. In an approved plan only status and progress notes
    change; anything else answers 409 (start a new plan version).
    """
    version = body.pop("version")
    a = plans.update_action(db_session(), actor(), action_id, body, version=version,
                            pilot_id=pilot_id)
    return next(x for x in _detail(a.plan_id, pilot_id)["actions"] if x["id"] == a.id)


@api.route(f"{_P}/actions/<int:action_id>", "DELETE", status=204,
           summary="Remove an action from a draft plan", tag="plans")
def delete_action(pilot_id: int, action_id: int) -> Any:
    plans.delete_action(db_session(), actor(), action_id, pilot_id=pilot_id)
    return Response(status=204)


@api.route(f"{_P}/plans/<int:plan_id>/gaps", summary="Weighty factors and the weightiest "
           "context without an action or a reason", tag="plans",
           response=GapsSchema)
def plan_gaps(pilot_id: int, plan_id: int) -> Any:
    return plans.plan_gaps(db_session(), actor(), plan_id, pilot_id=pilot_id)


@api.route(f"{_P}/plans/<int:plan_id>/gap-reasons", "POST", body=GapReasonSchema, status=201,
           summary="Write why a gap has no action", tag="plans",
           permission="plan.edit",
           response=GapsSchema)
def write_gap_reason(pilot_id: int, plan_id: int, body: dict[str, Any]) -> Any:
    s, a = db_session(), actor()
    plans.write_gap_reason(s, a, plan_id, reason=body["reason"],
                           factor_id=body.get("factor_id"),
                           context_name=body.get("context_name"), pilot_id=pilot_id)
    return plans.plan_gaps(s, a, plan_id, pilot_id=pilot_id), 201


@api.route(f"{_P}/plans/<int:plan_id>/kpis", summary="A plan's KPIs with measurements",
           tag="plans",
           response=KPIOutSchema, many=True)
def list_kpis(pilot_id: int, plan_id: int) -> Any:
    return _detail(plan_id, pilot_id)["kpis"]


@api.route(f"{_P}/plans/<int:plan_id>/kpis", "POST", body=KPISchema, status=201,
           summary="Add a custom KPI to a draft plan", tag="plans",
           permission="plan.edit",
           response=KPIOutSchema)
def add_kpi(pilot_id: int, plan_id: int, body: dict[str, Any]) -> Any:
    k = kpis.add_kpi(db_session(), actor(), plan_id, body, pilot_id=pilot_id)
    return next(x for x in _detail(plan_id, pilot_id)["kpis"] if x["id"] == k.id), 201


@api.route(f"{_P}/kpis/<int:kpi_id>", "PATCH", body=KPIPatchSchema,
           summary="Change a KPI's baseline, target or direction (versioned)", tag="plans",
           permission="plan.edit",
           response=KPIOutSchema)
def patch_kpi(pilot_id: int, kpi_id: int, body: dict[str, Any]) -> Any:
    version = body.pop("version")
    k = kpis.update_kpi(db_session(), actor(), kpi_id, body, version=version,
                        pilot_id=pilot_id)
    return next(x for x in _detail(k.plan_id, pilot_id)["kpis"] if x["id"] == k.id)


@api.route(f"{_P}/kpis/<int:kpi_id>/measurements", summary="A KPI's measurements", tag="plans",
           response=MeasurementOutSchema, many=True)
def list_measurements(pilot_id: int, kpi_id: int) -> Any:
    return kpis.list_measurements(db_session(), actor(), kpi_id, pilot_id=pilot_id,
                                  threshold=suppression_threshold())


@api.route(f"{_P}/kpis/<int:kpi_id>/measurements", "POST", body=MeasurementSchema, status=201,
           summary="Enter a measurement for a period (replaces that period's value)",
           tag="plans",
           permission="plan.edit",
           response=MeasurementOutSchema, many=True)
def add_measurement(pilot_id: int, kpi_id: int, body: dict[str, Any]) -> Any:
    s, a = db_session(), actor()
    kpis.add_measurement(s, a, kpi_id, body, pilot_id=pilot_id)
    return kpis.list_measurements(s, a, kpi_id, pilot_id=pilot_id,
                                  threshold=suppression_threshold()), 201


@api.route(f"{_P}/plans/<int:plan_id>/kpis/compute", "POST",
           summary="Compute KPIs (b)-(d) for every complete quarter and their baselines",
           tag="plans",
           response=ComputeSchema)
def compute_kpis(pilot_id: int, plan_id: int) -> Any:
    """Entered measurements are kept; computed ones are rewritten."""
    return kpis.compute_kpis(db_session(), actor(), plan_id, pilot_id=pilot_id)


def _download(body: str | bytes, mimetype: str, name: str) -> Response:
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@api.route(f"{_P}/plans/<int:plan_id>/export.csv", query=ExportQuerySchema,
           summary="Actions or KPI measurements as CSV (formula cells neutralised)",
           tag="plans", produces="text/csv")
def export_plan_csv(pilot_id: int, plan_id: int, query: dict[str, Any]) -> Any:
    body = plan_exports.export_csv(db_session(), actor(), plan_id, query["table"],
                                   pilot_id=pilot_id, threshold=suppression_threshold())
    return _download(body, "text/csv", f"plan-{plan_id}-{query['table']}.csv")


@api.route(f"{_P}/plans/<int:plan_id>/export.xlsx", summary="Actions and KPI measurements "
           "as an XLSX workbook (formula cells neutralised)", tag="plans",
           produces="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
def export_plan_xlsx(pilot_id: int, plan_id: int) -> Any:
    body = plan_exports.export_xlsx(db_session(), actor(), plan_id, pilot_id=pilot_id,
                                    threshold=suppression_threshold())
    return _download(body, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     f"plan-{plan_id}.xlsx")
