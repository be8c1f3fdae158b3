"""The signed-in user's own account: password, two-factor sign-in and open sessions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from locmap import clock
from locmap.errors import InvalidData
from locmap.services import accounts, two_factor
from locmap.web.auth import session_policy
from locmap.web.context import actor, db_session, field_box, login_required

bp = Blueprint("account", __name__, url_prefix="/account")


def _when(value: Any) -> str:
    return f"{value.astimezone(clock.LOCAL_TZ):%d %b %Y %H:%M}"


def _account_page(status: int = 200) -> Any:
    user = current_user.user
    rows = accounts.open_sessions(db_session(), user.id, session_policy())
    sessions = [{"current": r.id == current_user.session_id, "started": _when(r.created_at),
                 "seen": _when(r.last_seen_at), "addr": r.remote_addr or "unknown",
                 "agent": r.user_agent or "unknown browser"} for r in rows]
    policy = session_policy()
    return render_template(
        "account.html", user=user, sessions=sessions,
        enrolled=two_factor.is_enrolled(user),
        recovery_left=len(user.totp_recovery or []),
        required=(user.is_admin or user.is_auditor)
        and bool(current_app.config["LOCMAP_REQUIRE_TOTP_FOR_ADMINS"]),
        idle_minutes=int(policy.idle.total_seconds() // 60),
        absolute_hours=int(policy.absolute.total_seconds() // 3600),
        min_length=accounts.MIN_PASSWORD_LENGTH), status


@bp.route("", methods=["GET"])
@login_required
def index() -> Any:
    return _account_page()


@bp.route("/password", methods=["POST"])
@login_required
def change_password() -> Any:
    new = request.form.get("new_password", "")
    if new != request.form.get("new_password_again", ""):
        flash("The two new passwords are not the same.", "error")
        return _account_page(422)
    try:
        accounts.change_password(db_session(), actor(), current_user.user,
                                 request.form.get("current_password", ""), new,
                                 keep_session_id=current_user.session_id)
    except InvalidData as exc:
        db_session().commit()  # keep the audit of a refused change
        flash(exc.message, "error")
        return _account_page(422)
    flash("Password changed. Every other session of yours has been signed out.", "info")
    return redirect(url_for("account.index"))


@bp.route("/sessions/end-others", methods=["POST"])
@login_required
def end_other_sessions() -> Any:
    ended = accounts.revoke_sessions(db_session(), current_user.user.id,
                                     keep_session_id=current_user.session_id)
    flash(f"Signed out of {ended} other session{'s' if ended != 1 else ''}.", "info")
    return redirect(url_for("account.index"))


@bp.route("/two-factor", methods=["GET", "POST"], endpoint="two_factor")
@login_required
def two_factor_page() -> Any:
    user = current_user.user
    if two_factor.is_enrolled(user):
        return redirect(url_for("account.index"))
    secret = two_factor.pending_secret(db_session(), user, field_box())
    status = 200
    if request.method == "POST":
        try:
            codes = two_factor.confirm(db_session(), actor(), user, request.form.get("code", ""),
                                       field_box())
        except InvalidData as exc:
            db_session().commit()  # keep the audit of the failed code
            flash(exc.message, "error")
            status = 422
        else:
            flash("Two-factor sign-in is on. From now on you enter a code after your "
                  "password.", "info")
            return render_template("account_recovery.html", codes=codes)
    uri = two_factor.provisioning_uri(user, secret)
    return render_template("account_two_factor.html", secret=secret, uri=uri,
                           qr=two_factor.qr_svg(uri)), status


@bp.route("/two-factor/disable", methods=["POST"])
@login_required
def disable_two_factor() -> Any:
    try:
        two_factor.disable(db_session(), actor(), current_user.user,
                           request.form.get("password", ""))
    except InvalidData as exc:
        db_session().commit()
        flash(exc.message, "error")
        return _account_page(422)
    flash("Two-factor sign-in is off.", "info")
    return redirect(url_for("account.index"))
