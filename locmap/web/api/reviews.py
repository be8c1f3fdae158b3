"""Partner review, the pilot timeline and "waiting for me" as JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError, fields, validate

from locmap.errors import InvalidData
from locmap.services import inbox, review_history, reviews, timeline
from locmap.vocab import REVIEW_DECISIONS
from locmap.web.api import api
from locmap.web.api.assessments import ComparisonSchema
from locmap.web.api.schemas import Date, DateTime, Figure, Scalar
from locmap.web.context import actor, db_session, suppression_threshold

_P = "/pilots/<int:pilot_id>"
_S = f"{_P}/<any(assessments, plans):kinds>/<int:subject_id>"
_KINDS = {"assessments": "assessment", "plans": "plan"}


def _json(value: Any) -> Any:
    """Dates and datetimes as ISO text, recursively."""
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


class ReviewRequestSchema(Schema):
    reviewer_ids = fields.List(fields.Integer(), load_default=list)
    agency_ids = fields.List(fields.Integer(), load_default=list,
                             metadata={"description": "one reviewer of each agency"})


class ReviewSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(REVIEW_DECISIONS))
    comment = fields.String(load_default="", validate=validate.Length(max=4000))
    factor_id = fields.Integer(allow_none=True, load_default=None)
    action_id = fields.Integer(allow_none=True, load_default=None)


class ReviewPointPatchSchema(Schema):
    held_on = Date(allow_none=True)
    attendees = fields.String(validate=validate.Length(max=20000))
    minutes = fields.String(validate=validate.Length(max=20000))
    decisions = fields.String(validate=validate.Length(max=20000))


class ReviewRequestOutSchema(Schema):
    to = fields.String(metadata={"description": "The reviewer, or any reviewer of an agency"})
    reviewer_id = fields.Integer(allow_none=True)
    agency_id = fields.Integer(allow_none=True)
    requested_at = DateTime()


class ReviewOutSchema(Schema):
    id = fields.Integer()
    author = fields.String()
    agency = fields.String(allow_none=True)
    decision = fields.String()
    comment = fields.String()
    created_at = DateTime()
    factor_id = fields.Integer(allow_none=True)
    action_id = fields.Integer(allow_none=True)
    item = fields.String(allow_none=True, metadata={"description": "The factor or action "
                                                    "the review is on, in words"})


class DatesChangeSchema(Schema):
    before = Date(allow_none=True)
    after = Date(allow_none=True)
    before_text = fields.String(metadata={"description": "In words, e.g. 6 Apr 2025"})
    after_text = fields.String()


class FieldChangeSchema(Schema):
    field = fields.String()
    before = Scalar(allow_none=True)
    after = Scalar(allow_none=True)
    before_text = fields.String(metadata={
        "description": "The value in words for people (a date as 6 Apr 2025, a vocabulary "
                       "word by its label, [c] for a count withheld from partners)"})
    after_text = fields.String()


class GapReasonChangeSchema(Schema):
    subject = fields.String(metadata={"description": "The factor or context left without "
                                      "an action, in words"})
    reason = fields.String()
    before = fields.String()
    after = fields.String()


class MeasurementChangeSchema(Schema):
    kpi = fields.String()
    period_start = Date()
    period_end = Date()
    period = fields.String(metadata={"description": "The period in words"})
    change = fields.String(validate=validate.OneOf(("added", "removed", "changed")))
    before = Figure(allow_none=True, metadata={
        "description": "A number; for a partner a count of KPI (a) or (b) rounded to base 5, "
                       "or [c] when withheld"})
    after = Figure(allow_none=True)
    before_text = fields.String()
    after_text = fields.String()
    source_before = fields.String(allow_none=True)
    source_after = fields.String(allow_none=True)


class ActionChangeSchema(Schema):
    description = fields.String()
    status_before = fields.String()
    status_after = fields.String()
    due_before = Date(allow_none=True)
    due_after = Date(allow_none=True)
    changes = fields.List(fields.Nested(FieldChangeSchema))


class KPIChangeSchema(Schema):
    name = fields.String()
    changes = fields.List(fields.Nested(FieldChangeSchema))


class VersionDiffSchema(ComparisonSchema):
    """What changed from the parent version: an assessment's (the comparison's fields) or
    a plan's (its start, actions with the factors they answer, gap reasons, KPIs and their
    measurements).
    """

    starts_on = fields.Nested(DatesChangeSchema, allow_none=True)
    actions_added = fields.List(fields.String())
    actions_removed = fields.List(fields.String())
    actions_changed = fields.List(fields.Nested(ActionChangeSchema))
    kpis_added = fields.List(fields.String())
    kpis_removed = fields.List(fields.String())
    kpis_changed = fields.List(fields.Nested(KPIChangeSchema))
    measurements_changed = fields.List(fields.Nested(MeasurementChangeSchema))
    gap_reasons_added = fields.List(fields.Nested(GapReasonChangeSchema))
    gap_reasons_removed = fields.List(fields.Nested(GapReasonChangeSchema))
    gap_reasons_changed = fields.List(fields.Nested(GapReasonChangeSchema))


class HistoryEventSchema(Schema):
    at = DateTime()
    who = fields.String(allow_none=True)
    action = fields.String()
    version_id = fields.Integer()
    detail = fields.Dict(allow_none=True, metadata={
        "description": "The audit event's detail (its keys depend on the action)"})


class OverrideOutSchema(Schema):
    """A coordinator's recorded override: the plan version may be approved before the
    place's current assessment is (its reason, when and by whom).
    """

    reason = fields.String()
    at = DateTime()
    by = fields.String()


class WaitsForSchema(Schema):
    """The assessment version a plan version in review waits for."""

    id = fields.Integer()
    version_no = fields.Integer()
    status = fields.String()
    label = fields.String(metadata={"description": "Its status as every page shows it"})
    own = fields.Boolean(metadata={"description": "True when it is the plan's own "
                                   "assessment; False when the place has a newer one"})


class VersionHistorySchema(Schema):
    id = fields.Integer()
    version_no = fields.Integer()
    status = fields.String()
    label = fields.String()
    parent_id = fields.Integer(allow_none=True)
    submitted_at = DateTime(allow_none=True)
    approved_at = DateTime(allow_none=True)
    author = fields.String()
    author_id = fields.Integer(allow_none=True)
    outstanding = fields.List(fields.String())
    requests = fields.List(fields.Nested(ReviewRequestOutSchema))
    reviews = fields.List(fields.Nested(ReviewOutSchema))
    diff = fields.Nested(VersionDiffSchema, allow_none=True)
    override = fields.Nested(OverrideOutSchema, allow_none=True, metadata={
        "description": "A plan version's approval override (null when none)"})
    waits_for_assessment = fields.Boolean(metadata={
        "description": "A plan version in review that cannot be approved until its "
                       "place's current assessment is (unless overridden)"})
    waits_for = fields.Nested(WaitsForSchema, allow_none=True)


class HistorySchema(Schema):
    kind = fields.String()
    subject_id = fields.Integer()
    pilot_id = fields.Integer()
    approval_rule = fields.String()
    approver_agencies = fields.List(fields.String())
    min_approvals = fields.Integer(allow_none=True)
    place = fields.String()
    versions = fields.List(fields.Nested(VersionHistorySchema))
    events = fields.List(fields.Nested(HistoryEventSchema))


class ReviewPointRowSchema(Schema):
    id = fields.Integer()
    number = fields.Integer()
    due_on = Date()
    held_on = Date(allow_none=True)
    status = fields.String()


class ReviewPeriodSchema(Schema):
    start = Date()
    end = Date()


class PilotRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class PlaceCountSchema(Schema):
    place = fields.String()
    count = Figure()


class PeriodIncidentsSchema(Schema):
    total = Figure()
    by_place = fields.List(fields.Nested(PlaceCountSchema))


class PeriodFactorSchema(Schema):
    place = fields.String()
    quadrant = fields.String()
    statement = fields.String()
    weight = fields.Integer()


class PeriodActionSchema(Schema):
    id = fields.Integer()
    plan_id = fields.Integer()
    description = fields.String()
    lead = fields.String(allow_none=True)
    owner_agency_id = fields.Integer(allow_none=True)
    due_on = Date(allow_none=True)
    status = fields.String()
    overdue = fields.Boolean()


class PeriodActionsSchema(Schema):
    done = fields.List(fields.Nested(PeriodActionSchema))
    due = fields.List(fields.Nested(PeriodActionSchema))
    overdue = fields.List(fields.Nested(PeriodActionSchema))


class PeriodKPISchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    unit = fields.String(allow_none=True)
    baseline = Figure(allow_none=True)
    target = Figure(allow_none=True)
    direction = fields.String()
    values = fields.List(Figure(allow_none=True))
    latest = Figure(allow_none=True)
    trend = fields.String()


class AwaitingSchema(Schema):
    kind = fields.String()
    id = fields.Integer()
    version_no = fields.Integer()
    place = fields.String()


class ReviewPointDetailSchema(ReviewPointRowSchema):
    attendees = fields.String(allow_none=True)
    minutes = fields.String(allow_none=True)
    decisions = fields.String(allow_none=True)
    period = fields.Nested(ReviewPeriodSchema)
    pilot = fields.Nested(PilotRefSchema)
    previous_id = fields.Integer(allow_none=True)
    next_id = fields.Integer(allow_none=True)
    suppressed = fields.Boolean()
    incidents = fields.Nested(PeriodIncidentsSchema, metadata={
        "description": "total and by_place; for a partner, disclosure-controlled"})
    factors = fields.List(fields.Nested(PeriodFactorSchema))
    actions = fields.Nested(PeriodActionsSchema)
    kpis = fields.List(fields.Nested(PeriodKPISchema))
    awaiting_review = fields.List(fields.Nested(AwaitingSchema))


class VersionStateSchema(Schema):
    id = fields.Integer()
    version_no = fields.Integer()
    status = fields.String()
    label = fields.String()


class KPIBriefSchema(Schema):
    name = fields.String()
    trend = fields.String()
    latest = Figure(allow_none=True)


class OverviewPlaceSchema(Schema):
    place_id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    assessment = fields.Nested(VersionStateSchema, allow_none=True)
    plan = fields.Nested(VersionStateSchema, allow_none=True)
    actions_done = fields.Integer()
    actions_total = fields.Integer()
    actions_overdue = fields.Integer()
    kpis = fields.List(fields.Nested(KPIBriefSchema))


class OverviewSchema(Schema):
    pilot = fields.Nested(PilotRefSchema)
    places = fields.List(fields.Nested(OverviewPlaceSchema))
    review_points = fields.List(fields.Nested(ReviewPointRowSchema))


class WaitingReviewSchema(Schema):
    pilot_id = fields.Integer()
    pilot = fields.String()
    kind = fields.String()
    id = fields.Integer()
    place = fields.String()
    version_no = fields.Integer()
    requested_at = DateTime()
    via_agency = fields.Boolean()


class WaitingActionSchema(PeriodActionSchema):
    pilot_id = fields.Integer()
    pilot = fields.String()
    place = fields.String()


class WaitingPointSchema(ReviewPointRowSchema):
    pilot_id = fields.Integer()
    pilot = fields.String()


class WaitingSchema(Schema):
    reviews = fields.List(fields.Nested(WaitingReviewSchema))
    actions = fields.List(fields.Nested(WaitingActionSchema))
    review_points = fields.List(fields.Nested(WaitingPointSchema))


def _history(pilot_id: int, kind: str, subject_id: int) -> Any:
    return _json(review_history.history(db_session(), actor(), pilot_id, kind, subject_id,
                                        threshold=suppression_threshold()))


@api.route(f"{_P}/plans/<int:plan_id>/submit", "POST", summary="Submit a draft plan for review",
           tag="reviews",
           response=HistorySchema)
def submit_plan(pilot_id: int, plan_id: int) -> Any:
    """The plan is frozen (``in_review``); later edits answer 409. An optional JSON body
    ``{"reviewer_ids": [...], "agency_ids": [...]}`` sends it for review at once, as an
    assessment's submit does.
    """
    s, a = db_session(), actor()
    try:
        raw = request.get_json(silent=True)
        body = ReviewRequestSchema().load(raw if isinstance(raw, dict) else {})
    except ValidationError as exc:
        raise InvalidData("The request is not valid.",
                          details=exc.normalized_messages()) from exc
    reviews.submit_plan(s, a, pilot_id, plan_id)
    if body["reviewer_ids"] or body["agency_ids"]:
        reviews.request_review(s, a, pilot_id, "plan", plan_id,
                               reviewer_ids=body["reviewer_ids"], agency_ids=body["agency_ids"])
    return _history(pilot_id, "plan", plan_id)


class OverrideSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


@api.route(f"{_P}/plans/<int:plan_id>/approval-override", "POST", body=OverrideSchema,
           summary="Let a plan be approved while its assessment is in review (coordinators)",
           tag="reviews", permission="plan.override_approval", response=HistorySchema)
def override_plan_block(pilot_id: int, plan_id: int, body: dict[str, Any]) -> Any:
    """Recorded with its reason (audited, in the history); 409 when the plan or its
    assessment is not in review. If the plan's reviewers already approved it, it is
    approved now.
    """
    reviews.override_plan_block(db_session(), actor(), pilot_id, plan_id, reason=body["reason"])
    return _history(pilot_id, "plan", plan_id)


@api.route(f"{_S}/review-requests", "POST", body=ReviewRequestSchema, status=201,
           summary="Send a submitted version to named reviewers or agencies", tag="reviews",
           permission="assessment.edit",
           response=HistorySchema)
def request_review(pilot_id: int, kinds: str, subject_id: int, body: dict[str, Any]) -> Any:
    reviews.request_review(db_session(), actor(), pilot_id, _KINDS[kinds], subject_id,
                           reviewer_ids=body["reviewer_ids"], agency_ids=body["agency_ids"])
    return _history(pilot_id, _KINDS[kinds], subject_id), 201


@api.route(f"{_S}/reviews", "POST", body=ReviewSchema, status=201,
           summary="Comment, request changes or approve (partner reviewers)", tag="reviews",
           permission="review.give",
           response=HistorySchema)
def give_review(pilot_id: int, kinds: str, subject_id: int, body: dict[str, Any]) -> Any:
    """403 for a practitioner, for the version's author, or for a decision by a reviewer
    who was not asked; 409 when the version is not under review.
    """
    reviews.give_review(db_session(), actor(), pilot_id, _KINDS[kinds], subject_id, **body)
    return _history(pilot_id, _KINDS[kinds], subject_id), 201


@api.route(f"{_S}/history", summary="Every version with its reviews and audit trail",
           tag="reviews",
           response=HistorySchema)
def history(pilot_id: int, kinds: str, subject_id: int) -> Any:
    return _history(pilot_id, _KINDS[kinds], subject_id)


@api.route(f"{_P}/review-points", summary="The pilot's review points, flagged overdue",
           tag="timeline",
           response=ReviewPointRowSchema, many=True)
def review_points(pilot_id: int) -> Any:
    return _json(timeline.list_review_points(db_session(), actor(), pilot_id))


@api.route(f"{_P}/review-points/<int:point_id>", summary="What changed up to a review point",
           tag="timeline",
           response=ReviewPointDetailSchema)
def review_point(pilot_id: int, point_id: int) -> Any:
    return _json(timeline.review_point_detail(db_session(), actor(), pilot_id, point_id,
                                              threshold=suppression_threshold()))


@api.route(f"{_P}/review-points/<int:point_id>", "PATCH", body=ReviewPointPatchSchema,
           summary="Record a review point (coordinators)", tag="timeline",
           permission="review_point.manage",
           response=ReviewPointDetailSchema)
def record_review_point(pilot_id: int, point_id: int, body: dict[str, Any]) -> Any:
    s, a = db_session(), actor()
    timeline.record_review_point(s, a, pilot_id, point_id, body)
    return _json(timeline.review_point_detail(s, a, pilot_id, point_id,
                                              threshold=suppression_threshold()))


@api.route(f"{_P}/overview", summary="Each place's assessment, plan progress and KPI trend",
           tag="timeline",
           response=OverviewSchema)
def overview(pilot_id: int) -> Any:
    return _json(timeline.pilot_overview(db_session(), actor(), pilot_id,
                                         threshold=suppression_threshold()))


@api.route("/waiting", summary="Reviews to give, my overdue actions, review points due",
           tag="timeline",
           response=WaitingSchema)
def waiting() -> Any:
    return _json(timeline.waiting_for(db_session(), actor()))


class InboxTargetSchema(Schema):
    kind = fields.String(metadata={"description": "assessment, plan or review_point"})
    id = fields.Integer()


class InboxItemSchema(Schema):
    key = fields.String(metadata={"description": "What /inbox/read takes"})
    type = fields.String(metadata={
        "description": "review, changes, approved, overdue or review_point"})
    at = DateTime()
    pilot_id = fields.Integer()
    pilot = fields.String()
    title = fields.String()
    detail = fields.String()
    due_on = Date(metadata={"description": "Overdue actions and review points"})
    target = fields.Nested(InboxTargetSchema)
    read = fields.Boolean()


class InboxSchema(Schema):
    items = fields.List(fields.Nested(InboxItemSchema))
    unread = fields.Integer()


class InboxQuerySchema(Schema):
    unread = fields.Boolean(load_default=False, metadata={"description": "only unread items"})


class InboxReadSchema(Schema):
    keys = fields.List(fields.String(validate=validate.Length(max=80)), load_default=list,
                       validate=validate.Length(max=500))
    all = fields.Boolean(load_default=False, metadata={"description": "every current item"})
    unread = fields.Boolean(load_default=False,
                            metadata={"description": "mark unread again instead of read"})


def _inbox(unread_only: bool = False) -> Any:
    s, a = db_session(), actor()
    rows = inbox.items(s, a, unread_only=unread_only)
    return _json({"unread": inbox.unread_count(s, a), "items": rows})


@api.route("/inbox", query=InboxQuerySchema, tag="timeline",
           summary="My inbox: reviews asked of me, changes requested, approvals, overdue "
                   "actions, review points due within 14 days, with read/unread",
           response=InboxSchema)
def inbox_items(query: dict[str, Any]) -> Any:
    return _inbox(query["unread"])


@api.route("/inbox/read", "POST", body=InboxReadSchema, tag="timeline",
           summary="Mark inbox items read (or unread again)", response=InboxSchema)
def inbox_read(body: dict[str, Any]) -> Any:
    """400 for a key that is not in my inbox."""
    inbox.mark_read(db_session(), actor(), body["keys"], every=body["all"],
                    unread=body["unread"])
    return _inbox()
