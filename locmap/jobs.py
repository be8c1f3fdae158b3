"""The job queue: procrastinate on locmap's own PostgreSQL, and the tasks ``locmap worker`` runs.

Long work leaves the web process: the web queues a job (:func:`defer_import`) and a
separate ``locmap worker`` process runs it (:func:`run_worker`). Tasks are thin: they call
the use cases in :mod:`locmap.services.import_jobs`. The queue's tables come from the
Alembic migration ``0005_job_queue``; see docs/decisions.md for why procrastinate.

At most ``LOCMAP_MAX_IMPORTS`` imports (default 2) run at once across all workers: each
import job carries one of that many procrastinate locks (``import-slot-<n>``), and no two
jobs with the same lock run together; a worker's ``--concurrency`` defaults to the same
number. A periodic task (every minute) and every worker start settle jobs that a killed
worker left behind and purge uploads older than 24 hours. With ``LOCMAP_BACKUP_DIR`` set,
another (``LOCMAP_BACKUP_CRON``, daily by default) writes a backup there and prunes the old
ones (:func:`locmap.services.backup.scheduled_backup`). Every night
(``LOCMAP_RETENTION_CRON``, ``off`` to stop it) the retention rules are applied
(:func:`locmap.services.retention.run`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from procrastinate import App, PsycopgConnector
from procrastinate.exceptions import ProcrastinateException
from sqlalchemy.engine import make_url

from locmap.db import Database
from locmap.services.imports import IMPORT_QUEUE

__all__ = ["MAINTENANCE_QUEUE", "max_imports", "make_app", "defer_import", "run_worker",
           "recover", "backup_cron", "backup_task", "inbox_mail_task", "retention_cron",
           "retention_task", "build_basemap", "defer_basemap", "board_pack_task",
           "defer_board_pack", "defer_or_fail", "national_task", "defer_national"]

MAINTENANCE_QUEUE = "maintenance"
log = logging.getLogger(__name__)
_database: Database | None = None
_web_apps: dict[str, App] = {}
_web_apps_lock = threading.Lock()


def max_imports() -> int:
    """``LOCMAP_MAX_IMPORTS`` (default 2, at least 1): imports running at once."""
    try:
        return max(int(os.environ.get("LOCMAP_MAX_IMPORTS", "2")), 1)
    except ValueError:
        return 2


def _conninfo(url: str) -> str:
    """The libpq connection string of an SQLAlchemy URL (procrastinate speaks psycopg)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(url: str, **pool: Any) -> App:
    """A procrastinate app on the database at ``url``, with locmap's tasks."""
    app = App(connector=PsycopgConnector(conninfo=_conninfo(url), **pool))
    # Registered per app (not on a shared Blueprint, which binds to the first app only):
    # the web process may queue into more than one database (tests do).
    app.task(name="locmap:run_import", queue=IMPORT_QUEUE)(run_import)
    app.task(name="locmap:build_basemap", queue=IMPORT_QUEUE,
             queueing_lock="build_basemap")(build_basemap)
    app.task(name="locmap:board_pack", queue=MAINTENANCE_QUEUE)(board_pack_task)
    app.task(name="locmap:national", queue=MAINTENANCE_QUEUE)(national_task)
    app.periodic(cron="* * * * *", periodic_id="recover")(
        app.task(name="locmap:recover", queue=MAINTENANCE_QUEUE,
                 queueing_lock="recover")(recover_task))
    if os.environ.get("LOCMAP_BACKUP_DIR"):
        app.periodic(cron=backup_cron(), periodic_id="backup")(
            app.task(name="locmap:backup", queue=MAINTENANCE_QUEUE,
                     queueing_lock="backup")(backup_task))
    if retention_cron() != "off":
        app.periodic(cron=retention_cron(), periodic_id="retention")(
            app.task(name="locmap:retention", queue=MAINTENANCE_QUEUE,
                     queueing_lock="retention")(retention_task))
    from locmap.services import mail

    if mail.configured():
        app.periodic(cron="*/5 * * * *", periodic_id="inbox_mail")(
            app.task(name="locmap:inbox_mail", queue=MAINTENANCE_QUEUE,
                     queueing_lock="inbox_mail")(inbox_mail_task))
    return app


def inbox_mail_task(timestamp: int) -> int:
    """Every five minutes, with SMTP configured: email each user's new inbox items."""
    from locmap.services.inbox import mail_new_items

    with _db().session() as s:
        return mail_new_items(s, base_url=os.environ.get("LOCMAP_BASE_URL", ""))


def retention_cron() -> str:
    """``LOCMAP_RETENTION_CRON`` (default ``15 3 * * *``: 03:15 UTC every day; ``off``)."""
    return os.environ.get("LOCMAP_RETENTION_CRON", "").strip() or "15 3 * * *"


def retention_task(timestamp: int) -> str:
    """The nightly retention run: erase what is past its period (one transaction)."""
    from locmap.services import retention
    from locmap.services.permissions import Actor

    with _db().session() as s:
        result = retention.run(s, Actor(user_id=None, email="worker:retention",
                                        is_admin=True))
    log.info("%s", result.summary())
    return result.summary()


def backup_cron() -> str:
    """``LOCMAP_BACKUP_CRON`` (default ``30 2 * * *``: 02:30 UTC every day)."""
    return os.environ.get("LOCMAP_BACKUP_CRON", "").strip() or "30 2 * * *"


