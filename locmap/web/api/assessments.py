"""Assessments of a place: versions, drafts, submission, comparison and live indicators."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from marshmallow import Schema, fields, validate

from locmap.services import assessments
from locmap.web.api import api
from locmap.web.context import actor, db_session

_P = "/pilots/<int:pilot_id>"


class AssessmentHeaderSchema(Schema):
    id = fields.Integer()
    place_id = fields.Integer()
    version_no = fields.Integer()
    parent_id = fields.Integer(allow_none=True)
    status = fields.String()
    version = fields.Integer()
    submitted_at = fields.String(allow_none=True)


class AssessmentPatchSchema(Schema):
    """A change to a draft; ``version`` (optimistic locking) answers 409 when stale."""

    version = fields.Integer(required=True, strict=True,
                             metadata={"description": "The version you edited; stale → 409."})
    young_people = fields.String()
    guardianship = fields.String()
    environment = fields.String()
    contexts = fields.List(fields.Dict(), metadata={"description": "name, share, reason"})
    links = fields.List(fields.Dict(), metadata={"description": "a, b, note"})
    set_share = fields.Dict(metadata={"description": "name, share: the others rebalance"})
    add_context = fields.Dict(metadata={"description": "name, share, reason"})
    remove_context = fields.String()
    add_factor = fields.Dict(metadata={"description": "quadrant, statement, weight, ..."})
    update_factor = fields.Dict(metadata={"description": "id and the fields to change"})
    remove_factor = fields.Integer()


class SubmitSchema(Schema):
    version = fields.Integer(metadata={"description": "The version you read; when sent, a "
                                       "stale one answers 409."})
    ring_m = fields.Float(load_default=500.0, validate=validate.Range(50, 5000))
    cell_m = fields.Float(load_default=100.0, validate=validate.Range(25, 1000))


class IndicatorsQuerySchema(Schema):
    ring_m = fields.Float(load_default=500.0, validate=validate.Range(50, 5000))
    cell_m = fields.Float(load_default=100.0, validate=validate.Range(25, 1000))


@api.route(f"{_P}/places/<int:place_id>/assessments", summary="Versions of a place's assessment",
           tag="assessments", response=AssessmentHeaderSchema, many=True)
def list_place_assessments(pilot_id: int, place_id: int) -> Any:
    return jsonify(assessments.list_assessments(db_session(), actor(), pilot_id, place_id))


@api.route(f"{_P}/places/<int:place_id>/assessments", "POST", status=201,
           summary="Start a draft assessment of a place", tag="assessments")
def start_place_assessment(pilot_id: int, place_id: int) -> Any:
    """Copies the place's working set of safety factors (with evidence) into the draft."""
    s, a = db_session(), actor()
    new = assessments.start_assessment(s, a, pilot_id, place_id)
    return jsonify(assessments.assessment_view(s, a, pilot_id, new.id)), 201


@api.route(f"{_P}/assessments/<int:assessment_id>", summary="One assessment version",
           tag="assessments")
def get_assessment(pilot_id: int, assessment_id: int) -> Any:
    return jsonify(assessments.assessment_view(db_session(), actor(), pilot_id, assessment_id))


@api.route(f"{_P}/assessments/<int:assessment_id>", "PATCH", body=AssessmentPatchSchema,
           summary="Change a draft", tag="assessments",
           permission="assessment.edit")
def patch_assessment(pilot_id: int, assessment_id: int, body: dict[str, Any]) -> Any:
    """Only drafts change: a submitted version answers 409. A context weighting whose shares
    do not sum to 100, or a context without a reason, answers 422.
    """
    s, a = db_session(), actor()
    version = body.pop("version", None)
    assessments.update_assessment(s, a, pilot_id, assessment_id, body, version=version)
    return jsonify(assessments.assessment_view(s, a, pilot_id, assessment_id))


@api.route(f"{_P}/assessments/<int:assessment_id>/submit", "POST", body=SubmitSchema,
           summary="Submit a draft for review (stores the indicators snapshot)",
           tag="assessments",
           permission="assessment.edit")
def submit_assessment(pilot_id: int, assessment_id: int, body: dict[str, Any]) -> Any:
    s, a = db_session(), actor()
    assessments.submit_assessment(s, a, pilot_id, assessment_id, version=body.get("version"),
                                  ring_m=body["ring_m"], cell_m=body["cell_m"])
    return jsonify(assessments.assessment_view(s, a, pilot_id, assessment_id))


@api.route(f"{_P}/assessments/<int:assessment_id>/new-version", "POST", status=201,
           summary="Start a new draft version from a submitted one", tag="assessments")
def new_assessment_version(pilot_id: int, assessment_id: int) -> Any:
    s, a = db_session(), actor()
    new = assessments.new_version(s, a, pilot_id, assessment_id)
    return jsonify(assessments.assessment_view(s, a, pilot_id, new.id)), 201


@api.route(f"{_P}/assessments/<int:assessment_id>/compare/<int:other_id>",
           summary="What changed between two versions", tag="assessments")
def compare_assessments(pilot_id: int, assessment_id: int, other_id: int) -> Any:
    return jsonify(assessments.compare_assessments(db_session(), actor(), pilot_id,
                                                   assessment_id, other_id))


@api.route(f"{_P}/places/<int:place_id>/indicators", query=IndicatorsQuerySchema,
           summary="A place's indicators computed now", tag="assessments")
def place_indicators(pilot_id: int, place_id: int, query: dict[str, Any]) -> Any:
    """Rates and rate ratios (place vs ring vs locality), time profile, monthly trend, Gi*
    hot spots on an EPSG:27700 grid, the data-derived risk terrain, safety maps and people
    present (pseudonyms). Not stored: submit an assessment to keep a snapshot.
    """
    return jsonify(assessments.live_indicators(db_session(), actor(), pilot_id, place_id,
                                               ring_m=query["ring_m"], cell_m=query["cell_m"]))
