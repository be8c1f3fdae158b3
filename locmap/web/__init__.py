"""The Flask application: ``create_app(config)`` wires settings, database and blueprints."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from locmap.config import load_settings
from locmap.db import Database
from locmap.errors import Forbidden, LocmapError, NotFound
from locmap.formatting import FILTERS
from locmap.services import limits
from locmap.vocab import label
from locmap.web import hardening
from locmap.web.context import init_request_scope, suppression_threshold
from locmap.web.extensions import csrf, login_manager

__all__ = ["create_app", "content_security_policy", "tile_source", "NOT_FOUND_MESSAGE"]

NOT_FOUND_MESSAGE = "Not found, or not something you have access to."


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides settings; ``config["DATABASE"]`` may be a ready
    :class:`~locmap.db.Database` (tests bind it to their transaction).
    """
    app = Flask(__name__)
    settings = load_settings()
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        REMEMBER_COOKIE_SECURE=settings.cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=settings.session_absolute_hours * 3600,
        LOCMAP_SESSION_IDLE_MINUTES=settings.session_idle_minutes,
        LOCMAP_SESSION_ABSOLUTE_HOURS=settings.session_absolute_hours,
        LOCMAP_REQUIRE_TOTP_FOR_ADMINS=settings.require_totp_for_admins,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        LOCMAP_MAX_JSON_BYTES=10 * 1024 * 1024,
        LOCMAP_TILE_URL=settings.tile_url,
        LOCMAP_TILE_ATTRIBUTION=settings.tile_attribution,
        LOCMAP_SUPPRESSION_THRESHOLD=settings.suppression_threshold,
        LOCMAP_DATA_DIR=str(settings.data_dir),
        LOCMAP_TRUSTED_PROXIES=settings.trusted_proxies,
        LOCMAP_REQUIRE_WORKER=settings.require_worker,
        LOCMAP_ANALYSIS_SECONDS=settings.analysis_seconds,
        LOCMAP_BASEMAP_BUILD_HOURS=settings.basemap_build_hours,
        LOCMAP_BACKUP_DIR=str(settings.backup_dir) if settings.backup_dir else None,
        WTF_CSRF_TIME_LIMIT=None,
    )
    if config:
        app.config.update(config)
    limits.configure(float(app.config["LOCMAP_ANALYSIS_SECONDS"]))
    db = app.config.get("DATABASE") or Database.from_settings(settings)
    app.extensions["locmap_db"] = db
    _trust_proxies(app, int(app.config["LOCMAP_TRUSTED_PROXIES"]))

    login_manager.init_app(app)
    csrf.init_app(app)
    init_request_scope(app)
    _security_headers(app)
    _error_handlers(app)
    hardening.init_app(app)  # before the blueprints: it bounds the <int:…> converter
    app.jinja_env.globals["label"] = label
    # What the partner notes on pages say is withheld ("from 1 to N - 1"): the setting.
    app.context_processor(lambda: {"partner_threshold": suppression_threshold()})
    app.jinja_env.filters.update(FILTERS)  # dates and counts for people (one set)

    from locmap.web import (
        account,
        admin,
        api,
        assessments,
        audit,
        auth,
        basemap,
        board,
        case_records,
        contexts,
        dashboard,
        fieldwork,
        health,
        impact,
        imports,
        incident_tiles,
        incidents_pages,
        locality,
        meetings,
        network,
        pages,
        partner_forms,
        people_pages,
        places_pages,
        plans,
        referrals,
        retention,
        reviews,
        safety_pages,
        subject_access,
    )

    for blueprint in (auth.bp, account.bp, admin.bp, pages.bp, api.bp, places_pages.bp, network.bp,
                      assessments.bp, imports.bp, dashboard.bp, reviews.bp, impact.bp,
                      plans.bp, health.bp, incidents_pages.bp, people_pages.bp,
                      audit.bp, fieldwork.bp, referrals.bp, meetings.bp, retention.bp,
                      subject_access.bp, locality.bp, safety_pages.bp, basemap.bp,
                      incident_tiles.bp, contexts.bp, board.bp, case_records.bp,
                      partner_forms.bp):
        app.register_blueprint(blueprint)
    return app


def _trust_proxies(app: Flask, hops: int) -> None:
    """Behind ``hops`` reverse proxies, believe their X-Forwarded-* headers, so that
    ``request.remote_addr`` — what the audit trail records — is the client's address and
    not the proxy's. With no proxy configured the headers are ignored: a client could
    otherwise forge the address the audit trail keeps.
    """
    if hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _security_headers(app: Flask) -> None:
    @app.before_request
    def _json_size_limit() -> Any:
        # JSON bodies have their own, smaller limit than file uploads.
        limit = app.config["LOCMAP_MAX_JSON_BYTES"]
        if request.is_json and (request.content_length or 0) > limit:
            return jsonify(error="too_large",
                           message=f"The request body is over {limit // 2**20} MB."), 413
        return None

    policy = content_security_policy(app.config.get("LOCMAP_TILE_URL"))
    hsts = bool(app.config.get("SESSION_COOKIE_SECURE"))

    @app.after_request
    def _headers(response: Any) -> Any:
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if hsts:
            # The session cookie only travels over HTTPS, so the site is served over it:
            # tell the browser never to try plain HTTP (issue 14).
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.path.startswith("/api/") or response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response


