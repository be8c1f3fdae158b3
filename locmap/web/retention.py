"""The retention page (issue 15, admins): the default rule and each pilot's, what a run
would erase now, and running it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from locmap.errors import InvalidData, LocmapError
from locmap.services import retention
from locmap.services.admin import require_admin
from locmap.web.context import actor, db_session, login_required

bp = Blueprint("retention", __name__)


@bp.route("/admin/retention", methods=["GET", "POST"])
@login_required
def rules() -> Any:
    s, a = db_session(), actor()
    require_admin(a)
    error, status = None, 200
    if request.method == "POST":
        what = request.form.get("action", "")
        try:
            if what == "save":
                scope = request.form.get("scope", "")
                if scope != "default" and not scope.isdigit():
                    raise InvalidData("Which rule? (scope)")
                version = request.form.get("version", "")
                retention.set_rule(s, a, None if scope == "default" else int(scope),
                                   request.form.to_dict(),
                                   version=int(version) if version.isdigit() else None)
                flash("Retention rule saved.", "info")
            elif what == "run":
                if request.form.get("confirm") != "1":
                    raise InvalidData("Tick the box to confirm the erasure.")
                done = retention.run(s, a)
                flash(done.summary().capitalize() + ".", "info")
            else:
                raise InvalidData("Nothing to do.")
        except LocmapError as exc:
            if exc.status == 404:
                raise
            error, status = exc.message, exc.status
            s.rollback()
        else:
            return redirect(url_for("retention.rules"))
    preview = retention.run(s, a, dry_run=True)
    return render_template("admin/retention.html", r=retention.rules(s, a), preview=preview,
                           error=error), status
