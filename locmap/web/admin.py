"""Administration pages (issue 15): agencies, users, pilots and members; one-time links;
the first-run gate and the "change your password" gate.

First run: until an active admin exists every page answers 503 with the instruction to
run ``locmap init`` on the server (docs/decisions.md: a first visit from a loopback
address would trust whoever reaches the server first, and behind a reverse proxy every
visitor looks local). One-time links (``/invite/<token>``) stay reachable, so the setup
link ``locmap init`` prints can make the first admin's password.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
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
from flask_login import current_user, logout_user
from werkzeug.utils import secure_filename

from locmap.errors import InvalidData, InvalidGeometry, LocmapError
from locmap.services import admin, pilot_admin
from locmap.vocab import AGENCY_KINDS, PILOT_ROLES, PILOT_STATUSES
from locmap.web.context import actor, db_session, login_required

bp = Blueprint("admin", __name__)

_OPEN_ENDPOINTS = frozenset({"static", "health.healthz", "admin.invite", "api.openapi"})
_PASSWORD_OK = frozenset({"static", "health.healthz", "admin.change_password", "auth.logout",
                          "admin.invite"})


@bp.before_app_request
def _gates() -> Any:
    endpoint = request.endpoint or ""
    app = current_app
    if not app.extensions.get("locmap_has_admin") and endpoint not in _OPEN_ENDPOINTS:
        if admin.has_admin(db_session()):
            app.extensions["locmap_has_admin"] = True
        else:
            return render_template("admin/setup_needed.html"), 503
    # The request's user row is loaded already (web/auth.py): no second query.
    if (endpoint not in _PASSWORD_OK and current_user.is_authenticated
            and current_user.user.must_change_password):
        if request.path.startswith("/api/"):
            return {"error": "password_change_required",
                    "message": "Change your password first (/account/new-password)."}, 403
        return redirect(url_for("admin.change_password"))
    return None


def _flag(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "true", "yes")


def _int_or_none(name: str) -> int | None:
    value = (request.form.get(name) or "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise InvalidData(f"{name} must be a number.")
    return int(value)


def _date(name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(request.form.get(name, ""))
    except ValueError:
        raise InvalidData("Give the start date as a date (YYYY-MM-DD).") from None


def _number(name: str, default: int) -> int:
    value = (request.form.get(name) or "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise InvalidData(f"{name.replace('_', ' ')} must be a whole number.")
    return int(value)


# ---- first run, links, own password ---------------------------------------------------


@bp.route("/invite/<token>", methods=["GET", "POST"])
def invite(token: str) -> Any:
    """Choose a password through a one-time link (invitation, reset or setup)."""
    s = db_session()
    inv = admin.peek_link(s, token)  # LinkExpired → 410 page
    error = None
    if request.method == "POST":
        try:
            admin.redeem_link(s, token, password=request.form.get("password", ""),
                              confirm=request.form.get("confirm", ""),
                              remote_addr=request.remote_addr)
        except InvalidData as exc:
            error = exc.message
        else:
            if current_user.is_authenticated:
                logout_user()
            flash("Your password is set. Log in with it.", "info")
            return redirect(url_for("auth.login"))
    return render_template("admin/invite.html", name=inv.user.name, email=inv.user.email,
                           purpose=inv.purpose, error=error), 422 if error else 200


@bp.route("/account/new-password", methods=["GET", "POST"])
@login_required
def change_password() -> Any:
    error = None
    if request.method == "POST":
        try:
            admin.change_password(db_session(), actor(), current=request.form.get("current", ""),
                                  new=request.form.get("password", ""),
                                  confirm=request.form.get("confirm", ""),
                                  keep_session_id=current_user.session_id)
        except InvalidData as exc:
            error = exc.message
        else:
            flash("Your password is changed.", "info")
            return redirect(url_for("pages.home"))
    required = bool(current_user.user.must_change_password)
    return render_template("admin/password.html", error=error,
                           required=required), 422 if error else 200


# ---- admin overview, agencies, users --------------------------------------------------


@bp.route("/admin")
@login_required
def index() -> Any:
    s, a = db_session(), actor()
    return render_template("admin/index.html", agencies=admin.list_agencies(s, a),
                           active_users=admin.count_active_users(s, a),
                           pilots=pilot_admin.list_pilots(s, a))


@bp.route("/admin/agencies", methods=["GET", "POST"])
@login_required
def agencies() -> Any:
    s, a = db_session(), actor()
    admin.require_admin(a)
    error = None
    if request.method == "POST":
        try:
            agency = admin.create_agency(s, a, name=request.form.get("name", ""),
                                         kind=request.form.get("kind", ""))
        except InvalidData as exc:
            error = exc.message
        else:
            flash(f"Agency “{agency.name}” created.", "info")
            return redirect(url_for("admin.agencies"))
    return render_template("admin/agencies.html", agencies=admin.list_agencies(s, a),
                           kinds=AGENCY_KINDS, error=error,
                           form=request.form), 422 if error else 200


@bp.route("/admin/agencies/<int:agency_id>", methods=["POST"])
@login_required
def agency(agency_id: int) -> Any:
    s, a = db_session(), actor()
    admin.require_admin(a)
    try:
        ag = admin.update_agency(s, a, agency_id, name=request.form.get("name"),
                                 kind=request.form.get("kind"),
                                 active=_flag("active") if "name" in request.form else None)
    except InvalidData as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.agencies")), 303
    flash(f"Agency “{ag.name}” saved.", "info")
    return redirect(url_for("admin.agencies"))


@bp.route("/admin/users", methods=["GET", "POST"])
@login_required
def users() -> Any:
    s, a = db_session(), actor()
    admin.require_admin(a)
    error, made = None, None
    if request.method == "POST":
        try:
            user, link = admin.invite_user(
                s, a, email=request.form.get("email", ""), name=request.form.get("name", ""),
                agency_id=_int_or_none("agency_id"), is_admin=_flag("is_admin"),
                is_auditor=_flag("is_auditor"), base_url=request.url_root)
        except InvalidData as exc:
            error = exc.message
        else:
            made = {"email": user.email, "url": link.url(request.url_root),
                    "expires_at": link.expires_at, "emailed": link.emailed,
                    "mail_error": link.mail_error}
    return render_template("admin/users.html", users=admin.list_users(s, a),
                           agencies=[x for x in admin.list_agencies(s, a) if x["active"]],
                           error=error, made=made,
                           form=request.form if error else {}), 422 if error else 200


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@login_required
def user(user_id: int) -> Any:
    s, a = db_session(), actor()
    admin.require_admin(a)
    error, link = None, None
    if request.method == "POST":
        what = request.form.get("action", "save")
        try:
            if what == "reset":
                made = admin.reset_link(s, a, user_id, base_url=request.url_root)
                link = {"url": made.url(request.url_root), "expires_at": made.expires_at,
                        "emailed": made.emailed, "mail_error": made.mail_error}
            elif what in ("deactivate", "activate"):
                admin.update_user(s, a, user_id, active=what == "activate")
                flash("Account deactivated: they can no longer log in." if what == "deactivate"
                      else "Account reactivated.", "info")
                return redirect(url_for("admin.user", user_id=user_id))
            else:
                admin.update_user(
                    s, a, user_id, name=request.form.get("name"),
                    agency_id=_int_or_none("agency_id"), is_admin=_flag("is_admin"),
                    is_auditor=_flag("is_auditor"),
                    must_change_password=_flag("must_change_password"))
                flash("Saved.", "info")
                return redirect(url_for("admin.user", user_id=user_id))
        except LocmapError as exc:
            if exc.status == 404:
                raise
            error = exc.message
    return render_template("admin/user.html", u=admin.user_dict(s, a, user_id),
                           agencies=admin.list_agencies(s, a), error=error,
                           link=link), 422 if error else 200


# ---- pilots ----------------------------------------------------------------------------


def _uploaded_locality() -> dict[str, Any] | None:
    f = request.files.get("locality_file")
    if f is None or not f.filename:
        return None
    name = secure_filename(f.filename) or "locality.geojson"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        f.save(path)
        return pilot_admin.locality_from_file(
            path, crs=request.form.get("crs") or None,
            feature=request.form.get("feature") or None)


def _form_locality() -> dict[str, Any]:
    uploaded = _uploaded_locality()
    if uploaded is not None:
        return uploaded
    feature_id = _int_or_none("feature_id")
    if feature_id is not None:
        return pilot_admin.locality_from_feature(db_session(), actor(), feature_id)
    drawn = (request.form.get("locality") or "").strip()
    if not drawn:
        raise InvalidData("Draw the locality on the map or upload a boundary file.")
    import json

    try:
        data = json.loads(drawn)
    except ValueError:
        raise InvalidGeometry("The drawn locality could not be read.") from None
    if not isinstance(data, dict):
        raise InvalidGeometry("The drawn locality could not be read.")
    return data


def _map_config() -> dict[str, Any]:
    return {"tile_url": current_app.config["LOCMAP_TILE_URL"],
            "tile_attribution": current_app.config["LOCMAP_TILE_ATTRIBUTION"]}


@bp.route("/admin/pilots/new", methods=["GET", "POST"])
@login_required
def new_pilot() -> Any:
    s, a = db_session(), actor()
    admin.require_admin(a)
    error, repaired, drawn = None, None, None
    if request.method == "POST":
        drawn = request.form.get("locality") or None
        try:
            p = pilot_admin.create_pilot(
                s, a, name=request.form.get("name", ""), locality=_form_locality(),
                start_date=_date("start_date"),
                duration_months=_number("duration_months", 18),
                review_interval_months=_number("review_interval_months", 3),
                description=request.form.get("description", ""))
        except InvalidData as exc:
            error = exc.message
            repaired = (exc.details or {}).get("repaired")
        else:
            flash(f"Pilot “{p.name}” created with {len(p.review_points)} review points. "
                  "Now add its members.", "info")
            return redirect(url_for("admin.members", pilot_id=p.id))
    return render_template("admin/pilot_new.html", error=error, repaired=repaired,
                           drawn=drawn, form=request.form, map=_map_config(),
                           boundaries=pilot_admin.boundary_choices(s, a)), (
        422 if error else 200)


@bp.route("/admin/pilots/<int:admin_pilot_id>", methods=["GET", "POST"])
@login_required
def pilot(admin_pilot_id: int) -> Any:
    s, a = db_session(), actor()
    admin.require_admin(a)
    pid = admin_pilot_id
    error = None
    if request.method == "POST":
        what = request.form.get("action", "")
        try:
            if what == "details":
                pilot_admin.update_pilot(s, a, pid, name=request.form.get("name"),
                                         description=request.form.get("description"))
            elif what == "timeline":
                pilot_admin.set_timeline(
                    s, a, pid, start_date=_date("start_date"),
                    duration_months=_number("duration_months", 18),
                    review_interval_months=_number("review_interval_months", 3))
            elif what == "approval":
                pilot_admin.set_approval_rule(
                    s, a, pid, rule=request.form.get("approval_rule", ""),
                    agency_ids=[int(x) for x in request.form.getlist("agency_ids")
                                if x.isdigit()],
                    min_approvals=_number("min_approvals", 0))
            elif what == "status":
                pilot_admin.set_status(s, a, pid, request.form.get("status", ""))
            else:
                raise InvalidData("Nothing to save.")
        except LocmapError as exc:
            if exc.status == 404:
                raise
            error = exc.message
        else:
            flash("Saved.", "info")
            return redirect(url_for("admin.pilot", admin_pilot_id=pid))
    return render_template("admin/pilot.html", p=pilot_admin.pilot_settings(s, a, pid),
                           agencies=admin.list_agencies(s, a), statuses=PILOT_STATUSES,
                           error=error, map=_map_config()), 422 if error else 200


# ---- members (an admin, or the pilot's coordinator) -----------------------------------


@bp.route("/pilots/<int:pilot_id>/members", methods=["GET", "POST"])
@login_required
def members(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    rows = pilot_admin.list_members(s, a, pilot_id)  # 404 / 403 before anything else
    error = None
    if request.method == "POST":
        try:
            pilot_admin.add_member(s, a, pilot_id, email=request.form.get("email", ""),
                                   role=request.form.get("role", ""))
        except InvalidData as exc:
            error = exc.message
        else:
            flash(f"Added {request.form.get('email', '').strip()} as "
                  f"{request.form.get('role', '').replace('_', ' ')}.", "info")
            return redirect(url_for("admin.members", pilot_id=pilot_id))
    return render_template("admin/members.html", members=rows, roles=PILOT_ROLES,
                           pilot_id=pilot_id, pilot_name=pilot_admin.pilot_name(s, pilot_id),
                           error=error,
                           form=request.form if error else {}), 422 if error else 200


@bp.route("/pilots/<int:pilot_id>/members/remove", methods=["POST"])
@login_required
def remove_member(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    pilot_admin.list_members(s, a, pilot_id)  # the permission first
    mid = request.form.get("membership_id", "")
    if not mid.isdigit():
        raise InvalidData("Which membership? (membership_id)")
    pilot_admin.remove_member(s, a, pilot_id, int(mid))
    flash("Removed.", "info")
    return redirect(url_for("admin.members", pilot_id=pilot_id))
