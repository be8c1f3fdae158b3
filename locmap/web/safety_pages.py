"""Safety-map pages: the pilot's maps per period with the combined perceived-safety surface,
and the drawing form a practitioner uses with a young person or a group (tablet first).

The form posts the map's fields and one row per area (``area_rating``, ``area_reason``, and
either ``area_geometry`` — drawn on the map, GeoJSON — or ``area_place`` — a whole place,
the keyboard alternative to drawing); the same service as the API checks and writes it.
A refusal re-renders the form with what was entered (422, or 409 when someone else saved
the map first).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from locmap import clock
from locmap.errors import Conflict, InvalidData
from locmap.services import places, safety_maps
from locmap.services.permissions import can, require
from locmap.services.pilots import get_pilot
from locmap.vocab import SAFETY_RATINGS
from locmap.web.context import actor, db_session, login_required, suppression_threshold

bp = Blueprint("safety_pages", __name__)

_URL = "/pilots/<int:pilot_id>/safety-maps"


def _threshold() -> int:
    return suppression_threshold()


def _tiles() -> dict[str, Any]:
    return {"tile_url": current_app.config["LOCMAP_TILE_URL"],
            "tile_attribution": current_app.config["LOCMAP_TILE_ATTRIBUTION"]}


@bp.route(_URL)
@login_required
def index(pilot_id: int) -> Any:
    """Maps by period (owning team) and the combined surface (everyone in the pilot)."""
    s, a = db_session(), actor()
    pilot = get_pilot(s, a, pilot_id, "evidence.view")
    period = request.args.get("period") or None
    compare_to = request.args.get("compare_to") or None
    surface = safety_maps.surface(s, a, pilot_id, period=period, compare_to=compare_to,
                                  threshold=_threshold())
    records = can(a, pilot_id, "evidence.records")
    maps = safety_maps.list_maps(s, a, pilot_id) if records else []
    by_period: dict[str, list[dict[str, Any]]] = {}
    for m in maps:
        by_period.setdefault(m["period"], []).append(m)
    return render_template(
        "safety_maps.html", pilot=pilot, surface=surface, by_period=by_period,
        records=records, can_edit=can(a, pilot_id, "evidence.edit"),
        map_data={**_tiles(), "cells": surface["cells"], "compare": bool(surface["compare_to"]),
                  "places": places.list_places(s, a, pilot_id, threshold=_threshold())})


def _form_values() -> dict[str, Any]:
    """The posted form as the service's input (areas zipped from the repeated fields)."""
    f = request.form
    kind = f.get("respondent_kind", "")
    data: dict[str, Any] = {
        "drawn_on": f.get("drawn_on", ""), "respondent_kind": kind,
        "respondent": f.get("respondent_band" if kind == "age_band" else "respondent_group",
                            ""),
        "areas": []}
    rows = zip(f.getlist("area_rating"), f.getlist("area_reason"), f.getlist("area_geometry"),
               f.getlist("area_place"), strict=False)
    for rating, reason, geometry, place in rows:
        area: dict[str, Any] = {"rating": rating, "reason": reason}
        if geometry.strip():
            try:
                area["geometry"] = json.loads(geometry)
            except ValueError:
                area["geometry"] = geometry  # the service says why it is refused
        elif place.isdigit():
            area["place_id"] = int(place)
        data["areas"].append(area)
    return data


def _form(pilot_id: int, smap: dict[str, Any] | None, *, values: dict[str, Any] | None = None,
          error: str = "", status: int = 200) -> Any:
    s, a = db_session(), actor()
    pilot = get_pilot(s, a, pilot_id, "evidence.records")
    feats = places.list_places(s, a, pilot_id, threshold=_threshold())["features"]
    shaped = [{"id": p["id"], "name": p["properties"]["name"]} for p in feats if p["geometry"]]
    v = values if values is not None else (smap or {
        "drawn_on": clock.today().isoformat(), "respondent_kind": "group", "respondent": "",
        "areas": []})
    names = {p["id"]: p["name"] for p in shaped}
    areas = [{**ar, "place_name": names.get(ar.get("place_id") or 0, "")}
             for ar in v.get("areas", [])]
    return render_template(
        "safety_map_form.html", pilot=pilot, smap=smap, v=v, areas=areas, error=error,
        ratings=SAFETY_RATINGS, age_bands=safety_maps.RESPONDENT_AGE_BANDS,
        shaped_places=shaped, can_edit=can(a, pilot_id, "evidence.edit"),
        map_data={**_tiles(), "places": {"type": "FeatureCollection", "features": feats},
                  "editable": can(a, pilot_id, "evidence.edit")},
    ), status


@bp.route(f"{_URL}/new")
@login_required
def new(pilot_id: int) -> Any:
    require(actor(), pilot_id, "evidence.edit")
    return _form(pilot_id, None)


@bp.route(_URL, methods=["POST"])
@login_required
def create(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "evidence.edit")
    data = _form_values()
    try:
        safety_maps.create_map(s, a, pilot_id, data)
    except InvalidData as exc:
        s.rollback()
        return _form(pilot_id, None, values=data, error=f"Not saved — {exc.message}",
                     status=exc.status)
    flash("Safety map saved.", "info")
    return redirect(url_for("safety_pages.index", pilot_id=pilot_id))


@bp.route(f"{_URL}/<int:safety_map_id>")
@login_required
def edit(pilot_id: int, safety_map_id: int) -> Any:
    smap = safety_maps.get_map(db_session(), actor(), pilot_id, safety_map_id)
    return _form(pilot_id, smap)


@bp.route(f"{_URL}/<int:safety_map_id>", methods=["POST"])
@login_required
def update(pilot_id: int, safety_map_id: int) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "evidence.edit")
    data = _form_values()
    version = request.form.get("version", "")
    try:
        safety_maps.update_map(s, a, pilot_id, safety_map_id, data,
                               int(version) if version.isdigit() else None)
    except (InvalidData, Conflict) as exc:
        s.rollback()
        smap = safety_maps.get_map(s, a, pilot_id, safety_map_id)
        return _form(pilot_id, smap, values={**data, "version": smap["version"]}
                     if isinstance(exc, InvalidData) else None,
                     error=f"Not saved — {exc.message}", status=exc.status)
    flash("Safety map updated.", "info")
    return redirect(url_for("safety_pages.index", pilot_id=pilot_id))


@bp.route(f"{_URL}/<int:safety_map_id>/delete", methods=["POST"])
@login_required
def delete(pilot_id: int, safety_map_id: int) -> Any:
    s, a = db_session(), actor()
    version = request.form.get("version", "")
    try:
        safety_maps.delete_map(s, a, pilot_id, safety_map_id,
                               int(version) if version.isdigit() else None)
    except Conflict as exc:
        s.rollback()
        return _form(pilot_id, safety_maps.get_map(s, a, pilot_id, safety_map_id),
                     error=f"Not deleted — {exc.message}", status=exc.status)
    flash("Safety map deleted.", "info")
    return redirect(url_for("safety_pages.index", pilot_id=pilot_id))
