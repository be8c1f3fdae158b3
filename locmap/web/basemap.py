"""The base map over the web: its vector tiles, the settings every map page reads
(``#basemap-config`` in base.html) and the admin page that builds it from an extract.

Tiles need a signed-in user (the base map is shared reference data, not a pilot's, so no
pilot role is asked); their URL carries the build version (``?v=``), so a browser may keep
them (``Cache-Control: private, max-age=…``) and revalidate with the ETag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from locmap.errors import LocmapError
from locmap.services import basemap
from locmap.services.admin import require_admin
from locmap.web.context import actor, database, db_session, login_required

bp = Blueprint("basemap", __name__)

_MAX_AGE = 7 * 24 * 3600
_NOUNS = {"roads": ("road", "roads"), "railways": ("railway", "railways"),
          "buildings": ("building", "buildings"),
          "water": ("water area or stream", "water areas and streams"),
          "green": ("park or green space", "parks and green spaces"),
          "pois": ("named place", "named places")}


@bp.app_context_processor
def _settings() -> dict[str, Any]:
    def basemap_config() -> dict[str, Any]:
        return basemap.client_settings(
            db_session() if current_user.is_authenticated else None,
            raster_url=current_app.config.get("LOCMAP_TILE_URL"),
            raster_attribution=current_app.config.get("LOCMAP_TILE_ATTRIBUTION"))
    return {"basemap_config": basemap_config}


@bp.get("/tiles/basemap/<int:z>/<int:x>/<int:y>.pbf")
@login_required
def tile(z: int, x: int, y: int) -> Any:
    """One vector tile (application/x-protobuf); 204 while no base map is built and for a
    tile outside the built area.
    """
    s = db_session()
    if basemap.current(s) is None:
        return Response(status=204)
    found = basemap.tile(s, z, x, y)
    if found is None:
        return Response(status=204)
    body, etag = found
    s.commit()  # keep the rendered tile in the cache
    response = Response(body, mimetype="application/x-protobuf")
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"private, max-age={_MAX_AGE}"
    return response.make_conditional(request)


@bp.route("/admin/basemap", methods=["GET", "POST"])
@login_required
def admin_page() -> Any:
    """Build the base map from an uploaded extract (a worker job) and see the last build."""
    s, a = db_session(), actor()
    require_admin(a)
    data_dir = Path(current_app.config["LOCMAP_DATA_DIR"])
    hours = float(current_app.config.get("LOCMAP_BASEMAP_BUILD_HOURS", 6))
    if request.method == "POST":
        upload = request.files.get("extract")
        try:
            if upload is None or not upload.filename:
                flash("Choose an OpenStreetMap extract (.osm.pbf or .osm).", "error")
                return redirect(url_for("basemap.admin_page"))
            path = basemap.store_extract(s, a, data_dir, upload.filename, upload.stream,
                                         max_hours=hours)
        except LocmapError as exc:
            flash(exc.message, "error")
            return redirect(url_for("basemap.admin_page"))
        s.commit()
        basemap.submit_build(database(), data_dir, path, Path(upload.filename).name, a,
                             inline=bool(current_app.config.get("TESTING")
                                         or current_app.config.get("LOCMAP_IMPORT_SYNC")))
        flash("The base map build has started; this page shows when it is done.", "ok")
        return redirect(url_for("basemap.admin_page"))
    return render_template("admin/basemap.html", build=basemap.current(s),
                           job=basemap.job_status(data_dir, s, max_hours=hours),
                           BASEMAP_NOUNS=_NOUNS)
