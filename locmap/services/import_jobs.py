"""Web imports as jobs: the upload kept in the database, the confirm that queues the
import, the job that runs it in ``locmap worker``, and the clean-up after dead workers.

The flow: :func:`store_upload` keeps the file (``upload`` table) and its preview; the
person checks it; :func:`confirm_upload` claims the upload, creates the
:class:`~locmap.models.DataImport` as ``pending`` and queues a job (procrastinate, queue
``imports``, see :mod:`locmap.jobs`); a worker calls :func:`run_import_job`, which runs
the one import use case (:func:`locmap.services.imports.run_import`) on the stored bytes.

A running job holds a session-level advisory lock on its import's id from before it
commits ``running`` until after it commits ``done`` or ``failed``; if the worker is killed,
PostgreSQL releases the lock with the connection and rolls back the half-written import.
:func:`recover_interrupted` (on every worker start, and every minute) then marks such
imports failed and finishes their jobs, and sends back to the queue the jobs that a dead
worker had fetched but not begun (their import is still ``pending``).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, delete, select, text, update
from sqlalchemy.orm import Session

from locmap import clock
from locmap.db import Database
from locmap.errors import Conflict, InvalidData, LocmapError, NotFound
from locmap.io import gis, osm, police
from locmap.io.sources import collect_sources
from locmap.models import DataImport, Pilot, Upload, User
from locmap.services import imports
from locmap.services.accounts import actor_for
from locmap.services.permissions import Actor, require
from locmap.services.pilot_scope import scope_session

__all__ = ["ACCEPTED_SUFFIXES", "UPLOAD_TTL_S", "PendingUpload", "store_upload",
           "get_upload", "confirm_upload", "run_import_job", "recover_interrupted",
           "purge_uploads", "submit_import"]

ACCEPTED_SUFFIXES = (".csv", ".zip", ".geojson", ".json", ".gpkg", ".osm", ".pbf")
UPLOAD_TTL_S = 24 * 3600
# Jobs of workers silent this long are stalled (procrastinate's own default).
STALLED_AFTER_S = 30
_LOCK_NS = imports.IMPORT_LOCK_NS  # the same key as hold_import_lock
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingUpload:
    """An upload as the preview and confirm pages see it."""

    token: str
    pilot_id: int
    filename: str
    kind: str
    sha256: str
    size: int
    meta: dict[str, Any]


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


def _preview(kind: str, session: Session, pilot: Pilot, stored: Path,
             crs: str | None) -> dict[str, Any]:
    if kind == "gis":
        return gis.preview_gis(stored, crs=crs)
    if kind == "osm":
        return osm.preview_osm(stored, osm.clip_area(session, pilot))
    sources = collect_sources([stored])
    first = police.preview(sources[0])
    first["files"] = [src.name.split(":", 1)[-1] for src in sources]
    return first


@contextmanager
def _as_file(filename: str, content: bytes) -> Iterator[Path]:
    """The bytes as a file named ``filename`` (readers need a path), deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="locmap-import-") as folder:
        path = Path(folder) / filename
        path.write_bytes(content)
        yield path


def store_upload(session: Session, actor: Actor, pilot_id: int, filename: str,
                 stream: IO[bytes], crs: str | None = None) -> str:
    """Keep an uploaded file with its preview; returns the token of its preview page.

    ``filename`` must already be safe (``secure_filename``); nothing is imported yet.
    """
    require(actor, pilot_id, "import.run")
    pilot = session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound("No such pilot.")
    if actor.user_id is None:
        raise InvalidData("Uploads need a signed-in user.")
    if not filename or not filename.lower().endswith(ACCEPTED_SUFFIXES):
        raise InvalidData("Upload a police.uk .csv (or a .zip of them), a GeoJSON, GeoPackage "
                          "or zipped Shapefile, or an OpenStreetMap .osm.pbf / .osm extract.")
    purge_uploads(session, pilot_id)
    content = stream.read()
    with _as_file(filename, content) as stored:
        kind = _kind_of(filename, stored)
        preview = _preview(kind, session, pilot, stored, crs)
    token = secrets.token_urlsafe(24)
    session.add(Upload(
        token=token, pilot_id=pilot_id, uploader_id=actor.user_id, filename=filename,
        kind=kind, size=len(content), sha256=hashlib.sha256(content).hexdigest(),
        content=content, meta={"files": preview.pop("files", [filename]), "crs": crs,
                               "preview": preview},
    ))
    session.flush()
    return token


