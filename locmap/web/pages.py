"""Server-rendered pages: the pilot list with its map, and one pilot's map workspace."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template

from locmap.services import pilots, places
from locmap.services.permissions import can
from locmap.timeline import pilot_end
from locmap.web.context import actor, db_session, login_required, suppression_threshold

bp = Blueprint("pages", __name__)


@bp.route("/")
@login_required
def home() -> Any:
    s, a = db_session(), actor()
    threshold = suppression_threshold()
    mine = [pilots.pilot_summary(s, a, p, threshold=threshold).to_dict()
            for p in pilots.visible_pilots(s, a) if a.is_member(p.id)]
    return render_template("pilots.html", pilots=mine)


@bp.route("/accessibility")
def accessibility() -> Any:
    """The accessibility statement (public: people need it before they can log in)."""
    return render_template("accessibility.html")


@bp.route("/pilots/<int:pilot_id>")
@login_required
def pilot(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    p = pilots.get_pilot(s, a, pilot_id)
    threshold = suppression_threshold()
    summary = pilots.pilot_summary(s, a, p, threshold=threshold).to_dict()
    collection = places.list_places(s, a, pilot_id, threshold=threshold)
    return render_template(
        "pilot.html", pilot=summary, places=collection,
        end_date=pilot_end(p.start_date, p.duration_months),
        review_points=p.review_points, interval=p.review_interval_months,
        tile_url=current_app.config["LOCMAP_TILE_URL"],
        tile_attribution=current_app.config["LOCMAP_TILE_ATTRIBUTION"],
        can_export=can(a, pilot_id, "export.records"),
        can_list_incidents=can(a, pilot_id, "evidence.records"),
        can_assess=can(a, pilot_id, "assessment.edit"),
    )
