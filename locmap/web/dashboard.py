"""The partnership dashboard page: counts of young people, protected for partners.

The owning team sees exact numbers on any date and can preview the partner version
(``view=partner``); partner reviewers always see the partner version, which exists at
completed quarter ends only (a quarter picker; any other ``as_of`` is snapped back to the
last quarter end on or before it, and the page says so). ``print=1`` gives a printable page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, render_template, request

from locmap.services import audit, dashboard, pilots
from locmap.web.context import actor, db_session, login_required, suppression_threshold

bp = Blueprint("dashboard", __name__)


def _as_of() -> dt.date | None:
    text = request.args.get("as_of", "")
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        abort(400, "as_of must be a date (YYYY-MM-DD).")


@bp.route("/pilots/<int:pilot_id>/dashboard")
@login_required
def dashboard_page(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    partner_view = request.args.get("view") == "partner"
    board = dashboard.dashboard(
        s, a, pilot_id, as_of=_as_of(), partner_view=partner_view,
        threshold=suppression_threshold())
    audit.record_view(s, a, "dashboard", pilot_id)  # at most once an hour (issue 14)
    pilot = pilots.pilot_summary(s, a, pilots.get_pilot(s, a, pilot_id), threshold=int(
        suppression_threshold())).to_dict()
    query = {"as_of": board.as_of.isoformat(), **({"view": "partner"} if partner_view else {})}
    return render_template("dashboard.html", pilot=pilot, board=board, query=query,
                           printable=request.args.get("print") == "1")