# Cytoscape injects one <style> element (``position: relative`` on its container); its
# hash lets exactly that rule through while every other inline style stays refused.
_CYTOSCAPE_STYLE = "'sha256-pgvDUBa4IjFA2yuSJ2cqcyxmNYJMborsd0ORcRv9vw8='"
_HOST = re.compile(r"^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?$")


def tile_source(tile_url: str | None) -> str | None:
    """The CSP source that lets map tiles load from ``LOCMAP_TILE_URL``: its scheme and
    host, with a ``{s}`` subdomain placeholder as ``*.`` (never a bare ``*``). ``None``
    when no tiles are configured or they come from this site (a relative URL).

    >>> tile_source("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png")
    'https://*.tile.openstreetmap.org'
    """
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    if not parts.scheme and not parts.netloc:
        return None
    host = parts.netloc.rpartition("@")[2]
    labels = host.split(".")
    if labels and labels[0].startswith("{") and labels[0].endswith("}"):
        labels[0] = "*"
    host = ".".join(labels)
    if parts.scheme not in ("http", "https") or not _HOST.match(host):
        raise ValueError(
            f"LOCMAP_TILE_URL {tile_url!r} is not an http(s) URL with a plain host name "
            "(a placeholder may only be the first label, as in https://{s}.tile.example.org/…)")
    return f"{parts.scheme}://{host}"


def content_security_policy(tile_url: str | None) -> str:
    """The Content-Security-Policy of every response: scripts, styles, requests and forms
    from this site only; images also from the configured tile server; no inline script
    or style (user text must never become live markup, and if it did it could neither
    run nor beacon out).
    """
    tiles = tile_source(tile_url)
    img = "'self' data: blob:" + (f" {tiles}" if tiles else "")
    # MapLibre (static/js/basemap.js) fetches raster tiles rather than using <img>, and
    # runs its worker from this site's own script (the CSP build): no blob: scripts.
    connect = "'self'" + (f" {tiles}" if tiles else "")
    return (f"default-src 'self'; img-src {img}; style-src 'self' {_CYTOSCAPE_STYLE}; "
            f"script-src 'self'; connect-src {connect}; font-src 'self'; object-src 'none'; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


def _record_refusal(status: int) -> None:
    """Audit a refused request (issue 14) in a transaction of its own: the request's is
    rolled back. A failure to record is logged, and the refusal still answered.
    """
    from flask_login import current_user

    from locmap.services import audit
    from locmap.web.context import actor, db_session

    try:
        who = actor() if current_user.is_authenticated else None
        pilot_id = (request.view_args or {}).get("pilot_id")
        audit.record_refusal(db_session(), who, status=status, endpoint=request.endpoint,
                             method=request.method, path=request.path,
                             pilot_id=pilot_id if isinstance(pilot_id, int) else None)
    except Exception:  # noqa: BLE001 - never turn a refusal into a 500
        logging.getLogger(__name__).exception("could not audit a refused request")


def _error_handlers(app: Flask) -> None:
    @app.errorhandler(LocmapError)
    def _domain_error(exc: LocmapError) -> Any:
        if isinstance(exc, NotFound | Forbidden):
            _record_refusal(exc.status)
        if isinstance(exc, NotFound):
            # One answer for "absent" and "not yours": which record of which pilot exists
            # is itself information (a per-record message was an existence oracle).
            exc = NotFound(NOT_FOUND_MESSAGE)
        if _wants_json():
            return jsonify(exc.to_dict()), exc.status
        return render_template("error.html", status=exc.status, message=exc.message), exc.status

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> Any:
        msg = "The form or request is missing its security token (CSRF). Reload and try again."
        if _wants_json():
            return jsonify(error="csrf", message=msg), 400
        return render_template("error.html", status=400, message=msg), 400

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        # The exception's own headers (a 405's Allow, RFC 9110 15.5.6) travel with the
        # rendered answer; its content type does not.
        headers = [(k, v) for k, v in exc.get_headers()
                   if k.lower() not in ("content-type", "content-length")]
        if _wants_json():
            return jsonify(error=exc.name.lower().replace(" ", "_"),
                           message=exc.description), status, headers
        return render_template("error.html", status=status,
                               message=exc.description), status, headers
