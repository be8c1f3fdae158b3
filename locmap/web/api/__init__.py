"""The JSON API under /api/v1, described by /api/v1/openapi.json."""

from __future__ import annotations

from flask import Blueprint

from locmap.web.api.registry import ApiRegistry

bp = Blueprint("api", __name__, url_prefix="/api/v1")
api = ApiRegistry(bp)

# Importing a module registers its routes on the blueprint.
from locmap.web.api import (  # noqa: E402
    admin, assessments, audit, basemap, dashboard, evidence, exports, imports, incidents,
    network, photos, pilots, places, safety_maps,
    reviews,
    impact,
    plans,
    referrals,
    meetings,
    retention,
    subject_access,
    locality,
    case_records,
    contexts,
)

__all__ = ["bp", "api"]
