"""The incident table: every incident of a pilot, filtered, sorted, paged; changed or
deleted one by one; downloaded as CSV (issue 16). The owning team's page: partners see
incidents only as suppressed aggregates, so every view here needs ``evidence.records``
(checked by the services).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from marshmallow import Schema, ValidationError, fields, validate

from locmap import formatting
from locmap.clock import LOCAL_TZ
from locmap.errors import Conflict, InvalidData
from locmap.services import incidents, photos
from locmap.services.permissions import can, require
from locmap.services.pilots import get_pilot
from locmap.vocab import HARM_CATEGORIES, TIME_PRECISIONS, label
from locmap.web.api.incidents import IncidentUpdateSchema
from locmap.web.context import actor, db_session, login_required

bp = Blueprint("incidents_pages", __name__)

PER_PAGE = 50
_URL = "/pilots/<int:pilot_id>/incidents"


class _TableArgs(Schema):
    """The table's query string: what the filter form and the sort links send."""

    category = fields.List(fields.String(validate=validate.OneOf(HARM_CATEGORIES)),
                           load_default=list)
    severity = fields.List(fields.Integer(validate=validate.Range(1, 5)), load_default=list)
    date_from = fields.Date(load_default=None)
    date_to = fields.Date(load_default=None)
    place_id = fields.Integer(load_default=None)
    source_agency_id = fields.Integer(load_default=None)
    data_import_id = fields.Integer(load_default=None)
    sort = fields.String(load_default="newest", validate=validate.OneOf(incidents.SORTS))
    page = fields.Integer(load_default=1, validate=validate.Range(1, 100_000))


def _args() -> tuple[dict[str, Any], str]:
    """The loaded query string, and an error message (the defaults) when it is wrong."""
    raw: dict[str, Any] = {}
    for name, field in _TableArgs().fields.items():
        values = [v for v in request.args.getlist(name) if v != ""]
        if isinstance(field, fields.List):
            raw[name] = values
        elif values:
            raw[name] = values[0]
    try:
        args = _TableArgs().load(raw)
    except ValidationError as exc:
        wrong = ", ".join(sorted(exc.normalized_messages()))
        return _TableArgs().load({}), f"Some filters were not understood ({wrong}); " \
                                      "showing every incident."
    if args["date_from"] and args["date_to"] and args["date_from"] > args["date_to"]:
        return {**args, "date_from": None, "date_to": None}, \
            "The “from” date is after the “to” date; the dates were left out."
    return args, ""


def _filter(args: dict[str, Any]) -> incidents.IncidentFilter:
    return incidents.IncidentFilter(
        categories=tuple(args["category"]), date_from=args["date_from"],
        date_to=args["date_to"], place_id=args["place_id"],
        severities=tuple(args["severity"]), source_agency_id=args["source_agency_id"],
        data_import_id=args["data_import_id"])


def _query(args: dict[str, Any], **change: Any) -> str:
    """The query string of ``args`` with ``change`` applied (for sort and page links)."""
    merged = {**args, **change}
    pairs: list[tuple[str, Any]] = []
    for k, v in merged.items():
        if isinstance(v, list):
            pairs += [(k, x) for x in v]
        elif v not in (None, "") and not (k == "page" and v == 1) \
                and not (k == "sort" and v == "newest"):
            pairs.append((k, v.isoformat() if isinstance(v, dt.date) else v))
    return urlencode(pairs)


def _when(value: str, precision: str) -> str:
    """An incident's time as precisely as it is known (the project's date formats)."""
    return {"month": formatting.month, "day": formatting.day}.get(precision,
                                                                 formatting.when)(value)


