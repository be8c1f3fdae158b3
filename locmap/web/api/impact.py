"""Impact of a response at a place, and the displacement watch with its decisions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, request
from marshmallow import Schema, fields, validate

from locmap.services import displacement, impact
from locmap.vocab import FLAG_STATUSES
from locmap.web.api import api
from locmap.web.api.schemas import Date, DateTime, GeoJSONGeometry
from locmap.web.context import actor, db_session
from locmap.web.impact import impact_args, parse_date, watch_args

_P = "/pilots/<int:pilot_id>"


class ImpactQuerySchema(Schema):
    """Documented here; parsed by the same function as the page (repeatable lists)."""

    intervention = Date(metadata={"description": "default: latest plan start, else "
                                         "the pilot's start"})
    buffer_m = fields.Float(validate=validate.Range(0, 5000), metadata={"description":
                            "displacement ring round the place, metres (default 400)"})
    buffer_place = fields.String(metadata={"description": "place ids for the buffer, "
                                           "comma-separated or repeated"})
    control = fields.String(validate=validate.OneOf(("locality", "drawn")))
    control_geometry = fields.String(metadata={"description": "GeoJSON Polygon when "
                                               "control=drawn"})
    place_m = fields.Float(validate=validate.Range(10, 500))


class WatchQuerySchema(Schema):
    distance_m = fields.Float(validate=validate.Range(50, 3000),
                              metadata={"description": "default 600"})
    month = fields.String(metadata={"description": "YYYY-MM for places without a plan"})
    layer = fields.String(metadata={"description": "feature layer ids (with layers_set=1)"})
    layers_set = fields.String()


class ImpactPlaceSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    geometry = fields.Nested(GeoJSONGeometry, allow_none=True)


class InterventionSchema(Schema):
    date = Date()
    month = fields.String(metadata={"description": "YYYY-MM, the first 'after' month"})
    source = fields.String(metadata={"description": "Where the date comes from"})


class BufferPlaceSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    geometry = fields.Nested(GeoJSONGeometry, allow_none=True)


class ImpactSettingsSchema(Schema):
    buffer_m = fields.Float()
    place_m = fields.Float()
    control = fields.String()
    buffer_places = fields.List(fields.Nested(BufferPlaceSchema))
    control_geometry = fields.Nested(GeoJSONGeometry, allow_none=True)


def _monthly() -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Integer(),
                       metadata={"description": "YYYY-MM → incidents"})


class ImpactSeriesSchema(Schema):
    target = _monthly()
    buffer = _monthly()
    control = _monthly()


class AreaCountsSchema(Schema):
    count_before = fields.Integer()
    count_after = fields.Integer()
    months_before = fields.Integer()
    months_after = fields.Integer()
    rate_before = fields.Float(allow_none=True)
    rate_after = fields.Float(allow_none=True)


class WdqSchema(Schema):
    """Weighted displacement quotient and its parts (null where undefined)."""

    target = fields.Nested(AreaCountsSchema)
    buffer = fields.Nested(AreaCountsSchema)
    control = fields.Nested(AreaCountsSchema)
    success_measure = fields.Float(allow_none=True)
    buffer_displacement_measure = fields.Float(allow_none=True)
    wdq = fields.Float(allow_none=True)
    total_net_effect = fields.Float(allow_none=True)
    band = fields.String()
    band_text = fields.String()
    limits = fields.List(fields.String())


class RateRatioSchema(Schema):
    """A multiplicative effect with its interval (null where not finite)."""

    estimate = fields.Float(allow_none=True)
    ci_low = fields.Float(allow_none=True)
    ci_high = fields.Float(allow_none=True)
    p_value = fields.Float(allow_none=True)


class ItsSchema(Schema):
    """The target's interrupted time series (segmented regression)."""

    model = fields.String()
    level_change = fields.Nested(RateRatioSchema)
    slope_change = fields.Nested(RateRatioSchema)
    baseline_trend = fields.Nested(RateRatioSchema)
    dispersion_alpha = fields.Float(allow_none=True)
    dispersion_p_value = fields.Float(allow_none=True)
    seasonality = fields.Boolean()
    months_before = fields.Integer()
    months_after = fields.Integer()
    limits = fields.List(fields.String())
    unstable = fields.Boolean()
    text = fields.String()


class ImpactSchema(Schema):
    place = fields.Nested(ImpactPlaceSchema)
    intervention = fields.Nested(InterventionSchema)
    settings = fields.Nested(ImpactSettingsSchema)
    months = fields.List(fields.String())
    series = fields.Nested(ImpactSeriesSchema)
    wdq = fields.Nested(WdqSchema)
    its = fields.Nested(ItsSchema, allow_none=True)
    limits = fields.List(fields.String())


class WatchLayerSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    features = fields.Integer()
    chosen = fields.Boolean()


class WatchedPlaceSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    incidents = fields.Integer()


class CheckedSchema(Schema):
    name = fields.String()
    key = fields.String(metadata={"description": "place:<id> or feature:<id>"})
    flagged = fields.Boolean()
    distance_m = fields.Integer()
    level_change = fields.Nested(RateRatioSchema)


class FlagSourceSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class FlagDestSchema(Schema):
    key = fields.String()
    kind = fields.String(metadata={"description": "place or feature"})
    id = fields.Integer()
    name = fields.String()
    detail = fields.String(metadata={"description": "The place kind or the feature's layer"})
    distance_m = fields.Integer()


