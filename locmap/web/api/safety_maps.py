"""Safety maps (red / amber / green areas drawn with young people) and the combined
perceived-safety surface.

Individual maps are the owning team's; everyone in the pilot reads the surface, partners
with figures resting on fewer maps than the suppression threshold withheld. Writes carry
the ``version`` edited (409 when stale) and are refused on a closed pilot.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, missing, validate

from locmap.services import safety_maps
from locmap.vocab import SAFETY_RATINGS
from locmap.web.api import api
from locmap.web.api.evidence_schemas import VersionQuerySchema
from locmap.web.api.schemas import Date, Figure, GeoJSONGeometry
from locmap.web.context import actor, db_session, suppression_threshold

__all__ = ["SafetyMapInSchema", "SafetyMapPatchSchema", "SafetyMapSchema", "SurfaceSchema"]

_PILOT = "/pilots/<int:pilot_id>"


class AreaInSchema(Schema):
    rating = fields.String(required=True, validate=validate.OneOf(SAFETY_RATINGS))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                           metadata={"description": "Why, in the respondent's words."})
    geometry = fields.Raw(load_default=None, allow_none=True, metadata={
        "description": "A drawn GeoJSON Polygon or MultiPolygon (WGS84); or give place_id."})
    place_id = fields.Integer(strict=True, load_default=None, allow_none=True, metadata={
        "description": "Rate a whole place instead of drawing: the place's outline (a point "
                       "or line place: 50 m round it)."})


class _MapFields(Schema):
    drawn_on = Date(required=True)
    respondent_kind = fields.String(required=True,
                                    validate=validate.OneOf(safety_maps.RESPONDENT_KINDS))
    respondent = fields.String(required=True, validate=validate.Length(min=1, max=200),
                               metadata={"description": "A group's description (never a "
                                         "name) or, for age_band, one of "
                                         + ", ".join(safety_maps.RESPONDENT_AGE_BANDS)})
    areas = fields.List(fields.Nested(AreaInSchema), required=True,
                        validate=validate.Length(min=1, max=safety_maps.MAX_AREAS))


class SafetyMapInSchema(_MapFields):
    """A new safety map."""


class SafetyMapPatchSchema(_MapFields):
    """Changed parts of a map (``areas`` replaces them all), with the version edited."""

    version = fields.Integer(required=True, strict=True,
                             metadata={"description": "The version you edited; stale → 409."})

    def __init__(self, **kw: Any) -> None:
        super().__init__(partial=("drawn_on", "respondent_kind", "respondent", "areas"), **kw)
        for name, field in self.fields.items():
            if name != "version":
                field.load_default = missing


class AreaSchema(Schema):
    id = fields.Integer()
    rating = fields.String()
    reason = fields.String()
    geometry = fields.Nested(GeoJSONGeometry)


class SafetyMapSchema(Schema):
    id = fields.Integer()
    drawn_on = Date()
    period = fields.String(metadata={"description": "Review period key (its due date) or "
                                                    "a quarter outside the timeline."})
    period_label = fields.String()
    respondent_kind = fields.String()
    respondent = fields.String()
    respondent_label = fields.String()
    areas = fields.List(fields.Nested(AreaSchema))
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    version = fields.Integer()


class PeriodSchema(Schema):
    key = fields.String()
    label = fields.String()
    start = fields.String()
    end = fields.String()
    review = fields.Integer(allow_none=True)
    maps = fields.Integer()


class FigureSchema(Schema):
    maps = Figure(metadata={"description": "Maps behind the figure ('[c]' withheld)."})
    areas = Figure(allow_none=True, metadata={"description": "Rated areas (rounded for "
                                                             "partners)."})
    shares = fields.Dict(keys=fields.String(), values=fields.Float(), allow_none=True)
    score = fields.Float(allow_none=True, metadata={"description": "Green minus red, % of "
                                                                  "rated areas (KPI (d))."})
    mostly = fields.String(allow_none=True, metadata={
        "description": "The rating with the largest share (the map colour); null when "
                       "withheld or nothing was rated."})
    withheld = fields.Boolean()


class SurfacePlaceSchema(FigureSchema):
    place_id = fields.Integer()
    name = fields.String()
    before = fields.Nested(FigureSchema, allow_none=True)
    change = fields.Float(allow_none=True)


class SurfaceCellSchema(FigureSchema):
    row = fields.Integer()
    col = fields.Integer()
    geometry = fields.Nested(GeoJSONGeometry)
    before = fields.Nested(FigureSchema, allow_none=True)
    change = fields.Float(allow_none=True)


class PlacePeriodSchema(FigureSchema):
    period = fields.Nested(PeriodSchema)
    change = fields.Float(allow_none=True, metadata={"description": "Score change from the "
                                                                    "period before."})


class SurfaceSchema(Schema):
    periods = fields.List(fields.Nested(PeriodSchema))
    period = fields.Nested(PeriodSchema, allow_none=True)
    compare_to = fields.Nested(PeriodSchema, allow_none=True)
    threshold = fields.Integer()
    cell_m = fields.Float()
    partner = fields.Boolean()
    places = fields.List(fields.Nested(SurfacePlaceSchema))
    cells = fields.List(fields.Nested(SurfaceCellSchema))


class SurfaceQuerySchema(Schema):
    period = fields.String(load_default=None, validate=validate.Length(max=20),
                           metadata={"description": "Period key; default the latest with maps."})
    compare_to = fields.String(load_default=None, validate=validate.Length(max=20),
                               metadata={"description": "A second period to compare with."})


class MapListQuerySchema(Schema):
    period = fields.String(load_default=None, validate=validate.Length(max=20))


def _threshold() -> int:
    return suppression_threshold()


@api.route(f"{_PILOT}/safety-maps", summary="The pilot's safety maps, newest first",
           tag="safety maps", query=MapListQuerySchema, response=SafetyMapSchema, many=True,
           permission="evidence.records")
def list_safety_maps(pilot_id: int, query: dict[str, Any]) -> Any:
    return safety_maps.list_maps(db_session(), actor(), pilot_id,
                                         period=query["period"])


@api.route(f"{_PILOT}/safety-maps", "POST", summary="Record a safety map",
           tag="safety maps", body=SafetyMapInSchema, response=SafetyMapSchema, status=201,
           permission="evidence.edit")
def create_safety_map(pilot_id: int, body: dict[str, Any]) -> Any:
    """Each area is drawn (``geometry``) or a whole place (``place_id``), rated with a reason."""
    return safety_maps.create_map(db_session(), actor(), pilot_id, body), 201


@api.route(f"{_PILOT}/safety-maps/<int:safety_map_id>", summary="One safety map",
           tag="safety maps", response=SafetyMapSchema, permission="evidence.records")
def get_safety_map(pilot_id: int, safety_map_id: int) -> Any:
    return safety_maps.get_map(db_session(), actor(), pilot_id, safety_map_id)


@api.route(f"{_PILOT}/safety-maps/<int:safety_map_id>", "PATCH", summary="Change a safety map",
           tag="safety maps", body=SafetyMapPatchSchema, response=SafetyMapSchema,
           permission="evidence.edit")
def update_safety_map(pilot_id: int, safety_map_id: int, body: dict[str, Any]) -> Any:
    version = body.pop("version")
    return safety_maps.update_map(db_session(), actor(), pilot_id, safety_map_id,
                                          body, version)


@api.route(f"{_PILOT}/safety-maps/<int:safety_map_id>", "DELETE", summary="Delete a safety map",
           tag="safety maps", query=VersionQuerySchema, status=204, permission="evidence.edit")
def delete_safety_map(pilot_id: int, safety_map_id: int, query: dict[str, Any]) -> Any:
    safety_maps.delete_map(db_session(), actor(), pilot_id, safety_map_id, query["version"])
    return "", 204


@api.route(f"{_PILOT}/safety-maps/periods", summary="Periods safety maps belong to",
           tag="safety maps", response=PeriodSchema, many=True, permission="evidence.view")
def safety_map_periods(pilot_id: int) -> Any:
    return safety_maps.periods(db_session(), actor(), pilot_id)


@api.route(f"{_PILOT}/perceived-safety", summary="Combined perceived-safety surface",
           tag="safety maps", query=SurfaceQuerySchema, response=SurfaceSchema,
           permission="evidence.view")
def perceived_safety(pilot_id: int, query: dict[str, Any]) -> Any:
    """Per grid cell and per place: shares of red / amber / green areas, maps behind each
    figure (withheld for partners below the threshold), optionally against a second period.
    """
    return safety_maps.surface(db_session(), actor(), pilot_id,
                                       period=query["period"],
                                       compare_to=query["compare_to"],
                                       threshold=_threshold())


@api.route(f"{_PILOT}/places/<int:place_id>/perceived-safety",
           summary="Perceived safety at a place, period by period", tag="safety maps",
           response=PlacePeriodSchema, many=True, permission="evidence.view")
def place_perceived_safety(pilot_id: int, place_id: int) -> Any:
    return safety_maps.place_surface(db_session(), actor(), pilot_id, place_id,
                                             threshold=_threshold())