@bp.route(_URL)
@login_required
def table(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    pilot = get_pilot(s, a, pilot_id)
    args, problem = _args()
    f = _filter(args)
    page = incidents.list_incidents(s, a, pilot_id, f, limit=PER_PAGE,
                                    offset=(args["page"] - 1) * PER_PAGE, sort=args["sort"])
    names = incidents.table_choices(s, a, pilot_id)
    for imp in names["imports"].values():
        imp["when"] = formatting.day(imp["started_at"])
    for item in page["items"]:
        item["when"] = _when(item["occurred_at"], item["time_precision"])
    pages = max(1, -(-page["total"] // PER_PAGE))
    map_args = {k: v for k, v in (("category", ",".join(args["category"])),
                                  ("date_from", args["date_from"]),
                                  ("date_to", args["date_to"]),
                                  ("import", args["data_import_id"])) if v}
    return render_template(
        "incidents.html", pilot=pilot, page=page, args=args, names=names, problem=problem,
        pages=pages, query=lambda **change: _query(args, **change),
        categories=[(c, label(c)) for c in HARM_CATEGORIES],
        can_edit=can(a, pilot_id, "evidence.edit"),
        map_url=url_for("pages.pilot", pilot_id=pilot_id) + (
            "?" + urlencode({k: (v.isoformat() if isinstance(v, dt.date) else v)
                             for k, v in map_args.items()}) if map_args else ""),
    ), (422 if problem else 200)


@bp.route(f"{_URL}.csv")
@login_required
def download(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    args, problem = _args()
    if problem:
        raise InvalidData(problem)
    body = incidents.incidents_csv(s, a, pilot_id, _filter(args), sort=args["sort"])
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="incidents-pilot-{pilot_id}.csv"'})


def _edit_page(pilot_id: int, incident_id: int, *, status: int = 200, error: str = "",
               values: dict[str, Any] | None = None) -> Any:
    s, a = db_session(), actor()
    pilot = get_pilot(s, a, pilot_id)
    item = incidents.get_incident(s, a, pilot_id, incident_id)
    when = dt.datetime.fromisoformat(item["occurred_at"]).astimezone(LOCAL_TZ)
    item["occurred_local"] = when.strftime("%Y-%m-%dT%H:%M")
    item["when"] = _when(item["occurred_at"], item["time_precision"])
    return render_template(
        "incident_edit.html", pilot=pilot, item=item, values=values or {}, error=error,
        names=incidents.table_choices(s, a, pilot_id),
        categories=[(c, label(c)) for c in HARM_CATEGORIES], precisions=TIME_PRECISIONS,
        can_edit=can(a, pilot_id, "evidence.edit"),
        back=request.args.get("back", ""),
        photos=photos.list_photos(s, a, pilot_id, "incident", [incident_id]).get(incident_id, []),
    ), status


@bp.route(f"{_URL}/<int:incident_id>")
@login_required
def edit(pilot_id: int, incident_id: int) -> Any:
    return _edit_page(pilot_id, incident_id)


def _form() -> dict[str, Any]:
    """The edit form as the API's update body (the same schema, the same rules)."""
    form = request.form
    raw: dict[str, Any] = {"version": form.get("version", "")}
    for name in ("occurred_at", "time_precision", "category", "external_ref", "description"):
        if name in form:
            raw[name] = form[name]
    raw["severity"] = form.get("severity", "")
    for name in ("place_id", "source_agency_id"):
        if name in form:
            raw[name] = form[name] or None
    lon, lat = form.get("lon", ""), form.get("lat", "")
    if (lon, lat) != (form.get("lon_was", ""), form.get("lat_was", "")):
        try:
            raw["location"] = {"type": "Point", "coordinates": [float(lon), float(lat)]}
        except ValueError:
            raw["location"] = {"type": "Point", "coordinates": [lon, lat]}
    return raw


@bp.route(f"{_URL}/<int:incident_id>", methods=["POST"])
@login_required
def save(pilot_id: int, incident_id: int) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "evidence.edit")
    raw = _form()
    try:
        data = IncidentUpdateSchema().load(raw)
        incidents.update_incident(s, a, pilot_id, incident_id, data)
    except ValidationError as exc:
        msgs = "; ".join(f"{k.replace('_', ' ')}: {' '.join(map(str, v))}"
                         for k, v in exc.normalized_messages().items())
        return _edit_page(pilot_id, incident_id, status=422, values=raw,
                          error=f"Not saved — {msgs}")
    except (InvalidData, Conflict) as exc:
        s.rollback()
        return _edit_page(pilot_id, incident_id, status=exc.status, values=raw,
                          error=f"Not saved — {exc.message}")
    flash("Incident updated.", "info")
    return redirect(_back(pilot_id))


def _back(pilot_id: int) -> str:
    back = request.form.get("back", "")
    table_url = url_for("incidents_pages.table", pilot_id=pilot_id)
    # Only a query string of this table is followed: never an address from the form.
    return f"{table_url}?{back}" if back and "://" not in back and not back.startswith("/") \
        else table_url


@bp.route(f"{_URL}/<int:incident_id>/delete", methods=["POST"])
@login_required
def delete(pilot_id: int, incident_id: int) -> Any:
    s, a = db_session(), actor()
    incidents.delete_incident(s, a, pilot_id, incident_id)
    flash("Incident deleted (the audit trail keeps that it existed).", "info")
    return redirect(_back(pilot_id))
