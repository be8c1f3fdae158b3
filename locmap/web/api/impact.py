"""Impact of a response at a place, and the displacement watch with its decisions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, jsonify, request
from marshmallow import Schema, fields, validate

from locmap.services import displacement, impact
from locmap.vocab import FLAG_STATUSES
from locmap.web.api import api
from locmap.web.context import actor, db_session
from locmap.web.impact import impact_args, parse_date, watch_args

_P = "/pilots/<int:pilot_id>"


class ImpactQuerySchema(Schema):
    """Documented here; parsed by the same function as the page (repeatable lists)."""

    intervention = fields.Date(metadata={"description": "default: latest plan start, else "
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
           summary="Impact of a response at a place (WDQ and time series)", tag="impact")
def place_impact(pilot_id: int, place_id: int, query: dict[str, Any]) -> Any:
    """Monthly counts in the target, buffer and control; before/after counts and rates;
    the weighted displacement quotient with SM, BDM and its band in words; the target's
    interrupted time series (level and slope change with intervals); limits in words.
    """
    return jsonify(impact.place_impact(db_session(), actor(), pilot_id, place_id,
                                       **impact_args(request.args)))


@api.route(f"{_P}/displacement", query=WatchQuerySchema,
           summary="Displacement watch: possible displacement between nearby places",
           tag="impact")
def displacement_watch(pilot_id: int, query: dict[str, Any]) -> Any:
    """Places under a plan (or with at least 20 incidents when there are no plans) scanned
    for coinciding rises nearby; flagged pairs carry both series, the WDQ and the people
    whose presence moved (pseudonyms).
    """
    return jsonify(displacement.watch(db_session(), actor(), pilot_id,
                                      **watch_args(request.args, current_app.config)))


@api.route(f"{_P}/displacement/decisions", "POST", body=DecisionSchema, status=201,
           summary="Confirm or dismiss a displacement flag, with a reason", tag="impact",
           permission="displacement.decide")
def decide_flag(pilot_id: int, body: dict[str, Any]) -> Any:
    """Coordinators and practitioners only. Confirming links the two places' latest
    assessments on the flag; deciding again replaces the earlier decision.
    """
    month = parse_date(body["month"], "month")
    out = displacement.decide(
        db_session(), actor(), pilot_id, source_place_id=body["source_place_id"],
        dest_kind=body["dest_kind"], dest_id=body["dest_id"], month=month or dt.date(1, 1, 1),
        status=body["status"], reason=body["reason"], distance_m=body["distance_m"])
    return jsonify(out), 201
