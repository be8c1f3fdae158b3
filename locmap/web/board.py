"""The board's pack page: ask for a quarterly or annual pack, see it being built by the
worker, download its PDF and XLSX.

Every check is in :mod:`locmap.services.board_pack`; the pack's figures are as the person
who asked for it may see them (partner versions suppressed).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from locmap.errors import InvalidData, NotFound
from locmap.services import board_pack, pilots
from locmap.services.permissions import can
from locmap.web.context import actor, database, db_session, login_required, suppression_threshold

bp = Blueprint("board", __name__)


def _threshold() -> int:
    return suppression_threshold()


@bp.route("/board-packs", methods=["GET", "POST"])
@login_required
def packs() -> Any:
    s, a = db_session(), actor()
    if request.method == "POST":
        scope = request.form.get("scope", "all")
        try:
            pilot_id = None if scope in ("", "all") else int(scope)
            end = dt.date.fromisoformat(request.form.get("period_end", ""))
        except ValueError:
            flash("Choose the pilots and a quarter end from the lists.", "error")
            return redirect(url_for(".packs"))
        try:
            pack = board_pack.request_pack(s, a, pilot_id, request.form.get("period", ""),
                                           end)
        except (InvalidData, NotFound) as exc:
            s.rollback()
            flash(exc.message, "error")
            return redirect(url_for(".packs"))
        s.commit()
        inline = bool(current_app.config.get("TESTING") or current_app.config.get(
            "LOCMAP_IMPORT_SYNC"))
        board_pack.submit_pack(database(), pack.id, threshold=_threshold(), inline=inline)
        flash("The pack is being made. It appears below when it is ready.", "info")
        return redirect(url_for(".packs"))
    mine = [p for p in pilots.visible_pilots(s, a) if can(a, p.id, "dashboard.view")]
    chosen = request.args.get("pilot", "all")
    return render_template("board_packs.html", pilots=mine, chosen=chosen,
                           periods=board_pack.PERIODS, ends=board_pack.period_choices(),
                           packs=board_pack.my_packs(s, a))


@bp.route("/board-packs/file")
@login_required
def pack_file() -> Any:
    s, a = db_session(), actor()
    try:
        pack_id = int(request.args.get("pack", ""))
    except ValueError:
        abort(400, "pack must be a pack's number.")
    data, ctype, name = board_pack.pack_file(s, a, pack_id, request.args.get("format", "pdf"))
    s.commit()
    return Response(data, mimetype=ctype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
