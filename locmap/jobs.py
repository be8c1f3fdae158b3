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
ones (:func:`locmap.services.backup.scheduled_backup`).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from procrastinate import App, PsycopgConnector
from sqlalchemy.engine import make_url

from locmap.db import Database
from locmap.services.imports import IMPORT_QUEUE

__all__ = ["MAINTENANCE_QUEUE", "max_imports", "make_app", "defer_import", "run_worker",
           "recover", "backup_cron", "backup_task"]

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
    app.periodic(cron="* * * * *", periodic_id="recover")(
        app.task(name="locmap:recover", queue=MAINTENANCE_QUEUE,
                 queueing_lock="recover")(recover_task))
    if os.environ.get("LOCMAP_BACKUP_DIR"):
        app.periodic(cron=backup_cron(), periodic_id="backup")(
            app.task(name="locmap:backup", queue=MAINTENANCE_QUEUE,
                     queueing_lock="backup")(backup_task))
    return app


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


def run_import(import_id: int) -> str:
    """Run one confirmed web import (see :func:`locmap.services.import_jobs.run_import_job`)."""
    from locmap.services.import_jobs import run_import_job

    status = run_import_job(_db(), import_id)
    log.info("import %s: %s", import_id, status)
    return status


def recover(db: Database) -> dict[str, Any]:
    """Settle jobs left by dead workers and purge old uploads (one transaction)."""
    from locmap.services.import_jobs import purge_uploads, recover_interrupted

    with db.session() as s:
        done: dict[str, Any] = recover_interrupted(s)
        done["uploads_purged"] = purge_uploads(s)
    if any(done.values()):
        log.warning("recovered: %s", done)
    return done


def recover_task(timestamp: int) -> None:
    """Every minute: what :func:`recover` does at worker start."""
    recover(_db())


def defer_import(db: Database, import_id: int) -> None:
    """Queue a confirmed import (from the web process; the app's pool is kept open)."""
    with _web_apps_lock:  # the web server's threads share one pool per database
        app = _web_apps.get(db.url)
        if app is None:
            # min_size=0: no idle connection held (and refilled) for a rare event.
            app = make_app(db.url, min_size=0, max_size=2).open()
            _web_apps[db.url] = app
    app.tasks["locmap:run_import"].configure(
        lock=f"import-slot-{import_id % max_imports()}").defer(import_id=import_id)


def run_worker(db: Database, concurrency: int) -> None:
    """Settle what dead workers left, then run jobs until SIGINT/SIGTERM."""
    global _database
    _database = db
    recover(db)
    app = make_app(db.url)
    app.run_worker(queues=[IMPORT_QUEUE, MAINTENANCE_QUEUE], concurrency=concurrency,
                   name=f"locmap-{os.getpid()}")
