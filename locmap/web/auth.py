"""Logging in and out."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import UserMixin, login_user, logout_user

from locmap.services import accounts, audit
from locmap.web.context import actor, db_session, login_required
from locmap.web.extensions import login_manager

bp = Blueprint("auth", __name__)


class LoginUser(UserMixin):
    """Flask-Login's view of a user; the ORM row stays in ``.user``."""

    def __init__(self, user: Any) -> None:
        self.user = user
        self.id = user.id
        self.name = user.name
        self.email = user.email
        self.is_admin = user.is_admin
        self.is_auditor = user.is_auditor


@login_manager.user_loader
def load_user(user_id: str) -> LoginUser | None:
    user = accounts.active_user(db_session(), int(user_id)) if user_id.isdigit() else None
    return LoginUser(user) if user is not None else None


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths; anything else goes home (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("pages.home")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "POST":
        email = request.form.get("email", "")
        password = request.form.get("password", "")
        user = accounts.authenticate(db_session(), email, password, request.remote_addr)
        if user is not None:
            session.clear()
            login_user(LoginUser(user))
            return redirect(_safe_next(request.args.get("next")))
        db_session().commit()  # keep the audit of the failure although we answer 401
        flash("Wrong email or password, or the account is locked for a while.", "error")
        return render_template("login.html", email=email), 401
    return render_template("login.html", email="")


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    audit.record(db_session(), actor(), "logout", "user", actor().user_id)
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
