"""Context referrals, their screening, the pilot's context thresholds and the measures."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from locmap.services import referrals
from locmap.vocab import (
    CONTEXT_KINDS,
    HARM_CATEGORIES,
    PLACE_KINDS,
    PLAN_CATEGORIES,
    REFERRAL_URGENCIES,
    SCREENING_OUTCOMES,
    THRESHOLD_LEVELS,
)
from locmap.web.api import api
from locmap.web.api.schemas import Date, Figure
from locmap.web.context import actor, db_session, suppression_threshold


class CrossTableSchema(Schema):
    rows = fields.List(fields.String(), metadata={"description": "Source agencies"})
    columns = fields.List(fields.String(), metadata={"description": "Context kinds"})
    cells = fields.List(fields.List(Figure()))
    row_totals = fields.List(Figure(), metadata={"description": "Partner view only"})
    column_totals = fields.List(Figure(), metadata={"description": "Partner view only"})


class DaysSchema(Schema):
    n = Figure(metadata={"description": "How many referrals the median is of"})
    median = Figure(allow_none=True, metadata={
        "description": "Days; for a partner withheld ('[c]') under the threshold"})


class MeasuresSchema(Schema):
    as_of = Date(metadata={"description": "For a partner: the last completed quarter end"})
    partner_version = fields.Boolean()
    referrals = Figure()
    awaiting = Figure(metadata={"description": "Not yet screened"})
    by_agency = fields.Nested(CrossTableSchema)
    outcomes = fields.Dict(keys=fields.String(), values=Figure(),
                           metadata={"description": "Screening outcome (in words) → count"})
    days_to_decision = fields.Nested(DaysSchema)
    days_to_assessment = fields.Nested(DaysSchema)


_P = "/pilots/<int:pilot_id>"
_TEXT = validate.Length(max=10_000)


class ReferralSchema(Schema):
    id = fields.Integer()
    pilot_id = fields.Integer()
    context_kind = fields.String()
    context_kind_label = fields.String()
    context_name = fields.String()
    new_place_kind = fields.String(allow_none=True)
    referrer_agency_id = fields.Integer(allow_none=True)
    decision_reason = fields.String(allow_none=True, metadata={
        "description": "The owning team's (and the referrer's) only"})
    screened_by = fields.String(allow_none=True)
    context = fields.String(metadata={"description": "The place's name or what identifies "
                                      "the context"})
    place_id = fields.Integer(allow_none=True)
    concern = fields.String(allow_none=True, metadata={
        "description": "The owning team's (and the referrer's) only; null for others"})
    harm_types = fields.List(fields.String())
    children = fields.List(fields.String(), metadata={"description": "pseudonyms"})
    children_count = fields.Integer(allow_none=True)
    referrer_name = fields.String()
    referrer_agency = fields.String(allow_none=True)
    urgency = fields.String()
    referred_on = Date()
    status = fields.String()
    threshold_level = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    screened_at = fields.String(allow_none=True)
    action_id = fields.Integer(allow_none=True)
    assessment_id = fields.Integer(allow_none=True)
    days_to_decision = fields.Integer(allow_none=True)
    days_to_assessment = fields.Integer(allow_none=True)
    version = fields.Integer()


class NewReferralSchema(Schema):
    context_kind = fields.String(required=True, validate=validate.OneOf(CONTEXT_KINDS))
    place_id = fields.Integer(strict=True, allow_none=True,
                              metadata={"description": "For an existing place"})
    context_name = fields.String(validate=validate.Length(max=200), metadata={
        "description": "What identifies any other context: a new place's name, the network "
                       "group, the school, the platform and group or channel"})
    new_place_kind = fields.String(allow_none=True, validate=validate.OneOf(PLACE_KINDS))
    geometry = fields.Dict(allow_none=True, metadata={
        "description": "GeoJSON geometry (WGS84) of a new place or a school"})
    concern = fields.String(required=True, validate=_TEXT)
    harm_types = fields.List(fields.String(validate=validate.OneOf(HARM_CATEGORIES)),
                             required=True, validate=validate.Length(min=1))
    children = fields.List(fields.String(validate=validate.Length(max=20)),
                           metadata={"description": "pseudonyms of young people"})
    children_count = fields.Integer(strict=True, allow_none=True,
                                    validate=validate.Range(0, 10_000))
    referrer_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    referrer_agency_id = fields.Integer(strict=True, allow_none=True)
    urgency = fields.String(load_default="routine", validate=validate.OneOf(REFERRAL_URGENCIES))
    referred_on = Date(allow_none=True, metadata={"description": "blank: today"})


class ReferralActionSchema(Schema):
    description = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    category = fields.String(required=True, validate=validate.OneOf(PLAN_CATEGORIES))
    owner_agency_id = fields.Integer(strict=True, allow_none=True)
    lead = fields.String(validate=validate.Length(max=200))
    due_on = Date(allow_none=True)


class ScreenSchema(Schema):
    version = fields.Integer(required=True, strict=True,
                             metadata={"description": "The version you read; stale → 409."})
    threshold_level = fields.String(required=True, validate=validate.OneOf(THRESHOLD_LEVELS))
    outcome = fields.String(required=True, validate=validate.OneOf(SCREENING_OUTCOMES))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    plan_id = fields.Integer(strict=True, metadata={"description": "Level 1: a draft plan"})
    action = fields.Nested(ReferralActionSchema, metadata={"description": "Level 1: the action"})


class ReferralListQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(("awaiting", "screened")))


class ThresholdSchema(Schema):
    level = fields.String()
    label = fields.String()
    criteria = fields.String()
    version = fields.Integer(metadata={"description": "0 while the default wording holds"})


class ThresholdPutSchema(Schema):
    criteria = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    version = fields.Integer(required=True, strict=True,
                             metadata={"description": "The version you read (0 for the "
                                       "default); stale → 409."})


@api.route(f"{_P}/referrals", query=ReferralListQuerySchema,
           summary="The pilot's context referrals", tag="referrals",
           response=ReferralSchema, many=True, permission="referral.view")
def list_referrals(pilot_id: int, query: dict[str, Any]) -> Any:
    return referrals.list_referrals(db_session(), actor(), pilot_id,
                                            status=query.get("status"))


@api.route(f"{_P}/referrals", "POST", body=NewReferralSchema, status=201,
           summary="Refer a context", tag="referrals", response=ReferralSchema,
           permission="referral.make")
def create_referral(pilot_id: int, body: dict[str, Any]) -> Any:
    """Any member refers a context. Children are pseudonyms of the network's young people,
    or a count (not both).
    """
    s, a = db_session(), actor()
    r = referrals.create_referral(s, a, pilot_id, body)
    return referrals.referral_view(s, a, pilot_id, r.id), 201


@api.route(f"{_P}/referrals/<int:referral_id>", summary="One context referral",
           tag="referrals", response=ReferralSchema, permission="referral.view")
def get_referral(pilot_id: int, referral_id: int) -> Any:
    return referrals.referral_view(db_session(), actor(), pilot_id, referral_id)


@api.route(f"{_P}/referrals/<int:referral_id>/screen", "POST", body=ScreenSchema,
           summary="Screen a referral against the context thresholds", tag="referrals",
           response=ReferralSchema, permission="referral.screen")
def screen_referral(pilot_id: int, referral_id: int, body: dict[str, Any]) -> Any:
    """No further action; Level 1 adds the action to a draft plan; Level 2 creates the place
    if it is new and links a draft assessment of it. A referral is screened once (409).
    """
    s, a = db_session(), actor()
    referrals.screen_referral(s, a, pilot_id, referral_id, body)
    return referrals.referral_view(s, a, pilot_id, referral_id)


@api.route(f"{_P}/referral-thresholds", summary="The pilot's context thresholds",
           tag="referrals", response=ThresholdSchema, many=True, permission="referral.view")
def list_thresholds(pilot_id: int) -> Any:
    return referrals.thresholds(db_session(), actor(), pilot_id)


@api.route(f"{_P}/referral-thresholds/<any(universal, targeted, specialist):level>", "PUT",
           body=ThresholdPutSchema, summary="Write one level's criteria", tag="referrals",
           permission="threshold.edit", response=ThresholdSchema, many=True)
def put_threshold(pilot_id: int, level: str, body: dict[str, Any]) -> Any:
    s, a = db_session(), actor()
    referrals.set_threshold(s, a, pilot_id, level, body["criteria"], version=body["version"])
    return referrals.thresholds(s, a, pilot_id)


@api.route(f"{_P}/referral-measures", summary="Referral and screening measures",
           tag="referrals", permission="dashboard.view", response=MeasuresSchema)
def referral_measures(pilot_id: int) -> Any:
    """Exact for the owning team; for partners at the last completed quarter end, rounded
    to 5 with small counts withheld ([c]) jointly across the tables.
    """
    return referrals.referral_measures(
        db_session(), actor(), pilot_id,
        threshold=suppression_threshold())