class MovedPersonSchema(Schema):
    pseudonym = fields.String()
    kind = fields.String()
    left_on = Date()
    arrived_on = Date()


class FlagDecisionBriefSchema(Schema):
    id = fields.Integer()
    status = fields.String()
    reason = fields.String()
    decided_at = DateTime()
    decided_by_id = fields.Integer(allow_none=True)
    source_assessment_id = fields.Integer(allow_none=True)
    dest_assessment_id = fields.Integer(allow_none=True)


class FlagSchema(Schema):
    source = fields.Nested(FlagSourceSchema)
    dest = fields.Nested(FlagDestSchema)
    label = fields.String()
    month = fields.String()
    flagged = fields.Boolean()
    wdq = fields.Nested(WdqSchema, allow_none=True)
    source_level_change = fields.Nested(RateRatioSchema)
    dest_level_change = fields.Nested(RateRatioSchema)
    months = fields.List(fields.String())
    source_series = fields.List(fields.Integer())
    dest_series = fields.List(fields.Integer())
    limits = fields.List(fields.String())
    moved_people = fields.List(fields.Nested(MovedPersonSchema), metadata={
        "description": "Pseudonyms, for those who may see the network"})
    decision = fields.Nested(FlagDecisionBriefSchema, allow_none=True)


class WatchBlockSchema(Schema):
    place = fields.Nested(WatchedPlaceSchema)
    month = fields.String()
    checked = fields.List(fields.Nested(CheckedSchema))
    flags = fields.List(fields.Nested(FlagSchema))
    notes = fields.List(fields.String())


class WatchSchema(Schema):
    selection = fields.String()
    rule = fields.String()
    distance_m = fields.Float()
    place_m = fields.Float()
    default_month = fields.String(allow_none=True)
    layers = fields.List(fields.Nested(WatchLayerSchema))
    places = fields.List(fields.Nested(WatchBlockSchema))
    flags = fields.List(fields.Nested(FlagSchema))
    move_window_months = fields.Integer()


class FlagEvidenceSchema(Schema):
    """What the decision was taken on, as stored with it."""

    flagged = fields.Boolean()
    wdq = fields.Nested(WdqSchema, allow_none=True)
    source_level_change = fields.Nested(RateRatioSchema)
    dest_level_change = fields.Nested(RateRatioSchema)
    months = fields.List(fields.String())
    source_series = fields.List(fields.Integer())
    dest_series = fields.List(fields.Integer())
    moved_people = fields.Integer(metadata={"description": "How many people moved"})
    distance_m = fields.Float()
    place_m = fields.Float()


class FlagDecisionSchema(FlagDecisionBriefSchema):
    label = fields.String()
    month = fields.String()
    evidence = fields.Nested(FlagEvidenceSchema, allow_none=True)


class DecisionSchema(Schema):
    source_place_id = fields.Integer(required=True)
    dest_kind = fields.String(required=True, validate=validate.OneOf(("place", "feature")))
    dest_id = fields.Integer(required=True)
    month = fields.String(required=True, metadata={"description": "YYYY-MM"})
    status = fields.String(required=True, validate=validate.OneOf(FLAG_STATUSES))
    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000))
    distance_m = fields.Float(load_default=displacement.DEFAULT_DISTANCE_M,
                              validate=validate.Range(50, 3000))


@api.route(f"{_P}/places/<int:place_id>/impact", query=ImpactQuerySchema,
           summary="Impact of a response at a place (WDQ and time series)", tag="impact",
           response=ImpactSchema)
def place_impact(pilot_id: int, place_id: int, query: dict[str, Any]) -> Any:
    """Monthly counts in the target, buffer and control; before/after counts and rates;
    the weighted displacement quotient with SM, BDM and its band in words; the target's
    interrupted time series (level and slope change with intervals); limits in words.
    """
    return (impact.place_impact(db_session(), actor(), pilot_id, place_id,
                                       **impact_args(request.args)))


@api.route(f"{_P}/displacement", query=WatchQuerySchema,
           summary="Displacement watch: possible displacement between nearby places",
           tag="impact",
           response=WatchSchema)
def displacement_watch(pilot_id: int, query: dict[str, Any]) -> Any:
    """Places under a plan (or with at least 20 incidents when there are no plans) scanned
    for coinciding rises nearby; flagged pairs carry both series, the WDQ and the people
    whose presence moved (pseudonyms).
    """
    return (displacement.watch(db_session(), actor(), pilot_id,
                                      **watch_args(request.args, current_app.config)))


@api.route(f"{_P}/displacement/decisions", "POST", body=DecisionSchema, status=201,
           summary="Confirm or dismiss a displacement flag, with a reason", tag="impact",
           permission="displacement.decide",
           response=FlagDecisionSchema)
def decide_flag(pilot_id: int, body: dict[str, Any]) -> Any:
    """Coordinators and practitioners only. Confirming links the two places' latest
    assessments on the flag; deciding again replaces the earlier decision.
    """
    month = parse_date(body["month"], "month")
    out = displacement.decide(
        db_session(), actor(), pilot_id, source_place_id=body["source_place_id"],
        dest_kind=body["dest_kind"], dest_id=body["dest_id"], month=month or dt.date(1, 1, 1),
        status=body["status"], reason=body["reason"], distance_m=body["distance_m"])
    return out, 201
