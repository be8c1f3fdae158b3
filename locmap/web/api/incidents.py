"""Incidents of harm: the table (paginated, filtered), the map (clustered) and editing."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from locmap.clock import LOCAL_TZ
from locmap.errors import InvalidData
from locmap.services import incidents
from locmap.vocab import HARM_CATEGORIES, TIME_PRECISIONS
from locmap.web.api import api
from locmap.web.api.schemas import AwareDateTime, Date, DateTime, GeoJSONGeometry
from locmap.web.context import actor, db_session, suppression_threshold

_LONDON = LOCAL_TZ


class IncidentFilterSchema(Schema):
    category = fields.String(load_default="", metadata={
        "description": "Comma-separated harm categories."})
    date_from = Date(load_default=None)
    date_to = Date(load_default=None)
    hour_from = fields.Integer(load_default=None, validate=validate.Range(0, 23))
    hour_to = fields.Integer(load_default=None, validate=validate.Range(0, 23))
    place_id = fields.Integer(load_default=None, validate=validate.Range(1, 2**31 - 1))
    severity = fields.String(load_default="", metadata={
        "description": "Comma-separated severities (1–5). The owning team's filter."})
    source_agency_id = fields.Integer(load_default=None, metadata={
        "description": "Incidents reported by this agency. The owning team's filter."})
    data_import_id = fields.Integer(load_default=None, metadata={
        "description": "Incidents that arrived with this import. The owning team's filter."})

    @validates_schema
    def _known_severities(self, data: dict[str, Any], **_: Any) -> None:
        if any(v not in {"1", "2", "3", "4", "5"} for v in _categories(data["severity"])):
            raise ValidationError("Severities are whole numbers from 1 to 5.", "severity")

    @validates_schema
    def _known_categories(self, data: dict[str, Any], **_: Any) -> None:
        unknown = [c for c in _categories(data["category"]) if c not in HARM_CATEGORIES]
        if unknown:
            raise ValidationError(f"Unknown categories: {', '.join(unknown)}.", "category")


class IncidentListQuerySchema(IncidentFilterSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, incidents.MAX_PAGE))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class IncidentMapQuerySchema(IncidentFilterSchema):
    bbox = fields.String(required=True, metadata={"description": "west,south,east,north"})
    zoom = fields.Float(required=True, validate=validate.Range(0, 22))


class _IncidentFields(Schema):
    location: fields.Field = fields.Raw(metadata={"description": "GeoJSON Point in WGS84"})
    place_id = fields.Integer(allow_none=True, metadata={
        "description": "Omit or null to derive it from the location."})
    occurred_at = AwareDateTime(default_timezone=_LONDON, metadata={
        "description": "ISO 8601; without an offset it is UK local time."})
    time_precision = fields.String(validate=validate.OneOf(TIME_PRECISIONS))
    category = fields.String(validate=validate.OneOf(HARM_CATEGORIES))
    severity = fields.Integer(validate=validate.Range(1, 5))
    source_agency_id = fields.Integer(allow_none=True)
    external_ref = fields.String(allow_none=True, validate=validate.Length(max=200))
    description = fields.String(validate=validate.Length(max=20_000), metadata={
        "description": "Restricted free text: returned only to the owning team."})


class IncidentCreateSchema(_IncidentFields):
    location = fields.Raw(required=True)
    occurred_at = AwareDateTime(required=True, default_timezone=_LONDON)
    category = fields.String(required=True, validate=validate.OneOf(HARM_CATEGORIES))


class IncidentUpdateSchema(_IncidentFields):
    version = fields.Integer(required=True)


class IncidentSchema(_IncidentFields):
    location = fields.Nested(GeoJSONGeometry, allow_none=True,
                             metadata={"description": "GeoJSON Point in WGS84"})
    id = fields.Integer()
    data_import_id = fields.Integer(allow_none=True, metadata={
        "description": "The import it arrived with (null when recorded by hand)."})
    place_derived = fields.Boolean()
    category_label = fields.String()
    version = fields.Integer()


class IncidentPageSchema(Schema):
    items = fields.List(fields.Nested(IncidentSchema))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class IncidentPointSchema(Schema):
    """One map feature's properties: a cluster has count and max_severity; a single
    incident (owning team, zoomed in) also its id, category, time and place.
    """

    count = fields.Integer()
    max_severity = fields.Integer(allow_none=True)
    id = fields.Integer()
    category = fields.String()
    category_label = fields.String()
    severity = fields.Integer(allow_none=True)
    occurred_at = DateTime()
    time_precision = fields.String()
    place_id = fields.Integer(allow_none=True)


class IncidentFeatureSchema(Schema):
    type = fields.Constant("Feature")
    id = fields.Integer(metadata={"description": "Single incidents only"})
    geometry = fields.Nested(GeoJSONGeometry)
    properties = fields.Nested(IncidentPointSchema)


class IncidentMapSchema(Schema):
    type = fields.Constant("FeatureCollection")
    mode = fields.String(validate=validate.OneOf(("clusters", "points")))
    total = fields.Integer()
    features = fields.List(fields.Nested(IncidentFeatureSchema))
    suppressed = fields.Boolean(metadata={"description": "Partner view: whole cells, "
                                          "counts withheld below the threshold, rounded to 5"})
    threshold = fields.Integer()
    withheld = fields.Boolean(metadata={"description": "Some cells in view were withheld"})


def _categories(value: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in value.split(",") if c.strip())


def _filter(query: dict[str, Any]) -> incidents.IncidentFilter:
    if query["date_from"] and query["date_to"] and query["date_from"] > query["date_to"]:
        raise InvalidData("date_from is after date_to.", details={"field": "date_from"})
    return incidents.IncidentFilter(
        categories=_categories(query["category"]), date_from=query["date_from"],
        date_to=query["date_to"], hour_from=query["hour_from"], hour_to=query["hour_to"],
        place_id=query["place_id"],
        severities=tuple(int(v) for v in _categories(query["severity"])),
        source_agency_id=query["source_agency_id"], data_import_id=query["data_import_id"],
    )


@api.route("/pilots/<int:pilot_id>/incidents", summary="Incidents, newest first", tag="incidents",
           query=IncidentListQuerySchema, response=IncidentPageSchema)
def list_incidents(pilot_id: int, query: dict[str, Any]) -> Any:
    """Filtered and paginated with ``limit``/``offset``; hour filters keep only incidents
    whose time is exact. The owning team only: a partner reviewer gets 403 (partners see
    incidents as suppressed aggregates: the map, the dashboard, review points).
    """
    return (incidents.list_incidents(db_session(), actor(), pilot_id, _filter(query),
                                            limit=query["limit"], offset=query["offset"]))


@api.route("/pilots/<int:pilot_id>/incidents/map", summary="Incidents in view, clustered",
           tag="incidents", query=IncidentMapQuerySchema, response=IncidentMapSchema)
def incident_map(pilot_id: int, query: dict[str, Any]) -> Any:
    """Grid clusters aggregated in SQL; single points at zoom 17+ or when few are in view.
    A partner reviewer always gets whole cells over whole quarters, withheld below the
    suppression threshold and rounded to base 5 (``suppressed: true``).
    """
    try:
        w, s, e, n = (float(v) for v in query["bbox"].split(","))
    except ValueError as exc:
        raise InvalidData("bbox is four numbers: west,south,east,north.",
                          details={"field": "bbox"}) from exc
    return (incidents.incident_map(
        db_session(), actor(), pilot_id, (w, s, e, n), query["zoom"], _filter(query),
        threshold=suppression_threshold()))


@api.route("/pilots/<int:pilot_id>/incidents", "POST", summary="Record an incident",
           tag="incidents", body=IncidentCreateSchema, response=IncidentSchema, status=201,
           permission="evidence.edit", idempotent=True)
def create_incident(pilot_id: int, body: dict[str, Any]) -> Any:
    return incidents.create_incident(db_session(), actor(), pilot_id, body), 201


@api.route("/pilots/<int:pilot_id>/incidents/<int:incident_id>", summary="One incident",
           tag="incidents", response=IncidentSchema)
def get_incident(pilot_id: int, incident_id: int) -> Any:
    """The owning team only: a partner reviewer gets 403."""
    return incidents.get_incident(db_session(), actor(), pilot_id, incident_id)


@api.route("/pilots/<int:pilot_id>/incidents/<int:incident_id>", "PATCH",
           summary="Change an incident", tag="incidents", body=IncidentUpdateSchema,
           response=IncidentSchema,
           permission="evidence.edit")
def update_incident(pilot_id: int, incident_id: int, body: dict[str, Any]) -> Any:
    return incidents.update_incident(db_session(), actor(), pilot_id, incident_id, body)


@api.route("/pilots/<int:pilot_id>/incidents/<int:incident_id>", "DELETE",
           summary="Remove an incident (audited)", tag="incidents", status=204)
def delete_incident(pilot_id: int, incident_id: int) -> Any:
    incidents.delete_incident(db_session(), actor(), pilot_id, incident_id)
    return "", 204


