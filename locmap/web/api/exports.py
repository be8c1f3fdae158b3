"""Exports of a pilot's data: GeoJSON, GeoPackage, CSV (each audited)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response

from locmap.services import exports
from locmap.web.api import api
from locmap.web.context import actor, db_session


def _attachment(body: str | bytes, mimetype: str, pilot_id: int, ext: str) -> Response:
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="pilot-{pilot_id}-export.{ext}"',
        "Cache-Control": "no-store"})


@api.route("/pilots/<int:pilot_id>/export.geojson", summary="Places and incidents as GeoJSON "
           "(with a metadata member)", tag="exports", produces="application/geo+json")
def export_geojson(pilot_id: int) -> Any:
    doc = exports.export_geojson(db_session(), actor(), pilot_id)
    return _attachment(json.dumps(doc), "application/geo+json", pilot_id, "geojson")


@api.route("/pilots/<int:pilot_id>/export.gpkg", summary="Places, incidents, safety factors "
           "and feature layers as a GeoPackage", tag="exports",
           produces="application/geopackage+sqlite3")
def export_gpkg(pilot_id: int) -> Any:
    body = exports.export_gpkg(db_session(), actor(), pilot_id)
    return _attachment(body, "application/geopackage+sqlite3", pilot_id, "gpkg")


@api.route("/pilots/<int:pilot_id>/export.csv", summary="Incidents with place names as CSV "
           "(formula cells neutralised)", tag="exports", produces="text/csv")
def export_csv(pilot_id: int) -> Any:
    body = exports.export_csv(db_session(), actor(), pilot_id)
    return _attachment(body, "text/csv", pilot_id, "csv")
