"""Every kind of context (issue 19): start a peer group, school or online-space assessment,
read and write an assessment's context section, compare two school self-assessments.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from locmap.services import assessments, contexts
from locmap.web.api import api
from locmap.web.api.assessments import AssessmentSchema
from locmap.web.api.schemas import Date, Figure
from locmap.web.context import actor, db_session, suppression_threshold

_P = "/pilots/<int:pilot_id>"
_SHORT = validate.Length(max=200)


class _NamedPlace(Schema):
    id = fields.Integer()
    name = fields.String()


class _Prompt(Schema):
    key = fields.String()
    heading = fields.String()
    hint = fields.String()
    text = fields.String()


class _Area(Schema):
    key = fields.String()
    heading = fields.String()
    hint = fields.String()
    rating = fields.String(allow_none=True, metadata={"description": "red, amber, green"})
    evidence = fields.String()


class _VersionRef(Schema):
    id = fields.Integer()
    version_no = fields.Integer()
    status = fields.String()


class _OnlineField(Schema):
    key = fields.String()
    label = fields.String()
    value = fields.String()


class _CategoryCount(Schema):
    category = fields.String()
    label = fields.String()
    n = fields.Integer()


class _MonthCount(Schema):
    month = fields.String(metadata={"description": "YYYY-MM-01"})
    n = fields.Integer()


class _OnlineIndicators(Schema):
    incidents = Figure(metadata={"description": "Rounded, small counts withheld, for partners"})
    by_category = fields.List(fields.Nested(_CategoryCount))
    last_12_months = fields.List(fields.Nested(_MonthCount))
    since = fields.String()
    suppressed = fields.Boolean()


class ContextSectionSchema(Schema):
    kind = fields.String(metadata={"description": "peer_group, school, online; place for a "
                                   "neighbourhood place (no section)"})
    kind_label = fields.String()
    place_id = fields.Integer()
    name = fields.String()
    assessment_id = fields.Integer()
    version = fields.Integer(metadata={"description": "The assessment's version"})
    status = fields.String()
    missing = fields.List(fields.String(), metadata={
        "description": "What must be written before submitting"})
    profile_version = fields.Integer(allow_none=True)
    source_group = fields.String()
    young_people = fields.List(fields.String(), metadata={"description": "pseudonyms"})
    places = fields.List(fields.Nested(_NamedPlace))
    prompts = fields.List(fields.Nested(_Prompt))
    areas = fields.List(fields.Nested(_Area))
    others = fields.List(fields.Nested(_VersionRef))
    fields_ = fields.List(fields.Nested(_OnlineField), data_key="fields")
    indicators = fields.Nested(_OnlineIndicators)


class PeerGroupBody(Schema):
    group = fields.String(required=True, validate=validate.Length(min=1, max=60),
                          metadata={"description": "The network group's label, e.g. Group A"})
    name = fields.String(validate=_SHORT)
    as_of = Date(allow_none=True)


class SchoolBody(Schema):
    place_id = fields.Integer(strict=True, required=True,
                              metadata={"description": "A place of kind school"})


class OnlineBody(Schema):
    name = fields.String(validate=_SHORT)
    platform = fields.String(required=True, validate=_SHORT)
    channel = fields.String(validate=_SHORT)
    moderation_contact = fields.String(validate=_SHORT)
    reporting_route = fields.String(validate=_SHORT)


class SectionBody(Schema):
    version = fields.Integer(strict=True, required=True)
    answers = fields.Dict(required=True, metadata={
        "description": "Peer group: text per prompt key; school: {rating, evidence} per "
                       "area key"})


class _AreaChange(Schema):
    key = fields.String()
    area = fields.String()
    before = fields.String(allow_none=True)
    after = fields.String(allow_none=True)
    change = fields.String(metadata={"description": "better, worse, same, not rated"})


class SchoolCompareSchema(Schema):
    school = fields.Nested(_NamedPlace)
    a = fields.Nested(_VersionRef)
    b = fields.Nested(_VersionRef)
    areas = fields.List(fields.Nested(_AreaChange))
    better = fields.Integer()
    worse = fields.Integer()


def _section(pilot_id: int, assessment_id: int) -> dict[str, Any]:
    s, a = db_session(), actor()
    out = contexts.section(s, a, pilot_id, assessment_id, threshold=suppression_threshold())
    if out is None:
        v = assessments.assessment_view(s, a, pilot_id, assessment_id,
                                        threshold=suppression_threshold())
        return {"kind": "place", "kind_label": "Place", "place_id": v["place"]["id"],
                "name": v["place"]["name"], "assessment_id": assessment_id,
                "version": v["version"], "status": v["status"], "missing": []}
    return out


@api.route(f"{_P}/contexts/peer-groups", "POST", body=PeerGroupBody, status=201,
           summary="A peer group from a network group, and its draft assessment",
           tag="contexts", permission="assessment.edit", response=AssessmentSchema)
def start_peer_group(pilot_id: int, body: dict[str, Any]) -> Any:
    s, a = db_session(), actor()
    new = contexts.seed_peer_group(s, a, pilot_id, body["group"], name=body.get("name", ""),
                                   as_of=body.get("as_of"))
    return assessments.assessment_view(s, a, pilot_id, new.id,
                                       threshold=suppression_threshold()), 201


@api.route(f"{_P}/contexts/schools", "POST", body=SchoolBody, status=201,
           summary="A school's self-assessment (a draft, or the open one)",
           tag="contexts", permission="assessment.edit", response=AssessmentSchema)
def start_school(pilot_id: int, body: dict[str, Any]) -> Any:
    s, a = db_session(), actor()
    new = contexts.start_school(s, a, pilot_id, body["place_id"])
    return assessments.assessment_view(s, a, pilot_id, new.id,
                                       threshold=suppression_threshold()), 201


@api.route(f"{_P}/contexts/online", "POST", body=OnlineBody, status=201,
           summary="An online space and its draft assessment",
           tag="contexts", permission="assessment.edit", response=AssessmentSchema)
def start_online(pilot_id: int, body: dict[str, Any]) -> Any:
    s, a = db_session(), actor()
    new = contexts.create_online(s, a, pilot_id, body)
    return assessments.assessment_view(s, a, pilot_id, new.id,
                                       threshold=suppression_threshold()), 201


@api.route(f"{_P}/assessments/<int:assessment_id>/context",
           summary="An assessment's context section", tag="contexts",
           response=ContextSectionSchema)
def get_section(pilot_id: int, assessment_id: int) -> Any:
    return _section(pilot_id, assessment_id)


@api.route(f"{_P}/assessments/<int:assessment_id>/context", "PUT", body=SectionBody,
           summary="Write a draft's context section (409 on a stale version)",
           tag="contexts", permission="assessment.edit", response=ContextSectionSchema)
def put_section(pilot_id: int, assessment_id: int, body: dict[str, Any]) -> Any:
    contexts.update_section(db_session(), actor(), pilot_id, assessment_id, body["answers"],
                            version=body["version"])
    return _section(pilot_id, assessment_id)


@api.route(f"{_P}/assessments/<int:a_id>/school-compare/<int:b_id>",
           summary="Two self-assessments of the same school, area by area", tag="contexts",
           response=SchoolCompareSchema)
def school_compare(pilot_id: int, a_id: int, b_id: int) -> Any:
    return contexts.compare_school(db_session(), actor(), pilot_id, a_id, b_id)
