"""Marshmallow schemas: what the API accepts and returns (and so what OpenAPI says)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from locmap.vocab import PERSON_KINDS, PILOT_ROLES, PLACE_KINDS

__all__ = [
    "PilotSchema", "GeoJSONGeometry", "PlaceFeatureSchema", "PlaceCollectionSchema",
    "PersonSchema", "IdentitySchema", "PersonQuerySchema", "ErrorSchema",
]


class ErrorSchema(Schema):
    error = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict()


class GeoJSONGeometry(Schema):
    type = fields.String(required=True)
    coordinates = fields.Raw(required=True)


class PilotSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    start_date = fields.Date()
    end_date = fields.Date()
    status = fields.String()
    roles = fields.List(fields.String(validate=validate.OneOf(PILOT_ROLES)))
    locality = fields.Nested(GeoJSONGeometry, allow_none=True)
    places = fields.Integer()
    incidents = fields.Integer(allow_none=True, metadata={
        "description": "For a partner: null below the suppression threshold, else rounded "
                       "to base 5 (see incidents_label)"})
    incidents_label = fields.String(allow_none=True,
                                    metadata={"description": "Partner view only"})
    people = fields.Integer()
    next_review = fields.Date(allow_none=True)


class PlacePropertiesSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String(validate=validate.OneOf(PLACE_KINDS))
    kind_label = fields.String()
    managed_by = fields.String(allow_none=True)
    managed_by_id = fields.Integer(allow_none=True)
    osm_id = fields.Integer(allow_none=True)
    notes = fields.String()
    incidents = fields.Integer(allow_none=True, metadata={
        "description": "For a partner: null below the suppression threshold, else rounded "
                       "to base 5 (see incidents_label)"})
    incidents_label = fields.String(metadata={"description": "Partner view only"})
    version = fields.Integer()


class PlaceFeatureSchema(Schema):
    type = fields.Constant("Feature")
    id = fields.Integer()
    geometry = fields.Nested(GeoJSONGeometry, allow_none=True)
    properties = fields.Nested(PlacePropertiesSchema)
    warnings = fields.List(fields.String(), metadata={
        "description": "On one place: what to check (e.g. it lies outside the locality)."})


class PlaceCollectionSchema(Schema):
    type = fields.Constant("FeatureCollection")
    features = fields.List(fields.Nested(PlaceFeatureSchema))


class IdentitySchema(Schema):
    name = fields.String()
    date_of_birth = fields.Date(allow_none=True)
    case_reference = fields.String()


class PersonSchema(Schema):
    id = fields.Integer()
    pseudonym = fields.String()
    kind = fields.String(validate=validate.OneOf(PERSON_KINDS))
    age_band = fields.String()
    version = fields.Integer()
    identity_visible = fields.Boolean()
    identity = fields.Nested(IdentitySchema, allow_none=True)
    exploitation_category = fields.String(
        allow_none=True, metadata={"description": "Owning team only (never to partners)."})
    case_status = fields.String(allow_none=True, metadata={"description": "Owning team only."})
    last_risk_assessment_on = fields.Date(allow_none=True,
                                          metadata={"description": "Owning team only."})
    relationships = fields.List(fields.Dict(), metadata={
        "description": "On create: the relationships recorded with the person."})
    presences = fields.List(fields.Dict(), metadata={
        "description": "On create: the places recorded with the person."})


class PersonQuerySchema(Schema):
    identity = fields.Boolean(load_default=False,
                              metadata={"description": "Include the identity (audited)."})