def backup_task(timestamp: int) -> str:
    """The scheduled backup (``LOCMAP_BACKUP_DIR``): write, prune, record the last good one."""
    from locmap.config import load_settings
    from locmap.services.backup import scheduled_backup

    try:
        result = scheduled_backup(load_settings())
    except Exception:
        log.exception("scheduled backup failed; the last good backup stays as it was")
        raise
    return result.summary() if result else "backups are off"


def _db() -> Database:
    global _database
    if _database is None:
        from locmap.config import load_settings

        _database = Database.from_settings(load_settings(), create=False)
    return _database


def run_import(import_id: int, pilot_id: int | None = None) -> str:
    """Run one confirmed web import (see :func:`locmap.services.import_jobs.run_import_job`)."""
    from locmap.services.import_jobs import run_import_job

    status = run_import_job(_db(), import_id, pilot_id)
    log.info("import %s: %s", import_id, status)
    return status


def build_basemap(data_dir: str, path: str, source: str, user_id: int | None,
                  email: str) -> str:
    """Build the base map from an extract uploaded on the admin page
    (:func:`locmap.services.basemap.run_build_job`).
    """
    from locmap.services.basemap import run_build_job

    status = run_build_job(_db(), Path(data_dir), Path(path), source, user_id, email)
    log.info("base map build from %s: %s", source, status)
    return status


def board_pack_task(pack_id: int) -> str:
    """Build a board's pack someone asked for (:func:`locmap.services.board_pack.run_pack`)."""
    from locmap.config import load_settings
    from locmap.services.board_pack import run_pack

    threshold = load_settings().suppression_threshold
    with _db().session() as s:
        status = run_pack(s, pack_id, threshold=threshold)
    log.info("board pack %s: %s", pack_id, status)
    return status


def defer_or_fail(what: str, defer: Callable[[], None], fail: Callable[[str], None]) -> None:
    """Queue a job with ``defer``; if the queue cannot be reached, log it and call ``fail``
    with the error's name at once, so that nothing waits as pending for a job that was
    never queued. Any other error is the caller's.
    """
    try:
        defer()
    except (ProcrastinateException, psycopg.Error) as exc:
        log.exception("%s could not be queued", what)
        fail(type(exc).__name__)


def national_task(source: str, out: str, options: dict[str, Any]) -> str:
    """Run a queued national analysis (:func:`locmap.services.national.run_national`) and
    write its cells to ``out``; the run's figures go to the log and beside the cells.
    """
    from locmap.services.national import run_national

    layers = {name: (src, float(metres))
              for name, (src, metres) in (options.get("covariates") or {}).items()}
    run, _ = run_national(source, out=Path(out), **{**options, "covariates": layers})
    log.info("national analysis of %s: %s hot cells, written to %s", source, run.hot_cells,
             out)
    return out


def defer_national(db: Database, source: str, out: str, options: dict[str, Any]) -> int:
    """Queue a national analysis for ``locmap worker``; the job's id."""
    with make_app(db.url, min_size=0, max_size=1).open() as app:
        return int(app.tasks["locmap:national"].defer(source=source, out=out, options=options))


def defer_board_pack(db: Database, pack_id: int) -> None:
    """Queue a board's pack (from the web process)."""
    _web_app(db).tasks["locmap:board_pack"].defer(pack_id=pack_id)


def _web_app(db: Database) -> App:
    """The web process's procrastinate app for ``db`` (one pool per database, kept open)."""
    with _web_apps_lock:  # the web server's threads share one pool per database
        app = _web_apps.get(db.url)
        if app is None:
            # min_size=0: no idle connection held (and refilled) for a rare event.
            app = make_app(db.url, min_size=0, max_size=2).open()
            _web_apps[db.url] = app
    return app


def defer_basemap(db: Database, **job: Any) -> None:
    """Queue a base map build (from the web process)."""
    _web_app(db).tasks["locmap:build_basemap"].defer(**job)


def recover(db: Database) -> dict[str, Any]:
    """Settle jobs left by dead workers, purge old uploads and old idempotency keys (one
    transaction).
    """
    from locmap.services import idempotency
    from locmap.services.import_jobs import purge_uploads, recover_interrupted

    with db.session() as s:
        done: dict[str, Any] = recover_interrupted(s)
        done["uploads_purged"] = purge_uploads(s)
        done["idempotency_keys_purged"] = idempotency.purge(s)
    if any(done.values()):
        log.warning("recovered: %s", done)
    return done


def recover_task(timestamp: int) -> None:
    """Every minute: what :func:`recover` does at worker start."""
    recover(_db())


def defer_import(db: Database, import_id: int, pilot_id: int | None = None) -> None:
    """Queue a confirmed import (from the web process; the app's pool is kept open)."""
    _web_app(db).tasks["locmap:run_import"].configure(
        lock=f"import-slot-{import_id % max_imports()}").defer(import_id=import_id,
                                                               pilot_id=pilot_id)


def run_worker(db: Database, concurrency: int) -> None:
    """Settle what dead workers left, then run jobs until SIGINT/SIGTERM."""
    global _database
    _database = db
    recover(db)
    app = make_app(db.url)
    app.run_worker(queues=[IMPORT_QUEUE, MAINTENANCE_QUEUE], concurrency=concurrency,
                   name=f"locmap-{os.getpid()}")
