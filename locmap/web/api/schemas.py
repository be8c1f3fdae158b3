"""Marshmallow schemas: what the API accepts and returns (and so what OpenAPI says)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import Schema, fields, validate

from locmap.vocab import PERSON_KINDS, PILOT_ROLES, PLACE_KINDS

__all__ = [
    "Date", "DateTime", "AwareDateTime",
    "PilotSchema", "GeoJSONGeometry", "PlaceFeatureSchema", "PlaceCollectionSchema",
    "PersonSchema", "IdentitySchema", "PersonQuerySchema", "ErrorSchema", "Figure", "Scalar",
    "dataclass_schema",
    "figure_property",
]


# Services answer dates and times as date objects or as ISO text already; the answer is
# dumped through these, which take either (loading is marshmallow's, unchanged).
class Date(fields.Date):
    def _serialize(self, value: Any, attr: str | None, obj: Any, **kw: Any) -> Any:
        return value if isinstance(value, str) else super()._serialize(value, attr, obj, **kw)


class DateTime(fields.DateTime):
    def _serialize(self, value: Any, attr: str | None, obj: Any, **kw: Any) -> Any:
        return value if isinstance(value, str) else super()._serialize(value, attr, obj, **kw)


class AwareDateTime(fields.AwareDateTime):
    def _serialize(self, value: Any, attr: str | None, obj: Any, **kw: Any) -> Any:
        return value if isinstance(value, str) else super()._serialize(value, attr, obj, **kw)


class Figure(fields.Field):
    """A figure as partners may see it: a number, or the text of a withheld cell ("[c]",
    "<5"); the owning team gets the number. Typed, unlike ``fields.Raw``: anything else (a
    dict, a list) is a programming error.
    """

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("metadata", {})
        kw["metadata"] = {"description": "A number, or the mark of a withheld figure",
                          **kw["metadata"]}
        super().__init__(**kw)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kw: Any) -> Any:
        if value is None or (isinstance(value, int | float | str)
                             and not isinstance(value, bool)):
            return value
        raise TypeError(f"{attr}: a figure is a number or a mark, not {type(value).__name__}")


class Scalar(fields.Field):
    """One value of a record's field as it was or is now (a diff's before and after): text,
    a number, a yes/no or a date (as ISO text), never an object or a list.
    """

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kw: Any) -> Any:
        if isinstance(value, dt.date | dt.datetime):
            return value.isoformat()
        if value is None or isinstance(value, str | int | float | bool):
            return value
        raise TypeError(f"{attr}: a scalar, not {type(value).__name__}")


def figure_property(self: Any, field: Any, **kw: Any) -> dict[str, Any]:
    """OpenAPI for :class:`Figure` (a number or a string) and :class:`Scalar`."""
    if isinstance(field, Figure):
        return {"oneOf": [{"type": "number"}, {"type": "string"}]}
    if isinstance(field, Scalar):
        return {"oneOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}]}
    return {}


class ContextRecordSchema(Schema):
    """The pilot's record a weighting context refers to (a place of any kind)."""

    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    kind_label = fields.String()
    assessment_id = fields.Integer(allow_none=True, metadata={
        "description": "Its latest assessment version, if any"})
    assessment_version_no = fields.Integer(allow_none=True)


class ContextSchema(Schema):
    name = fields.String()
    share = fields.Integer(metadata={"description": "Of 100"})
    reason = fields.String()
    kind = fields.String()
    place_id = fields.Integer(allow_none=True, metadata={
        "description": "The pilot's record of this context (a place, peer group, school or "
                       "online space), or null"})
    record = fields.Nested(ContextRecordSchema, allow_none=True, metadata={
        "description": "That record as it stands (null when unlinked or deleted since)"})


class ContextLinkSchema(Schema):
    a = fields.String()
    b = fields.String()
    note = fields.String()


class ContextWeightingSchema(Schema):
    contexts = fields.List(fields.Nested(ContextSchema))
    links = fields.List(fields.Nested(ContextLinkSchema))
    total = fields.Integer()


class WeightiestSchema(Schema):
    names = fields.List(fields.String(), metadata={"description": "Several: a tie"})
    share = fields.Integer()
    is_tie = fields.Boolean()


class ShareChangeSchema(Schema):
    name = fields.String()
    before = fields.Integer()
    after = fields.Integer()
    delta = fields.Integer()


class WeightingDiffSchema(Schema):
    added = fields.List(fields.Nested(ContextSchema))
    removed = fields.List(fields.Nested(ContextSchema))
    changed = fields.List(fields.Nested(ShareChangeSchema))
    reasons_changed = fields.List(fields.String())
    links_added = fields.List(fields.Nested(ContextLinkSchema))
    links_removed = fields.List(fields.Nested(ContextLinkSchema))
    records_changed = fields.List(fields.String(), metadata={
        "description": "Contexts (by name) whose linked record changed"})


