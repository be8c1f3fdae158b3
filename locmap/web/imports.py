"""The import pages: upload a file, check a preview, confirm, see the result.

Three kinds of file, told apart by name (and, for a zip, by what it holds): police.uk crime
CSVs (a ``.csv`` or a zip of them), GIS files (GeoJSON, GeoPackage, a zipped Shapefile: as
a feature layer or as places) and OpenStreetMap extracts (``.osm.pbf`` / ``.osm``: tag
presets as feature layers, chosen named features as places). Every kind goes through the
same service code as the CLI (:mod:`locmap.services.imports`, :mod:`locmap.io.gis`,
:mod:`locmap.io.osm`).

Two steps so nothing is written before a person has seen what the file holds: the upload
is stored under ``LOCMAP_DATA_DIR/imports/<token>/`` with who uploaded it and its SHA-256,
the preview shows its first rows and the pilot's crime-type mapping, and only the confirm
creates a :class:`~locmap.models.DataImport` and runs the import. The import runs in a
background thread with its own transactions (``pending`` → ``running`` → ``done`` or
``failed``, each committed), so the result page survives a reload and polls
``/api/v1/pilots/<id>/imports/<import_id>``. Tests (``TESTING`` or ``LOCMAP_IMPORT_SYNC``)
run it inline.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.utils import secure_filename

from locmap.db import Database
from locmap.io import gis, osm, police
from locmap.io.sources import collect_sources
from locmap.models import DataImport
from locmap.services import imports
from locmap.services.errors import InvalidData, LocmapError, NotFound
from locmap.services.permissions import Actor, can, require
from locmap.services.pilots import get_pilot
from locmap.vocab import HARM_CATEGORIES, PLACE_KINDS
from locmap.web.context import actor, database, db_session, login_required

bp = Blueprint("imports", __name__)

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_ACCEPTED = (".csv", ".zip", ".geojson", ".json", ".gpkg", ".osm", ".pbf")
UPLOAD_TTL_S = 24 * 3600
_KINDS = {"police": "police_csv", "gis": "gis_layer", "osm": "osm"}


def _upload_root() -> Path:
    return Path(current_app.config["LOCMAP_DATA_DIR"]) / "imports"


def _pending_upload(pilot_id: int, token: str, who: Actor) -> tuple[Path, dict[str, Any]]:
    """The stored upload for this token, only for the user and pilot that made it."""
    if not _TOKEN.match(token):
        raise NotFound("No such upload.")
    folder = _upload_root() / token
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        raise NotFound("No such upload (it may have been imported or expired).") from None
    if meta["pilot_id"] != pilot_id or meta["user_id"] != who.user_id:
        raise NotFound("No such upload.")
    return folder / meta["stored_name"], meta


def _purge_old_uploads(root: Path) -> None:
    if not root.is_dir():
        return
    for folder in root.iterdir():
        try:
            if time.time() - folder.stat().st_mtime > UPLOAD_TTL_S:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


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


def _kind_of(name: str, stored: Path) -> str:
    """police, gis or osm, from the file name (and a zip's members)."""
    lower = name.lower()
    if lower.endswith(osm.OSM_SUFFIXES):
        return "osm"
    if lower.endswith((".geojson", ".json", ".gpkg")):
        return "gis"
    if lower.endswith(".zip"):
        try:
            with zipfile.ZipFile(stored) as zf:
                if any(n.lower().endswith(".shp") for n in zf.namelist()):
                    return "gis"
        except zipfile.BadZipFile:
            raise InvalidData(f"{name} is not a readable zip file.") from None
    return "police"


def _preview_for(kind: str, s: Any, pilot: Any, stored: Path, crs: str | None) -> dict[str, Any]:
    if kind == "gis":
        return gis.preview_gis(stored, crs=crs)
    if kind == "osm":
        return osm.preview_osm(stored, osm.clip_area(s, pilot))
    sources = collect_sources([stored])
    first = police.preview(sources[0])
    first["files"] = [src.name.replace("upload.zip:", "") for src in sources]
    return first


@bp.route("/pilots/<int:pilot_id>/imports/upload", methods=["POST"])
@login_required
def upload(pilot_id: int) -> Any:
    s, a = db_session(), actor()
    pilot = get_pilot(s, a, pilot_id, "import.run")
    file = request.files.get("file")
    name = secure_filename(file.filename or "") if file else ""
    if not file or not name:
        raise InvalidData("Choose a file to upload.")
    if not name.lower().endswith(_ACCEPTED):
        raise InvalidData("Upload a police.uk .csv (or a .zip of them), a GeoJSON, GeoPackage "
                          "or zipped Shapefile, or an OpenStreetMap .osm.pbf / .osm extract.")
    crs = (request.form.get("crs") or "").strip()[:40] or None
    root = _upload_root()
    _purge_old_uploads(root)
    token = hashlib.sha256(f"{time.time_ns()}{a.user_id}{name}".encode()).hexdigest()[:32]
    folder = root / token
    folder.mkdir(parents=True, mode=0o700)
    lower = name.lower()
    # GIS and OSM files keep their own name (it is what messages and layer names show), in
    # a sub-folder so that no name can collide with meta.json.
    (folder / "data").mkdir(mode=0o700)
    stored = (folder / "data" / name if lower.endswith(_ACCEPTED[2:]) else
              folder / ("upload.zip" if lower.endswith(".zip") else "upload.csv"))
    digest = hashlib.sha256()
    with stored.open("wb") as out:
        while block := file.stream.read(1 << 20):
            digest.update(block)
            out.write(block)
    try:
        kind = _kind_of(name, stored)
        if kind != "police" and stored.name == "upload.zip":
            stored = stored.rename(folder / "data" / name)
        first = _preview_for(kind, s, pilot, stored, crs)
    except LocmapError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    meta = {
        "pilot_id": pilot.id, "user_id": a.user_id, "filename": name, "kind": kind,
        "stored_name": str(stored.relative_to(folder)), "sha256": digest.hexdigest(),
        "size": stored.stat().st_size,
        "files": first.pop("files", [name]), "crs": crs, "preview": first,
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    return redirect(url_for("imports.preview", pilot_id=pilot_id, token=token))


@bp.route("/pilots/<int:pilot_id>/imports/preview/<token>")
@login_required
def preview(pilot_id: int, token: str) -> Any:
    s, a = db_session(), actor()
    pilot = get_pilot(s, a, pilot_id, "import.run")
    _, meta = _pending_upload(pilot_id, token, a)
    kind = meta.get("kind", "police")
    if kind == "gis":
        return render_template("imports_preview_gis.html", pilot=pilot, token=token, meta=meta,
                               place_kinds=[k for k in PLACE_KINDS if k != "online"])
    if kind == "osm":
        return render_template("imports_preview_osm.html", pilot=pilot, token=token, meta=meta,
                               presets=osm.PRESETS)
    mapping = imports.crime_type_mapping(s, a, pilot_id)
    seen = sorted({r.get("Crime type", "") for r in meta["preview"]["rows"]})
    return render_template(
        "imports_preview.html", pilot=pilot, token=token, meta=meta, mapping=mapping,
        seen=seen, columns=police.REQUIRED_COLUMNS + ("LSOA code", "Last outcome category"),
        categories=HARM_CATEGORIES, can_manage=can(a, pilot_id, "pilot.manage"),
        buffer_m=imports.DEFAULT_BUFFER_M,
    )


def _options(kind: str, form: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """The confirm form's choices, checked before anything is written."""
    if kind == "gis":
        as_ = form.get("as", "layer")
        if as_ not in ("layer", "places"):
            raise InvalidData("Import the file as a feature layer or as places.")
        cols = meta["preview"]["columns"]
        opts: dict[str, Any] = {"as_": as_, "crs": meta.get("crs")}
        for key in ("name_column", "kind_column"):
            value = form.get(key) or None
            if value is not None and value not in cols:
                raise InvalidData(f"{value!r} is not a column of {meta['filename']}.")
            opts[key] = value
        opts["layer_name"] = (form.get("layer_name") or "").strip()[:200] or None
        return opts
    if kind == "osm":
        presets = form.getlist("preset")
        if not presets:
            raise InvalidData("Choose at least one kind of feature to import.")
        return {"presets": presets, "pick": form.getlist("place")[:1000]}
    return {}


def _import(kind: str, s: Any, who: Actor, pilot_id: int, stored: Path, di: DataImport,
            options: dict[str, Any]) -> None:
    if kind == "gis":
        gis.import_gis(s, who, pilot_id, stored, filename=di.filename, data_import=di,
                       **options)
    elif kind == "osm":
        osm.import_osm(s, who, pilot_id, stored, filename=di.filename, data_import=di,
                       **options)
    else:
        imports.import_police(s, who, pilot_id, stored, filename=di.filename, data_import=di)


def _run_import(db: Database, who: Actor, pilot_id: int, import_id: int, folder: Path,
                stored: Path, kind: str = "police", options: dict[str, Any] | None = None) -> None:
    """Run one confirmed import in its own transactions; record a failure if it fails."""
    try:
        with db.sessionmaker() as s:
            di = s.get(DataImport, import_id)
            if di is None:
                return
            di.status = "running"
            s.commit()
            try:
                imports.hold_import_lock(s, import_id)  # until the import's commit/rollback
                _import(kind, s, who, pilot_id, stored, di, options or {})
                s.commit()
                return
            except LocmapError as exc:
                message = exc.message
            except Exception as exc:  # noqa: BLE001 - recorded for the user, then logged
                current_app.logger.exception("import %s failed", import_id)
                message = f"Unexpected error: {type(exc).__name__}. Nothing was imported."
            s.rollback()
            imports.record_failure(s, who, pilot_id, kind=_KINDS[kind], filename="",
                                   sha256="", message=message, data_import_id=import_id)
            s.commit()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@bp.route("/pilots/<int:pilot_id>/imports/preview/<token>/confirm", methods=["POST"])
@login_required
def confirm(pilot_id: int, token: str) -> Any:
    s, a = db_session(), actor()
    require(a, pilot_id, "import.run")
    _, meta = _pending_upload(pilot_id, token, a)
    kind = meta.get("kind", "police")
    options = _options(kind, request.form, meta)
    if options.get("pick") or options.get("as_") == "places":
        require(a, pilot_id, "place.edit")
    # The token folder is claimed by renaming it, so a double click cannot import twice.
    folder = _upload_root() / token
    claimed = folder.with_name(folder.name + ".claimed")
    try:
        folder.rename(claimed)
    except OSError:
        abort(409, "This upload is already being imported.")
    if kind == "gis":
        dkind = f"gis_{options['as_']}"
    else:
        dkind = _KINDS[kind]
    di = DataImport(pilot_id=pilot_id, kind=dkind, filename=meta["filename"],
                    sha256=meta["sha256"], created_by_id=a.user_id, status="pending")
    s.add(di)
    s.commit()
    import_id = di.id
    args = (database(), a, pilot_id, import_id, claimed, claimed / meta["stored_name"], kind,
            options)
    if current_app.config.get("TESTING") or current_app.config.get("LOCMAP_IMPORT_SYNC"):
        _run_import(*args)
    else:
        app = current_app._get_current_object()  # type: ignore[attr-defined]

        def work() -> None:
            with app.app_context():
                _run_import(*args)

        threading.Thread(target=work, name=f"import-{import_id}", daemon=True).start()
    return redirect(url_for("imports.result", pilot_id=pilot_id, import_id=import_id))


@bp.route("/pilots/<int:pilot_id>/imports/<int:import_id>")
@login_required
def result(pilot_id: int, import_id: int) -> Any:
    s, a = db_session(), actor()
    pilot = get_pilot(s, a, pilot_id)
    di = imports.import_dict(imports.get_import(s, a, pilot_id, import_id))
    return render_template("imports_result.html", pilot=pilot, imp=di,
                           can_import=can(a, pilot_id, "import.run"))
