"""Assessments of a place: versions, drafts, submission, comparison and live indicators."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from locmap.services import assessment_snapshot, assessments, reviews
from locmap.web.api import api
from locmap.web.api.safety_maps import FigureSchema
from locmap.web.api.schemas import (
    ContextWeightingSchema,
    Date,
    DateTime,
    Figure,
    GeoJSONGeometry,
    Scalar,
    VersionFactorSchema,
    WeightiestSchema,
    WeightingDiffSchema,
    dataclass_schema,
)
from locmap.web.context import actor, db_session, suppression_threshold

_P = "/pilots/<int:pilot_id>"


class AssessmentHeaderSchema(Schema):
    id = fields.Integer()
    place_id = fields.Integer()
    version_no = fields.Integer()
    parent_id = fields.Integer(allow_none=True)
    status = fields.String()
    version = fields.Integer()
    submitted_at = fields.String(allow_none=True)


class AssessmentPlaceSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    geometry = fields.Nested(GeoJSONGeometry, allow_none=True)


class AssessmentSchema(AssessmentHeaderSchema):
    pilot_id = fields.Integer()
    label = fields.String(metadata={"description": "Its review status in words (submit only)"})
    place = fields.Nested(AssessmentPlaceSchema)
    young_people = fields.String(allow_none=True)
    guardianship = fields.String(allow_none=True)
    environment = fields.String(allow_none=True)
    factors = fields.List(fields.Nested(VersionFactorSchema), metadata={
        "description": "The version's safety factors with their evidence counts."})
    quadrants = fields.Dict(keys=fields.String(),
                            values=fields.List(fields.Nested(VersionFactorSchema)),
                            metadata={"description": "The factors by quadrant."})
    unevidenced = fields.List(fields.Integer(), metadata={
        "description": "Ids of factors without evidence."})
    context_weighting = fields.Nested(ContextWeightingSchema)
    weightiest = fields.Nested(WeightiestSchema)
    summary = fields.String(allow_none=True)
    indicators = fields.Nested(lambda: IndicatorsSchema(), allow_none=True, metadata={
        "description": "The indicators snapshot stored on submission (null for a draft)."})
    versions = fields.List(fields.Nested(AssessmentHeaderSchema))


class FactorBriefSchema(Schema):
    quadrant = fields.String()
    statement = fields.String()
    weight = fields.Integer()
    confidence = fields.String(allow_none=True)
    voice = fields.String(allow_none=True)


class FactorChangeSchema(Schema):
    quadrant = fields.String()
    statement = fields.String()
    weight_before = fields.Integer()
    weight_after = fields.Integer()
    confidence_before = fields.String(allow_none=True)
    confidence_after = fields.String(allow_none=True)


class FigureChangeSchema(Schema):
    figure = fields.String()
    before = Scalar(allow_none=True)
    after = Scalar(allow_none=True)


class ComparisonSchema(Schema):
    a = fields.Nested(AssessmentHeaderSchema)
    b = fields.Nested(AssessmentHeaderSchema)
    factors_added = fields.List(fields.Nested(FactorBriefSchema))
    factors_removed = fields.List(fields.Nested(FactorBriefSchema))
    factors_changed = fields.List(fields.Nested(FactorChangeSchema))
    sides_changed = fields.List(fields.String())
    context_weighting = fields.Nested(WeightingDiffSchema)
    indicators = fields.List(fields.Nested(FigureChangeSchema))


class IndicatorSettingsSchema(Schema):
    ring_m = fields.Float()
    cell_m = fields.Float()
    place_m = fields.Float()
    crs = fields.String()
    computed_at = DateTime()


class IndicatorPlaceSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    geometry = fields.Nested(GeoJSONGeometry, allow_none=True)


class IncidentCountsSchema(Schema):
    """Incident counts (a partner's rounded to 5, small ones withheld as "[c]")."""

    place = Figure()
    ring = Figure()
    locality = Figure()
    place_ids = fields.List(fields.Integer(), allow_none=True, metadata={
        "description": "The incidents at the place (owning team only; null for partners)"})


class AreasSchema(Schema):
    place_km2 = fields.Float()
    ring_km2 = fields.Float()
    locality_km2 = fields.Float()


class CellSchema(Schema):
    row = fields.Integer()
    col = fields.Integer()
    geometry = fields.Nested(GeoJSONGeometry)


class PlaceCellSchema(Schema):
    row = fields.Integer()
    col = fields.Integer()
    own = fields.Boolean()
    count = Figure(metadata={"description": "Incidents in the cell (rounded for partners)"})
    z = fields.Float(allow_none=True)
    q = fields.Float(allow_none=True)
    classification = fields.String()


class HotspotsSchema(Schema):
    statistic = fields.String()
    cell_m = fields.Float()
    weights = fields.String()
    permutations = fields.Integer()
    fdr = fields.String()
    alpha = fields.Float()
    n_cells = fields.Integer()
    n_hot = fields.Integer()
    n_cold = fields.Integer()
    hot_cells = fields.List(fields.Nested(CellSchema))
    place_cells = fields.List(fields.Nested(PlaceCellSchema))
    place_is_hot = fields.Boolean()
    place_near_hot = fields.Boolean()


def _ratings() -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Integer(),
                       metadata={"description": "red, amber, green → areas"})


