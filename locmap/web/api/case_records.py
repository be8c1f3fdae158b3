"""Children's case records: the case-status CSV (preview, apply) and the children linked
to a place with their case references (the owning team's identity permissions).
"""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import Schema, fields, validate

from locmap.services import case_records
from locmap.web.api import api
from locmap.web.context import actor, db_session

_P = "/pilots/<int:pilot_id>"
_CSV = fields.String(required=True, validate=validate.Length(max=case_records.MAX_BYTES),
                     metadata={"description": "The CSV text: case_reference and any of "
                                              "case_status, exploitation_category, "
                                              "last_risk_assessment_on"})


class CaseRowSchema(Schema):
    line = fields.Integer()
    case_reference = fields.String()
    pseudonym = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    changes = fields.Dict(keys=fields.String(), values=fields.String())


class CasePreviewSchema(Schema):
    rows = fields.Integer()
    errors = fields.Integer()
    changing = fields.Integer()
    unchanged = fields.Integer()
    digest = fields.String(metadata={"description": "Send it back to apply this preview"})
    report = fields.List(fields.Nested(CaseRowSchema))


class CaseAppliedSchema(CasePreviewSchema):
    changed = fields.Integer()

    class Meta:
        exclude = ("digest",)


class PreviewBody(Schema):
    csv = _CSV


class ApplyBody(Schema):
    csv = _CSV
    digest = fields.String(required=True, validate=validate.Length(max=64))


@api.route(f"{_P}/case-records/preview", "POST", summary="Preview a case-status CSV row "
           "by row (nothing written)", tag="case records", permission="identity.edit",
           body=PreviewBody, response=CasePreviewSchema)
def preview_case_records(pilot_id: int, body: dict[str, Any]) -> Any:
    return case_records.preview(db_session(), actor(), pilot_id, body["csv"])


@api.route(f"{_P}/case-records/apply", "POST", summary="Apply a previewed case-status CSV: "
           "the good rows in one transaction (409 if anything changed since the preview)",
           tag="case records", permission="identity.edit", body=ApplyBody,
           response=CaseAppliedSchema)
def apply_case_records(pilot_id: int, body: dict[str, Any]) -> Any:
    return case_records.apply(db_session(), actor(), pilot_id, body["csv"], body["digest"])


@api.route(f"{_P}/places/<int:place_id>/children.csv", summary="The children linked to a "
           "place with their case references (audited)", tag="case records",
           permission="identity.read", produces="text/csv")
def children_at_place_csv(pilot_id: int, place_id: int) -> Any:
    text, name = case_records.children_csv(db_session(), actor(), pilot_id, place_id)
    return Response(text.encode("utf-8-sig"), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
