"""Drawing and editing a pilot's places (the list itself is in :mod:`api.pilots`)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from locmap.services import incidents, places
from locmap.vocab import HARM_CATEGORIES, PLACE_KINDS, TIME_PRECISIONS, label
from locmap.web.api import api
from locmap.web.api.schemas import GeoJSONGeometry, PlaceFeatureSchema
from locmap.web.context import actor, db_session, suppression_threshold


class PlaceBodySchema(Schema):
    name = fields.String(validate=validate.Length(max=200))
    kind = fields.String(validate=validate.OneOf(PLACE_KINDS))
    geometry = fields.Raw(allow_none=True, metadata={
        "description": "GeoJSON Point, LineString, Polygon or MultiPolygon in WGS84; "
                       "null for online contexts."})
    managed_by_id = fields.Integer(allow_none=True)
    notes = fields.String(validate=validate.Length(max=20_000))


class PlaceCreateSchema(PlaceBodySchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(PLACE_KINDS))


class PlaceUpdateSchema(PlaceBodySchema):
    version = fields.Integer(required=True, metadata={
        "description": "The version you edited; a stale one gets 409 with the current record."})


class PlaceDeleteQuerySchema(Schema):
    version = fields.Integer(load_default=None)


class AgencySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()


class OptionSchema(Schema):
    value = fields.String()
    label = fields.String()


class WorkspaceOptionsSchema(Schema):
    place_kinds = fields.List(fields.Nested(OptionSchema))
    harm_categories = fields.List(fields.Nested(OptionSchema))
    time_precisions = fields.List(fields.String())
    agencies = fields.List(fields.Nested(AgencySchema))
    incident_months = fields.List(fields.String(), metadata={
        "description": "YYYY-MM from the first incident's month to the last (time slider)"})


@api.route("/pilots/<int:pilot_id>/places", "POST", summary="Draw a place", tag="places",
           body=PlaceCreateSchema, response=PlaceFeatureSchema, status=201,
           permission="place.edit")
def create_place(pilot_id: int, body: dict[str, Any]) -> Any:
    """Invalid geometry gets 422 with ``details.reason`` and ``details.repaired``; a place
    outside the pilot's locality is saved and the Feature carries ``warnings``.
    """
    return places.create_place(db_session(), actor(), pilot_id, body), 201


@api.route("/pilots/<int:pilot_id>/places/<int:place_id>", summary="One place", tag="places",
           response=PlaceFeatureSchema)
def get_place(pilot_id: int, place_id: int) -> Any:
    return (places.get_place(
        db_session(), actor(), pilot_id, place_id,
        threshold=suppression_threshold()))


@api.route("/pilots/<int:pilot_id>/places/<int:place_id>", "PATCH", summary="Change a place",
           tag="places", body=PlaceUpdateSchema, response=PlaceFeatureSchema,
           permission="place.edit")
def update_place(pilot_id: int, place_id: int, body: dict[str, Any]) -> Any:
    return places.update_place(db_session(), actor(), pilot_id, place_id, body)


@api.route("/pilots/<int:pilot_id>/places/<int:place_id>", "DELETE",
           summary="Remove a place (soft delete, audited)", tag="places",
           query=PlaceDeleteQuerySchema, status=204)
def delete_place(pilot_id: int, place_id: int, query: dict[str, Any]) -> Any:
    places.delete_place(db_session(), actor(), pilot_id, place_id, query["version"])
    return "", 204


class CoordinatesQuerySchema(Schema):
    system = fields.String(required=True, validate=validate.OneOf(("wgs84", "bng")), metadata={
        "description": "wgs84: first is latitude, second longitude (degrees); bng: British "
                       "National Grid (EPSG:27700), first is easting, second northing (m)."})
    first = fields.Float(required=True, allow_nan=False)
    second = fields.Float(required=True, allow_nan=False)


class CoordinatesSchema(Schema):
    geometry = fields.Nested(GeoJSONGeometry, metadata={"description": "GeoJSON Point in WGS84"})
    warnings = fields.List(fields.String())


@api.route("/pilots/<int:pilot_id>/coordinates", summary="Typed coordinates as a point",
           tag="places", query=CoordinatesQuerySchema, response=CoordinatesSchema)
def coordinates(pilot_id: int, query: dict[str, Any]) -> Any:
    """Converts typed coordinates on the server (pyproj) for the new-place form: a place
    made without drawing. Out-of-range or swapped values get 422 saying which.
    """
    return places.point_from_coordinates(db_session(), actor(), pilot_id,
                                                 query["system"], query["first"],
                                                 query["second"])


@api.route("/pilots/<int:pilot_id>/workspace-options",
           summary="Select lists for the map workspace", tag="places",
           response=WorkspaceOptionsSchema)
def workspace_options(pilot_id: int) -> Any:
    agencies = places.list_agencies(db_session(), actor(), pilot_id)
    return ({
        "place_kinds": [{"value": k, "label": label(k)} for k in PLACE_KINDS],
        "harm_categories": [{"value": c, "label": label(c)} for c in HARM_CATEGORIES],
        "time_precisions": list(TIME_PRECISIONS),
        "agencies": agencies,
        "incident_months": incidents.incident_months(db_session(), actor(), pilot_id),
    })
