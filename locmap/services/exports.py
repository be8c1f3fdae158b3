"""A pilot's data out: GeoJSON, GeoPackage and CSV that say what they are and for whom.

Permission ``export.records``: the owning team only (a partner reviewer gets Forbidden, a
non-member NotFound), because an export holds incidents record by record with their exact
places and times; partners see incidents as suppressed aggregates elsewhere. The incident
description is restricted text (``evidence.restricted_text``). People never appear, so
the metadata says so. Every export is audited with what it held.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
from shapely import wkb
from sqlalchemy import text
from sqlalchemy.orm import Session

from locmap import clock
from locmap.errors import NotFound
from locmap.io.export import csv_lines
from locmap.models import Pilot
from locmap.queries import at_place
from locmap.services import audit
from locmap.services.permissions import Actor, can, require

__all__ = ["export_data", "export_geojson", "export_gpkg", "export_csv", "INCIDENT_CSV_HEADER"]

PEOPLE_NOTE = "people appear as pseudonyms only (no person records are included)"
INCIDENT_CSV_HEADER = ["id", "occurred_at", "time_precision", "category", "severity",
                       "place_id", "place_name", "at_place_ids", "at_places", "longitude",
                       "latitude", "external_ref", "description"]


def export_data(session: Session, actor: Actor, pilot_id: int) -> dict[str, Any]:
    """The rows of an export: places, incidents, safety factors and feature layers."""
    require(actor, pilot_id, "export.records")
    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound("No such pilot.")
    restricted = can(actor, pilot_id, "evidence.restricted_text")
    p = {"pilot_id": pilot_id}
    places = [dict(r._mapping) for r in session.execute(text(
        "SELECT id, name, kind, notes, ST_AsBinary(geom) AS geom FROM place "
        "WHERE pilot_id = :pilot_id AND deleted_at IS NULL ORDER BY id"), p)]
    incidents = [dict(r._mapping) for r in session.execute(text(
        "SELECT i.id, i.occurred_at, i.time_precision, i.category, i.severity, i.place_id, "
        "pl.name AS place_name, ST_X(i.location) AS longitude, ST_Y(i.location) AS latitude, "
        "i.external_ref, i.description, ST_AsBinary(i.location) AS geom FROM incident i "
        "LEFT JOIN place pl ON pl.id = i.place_id WHERE i.pilot_id = :pilot_id "
        "ORDER BY i.occurred_at, i.id"), p)]
    # place_id/place_name: the one place the incident is shown under; at_place_ids and
    # at_places: every place it is at by the rule the place page and the assessment count
    # with (locmap/queries/at_place.py), so a spreadsheet count agrees with them.
    at = at_place.places_of(session, pilot_id)
    for r in incidents:
        here = at.get(r["id"], [])
        r["at_place_ids"] = ";".join(str(i) for i, _ in here)
        r["at_places"] = "; ".join(n for _, n in here)
        if not restricted:
            r.pop("description")
    factors = [dict(r._mapping) for r in session.execute(text(
        "SELECT f.id, f.place_id, pl.name AS place_name, f.quadrant, f.statement, f.weight, "
        "f.confidence, f.voice, ST_AsBinary(ST_PointOnSurface(pl.geom)) AS geom "
        "FROM safety_factor f JOIN place pl ON pl.id = f.place_id "
        "WHERE pl.pilot_id = :pilot_id AND pl.deleted_at IS NULL ORDER BY f.id"), p)]
    layers: dict[str, list[dict[str, Any]]] = {}
    for lid, lname in session.execute(text(
            "SELECT id, name FROM feature_layer WHERE pilot_id = :pilot_id ORDER BY id"), p):
        slug = re.sub(r"[^a-z0-9]+", "_", lname.lower()).strip("_")[:40] or "layer"
        layers[f"layer_{lid}_{slug}"] = [dict(r._mapping) for r in session.execute(text(
            "SELECT id, name, properties::text AS properties, ST_AsBinary(geom) AS geom "
            "FROM feature WHERE layer_id = :lid ORDER BY id"), {"lid": lid})]
    return {
        "metadata": {
            "what": f"locmap export of pilot {pilot.name!r}: places, incidents, safety "
                    "factors and feature layers",
            "pilot": pilot.name, "pilot_id": pilot_id,
            "generated_at": clock.now().isoformat(timespec="seconds"),
            "generated_by": actor.email, "people": PEOPLE_NOTE,
            "restricted_text_included": restricted, "crs": "EPSG:4326",
        },
        "places": places, "incidents": incidents, "safety_factors": factors,
        "layers": layers,
    }


def _audit(session: Session, actor: Actor, pilot_id: int, fmt: str,
           data: dict[str, Any]) -> None:
    # Incident descriptions are restricted free text about young people: an export that
    # holds them holds personal data (issue 14: exports are marked truthfully).
    restricted = bool(data["metadata"]["restricted_text_included"])
    audit.record(session, actor, "export", "pilot", pilot_id, pilot_id=pilot_id,
                 personal_data=restricted, detail={
        "format": fmt, "places": len(data["places"]), "incidents": len(data["incidents"]),
        "restricted_text": data["metadata"]["restricted_text_included"]})


def _geom(value: Any) -> Any:
    return None if value is None else wkb.loads(bytes(value))


def _props(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.datetime | dt.date) else v)
            for k, v in row.items() if k != "geom"}


def export_geojson(session: Session, actor: Actor, pilot_id: int) -> dict[str, Any]:
    from locmap.geo import to_geojson

    data = export_data(session, actor, pilot_id)
    features = [
        {"type": "Feature", "geometry": to_geojson(_geom(r["geom"])) if r["geom"] else None,
         "properties": {"layer": layer, **_props(r)}}
        for layer in ("places", "incidents") for r in data[layer]
    ]
    _audit(session, actor, pilot_id, "geojson", data)
    return {"type": "FeatureCollection", "metadata": data["metadata"], "features": features}


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> gpd.GeoDataFrame:
    df = pd.DataFrame([_props(r) for r in rows], columns=columns)
    geoms = [_geom(r["geom"]) for r in rows]
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


def export_gpkg(session: Session, actor: Actor, pilot_id: int) -> bytes:
    data = export_data(session, actor, pilot_id)
    cols = {
        "places": ["id", "name", "kind", "notes"],
        "incidents": [c for c in INCIDENT_CSV_HEADER
                      if c != "description" or data["metadata"]["restricted_text_included"]],
        "safety_factors": ["id", "place_id", "place_name", "quadrant", "statement", "weight",
                           "confidence", "voice"],
    }
    fd, tmp = tempfile.mkstemp(suffix=".gpkg")
    os.close(fd)
    os.unlink(tmp)
    try:
        for name, columns in cols.items():
            pyogrio.write_dataframe(_frame(data[name], columns), tmp, layer=name,
                                    driver="GPKG", geometry_type="Unknown")
        for name, rows in data["layers"].items():
            pyogrio.write_dataframe(_frame(rows, ["id", "name", "properties"]), tmp,
                                    layer=name, driver="GPKG", geometry_type="Unknown")
        meta = pd.DataFrame([{"key": k, "value": str(v)}
                             for k, v in data["metadata"].items()])
        pyogrio.write_dataframe(meta, tmp, layer="metadata", driver="GPKG")
        with open(tmp, "rb") as fh:
            out = fh.read()
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _audit(session, actor, pilot_id, "gpkg", data)
    return out


def export_csv(session: Session, actor: Actor, pilot_id: int) -> str:
    """Incidents with their place's name; formula-like cells neutralised."""
    data = export_data(session, actor, pilot_id)
    header = [c for c in INCIDENT_CSV_HEADER
              if c != "description" or data["metadata"]["restricted_text_included"]]
    rows = [[_props(r).get(c) for c in header] for r in data["incidents"]]
    _audit(session, actor, pilot_id, "csv", data)
    return "".join(csv_lines(header, rows))
