"""Schemas of evidence at a place: site visits, safety factors, listening, awareness.

The API validates bodies with these and the place page loads its forms through the same
classes, so a field means the same thing (and is refused for the same reason) on both.
Naive times are taken as UK local time. The services check everything again: these give
typed values and field errors, the services hold the rules.
"""

from __future__ import annotations

import json
from typing import Any

from marshmallow import Schema, ValidationError, fields, missing, validate

from locmap.clock import LOCAL_TZ
from locmap.services.observations import CCTV, GUARDIANSHIP, LEVELS, LIGHT
from locmap.vocab import CONFIDENCE, ENGAGEMENT_GROUPS, QUADRANTS, VOICES
from locmap.web.api.schemas import AwareDateTime, Date, Figure, GeoJSONGeometry

__all__ = [
    "ObservationInSchema", "ObservationPatchSchema", "ObservationSchema", "FactorInSchema",
    "FactorPatchSchema", "FactorSchema", "EngagementInSchema", "EngagementSchema",
    "AwarenessInSchema", "AwarenessSchema", "VersionQuerySchema", "PlaceFilterSchema",
]

_LONDON = LOCAL_TZ


def _time(**kw: Any) -> fields.AwareDateTime:
    return AwareDateTime(default_timezone=_LONDON, **kw)


def _count(**kw: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=0, max=10_000), **kw)


class _ObservationFields(Schema):
    started_at = _time(required=True)
    ended_at = _time(allow_none=True, load_default=None)
    weather = fields.String(validate=validate.Length(max=100), load_default="")
    light = fields.String(
        validate=validate.OneOf(LIGHT), load_default=None, allow_none=True,
        metadata={"description": "Omitted or null: read from the sun at the place when the "
                                 "visit started (daylight, dusk below the horizon, dark "
                                 "below civil twilight)."})
    young_people_10_13 = _count(load_default=0)
    young_people_14_15 = _count(load_default=0)
    young_people_16_17 = _count(load_default=0)
    young_people_18_24 = _count(load_default=0)
    adults_present = _count(load_default=0)
    staff_guardians_present = _count(load_default=0)
    guardianship = fields.String(validate=validate.OneOf(GUARDIANSHIP), load_default="none")
    lighting = fields.String(validate=validate.OneOf(LEVELS), load_default="adequate")
    sight_lines = fields.String(validate=validate.OneOf(LEVELS), load_default="adequate")
    cctv = fields.String(validate=validate.OneOf(CCTV), load_default="unknown")
    signs_of_dealing = fields.Boolean(load_default=False)
    signs_of_drug_use = fields.Boolean(load_default=False)
    felt_safe = fields.String(validate=validate.Length(max=4000), load_default="")
    felt_unsafe = fields.String(validate=validate.Length(max=4000), load_default="")
    notes = fields.String(validate=validate.Length(max=8000), load_default="")