class SafetyPeriodSchema(Schema):
    """A period's perceived safety (services.assessment_snapshot.safety_maps_view): the
    figures at the place and over the pilot for every reader; the raw tallies only for a
    reader who may see individual safety maps.
    """

    period = fields.String()
    label = fields.String()
    place = fields.Nested(FigureSchema)
    pilot = fields.Nested(FigureSchema)
    maps = fields.Integer()
    place_maps = fields.Integer(allow_none=True)
    at_place = _ratings()
    all = _ratings()


class SafetyAreaSchema(Schema):
    safety_map_id = fields.Integer()
    period = fields.String()
    rating = fields.String()
    at_place = fields.Boolean()
    geometry = fields.Nested(GeoJSONGeometry, allow_none=True)


class PlaceSafetyMapsSchema(Schema):
    periods = fields.List(fields.Nested(SafetyPeriodSchema))
    areas = fields.List(fields.Nested(SafetyAreaSchema), allow_none=True, metadata={
        "description": "The rated areas, for the owning team only (null otherwise)"})
    individual_withheld = fields.Boolean()
    threshold = fields.Integer()
    partner = fields.Boolean()


class PeoplePresentSchema(Schema):
    as_of = Date()
    by_kind = fields.Dict(keys=fields.String(), values=Figure(), metadata={
        "description": "People by kind (rounded for partners, small numbers \"[c]\")"})
    young_people = fields.List(fields.String(), allow_none=True, metadata={
        "description": "Pseudonyms (owning team only; null for partners)"})
    pseudonyms_withheld = fields.Boolean(metadata={
        "description": "True in the partner version"})
    note = fields.String()


class IndicatorsSchema(Schema):
    """A place's indicators (computed now, or the snapshot stored on submission); the
    analysis blocks are null when the place has too little data.
    """

    settings = fields.Nested(IndicatorSettingsSchema)
    place = fields.Nested(IndicatorPlaceSchema)
    incidents = fields.Nested(IncidentCountsSchema, allow_none=True)
    indicators = fields.Nested(dataclass_schema(
        assessment_snapshot.INDICATORS_RESULT, "PlaceIndicatorsSchema", prefix="Indicator"),
        allow_none=True)
    areas_km2 = fields.Nested(AreasSchema)
    hotspots = fields.Nested(HotspotsSchema, allow_none=True)
    risk_terrain = fields.Nested(dataclass_schema(
        assessment_snapshot.RISK_TERRAIN_RESULT, "RiskTerrainSchema", prefix="Terrain",
        extra={"influence_m": fields.Float(),
               "layers": fields.Dict(keys=fields.String(), values=fields.Integer())}),
        allow_none=True)
    safety_maps = fields.Nested(PlaceSafetyMapsSchema, allow_none=True)
    people_present = fields.Nested(PeoplePresentSchema, allow_none=True, metadata={
        "description": "People recorded at the place (pseudonyms)."})
    notes = fields.List(fields.String())
    suppressed = fields.Boolean(metadata={
        "description": "The partner version: counts rounded to 5 and small ones withheld; "
                       "rates, profiles, incident ids and pseudonyms left out"})


