"""Evidence at a place: site visits, safety factors, listening and awareness raising.

Every route names its pilot; the services check the role (partner reviewers read, 403 on
writes; non-members get 404), validate, write and audit. Changes carry the ``version``
the client edited and are refused with 409 when someone else saved first.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from locmap.services import engagement, factors, observations
from locmap.web.api import api
from locmap.web.api.evidence_schemas import (
    AwarenessInSchema,
    AwarenessSchema,
    EngagementInSchema,
    EngagementSchema,
    FactorInSchema,
    FactorPatchSchema,
    FactorSchema,
    ObservationInSchema,
    ObservationPatchSchema,
    ObservationSchema,
    PlaceFilterSchema,
    VersionQuerySchema,
)
from locmap.web.context import actor, db_session, suppression_threshold

_PLACE = "/pilots/<int:pilot_id>/places/<int:place_id>"
_PILOT = "/pilots/<int:pilot_id>"


# --- site visits -----------------------------------------------------------------------

@api.route(f"{_PLACE}/observations", summary="Site visits at a place, newest first",
           tag="evidence", response=ObservationSchema, many=True)
def list_observations(pilot_id: int, place_id: int) -> Any:
    return observations.list_observations(db_session(), actor(), pilot_id, place_id)


@api.route(f"{_PLACE}/observations", "POST", summary="Record a site visit at a place",
           tag="evidence", body=ObservationInSchema, response=ObservationSchema, status=201,
           permission="evidence.edit", idempotent=True)
def create_observation(pilot_id: int, place_id: int, body: dict[str, Any]) -> Any:
    out = observations.create_observation(db_session(), actor(), pilot_id, place_id, body)
    return out, 201


@api.route(f"{_PILOT}/observations/<int:observation_id>", summary="One site visit",
           tag="evidence", response=ObservationSchema)
def get_observation(pilot_id: int, observation_id: int) -> Any:
    return (observations.get_observation(db_session(), actor(), pilot_id,
                                                observation_id))


@api.route(f"{_PILOT}/observations/<int:observation_id>", "PATCH", summary="Change a site visit",
           tag="evidence", body=ObservationPatchSchema, response=ObservationSchema,
           permission="evidence.edit", idempotent=True)
def update_observation(pilot_id: int, observation_id: int, body: dict[str, Any]) -> Any:
    """Send only the fields that change and the ``version`` you edited (409 if stale)."""
    version = body.pop("version")
    return (observations.update_observation(db_session(), actor(), pilot_id,
                                                   observation_id, body, version))


@api.route(f"{_PILOT}/observations/<int:observation_id>", "DELETE", summary="Delete a site visit",
           tag="evidence", query=VersionQuerySchema, status=204)
def delete_observation(pilot_id: int, observation_id: int, query: dict[str, Any]) -> Any:
    observations.delete_observation(db_session(), actor(), pilot_id, observation_id,
                                    query["version"])
    return "", 204


class NearQuerySchema(Schema):
    lon = fields.Float(required=True, validate=validate.Range(-180, 180))
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))


class NearestSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    distance_m = fields.Integer()


class NearPlaceSchema(Schema):
    place = fields.Nested(NearestSchema, allow_none=True, metadata={
        "description": "The nearest place with its distance, or null"})


@api.route(f"{_PILOT}/places/nearest", summary="The place where the practitioner stands",
           tag="evidence", query=NearQuerySchema, response=NearPlaceSchema,
           permission="place.view")
def nearest_place(pilot_id: int, query: dict[str, Any]) -> Any:
    """The pilot's nearest place within 100 m of the phone's position (the visit form
    pre-selects it), or ``null``.
    """
    return dict(place=observations.nearest_place(db_session(), actor(), pilot_id,
                                                    query["lon"], query["lat"]))


# --- safety factors --------------------------------------------------------------------

@api.route(f"{_PLACE}/factors", summary="The place's safety factors (working set)",
           tag="evidence", response=FactorSchema, many=True)
def list_factors(pilot_id: int, place_id: int) -> Any:
    return factors.list_factors(db_session(), actor(), pilot_id, place_id,
                                threshold=suppression_threshold())


@api.route(f"{_PLACE}/factors", "POST", summary="Add a safety factor with its evidence",
           tag="evidence", body=FactorInSchema, response=FactorSchema, status=201,
           permission="evidence.edit")
def create_factor(pilot_id: int, place_id: int, body: dict[str, Any]) -> Any:
    """Evidence ids (incidents, site visits, engagement records) must be of this pilot (422)."""
    return factors.create_factor(db_session(), actor(), pilot_id, place_id, body), 201


@api.route(f"{_PILOT}/factors/<int:factor_id>", summary="One safety factor", tag="evidence",
           response=FactorSchema)
def get_factor(pilot_id: int, factor_id: int) -> Any:
    return factors.get_factor(db_session(), actor(), pilot_id, factor_id,
                              threshold=suppression_threshold())


@api.route(f"{_PILOT}/factors/<int:factor_id>", "PATCH", summary="Change a safety factor",
           tag="evidence", body=FactorPatchSchema, response=FactorSchema,
           permission="evidence.edit")
def update_factor(pilot_id: int, factor_id: int, body: dict[str, Any]) -> Any:
    """Send the changed fields and the ``version`` you edited (409 if stale); an id list
    replaces that kind of evidence link.
    """
    version = body.pop("version")
    return (factors.update_factor(db_session(), actor(), pilot_id, factor_id, body,
                                         version))


@api.route(f"{_PILOT}/factors/<int:factor_id>", "DELETE", summary="Delete a safety factor",
           tag="evidence", query=VersionQuerySchema, status=204)
def delete_factor(pilot_id: int, factor_id: int, query: dict[str, Any]) -> Any:
    factors.delete_factor(db_session(), actor(), pilot_id, factor_id, query["version"])
    return "", 204


# --- listening and awareness raising ---------------------------------------------------

@api.route(f"{_PILOT}/engagement", summary="Engagement records (listening to groups)",
           tag="evidence", query=PlaceFilterSchema, response=EngagementSchema, many=True)
def list_engagement(pilot_id: int, query: dict[str, Any]) -> Any:
    return (engagement.list_engagement(db_session(), actor(), pilot_id,
                                              query["place_id"]))


@api.route(f"{_PILOT}/engagement", "POST", summary="Record listening to a group",
           tag="evidence", body=EngagementInSchema, response=EngagementSchema, status=201,
           permission="evidence.edit")
def create_engagement(pilot_id: int, body: dict[str, Any]) -> Any:
    """Describe the group (e.g. "Year 9 girls' group"); never name a child."""
    return engagement.create_engagement(db_session(), actor(), pilot_id, body), 201


@api.route(f"{_PILOT}/awareness", summary="Awareness-raising activities and their reach",
           tag="evidence", query=PlaceFilterSchema, response=AwarenessSchema, many=True)
def list_awareness(pilot_id: int, query: dict[str, Any]) -> Any:
    return (engagement.list_awareness(db_session(), actor(), pilot_id,
                                             query["place_id"]))


@api.route(f"{_PILOT}/awareness", "POST", summary="Record an awareness-raising activity",
           tag="evidence", body=AwarenessInSchema, response=AwarenessSchema, status=201,
           permission="evidence.edit")
def create_awareness(pilot_id: int, body: dict[str, Any]) -> Any:
    return engagement.create_awareness(db_session(), actor(), pilot_id, body), 201
