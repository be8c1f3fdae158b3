"""Changing a pilot's locality (issue 15): redraw it on the map or upload a boundary file;
what would fall outside is shown and must be confirmed. An admin, or the coordinator.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from locmap.errors import Conflict, InvalidData
from locmap.services import locality
from locmap.web.admin import _form_locality
from locmap.web.context import actor, db_session, login_required

bp = Blueprint("locality", __name__)


@bp.route("/pilots/<int:pilot_id>/locality", methods=["GET", "POST"])
@login_required
def change(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    now = locality.current(s, a, pilot_id)  # 404 / 403 first
    error, warning, repaired, status = None, None, None, 200
    drawn = json.dumps(now["locality"])
    version = now["version"]
    if request.method == "POST":
        given = request.form.get("version", "")
        version = int(given) if given.isdigit() else None
        try:
            area = _form_locality()
            drawn = json.dumps(area)
            done = locality.set_locality(s, a, pilot_id, area, version=version,
                                         confirm=request.form.get("confirm") == "1")
        except Conflict as exc:
            s.rollback()
            status = 409
            if (exc.details or {}).get("confirm") == "required":
                warning = exc.message
            else:
                error = exc.message
        except InvalidData as exc:
            s.rollback()
            error, status = exc.message, 422
            repaired = (exc.details or {}).get("repaired")
        else:
            flash("Locality saved." + (
                f" {done['incidents_leaving']} incident(s) are no longer in it."
                if done["incidents_leaving"] else ""), "info")
            return redirect(url_for("locality.change", pilot_id=pilot_id))
    return render_template(
        "admin/locality.html", p=now, drawn=drawn, version=version, error=error,
        warning=warning, repaired=repaired,
        map={"tile_url": current_app.config["LOCMAP_TILE_URL"],
             "tile_attribution": current_app.config["LOCMAP_TILE_ATTRIBUTION"]}), status
