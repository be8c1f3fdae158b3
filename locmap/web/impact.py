"""Impact and displacement pages: a place before and after a response, and the watch for
harm that moved next door.

Settings travel in the query string (so a view can be bookmarked and shared with its
parameters) and are read by the same parser as the API. A refused setting re-renders the
page with the message (422); confirming or dismissing a flag is a plain form post that
redirects back to the watch.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.datastructures import MultiDict

from locmap.errors import InvalidData
from locmap.services import assessments, displacement, impact, places
from locmap.services.permissions import can, require
from locmap.services.pilots import get_pilot
from locmap.web.context import actor, db_session, login_required, suppression_threshold

__all__ = ["bp", "impact_args", "watch_args", "parse_date"]

bp = Blueprint("impact", __name__)


def parse_date(value: str | None, name: str) -> dt.date | None:
    if not value:
        return None
    try:
        if len(value) == 7:  # "YYYY-MM" as from <input type="month">
            return dt.date.fromisoformat(value + "-01")
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidData(f"{name} must be a date like 2025-01-01.") from exc


def _float(args: MultiDict[str, str], name: str, default: float) -> float:
    value = args.get(name)
    if value in (None, ""):
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise InvalidData(f"{name} must be a number of metres.") from exc


def _ints(args: MultiDict[str, str], name: str) -> tuple[int, ...]:
    values = [v for raw in args.getlist(name) for v in raw.split(",") if v.strip()]
    try:
        return tuple(int(v) for v in values)
    except ValueError as exc:
        raise InvalidData(f"{name} must be ids (whole numbers).") from exc


def impact_args(args: MultiDict[str, str]) -> dict[str, Any]:
    """Keyword arguments of :func:`locmap.services.impact.place_impact` from a query."""
    return {"intervention": parse_date(args.get("intervention"), "intervention"),
            "buffer_m": _float(args, "buffer_m", impact.DEFAULT_BUFFER_M),
            "buffer_place_ids": _ints(args, "buffer_place"),
            "control": args.get("control") or "locality",
            "control_geometry": args.get("control_geometry") or None,
            "place_m": _float(args, "place_m", impact.PLACE_REACH_M)}


def watch_args(args: MultiDict[str, str], config: Any) -> dict[str, Any]:
    """Keyword arguments of :func:`locmap.services.displacement.watch` from a query."""
    default = float(config.get("LOCMAP_DISPLACEMENT_DISTANCE_M",
                               displacement.DEFAULT_DISTANCE_M))
    return {"distance_m": _float(args, "distance_m", default),
            "month": parse_date(args.get("month"), "month"),
            "layer_ids": _ints(args, "layer") if "layers_set" in args else None}


@bp.route("/pilots/<int:pilot_id>/places/<int:place_id>/impact")
@login_required
def place_impact(pilot_id: int, place_id: int) -> Any:
    s, a = db_session(), actor()
    pilot = get_pilot(s, a, pilot_id)
    place = assessments.place_header(s, a, pilot_id, place_id)  # 404 outside the pilot
    others = [f for f in places.list_places(s, a, pilot_id,
                                            threshold=suppression_threshold())["features"]
              if f["geometry"] is not None and f["id"] != place_id]
    data, error, status = None, None, 200
    try:
        data = impact.place_impact(s, a, pilot_id, place_id, **impact_args(request.args))
    except InvalidData as exc:
        error, status = exc.message, 422
    return render_template(
        "impact.html", pilot=pilot, place=place, data=data, error=error, others=others,
        args=request.args, band_words=impact.BAND_TEXT,
        tile_url=current_app.config["LOCMAP_TILE_URL"],
        tile_attribution=current_app.config["LOCMAP_TILE_ATTRIBUTION"],
    ), status


@bp.route("/pilots/<int:pilot_id>/displacement")
@login_required
def watch(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    pilot = get_pilot(s, a, pilot_id)
    data, error, status = None, None, 200
    try:
        data = displacement.watch(s, a, pilot_id, **watch_args(request.args, current_app.config))
    except InvalidData as exc:
        error, status = exc.message, 422
    return render_template(
        "displacement.html", pilot=pilot, data=data, error=error, args=request.args,
        can_decide=can(a, pilot_id, "displacement.decide"),
        query=request.query_string.decode("ascii", "replace"),
    ), status


@bp.route("/pilots/<int:pilot_id>/displacement/decide", methods=["POST"])
@login_required
def decide(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "displacement.decide")  # 404/403 before the form is read
    f = request.form
    back = url_for(".watch", pilot_id=pilot_id) + ("?" + f["query"] if f.get("query") else "")
    try:
        month = parse_date(f.get("month"), "month")
        if month is None:
            raise InvalidData("month is required.")
        out = displacement.decide(
            s, a, pilot_id, source_place_id=int(f.get("source_place_id", "0") or 0),
            dest_kind=f.get("dest_kind", ""), dest_id=int(f.get("dest_id", "0") or 0),
            month=month, status=f.get("status", ""), reason=f.get("reason", ""),
            distance_m=_float(f, "distance_m", displacement.DEFAULT_DISTANCE_M))
    except (InvalidData, ValueError) as exc:
        s.rollback()
        flash(getattr(exc, "message", str(exc)), "error")
        return redirect(back)
    flash(f"{out['label']}: {out['status']}.", "info")
    return redirect(back + "#flags")