class EvidenceCountsSchema(Schema):
    incidents = Figure(metadata={"description": "Incidents linked (a partner's rounded to 5, "
                                                "below the threshold as \"[c]\")"})
    observations = fields.Integer()
    engagements = fields.Integer()


class VersionFactorSchema(Schema):
    """A safety factor of an assessment version (its own copy), with its evidence."""

    id = fields.Integer()
    quadrant = fields.String()
    statement = fields.String()
    weight = fields.Integer()
    confidence = fields.String(allow_none=True)
    voice = fields.String(allow_none=True)
    evidence = fields.Nested(EvidenceCountsSchema)
    incident_ids = fields.List(fields.Integer(), allow_none=True, metadata={
        "description": "The incidents linked (owning team only; null for partners)"})


def dataclass_schema(cls: type, name: str | None = None, *, prefix: str = "",
                     extra: dict[str, fields.Field] | None = None) -> type[Schema]:
    """A response schema typed from a result dataclass's annotations, as its
    ``to_jsonable`` form is (tuples and sets as lists, dates as ISO text, mapping keys as
    text, floats that are not finite as null): one rule, so the schema cannot drift from
    the dataclass. Nested dataclasses get their own schema (named after their class, after
    ``prefix``); ``extra`` adds fields the service puts beside the dataclass's own.
    """
    import dataclasses
    import types
    import typing

    made: dict[type, type[Schema]] = {}

    def field_for(tp: Any, optional: bool = False) -> fields.Field:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin in (typing.Union, types.UnionType):
            rest = [a for a in args if a is not type(None)]
            none = len(rest) < len(args)
            if len(rest) == 1:
                return field_for(rest[0], optional or none)
            if all(a in (int, str, float, bool) for a in rest):
                return Scalar(allow_none=optional or none)
            raise TypeError(f"{cls.__name__}: no field for the union {tp!r}")
        kw: dict[str, Any] = {"allow_none": optional}
        if origin in (tuple, list, set, frozenset) or tp in (tuple, list, set, frozenset):
            inner = args[0] if args else Any
            return fields.List(field_for(inner), **kw)
        if origin in (dict, typing.Mapping) or (origin is not None and
                                                getattr(origin, "__name__", "") == "Mapping"):
            return fields.Dict(keys=fields.String(), values=field_for(args[1]), **kw)
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return fields.Nested(schema_of(tp), **kw)
        if tp is bool:
            return fields.Boolean(**kw)
        if tp is int:
            return fields.Integer(**kw)
        if tp is float:
            return fields.Float(allow_none=True)  # not finite → null
        if tp is str:
            return fields.String(**kw)
        if tp is dt.datetime:
            return DateTime(**kw)
        if tp is dt.date:
            return Date(**kw)
        raise TypeError(f"{cls.__name__}: no field for {tp!r}")

    def schema_of(dc: type, as_name: str | None = None,
                  more: dict[str, fields.Field] | None = None) -> type[Schema]:
        if dc not in made:
            hints = typing.get_type_hints(dc)
            made[dc] = Schema.from_dict(
                {**{f.name: field_for(hints[f.name]) for f in dataclasses.fields(dc)},
                 **(more or {})},
                name=as_name or f"{prefix}{dc.__name__}Schema")
        return made[dc]

    return schema_of(cls, name, extra)


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
    start_date = Date()
    end_date = Date()
    status = fields.String()
    roles = fields.List(fields.String(validate=validate.OneOf(PILOT_ROLES)))
    locality = fields.Nested(GeoJSONGeometry, allow_none=True)
    places = fields.Integer()
    incidents = fields.Integer(allow_none=True, metadata={
        "description": "For a partner: null below the suppression threshold, else rounded "
                       "to base 5 (see incidents_label)"})
    incidents_label = fields.String(allow_none=True,
                                    metadata={"description": "Partner view only"})
    incidents_as_of = Date(allow_none=True, metadata={
        "description": "Partner view only: the last completed quarter end the count runs to"})
    people = fields.Integer()
    next_review = Date(allow_none=True)


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
        "description": "For a partner: incidents up to the last completed quarter end, null "
                       "below the suppression threshold, else rounded to base 5 (see "
                       "incidents_label)"})
    incidents_label = fields.String(metadata={"description": "Partner view only"})
    assessment_status = fields.String(allow_none=True, metadata={
        "description": "Status of the place's latest assessment version; null when it has "
                       "none"})
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
    date_of_birth = Date(allow_none=True)
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
    last_risk_assessment_on = Date(allow_none=True,
                                          metadata={"description": "Owning team only."})


class PersonQuerySchema(Schema):
    identity = fields.Boolean(load_default=False,
                              metadata={"description": "Include the identity (audited)."})

