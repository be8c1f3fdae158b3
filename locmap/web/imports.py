"""The import pages: upload a file, check a preview, confirm, see the result.

Three kinds of file, told apart by name (and, for a zip, by what it holds): police.uk crime
CSVs (a ``.csv`` or a zip of them), GIS files (GeoJSON, GeoPackage, a zipped Shapefile: as
a feature layer or as places) and OpenStreetMap extracts (``.osm.pbf`` / ``.osm``: tag
presets as feature layers, chosen named features as places). Every kind goes through the
same use case as the CLI and the worker (:func:`locmap.services.imports.run_import`).

Two steps so nothing is written before a person has seen what the file holds: the upload
is kept in the database with who uploaded it and its SHA-256
(:func:`locmap.services.import_jobs.store_upload`), the preview shows its first rows and
the pilot's crime-type mapping, and only the confirm creates a ``DataImport`` and queues
the import for ``locmap worker`` (no thread here: long work leaves the web process). The
result page survives a reload and polls ``/api/v1/pilots/<id>/imports/<import_id>``
(``pending`` → ``running`` → ``done`` or ``failed``). Tests (``TESTING`` or
``LOCMAP_IMPORT_SYNC``) run the same job function inline, inside their transaction.
"""

from __future__ import annotations

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
from werkzeug.utils import secure_filename

from locmap.errors import InvalidData
from locmap.services import import_jobs, imports
from locmap.services.permissions import can
from locmap.services.pilots import get_pilot
from locmap.vocab import HARM_CATEGORIES, NO_LOCATION_KINDS, PLACE_KINDS
from locmap.web.context import actor, database, db_session, login_required

bp = Blueprint("imports", __name__)


@bp.route("/pilots/<int:pilot_id>/imports")
@login_required
def index(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    pilot = get_pilot(s, a, pilot_id, "import.run")
    recent = [imports.import_dict(d) for d in imports.list_imports(s, a, pilot_id, limit=20)]
    return render_template("imports.html", pilot=pilot, recent=recent)


@bp.route("/pilots/<int:pilot_id>/imports/crime-types", methods=["GET", "POST"])
@login_required
def crime_types(pilot_id: int) -> Any:
    """The pilot's crime-type mapping: everyone who imports sees it, coordinators change it.

    The form sends one ``type-<n>``/``category-<n>`` pair per police crime type, plus an
    optional new type; the service checks the categories and the coordinator's right
    (a 403 for anyone else) and audits the change. Past imports keep their categories.
    """
    s, a = db_session(), actor()
    pilot = get_pilot(s, a, pilot_id, "import.run")
    manage = can(a, pilot_id, "pilot.manage")
    if request.method == "POST":
        form = request.form
        changed: dict[str, str] = {}
        for key, crime_type in form.items():
            if key.startswith("type-"):
                category = form.get("category-" + key[5:], "")
                changed[crime_type] = category
        new_type = (form.get("new_type") or "").strip()
        if new_type:
            changed[new_type] = form.get("new_category", "")
        try:
            imports.set_crime_type_mapping(s, a, pilot_id, changed)
        except InvalidData as exc:
            flash(exc.message, "error")
            return redirect(url_for("imports.crime_types", pilot_id=pilot_id))
        flash("Saved. The next police imports use this mapping; incidents already imported "
              "keep their categories.", "info")
        return redirect(url_for("imports.crime_types", pilot_id=pilot_id))
    mapping = imports.crime_type_mapping(s, a, pilot_id)
    return render_template("imports_crime_types.html", pilot=pilot, mapping=mapping,
                           can_manage=manage, categories=HARM_CATEGORIES,
                           defaults=imports.DEFAULT_CRIME_TYPE_MAPPING)


@bp.route("/pilots/<int:pilot_id>/imports/upload", methods=["POST"])
@login_required
def upload(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    get_pilot(s, a, pilot_id, "import.run")
    file = request.files.get("file")
    name = secure_filename(file.filename or "") if file else ""
    if not file or not name:
        raise InvalidData("Choose a file to upload.")
    crs = (request.form.get("crs") or "").strip()[:40] or None
    token = import_jobs.store_upload(s, a, pilot_id, name, file.stream, crs)
    s.commit()
    return redirect(url_for("imports.preview", pilot_id=pilot_id, token=token))


@bp.route("/pilots/<int:pilot_id>/imports/preview/<token>")
@login_required
def preview(pilot_id: int, token: str) -> Any:
    s, a = db_session(), actor()
    pilot = get_pilot(s, a, pilot_id, "import.run")
    up = import_jobs.get_upload(s, a, pilot_id, token)
    meta = up.meta
    if up.kind == "gis":
        return render_template("imports_preview_gis.html", pilot=pilot, token=token, meta=meta,
                               place_kinds=[k for k in PLACE_KINDS if k not in NO_LOCATION_KINDS])
    if up.kind == "osm":
        return render_template("imports_preview_osm.html", pilot=pilot, token=token, meta=meta,
                               presets=imports.OSM_PRESETS)
    mapping = imports.crime_type_mapping(s, a, pilot_id)
    seen = sorted({r.get("Crime type", "") for r in meta["preview"]["rows"]})
    return render_template(
        "imports_preview.html", pilot=pilot, token=token, meta=meta, mapping=mapping,
        seen=seen, columns=imports.POLICE_COLUMNS,
        categories=HARM_CATEGORIES, can_manage=can(a, pilot_id, "pilot.manage"),
        buffer_m=imports.DEFAULT_BUFFER_M,
    )


@bp.route("/pilots/<int:pilot_id>/imports/preview/<token>/confirm", methods=["POST"])
@login_required
def confirm(pilot_id: int, token: str) -> Any:
    s, a = db_session(), actor()
    form: dict[str, Any] = {k: request.form.get(k) for k in
                            ("as", "name_column", "kind_column", "layer_name")}
    form["preset"] = request.form.getlist("preset")
    form["place"] = request.form.getlist("place")
    import_id = import_jobs.confirm_upload(s, a, pilot_id, token, form)
    s.commit()
    inline = bool(current_app.config.get("TESTING") or current_app.config.get(
        "LOCMAP_IMPORT_SYNC"))
    import_jobs.submit_import(database(), import_id, pilot_id=pilot_id, inline=inline)
    return redirect(url_for("imports.result", pilot_id=pilot_id, import_id=import_id))


@bp.route("/pilots/<int:pilot_id>/imports/<int:import_id>")
@login_required
def result(pilot_id: int, import_id: int) -> Any:
    s, a = db_session(), actor()
    pilot = get_pilot(s, a, pilot_id)
    di = imports.import_dict(imports.get_import(s, a, pilot_id, import_id))
    return render_template("imports_result.html", pilot=pilot, imp=di,
                           can_import=can(a, pilot_id, "import.run"))
