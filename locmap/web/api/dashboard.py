"""The partnership dashboard as JSON, CSV and XLSX, with the same protection as the page.

Partner reviewers always get the partner version (quarter ends only, rounded to base 5,
small numbers withheld, tables protected jointly); the owning team gets exact numbers
unless it asks for ``view=partner``. The file exports are audited by the service.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import Schema, fields, validate

from locmap.services import dashboard
from locmap.web.api import api
from locmap.web.api.schemas import Date
from locmap.web.context import actor, db_session, suppression_threshold

_PILOT = "/pilots/<int:pilot_id>"


class DashboardQuerySchema(Schema):
    as_of = Date(load_default=None, metadata={
        "description": "Date of the picture (default today). The partner version exists at "
                       "completed calendar quarter ends only: any other date is snapped to the "
                       "last completed quarter end on or before it (the answer's as_of; "
                       "requested_as_of echoes the request)."})
    view = fields.String(load_default="", validate=validate.OneOf(("", "exact", "partner")),
                         metadata={"description": "'partner': the owning team previews the "
                                   "suppressed version"})


class DashboardTableSchema(Schema):
    key = fields.String()
    title = fields.String()
    suppressed = fields.Boolean()
    show_row_totals = fields.Boolean()
    note = fields.String(allow_none=True)
    percent_label = fields.String()
    percent = fields.List(fields.String(), allow_none=True)
    row_labels = fields.List(fields.String())
    col_labels = fields.List(fields.String())
    display = fields.List(fields.List(fields.String()), metadata={
        "description": "What a reader sees in each cell ([c] where withheld)."})
    values = fields.List(fields.List(fields.Integer(allow_none=True)), metadata={
        "description": "For partners: rounded to base 5, null where withheld."})
    flags = fields.List(fields.List(fields.String()))
    threshold = fields.Integer()
    zeros = fields.String()
    rule_text = fields.String()


class DashboardSchema(Schema):
    pilot_id = fields.Integer()
    pilot_name = fields.String()
    as_of = Date()
    suppressed = fields.Boolean()
    requested_as_of = Date(allow_none=True)
    quarter_end = fields.Boolean()
    quarters = fields.List(Date())
    threshold = fields.Integer()
    contains = fields.String()
    tables = fields.List(fields.Nested(DashboardTableSchema))


def _options(query: dict[str, Any]) -> dict[str, Any]:
    return {"as_of": query["as_of"], "partner_view": query["view"] == "partner",
            "threshold": suppression_threshold()}


@api.route(f"{_PILOT}/dashboard", summary="The partnership dashboard: tables of counts with "
           "display strings and suppression flags", tag="dashboard", query=DashboardQuerySchema,
           response=DashboardSchema)
def get_dashboard(pilot_id: int, query: dict[str, Any]) -> Any:
    board = dashboard.dashboard(db_session(), actor(), pilot_id, **_options(query))
    return board.to_dict()


def _export(pilot_id: int, fmt: str, query: dict[str, Any]) -> Response:
    body, mimetype, name = dashboard.export_dashboard(db_session(), actor(), pilot_id, fmt,
                                                      **_options(query))
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@api.route(f"{_PILOT}/dashboard.csv", summary="The dashboard's tables as CSV (suppressed as "
           "on screen, formula cells neutralised, audited)", tag="dashboard",
           query=DashboardQuerySchema, produces="text/csv")
def export_dashboard_csv(pilot_id: int, query: dict[str, Any]) -> Any:
    return _export(pilot_id, "csv", query)


@api.route(f"{_PILOT}/dashboard.xlsx", summary="The dashboard's tables as XLSX, one sheet a "
           "table (suppressed as on screen, audited)", tag="dashboard",
           query=DashboardQuerySchema,
           produces="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
def export_dashboard_xlsx(pilot_id: int, query: dict[str, Any]) -> Any:
    return _export(pilot_id, "xlsx", query)
