"""Partner review, the pilot timeline and "waiting for me" as JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import jsonify
from marshmallow import Schema, fields, validate

from locmap.services import review_history, reviews, timeline
from locmap.vocab import REVIEW_DECISIONS
from locmap.web.api import api
from locmap.web.context import actor, db_session

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
    held_on = fields.Date(allow_none=True)
    attendees = fields.String(validate=validate.Length(max=20000))
    minutes = fields.String(validate=validate.Length(max=20000))
    decisions = fields.String(validate=validate.Length(max=20000))


def _history(pilot_id: int, kind: str, subject_id: int) -> Any:
    return jsonify(_json(review_history.history(db_session(), actor(), pilot_id, kind,
                                                subject_id)))


@api.route(f"{_P}/plans/<int:plan_id>/submit", "POST", summary="Submit a draft plan for review",
           tag="reviews")
def submit_plan(pilot_id: int, plan_id: int) -> Any:
    """The plan is frozen (``in_review``); later edits answer 409."""
    reviews.submit_plan(db_session(), actor(), pilot_id, plan_id)
    return _history(pilot_id, "plan", plan_id)


@api.route(f"{_S}/review-requests", "POST", body=ReviewRequestSchema, status=201,
           summary="Send a submitted version to named reviewers or agencies", tag="reviews",
           permission="assessment.edit")
def request_review(pilot_id: int, kinds: str, subject_id: int, body: dict[str, Any]) -> Any:
    reviews.request_review(db_session(), actor(), pilot_id, _KINDS[kinds], subject_id,
                           reviewer_ids=body["reviewer_ids"], agency_ids=body["agency_ids"])
    return _history(pilot_id, _KINDS[kinds], subject_id), 201


@api.route(f"{_S}/reviews", "POST", body=ReviewSchema, status=201,
           summary="Comment, request changes or approve (partner reviewers)", tag="reviews",
           permission="review.give")
def give_review(pilot_id: int, kinds: str, subject_id: int, body: dict[str, Any]) -> Any:
    """403 for a practitioner, for the version's author, or for a decision by a reviewer
    who was not asked; 409 when the version is not under review.
    """
    reviews.give_review(db_session(), actor(), pilot_id, _KINDS[kinds], subject_id, **body)
    return _history(pilot_id, _KINDS[kinds], subject_id), 201


@api.route(f"{_S}/history", summary="Every version with its reviews and audit trail",
           tag="reviews")
def history(pilot_id: int, kinds: str, subject_id: int) -> Any:
    return _history(pilot_id, _KINDS[kinds], subject_id)


@api.route(f"{_P}/review-points", summary="The pilot's review points, flagged overdue",
           tag="timeline")
def review_points(pilot_id: int) -> Any:
    return jsonify(_json(timeline.list_review_points(db_session(), actor(), pilot_id)))


@api.route(f"{_P}/review-points/<int:point_id>", summary="What changed up to a review point",
           tag="timeline")
def review_point(pilot_id: int, point_id: int) -> Any:
    return jsonify(_json(timeline.review_point_detail(db_session(), actor(), pilot_id,
                                                      point_id)))


@api.route(f"{_P}/review-points/<int:point_id>", "PATCH", body=ReviewPointPatchSchema,
           summary="Record a review point (coordinators)", tag="timeline",
           permission="review_point.manage")
def record_review_point(pilot_id: int, point_id: int, body: dict[str, Any]) -> Any:
    s, a = db_session(), actor()
    timeline.record_review_point(s, a, pilot_id, point_id, body)
    return jsonify(_json(timeline.review_point_detail(s, a, pilot_id, point_id)))


@api.route(f"{_P}/overview", summary="Each place's assessment, plan progress and KPI trend",
           tag="timeline")
def overview(pilot_id: int) -> Any:
    return jsonify(_json(timeline.pilot_overview(db_session(), actor(), pilot_id)))


@api.route("/waiting", summary="Reviews to give, my overdue actions, review points due",
           tag="timeline")
def waiting() -> Any:
    return jsonify(_json(timeline.waiting_for(db_session(), actor())))
