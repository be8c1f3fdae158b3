"""Logging in and out, the two-factor step, and the guard that sends admins and auditors
without two-factor to enrol.

The login session is server-side (``user_session``, :mod:`locmap.services.accounts`):
Flask-Login keeps in the signed cookie only the session's random token (it is what
``LoginUser.get_id`` returns), and every request looks the token up, so logout,
deactivation and a password change end the session wherever a copy of the cookie is.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import UserMixin, current_user, login_user, logout_user

from locmap import clock
from locmap.services import accounts, audit, two_factor
from locmap.web.context import actor, db_session, field_box, login_required
from locmap.web.extensions import login_manager

bp = Blueprint("auth", __name__)

WRONG_LOGIN = "Wrong email or password, or the account is locked for a while."
WRONG_CODE = "That code is not right, or the account is locked for a while."
# The password step is good for this long while the code is asked for.
CODE_STEP_TIMEOUT = dt.timedelta(minutes=5)
# What an admin or auditor who must still enrol in two-factor may reach.
ENROL_ENDPOINTS = frozenset({"account.two_factor", "auth.logout", "auth.login",
                             "auth.login_code", "static", "health.healthz"})


class LoginUser(UserMixin):
    """Flask-Login's view of a user; the ORM row stays in ``.user``, the session's token
    (what the cookie carries) in ``.token`` and its row id in ``.session_id``.
    """

    def __init__(self, user: Any, token: str, session_id: int) -> None:
        self.user = user
        self.token = token
        self.session_id = session_id
        self.name = user.name
        self.email = user.email
        self.is_admin = user.is_admin
        self.is_auditor = user.is_auditor

    def get_id(self) -> str:
        return self.token


def session_policy() -> accounts.SessionPolicy:
    cfg = current_app.config
    return accounts.SessionPolicy(
        idle=dt.timedelta(minutes=int(cfg["LOCMAP_SESSION_IDLE_MINUTES"])),
        absolute=dt.timedelta(hours=int(cfg["LOCMAP_SESSION_ABSOLUTE_HOURS"])))


@login_manager.user_loader
def load_user(token: str) -> LoginUser | None:
    found = accounts.session_user(db_session(), token, session_policy())
    if found is None:
        return None
    user, row = found
    return LoginUser(user, token, row.id)


@bp.before_app_request
def _two_factor_enrolment_first() -> Any:
    """Admins and auditors without two-factor reach the enrolment page and nothing else."""
    if request.endpoint in ENROL_ENDPOINTS or not current_user.is_authenticated:
        return None
    if not two_factor.must_enrol(current_user.user,
                                 bool(current_app.config["LOCMAP_REQUIRE_TOTP_FOR_ADMINS"])):
        return None
    message = "Set up two-factor sign-in first: your role requires it."
    if request.path.startswith("/api/"):
        return jsonify(error="two_factor_required", message=message), 403
    flash(message, "info")
    return redirect(url_for("account.two_factor"))


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths; anything else goes home (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("pages.home")


def _finish_login(user: Any, next_url: str | None) -> Any:
    session.clear()
    token, row = accounts.start_session(
        db_session(), user, session_policy(), remote_addr=request.remote_addr,
        user_agent=request.headers.get("User-Agent"))
    login_user(LoginUser(user, token, row.id))
    if two_factor.must_enrol(user, bool(current_app.config["LOCMAP_REQUIRE_TOTP_FOR_ADMINS"])):
        return redirect(url_for("account.two_factor"))
    return redirect(_safe_next(next_url))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "POST":
        email = request.form.get("email", "")
        password = request.form.get("password", "")
        user = accounts.authenticate(db_session(), email, password, request.remote_addr)
        if user is not None:
            if two_factor.is_enrolled(user):
                # The password was right; the session starts only after the code.
                session.clear()
                session["login_code"] = {"user_id": user.id,
                                         "at": clock.now().isoformat(),
                                         "next": request.args.get("next")}
                return redirect(url_for("auth.login_code"))
            return _finish_login(user, request.args.get("next"))
        db_session().commit()  # keep the audit of the failure although we answer 401
        flash(WRONG_LOGIN, "error")
        return render_template("login.html", email=email), 401
    return render_template("login.html", email="")


def _pending_code_login() -> dict[str, Any] | None:
    pending = session.get("login_code")
    if not isinstance(pending, dict) or not isinstance(pending.get("user_id"), int):
        return None
    try:
        at = dt.datetime.fromisoformat(str(pending.get("at")))
    except ValueError:
        return None
    if clock.now() - at > CODE_STEP_TIMEOUT:
        return None
    return pending


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> Any:
    pending = _pending_code_login()
    if pending is None:
        session.pop("login_code", None)
        flash("Log in with your email and password first (the code step lasts "
              f"{CODE_STEP_TIMEOUT.seconds // 60} minutes).", "info")
        return redirect(url_for("auth.login"))
    if request.method == "POST":
        user = two_factor.check_code(db_session(), pending["user_id"],
                                     request.form.get("code", ""), request.remote_addr,
                                     field_box())
        if user is not None:
            return _finish_login(user, pending.get("next"))
        db_session().commit()  # keep the audit of the failure although we answer 401
        flash(WRONG_CODE, "error")
        return render_template("login_code.html"), 401
    return render_template("login_code.html")


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    audit.record(db_session(), actor(), "logout", "user", actor().user_id)
    accounts.end_session(db_session(), current_user.token)
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
