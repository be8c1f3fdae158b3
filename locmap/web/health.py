"""``GET /healthz``: the probe a load balancer or monitoring system polls.

No login and no case data: 200 while the database answers and its schema is at head,
503 otherwise (and while no worker is alive, if ``LOCMAP_REQUIRE_WORKER=1``). ``backup``
reports the age of the last good backup when ``LOCMAP_BACKUP_DIR`` is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, jsonify

from locmap.services import health
from locmap.web.context import database

__all__ = ["bp"]

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    backup_dir = current_app.config.get("LOCMAP_BACKUP_DIR")
    state = health.check(
        database().engine, require_worker=current_app.config["LOCMAP_REQUIRE_WORKER"],
        backup_dir=Path(backup_dir) if backup_dir else None,
    )
    response = jsonify(state.to_dict())
    response.status_code = 200 if state.healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