class WalkField(fields.Field):
    """The walk recorded while the visit form was open (with consent): positions as
    ``{"points": [[lon, lat, unix seconds], ...]}``, or that as JSON text (a form's hidden
    field). The service checks the points and works out the time at each place.
    """

    def _deserialize(self, value: Any, attr: Any, data: Any, **kw: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValidationError("The walk is not readable JSON.") from exc
        if not isinstance(value, dict) or not isinstance(value.get("points"), list):
            raise ValidationError('Expected {"points": [[lon, lat, time], ...]}.')
        return value


def _walk() -> WalkField:
    return WalkField(load_default=None, allow_none=True, metadata={
        "description": "The route walked while the visit was open, recorded with the "
                       "practitioner's consent: {\"points\": [[lon, lat, unix seconds], ...]}."})


class ObservationInSchema(_ObservationFields):
    """A new site visit."""

    walk = _walk()


class _Patch(Schema):
    """A partial change: every field optional except ``version`` (optimistic locking)."""

    version = fields.Integer(required=True, strict=True,
                             metadata={"description": "The version you edited; stale → 409."})

    def __init__(self, **kw: Any) -> None:
        super().__init__(partial=tuple(n for n in self._declared_fields if n != "version"),
                         **kw)
        for name, field in self.fields.items():
            if name != "version":
                field.load_default = missing  # absent stays absent, not a default


class ObservationPatchSchema(_Patch, _ObservationFields):
    """Changed fields of a site visit, with the version edited."""

    walk = _walk()


class PlaceTimeSchema(Schema):
    place_id = fields.Integer()
    name = fields.String()
    seconds = fields.Integer()


class ObservationSchema(_ObservationFields):
    id = fields.Integer()
    place_id = fields.Integer()
    observer = fields.String(allow_none=True)
    young_people = fields.Integer()
    concerns = fields.List(fields.String())
    route = fields.Nested(GeoJSONGeometry, allow_none=True, metadata={
        "description": "The walk as a GeoJSON LineString, or null (not recorded)"})
    place_times = fields.List(fields.Nested(PlaceTimeSchema), allow_none=True, metadata={
        "description": "Time at each place on the walk: place_id, name, seconds"})
    version = fields.Integer()


def _ids() -> fields.List:
    return fields.List(fields.Integer(strict=True), load_default=list)


class _FactorFields(Schema):
    quadrant = fields.String(required=True, validate=validate.OneOf(QUADRANTS))
    statement = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    weight = fields.Integer(strict=True, validate=validate.Range(min=0, max=3), load_default=1,
                            metadata={"description": "0 none, 1 low, 2 medium, 3 high"})
    confidence = fields.String(validate=validate.OneOf(CONFIDENCE), load_default="medium")
    voice = fields.String(validate=validate.OneOf(VOICES), load_default="professional")
    incident_ids = _ids()
    observation_ids = _ids()
    engagement_ids = _ids()


class FactorInSchema(_FactorFields):
    """A new safety factor with the ids of its evidence (all of the same pilot)."""


class FactorPatchSchema(_Patch, _FactorFields):
    """Changed fields of a factor (id lists replace the links), with the version edited."""


class _Counts(Schema):
    incidents = Figure(metadata={"description": "Linked incidents; for partners 0, [c] "
                                 "(1 to threshold - 1) or rounded to 5"})
    observations = fields.Integer()
    engagements = fields.Integer()


class FactorSchema(_FactorFields):
    incident_ids = fields.List(fields.Integer(), allow_none=True, metadata={
        "description": "The linked incidents; null for partners (they read the count)"})
    id = fields.Integer()
    place_id = fields.Integer()
    assessment_id = fields.Integer(allow_none=True)
    evidence_counts = fields.Nested(_Counts)
    has_evidence = fields.Boolean()
    version = fields.Integer()
    updated_at = fields.String(allow_none=True, metadata={
        "description": "When it last changed (ISO 8601, to the minute)."})


class _PlaceRef(Schema):
    id = fields.Integer()
    name = fields.String()


class EngagementInSchema(Schema):
    """Listening to a group — describe the group, never name a child."""

    held_on = Date(required=True)
    with_group = fields.String(required=True, validate=validate.OneOf(ENGAGEMENT_GROUPS))
    group_description = fields.String(validate=validate.Length(max=300), load_default="")
    summary = fields.String(required=True, validate=validate.Length(min=1, max=8000))
    place_ids = fields.List(fields.Integer(strict=True), required=True,
                            validate=validate.Length(min=1))


class EngagementSchema(EngagementInSchema):
    id = fields.Integer()
    summary = fields.String(metadata={
        "description": "What was heard: returned to the owning team only."})
    places = fields.List(fields.Nested(_PlaceRef))


class AwarenessInSchema(Schema):
    held_on = Date(required=True)
    audience = fields.String(required=True, validate=validate.Length(min=1, max=200))
    method = fields.String(validate=validate.Length(max=200), load_default="")
    reached = fields.Integer(strict=True, validate=validate.Range(min=0), load_default=0)
    place_ids = fields.List(fields.Integer(strict=True), required=True,
                            validate=validate.Length(min=1))


class AwarenessSchema(AwarenessInSchema):
    id = fields.Integer()
    places = fields.List(fields.Nested(_PlaceRef))


class VersionQuerySchema(Schema):
    version = fields.Integer(load_default=None, allow_none=True,
                             metadata={"description": "Refuse (409) unless this is current."})


class PlaceFilterSchema(Schema):
    place_id = fields.Integer(load_default=None, allow_none=True,
                              metadata={"description": "Only records linked to this place."})