class ContextInSchema(Schema):
    """A context of the weighting as sent: a name, or the pilot's record of it, or both."""

    name = fields.String(load_default="", metadata={
        "description": "Blank with place_id: the record's name"})
    share = fields.Integer(required=True, strict=True, metadata={"description": "Of 100"})
    reason = fields.String(load_default="")
    kind = fields.String(load_default="other", metadata={
        "description": "place, peer_group, school, online, home or other; with place_id "
                       "the record's kind, whatever is sent"})
    place_id = fields.Integer(allow_none=True, load_default=None, strict=True, metadata={
        "description": "A place, peer group, school or online space of the pilot (404 if "
                       "not)"})


class AssessmentPatchSchema(Schema):
    """A change to a draft; ``version`` (optimistic locking) answers 409 when stale."""

    version = fields.Integer(required=True, strict=True,
                             metadata={"description": "The version you edited; stale → 409."})
    young_people = fields.String()
    guardianship = fields.String()
    environment = fields.String()
    contexts = fields.List(fields.Nested(ContextInSchema),
                           metadata={"description": "The whole weighting (shares sum to 100)"})
    links = fields.List(fields.Dict(), metadata={"description": "a, b, note"})
    set_share = fields.Dict(metadata={"description": "name, share: the others rebalance"})
    add_context = fields.Nested(ContextInSchema, metadata={
        "description": "One more context (share 0..99); the others shrink in proportion"})
    remove_context = fields.String()
    add_factor = fields.Dict(metadata={"description": "quadrant, statement, weight, ..."})
    update_factor = fields.Dict(metadata={"description": "id and the fields to change"})
    remove_factor = fields.Integer()


class SubmitSchema(Schema):
    version = fields.Integer(metadata={"description": "The version you read; when sent, a "
                                       "stale one answers 409."})
    ring_m = fields.Float(load_default=500.0, validate=validate.Range(50, 5000))
    cell_m = fields.Float(load_default=100.0, validate=validate.Range(25, 1000))
    reviewer_ids = fields.List(fields.Integer(), load_default=list,
                               metadata={"description": "send for review to these partner "
                                         "reviewers at once (as review-requests does)"})
    agency_ids = fields.List(fields.Integer(), load_default=list,
                             metadata={"description": "…or to one reviewer of each agency"})


class IndicatorsQuerySchema(Schema):
    ring_m = fields.Float(load_default=500.0, validate=validate.Range(50, 5000))
    cell_m = fields.Float(load_default=100.0, validate=validate.Range(25, 1000))


@api.route(f"{_P}/places/<int:place_id>/assessments", summary="Versions of a place's assessment",
           tag="assessments", response=AssessmentHeaderSchema, many=True)
def list_place_assessments(pilot_id: int, place_id: int) -> Any:
    return assessments.list_assessments(db_session(), actor(), pilot_id, place_id)


@api.route(f"{_P}/places/<int:place_id>/assessments", "POST", status=201,
           summary="Start a draft assessment of a place", tag="assessments",
           response=AssessmentSchema)
def start_place_assessment(pilot_id: int, place_id: int) -> Any:
    """Copies the place's working set of safety factors (with evidence) into the draft."""
    s, a = db_session(), actor()
    new = assessments.start_assessment(s, a, pilot_id, place_id)
    return assessments.assessment_view(s, a, pilot_id, new.id,
                                       threshold=suppression_threshold()), 201


@api.route(f"{_P}/assessments/<int:assessment_id>", summary="One assessment version",
           tag="assessments",
           response=AssessmentSchema)
def get_assessment(pilot_id: int, assessment_id: int) -> Any:
    """The stored snapshot's individual safety-map areas are the owning team's: partners get
    the perceived-safety figures only, withheld below the suppression threshold.
    """
    return assessments.assessment_view(db_session(), actor(), pilot_id, assessment_id,
                                       threshold=suppression_threshold())