def _upload_row(session: Session, actor: Actor, pilot_id: int, token: str) -> Upload:
    up = session.scalar(select(Upload).where(Upload.token == token[:64]))
    if up is None or up.pilot_id != pilot_id or up.uploader_id != actor.user_id:
        raise NotFound("No such upload (it may have been imported or expired).")
    if up.data_import_id is not None:
        raise NotFound("This upload has already been imported.")
    return up


def get_upload(session: Session, actor: Actor, pilot_id: int, token: str) -> PendingUpload:
    """An upload not yet imported, only for the user and pilot that made it."""
    require(actor, pilot_id, "import.run")
    up = _upload_row(session, actor, pilot_id, token)
    return PendingUpload(token=up.token, pilot_id=up.pilot_id, filename=up.filename,
                         kind=up.kind, sha256=up.sha256, size=up.size,
                         meta={**up.meta, "filename": up.filename, "size": up.size,
                               "sha256": up.sha256, "kind": up.kind})


def _options(up: Upload, form: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The import kind and the confirm form's choices, checked before anything is written."""
    if up.kind == "gis":
        as_ = form.get("as") or "layer"
        if as_ not in ("layer", "places"):
            raise InvalidData("Import the file as a feature layer or as places.")
        cols = up.meta["preview"]["columns"]
        opts: dict[str, Any] = {"crs": up.meta.get("crs")}
        for key in ("name_column", "kind_column"):
            value = form.get(key) or None
            if value is not None and value not in cols:
                raise InvalidData(f"{value!r} is not a column of {up.filename}.")
            opts[key] = value
        opts["layer_name"] = (form.get("layer_name") or "").strip()[:200] or None
        return f"gis_{as_}", opts
    if up.kind == "osm":
        presets = list(form.get("preset") or [])
        if not presets:
            raise InvalidData("Choose at least one kind of feature to import.")
        pick = list(form.get("place") or [])[:1000]
        osm.check_options(presets, (), pick)
        return "osm", {"presets": presets, "pick": pick}
    return "police_csv", {}


def confirm_upload(session: Session, actor: Actor, pilot_id: int, token: str,
                   form: dict[str, Any]) -> int:
    """Claim the upload and create its import as ``pending``; returns the import's id.

    ``form`` holds the confirm page's choices (lists for ``preset`` and ``place``). The
    caller commits, then runs or queues the job (:func:`locmap.jobs.submit_import`).
    """
    require(actor, pilot_id, "import.run")
    up = _upload_row(session, actor, pilot_id, token)
    kind, options = _options(up, form)
    if kind == "gis_places" or options.get("pick"):
        require(actor, pilot_id, "place.edit")
    di = DataImport(pilot_id=pilot_id, kind=kind, filename=up.filename, sha256=up.sha256,
                    created_by_id=actor.user_id, status="pending")
    session.add(di)
    session.flush()
    # The claim is one conditional UPDATE, so two confirms cannot both take the upload.
    claimed = session.connection().execute(
        update(Upload).where(Upload.id == up.id, Upload.pilot_id == pilot_id,
                             Upload.data_import_id.is_(None))
        .values(data_import_id=di.id, meta={**up.meta, "kind": kind, "options": options})
        .execution_options(synchronize_session=False)).rowcount
    if not claimed:
        raise Conflict("This upload is already being imported.")
    return di.id


@contextmanager
def _pinned_session(db: Database) -> Iterator[Session]:
    """A session that keeps one connection across commits (session-level locks need it)."""
    bind = db.sessionmaker.kw.get("bind")
    if isinstance(bind, Connection):  # tests: already one connection
        with db.sessionmaker() as s:
            yield s
        return
    engine: Engine = bind if isinstance(bind, Engine) else db.engine
    with engine.connect() as conn, Session(bind=conn, expire_on_commit=False) as s:
        yield s


def run_import_job(db: Database, import_id: int, pilot_id: int | None = None) -> str:
    """Run one queued import; returns its final status (or why nothing was done).

    The job's session keeps to the import's pilot (``pilot_id``, given by jobs queued
    since revision 0027; read from the import otherwise), so every statement names it.

    Safe to call twice for the same import (a job delivered again after a crash): the lock
    lets one run it and the status tells the other it is finished. The lock is waited for,
    not tried: the checkers (:func:`recover_interrupted`, reads of the imports) hold it for
    a moment to see whether anyone runs the import, and a job that gave up on seeing one
    of them would leave its import unrun.
    """
    lock = {"ns": _LOCK_NS, "id": import_id}
    with _pinned_session(db) as s:
        s.execute(text("SELECT pg_advisory_lock(:ns, :id)"), lock)
        s.commit()  # the lock is the session's; end the transaction that waited for it
        try:
            if pilot_id is not None:
                scope_session(s, pilot_id)
            di = s.get(DataImport, import_id)
            if di is None or di.status not in ("pending", "running"):
                return "gone" if di is None else di.status
            scope_session(s, di.pilot_id)
            up = s.scalar(select(Upload).where(Upload.data_import_id == import_id))
            user = s.get(User, di.created_by_id) if di.created_by_id else None
            if up is None or user is None:
                di.status, di.finished_at = "failed", clock.now()
                di.message = "The uploaded file is no longer available; upload it again."
                s.commit()
                return "failed"
            who = actor_for(s, user)
            pilot_id, kind = di.pilot_id, up.meta["kind"]
            di.status, di.started_at = "running", clock.now()
            s.commit()
            try:
                with _as_file(up.filename, up.content) as path:
                    imports.run_import(s, who, pilot_id, kind, path,
                                       options=up.meta.get("options", {}),
                                       filename=up.filename, data_import=di)
                s.delete(up)
                s.commit()
                return "done"
            except LocmapError as exc:
                message = exc.message
            except Exception as exc:  # noqa: BLE001 - recorded for the user, logged for us
                log.exception("import %s failed", import_id)
                message = f"Unexpected error: {type(exc).__name__}. Nothing was imported."
            s.rollback()
            _record(s, who, pilot_id, kind, import_id, message)
            return "failed"
        finally:
            s.rollback()
            s.execute(text("SELECT pg_advisory_unlock(:ns, :id)"), lock)
            s.commit()


def _record(s: Session, who: Actor, pilot_id: int, kind: str, import_id: int,
            message: str) -> None:
    imports.record_failure(s, who, pilot_id, kind=kind, filename="", sha256="",
                           message=message, data_import_id=import_id)
    s.execute(delete(Upload).where(Upload.data_import_id == import_id))
    s.commit()


def recover_interrupted(session: Session) -> dict[str, list[int]]:
    """Finish what dead workers left; returns the import jobs' ids by what was done.

    For each import job still ``doing`` whose import's lock is free (no live process runs
    it): an import left ``running`` died mid-way (PostgreSQL rolled its writes back), so the
    import is marked failed with :data:`~locmap.services.imports.INTERRUPTED_MESSAGE` and the
    job too; if its worker has sent no heartbeat for :data:`STALLED_AFTER_S` seconds, an
    import still ``pending`` never began and its job goes back to the queue, and a finished
    one's job is closed. Imports with no job left are settled by
    :func:`~locmap.services.imports.fail_interrupted`. The caller commits.

    The jobs are changed through procrastinate's versioned SQL functions, in this
    transaction, so the import and its job never disagree.
    """
    rows = session.execute(text(
        "SELECT j.id, d.id, d.status, d.message = :interrupted, "
        " (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => :stalled)) "
        "FROM procrastinate_jobs j "
        "LEFT JOIN data_import d ON d.id::text = j.args->>'import_id' "
        "LEFT JOIN procrastinate_workers w ON w.id = j.worker_id "
        "WHERE j.status = 'doing' AND j.queue_name = :queue FOR UPDATE OF j SKIP LOCKED"),
        {"queue": imports.IMPORT_QUEUE, "stalled": STALLED_AFTER_S,
         "interrupted": imports.INTERRUPTED_MESSAGE}).all()
    done: dict[str, list[int]] = {"failed": [], "requeued": [], "closed": []}
    for job_id, import_id, status, interrupted, stalled in rows:
        if import_id is not None and not session.execute(
                text("SELECT pg_try_advisory_xact_lock(:ns, :id)"),
                {"ns": _LOCK_NS, "id": import_id}).scalar_one():
            continue  # a live process runs it
        if status == "running":
            session.execute(
                update(DataImport).where(DataImport.id == import_id)
                .values(status="failed", message=imports.INTERRUPTED_MESSAGE,
                        finished_at=clock.now())
                .execution_options(synchronize_session=False))
            session.execute(delete(Upload).where(Upload.data_import_id == import_id))
            _finish_job(session, job_id, "failed")
            done["failed"].append(job_id)
        elif stalled and status == "pending":
            session.execute(text(
                "SELECT procrastinate_retry_job_v2(:id, now(), NULL, NULL, NULL)"),
                {"id": job_id})
            done["requeued"].append(job_id)
        elif stalled or interrupted:  # interrupted: a page read found it dead first
            _finish_job(session, job_id, "succeeded" if status == "done" else "failed")
            done["closed"].append(job_id)
    imports.fail_interrupted(session)
    return done


def _finish_job(session: Session, job_id: int, status: str) -> None:
    session.execute(text("SELECT procrastinate_finish_job_v1(:id, "
                         "CAST(:status AS procrastinate_job_status), false)"),
                    {"id": job_id, "status": status})


_PURGE = ("DELETE FROM upload u WHERE u.created_at < to_timestamp(:cutoff) AND NOT EXISTS ("
          "SELECT 1 FROM data_import d WHERE d.id = u.data_import_id "
          "AND d.pilot_id = u.pilot_id AND d.status IN ('pending', 'running'))")


def purge_uploads(session: Session, pilot_id: int | None = None) -> int:
    """Delete uploads older than :data:`UPLOAD_TTL_S` that no queued import still needs:
    one pilot's (an upload's request), or every pilot's (the worker's periodic job).
    """
    cutoff = clock.now().timestamp() - UPLOAD_TTL_S
    sql = _PURGE if pilot_id is None else _PURGE + " AND u.pilot_id = :pilot_id"
    return session.connection().execute(text(sql), {"cutoff": cutoff, "pilot_id": pilot_id}
                                        ).rowcount or 0


def submit_import(db: Database, import_id: int, *, pilot_id: int | None = None,
                  inline: bool = False) -> None:
    """Run a confirmed import now (``inline``: tests) or queue it for ``locmap worker``.

    If the queue cannot be reached the import is marked failed at once, with the reason,
    rather than left ``pending``.
    """
    if inline:
        run_import_job(db, import_id, pilot_id)
        return
    from locmap.jobs import defer_import, defer_or_fail

    def fail(error: str) -> None:
        with db.session() as s:
            di = s.get(DataImport, import_id)
            if di is not None:
                di.status, di.finished_at = "failed", clock.now()
                di.message = (f"The import could not be queued ({error}); "
                              "nothing was imported. Try again later.")

    defer_or_fail(f"import {import_id}", lambda: defer_import(db, import_id, pilot_id), fail)
