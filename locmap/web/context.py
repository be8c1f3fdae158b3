"""Per-request plumbing: the database session and the acting user.

One session per request, committed after a successful response and rolled back after an
error, so a request is one transaction (its audit events included).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, g, jsonify, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.orm import Session

from locmap.crypto import FieldBox
from locmap.db import Database
from locmap.services.permissions import Actor
from locmap.services.pilot_scope import scope_session

__all__ = ["db_session", "actor", "login_required", "data_request", "init_request_scope",
           "database", "field_box", "suppression_threshold"]

F = TypeVar("F", bound=Callable[..., Any])


def suppression_threshold() -> int:
    """The smallest count partners may read (``LOCMAP_SUPPRESSION_THRESHOLD``, default 5)."""
    return int(current_app.config["LOCMAP_SUPPRESSION_THRESHOLD"])


def database() -> Database:
    db: Database = current_app.extensions["locmap_db"]
    return db


def field_box() -> FieldBox:
    """Encrypts and decrypts secrets at rest with a key derived from the app's secret key."""
    return FieldBox(current_app.config["SECRET_KEY"])


def db_session() -> Session:
    if "db_session" not in g:
        g.db_session = database().sessionmaker()
        # A pilot's URL: the request reads and writes that pilot's rows only (one worker
        # of a Citus cluster; permissions still decide whether it may at all).
        pilot_id = (request.view_args or {}).get("pilot_id") if request else None
        if isinstance(pilot_id, int):
            scope_session(g.db_session, pilot_id)
    session: Session = g.db_session
    return session


def actor() -> Actor:
    """The logged-in user as an :class:`Actor` (roles loaded once per request)."""
    if "actor" not in g:
        from locmap.services.accounts import actor_for

        g.actor = actor_for(db_session(), current_user.user, request.remote_addr)
    value: Actor = g.actor
    return value


def data_request(path: str) -> bool:
    """A request a script makes, not a page a person opens: the API and the maps' vector
    tiles (``.pbf``). Without a login it gets 401, never the login form: a map that
    followed the redirect would load the form in the background, and the new session that
    gives it would void the CSRF token of the login form the person has open.
    """
    return path.startswith("/api/") or path.endswith(".pbf")


def login_required(view: F) -> F:
    """Pages redirect to the login form; the API and the map tiles answer 401 JSON."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            if data_request(request.path):
                return jsonify(error="unauthenticated", message="Log in first."), 401
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def init_request_scope(app: Flask) -> None:
    @app.after_request
    def _commit(response: Any) -> Any:
        session = g.pop("db_session", None)
        if session is not None:
            try:
                if response.status_code < 400:
                    session.commit()
                else:
                    session.rollback()
            finally:
                session.close()
        return response

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()