@api.route(f"{_P}/assessments/<int:assessment_id>", "PATCH", body=AssessmentPatchSchema,
           summary="Change a draft", tag="assessments",
           permission="assessment.edit",
           response=AssessmentSchema)
def patch_assessment(pilot_id: int, assessment_id: int, body: dict[str, Any]) -> Any:
    """Only drafts change: a submitted version answers 409. A context weighting whose shares
    do not sum to 100, or a context without a reason, answers 422.
    """
    s, a = db_session(), actor()
    version = body.pop("version", None)
    assessments.update_assessment(s, a, pilot_id, assessment_id, body, version=version)
    return assessments.assessment_view(s, a, pilot_id, assessment_id,
                                       threshold=suppression_threshold())


@api.route(f"{_P}/assessments/<int:assessment_id>/submit", "POST", body=SubmitSchema,
           summary="Submit a draft for review (stores the indicators snapshot)",
           tag="assessments",
           permission="assessment.edit",
           response=AssessmentSchema)
def submit_assessment(pilot_id: int, assessment_id: int, body: dict[str, Any]) -> Any:
    s, a = db_session(), actor()
    assessments.submit_assessment(s, a, pilot_id, assessment_id, version=body.get("version"),
                                  ring_m=body["ring_m"], cell_m=body["cell_m"])
    if body["reviewer_ids"] or body["agency_ids"]:  # the plan's review-request step
        reviews.request_review(s, a, pilot_id, "assessment", assessment_id,
                               reviewer_ids=body["reviewer_ids"], agency_ids=body["agency_ids"])
    return {**assessments.assessment_view(s, a, pilot_id, assessment_id,
                                       threshold=suppression_threshold()),
            "label": reviews.version_label(s, a, pilot_id, "assessment", assessment_id)}


@api.route(f"{_P}/assessments/<int:assessment_id>/new-version", "POST", status=201,
           summary="Start a new draft version from a submitted one", tag="assessments",
           response=AssessmentSchema)
def new_assessment_version(pilot_id: int, assessment_id: int) -> Any:
    s, a = db_session(), actor()
    new = assessments.new_version(s, a, pilot_id, assessment_id)
    return assessments.assessment_view(s, a, pilot_id, new.id,
                                       threshold=suppression_threshold()), 201


@api.route(f"{_P}/assessments/<int:assessment_id>/compare/<int:other_id>",
           summary="What changed between two versions", tag="assessments",
           response=ComparisonSchema)
def compare_assessments(pilot_id: int, assessment_id: int, other_id: int) -> Any:
    return assessments.compare_assessments(db_session(), actor(), pilot_id, assessment_id,
                                           other_id, threshold=suppression_threshold())


@api.route(f"{_P}/places/<int:place_id>/indicators", query=IndicatorsQuerySchema,
           summary="A place's indicators computed now", tag="assessments",
           response=IndicatorsSchema)
def place_indicators(pilot_id: int, place_id: int, query: dict[str, Any]) -> Any:
    """Rates and rate ratios (place vs ring vs locality), time profile, monthly trend, Gi*
    hot spots on an EPSG:27700 grid, the data-derived risk terrain, safety maps and people
    present (pseudonyms). Not stored: submit an assessment to keep a snapshot.
    """
    return (assessments.live_indicators(db_session(), actor(), pilot_id, place_id,
                                               ring_m=query["ring_m"], cell_m=query["cell_m"],
                                               threshold=suppression_threshold()))


@api.route(f"{_P}/assessments/<int:assessment_id>/share-map", tag="assessments",
           summary="A self-contained HTML map of the version to share (partner view)",
           produces="text/html")
def assessment_share_map(pilot_id: int, assessment_id: int) -> Any:
    """One HTML file that opens offline: the place, incidents around it as partners see
    them (whole cells, withheld below the threshold, rounded to 5) and the key figures,
    rounded likewise. No person appears in it. Audited as an export.
    """
    from locmap.web.assessments import share_map_response

    return share_map_response(pilot_id, assessment_id)
