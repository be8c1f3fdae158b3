"""The JSON API under /api/v1, described by /api/v1/openapi.json."""

from __future__ import annotations

from flask import Blueprint

from locmap.web.api.registry import ApiRegistry

bp = Blueprint("api", __name__, url_prefix="/api/v1")
api = ApiRegistry(bp)

from locmap.web.api import pilots  # noqa: E402,F401  (registers routes)
from locmap.web.api import imports  # noqa: E402,F401  (registers routes)
from locmap.web.api import evidence  # noqa: E402,F401  (registers routes)
from locmap.web.api import network  # noqa: E402,F401  (registers routes)
from locmap.web.api import incidents, places  # noqa: E402,F401  (registers routes)
from locmap.web.api import assessments  # noqa: E402,F401  (registers routes)
from locmap.web.api import exports  # noqa: E402,F401  (registers routes)

__all__ = ["bp", "api"]
