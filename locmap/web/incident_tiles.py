"""Incident vector tiles for the GL maps: ``/pilots/N/tiles/incidents/{z}/{x}/{y}.pbf``.

Query: ``category`` (comma-separated), ``from`` and ``to`` (dates, inclusive), ``source``
(an agency id) and ``import`` (an import's id): the last two are the owning team's
filters. The service decides what the user may see
(:func:`locmap.services.incidents.incident_tile`); the tile is cached by the browser for a
minute (private: it depends on who asks) and revalidated by its ETag.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Response, request
from marshmallow import Schema, ValidationError, fields, validates_schema

from locmap.errors import InvalidData
from locmap.services import incidents
from locmap.vocab import HARM_CATEGORIES
from locmap.web.context import actor, db_session, login_required, suppression_threshold

bp = Blueprint("incident_tiles", __name__)

MVT = "application/vnd.mapbox-vector-tile"
MAX_AGE = 60


class TileQuery(Schema):
    category = fields.String(load_default="")
    date_from = fields.Date(load_default=None, data_key="from")
    date_to = fields.Date(load_default=None, data_key="to")
    source = fields.Integer(load_default=None)
    import_id = fields.Integer(load_default=None, data_key="import")

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        unknown = [c for c in _split(data["category"]) if c not in HARM_CATEGORIES]
        if unknown:
            raise ValidationError(f"Unknown categories: {', '.join(unknown)}.", "category")
        if data["date_from"] and data["date_to"] and data["date_from"] > data["date_to"]:
            raise ValidationError("from is after to.", "from")


def _split(value: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in value.split(",") if c.strip())


@bp.route("/pilots/<int:pilot_id>/tiles/incidents/<int:z>/<int:x>/<int:y>.pbf")
@login_required
def tile(pilot_id: int, z: int, x: int, y: int) -> Any:
    try:
        query = TileQuery().load(request.args, unknown="exclude")
    except ValidationError as exc:
        raise InvalidData("The tile's filter is not valid.",
                          details={"fields": exc.normalized_messages()}) from exc
    f = incidents.IncidentFilter(categories=_split(query["category"]),
                                 date_from=query["date_from"], date_to=query["date_to"],
                                 source_agency_id=query["source"],
                                 data_import_id=query["import_id"])
    body = incidents.incident_tile(
        db_session(), actor(), pilot_id, (z, x, y), f,
        threshold=suppression_threshold())
    etag = hashlib.sha256(body).hexdigest()[:32]
    if request.if_none_match.contains(etag):
        resp = Response(status=304)
    else:
        resp = Response(body, mimetype=MVT)
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = f"private, max-age={MAX_AGE}"
    resp.headers["Vary"] = "Cookie"
    return resp
