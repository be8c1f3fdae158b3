"""Imports (status, rejected-row report) and the pilot's crime-type mapping."""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import Schema, fields, validate

from locmap.services import imports
from locmap.vocab import HARM_CATEGORIES
from locmap.web.api import api
from locmap.web.context import actor, db_session


class CrimeTypeMappingSchema(Schema):
    mapping = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=120)),
        values=fields.String(validate=validate.OneOf(HARM_CATEGORIES)), required=True,
        metadata={"description": "police.uk Crime type → locmap harm category"},
    )
    categories = fields.List(fields.String(), dump_only=True)


class ImportFileSchema(Schema):
    file = fields.String()
    encoding = fields.String()
    rows = fields.Integer()
    staged = fields.Integer()


class ImportSummarySchema(Schema):
    """What the import did; a police CSV's counts, or an OpenStreetMap extract's."""

    rows_read = fields.Integer()
    rows_accepted = fields.Integer()
    rows_rejected = fields.Integer()
    rows_outside_area = fields.Integer()
    rows_already_present = fields.Integer()
    files = fields.List(fields.Nested(ImportFileSchema))
    unmapped_crime_types = fields.List(fields.String())
    report_truncated = fields.Boolean()
    features_added = fields.Integer()
    features_refreshed = fields.Integer()
    places_made = fields.Integer()
    places_already_present = fields.Integer()
    outside_area = fields.Integer()
    rejected = fields.Integer()


class DataImportSchema(Schema):
    id = fields.Integer()
    pilot_id = fields.Integer()
    kind = fields.String()
    filename = fields.String()
    sha256 = fields.String()
    status = fields.String(validate=validate.OneOf(
        ("pending", "running", "done", "failed", "cancelled")))
    rows_read = fields.Integer()
    rows_accepted = fields.Integer()
    rows_rejected = fields.Integer()
    message = fields.String()
    summary = fields.Nested(ImportSummarySchema)
    started_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)
    duration_s = fields.Float(allow_none=True)
    created_by_id = fields.Integer(allow_none=True)


@api.route("/pilots/<int:pilot_id>/crime-type-mapping", summary="Police crime type → harm "
           "category", tag="imports", response=CrimeTypeMappingSchema)
def get_crime_type_mapping(pilot_id: int) -> Any:
    mapping = imports.crime_type_mapping(db_session(), actor(), pilot_id)
    return dict(mapping=mapping, categories=list(HARM_CATEGORIES))


@api.route("/pilots/<int:pilot_id>/crime-type-mapping", "PUT", summary="Change the crime-type"
           " mapping (coordinator)", tag="imports", body=CrimeTypeMappingSchema,
           response=CrimeTypeMappingSchema,
           permission="pilot.manage")
def put_crime_type_mapping(pilot_id: int, body: dict[str, Any]) -> Any:
    """Sets the given crime types; the others keep their category. Applies to later imports."""
    mapping = imports.set_crime_type_mapping(db_session(), actor(), pilot_id, body["mapping"])
    return dict(mapping=mapping, categories=list(HARM_CATEGORIES))


@api.route("/pilots/<int:pilot_id>/imports", summary="Recent imports", tag="imports",
           response=DataImportSchema, many=True)
def list_imports(pilot_id: int) -> Any:
    return ([imports.import_dict(d)
                    for d in imports.list_imports(db_session(), actor(), pilot_id)])


@api.route("/pilots/<int:pilot_id>/imports/<int:import_id>", summary="One import and its "
           "status", tag="imports", response=DataImportSchema)
def get_import(pilot_id: int, import_id: int) -> Any:
    di = imports.get_import(db_session(), actor(), pilot_id, import_id)
    return imports.import_dict(di)


@api.route("/pilots/<int:pilot_id>/imports/<int:import_id>/report.csv", summary="Rejected "
           "rows of an import (CSV, formula cells neutralised)", tag="imports",
           produces="text/csv")
def import_report(pilot_id: int, import_id: int) -> Any:
    name, body = imports.rejected_rows_csv(db_session(), actor(), pilot_id, import_id)
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
