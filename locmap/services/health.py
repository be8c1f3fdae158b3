"""Whether this locmap can do its job: the database answers, its schema is at the
migrations' head, and a background worker has been seen lately; and, when scheduled
backups are on (``LOCMAP_BACKUP_DIR``), how old the last good backup is (reported, never a
reason to fail: a load balancer must not take the site down over a late backup; alert on
``backup.state == "stale"`` in monitoring instead).

Read by ``GET /healthz`` for a load balancer or a monitoring probe. It reports states, never
case data, and needs no login, so it reads nothing but the schema version and the
worker heartbeats.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

__all__ = ["Health", "check", "backup_state", "WORKER_FRESH_SECONDS"]

# procrastinate's workers beat every 10 s by default; three missed beats is a dead worker.
WORKER_FRESH_SECONDS = 30


@dataclass(frozen=True)
class Health:
    database: str  # "ok" | "unreachable"
    migrations: str  # "head" | "behind" | "unknown"
    current_revision: str | None
    head_revision: str
    worker: str  # "ok" | "stale" | "none" | "unknown" (no worker table yet)
    require_worker: bool
    # {"state": "off" | "none" | "ok" | "stale", "last_good_at", "age_hours"}
    backup: dict[str, Any] = field(default_factory=lambda: {"state": "off"})

    @property
    def healthy(self) -> bool:
        ok = self.database == "ok" and self.migrations == "head"
        return ok and (self.worker == "ok" or not self.require_worker)

    def to_dict(self) -> dict[str, object]:
        return {"status": "ok" if self.healthy else "fail", **asdict(self)}


@lru_cache(maxsize=1)
def _head_revision() -> str:
    from locmap.db import alembic_config

    heads = ScriptDirectory.from_config(alembic_config("postgresql://")).get_heads()
    return ",".join(sorted(heads))


def _readable(conn: Connection, table: str) -> bool | None:
    """None if ``table`` does not exist, else whether this role may read it."""
    return conn.execute(text(
        "SELECT CASE WHEN to_regclass(:t) IS NOT NULL THEN has_table_privilege(:t, 'SELECT') END"
    ), {"t": table}).scalar()


def _worker_state(conn: Connection) -> str:
    # No table yet (the worker's migration has not run) or no grant on it yet: unknown.
    if not _readable(conn, "procrastinate_workers"):
        return "unknown"
    # The database's clock on both sides: the heartbeats are written with its now().
    row = conn.execute(text(
        "SELECT count(*), bool_or(last_heartbeat > now() - make_interval(secs => :fresh)) "
        "FROM procrastinate_workers"
    ), {"fresh": WORKER_FRESH_SECONDS}).one()
    if row[0] == 0:
        return "none"
    return "ok" if row[1] else "stale"


def backup_state(backup_dir: Path | None) -> dict[str, Any]:
    """The last good backup recorded in ``backup_dir`` and whether it is older than
    ``LOCMAP_BACKUP_MAX_AGE_HOURS`` (default 36: a daily backup plus some slack).
    """
    if backup_dir is None:
        return {"state": "off"}
    from locmap.services.backup import last_good

    last = last_good(backup_dir)
    if last is None:
        return {"state": "none", "last_good_at": None, "age_hours": None}
    try:
        limit = float(os.environ.get("LOCMAP_BACKUP_MAX_AGE_HOURS", "36"))
    except ValueError:
        limit = 36.0
    return {"state": "ok" if last["age_hours"] <= limit else "stale",
            "last_good_at": last["created_at"], "age_hours": last["age_hours"]}


def check(engine: Engine, *, require_worker: bool = False,
          backup_dir: Path | None = None) -> Health:
    """Probe the database through ``engine`` on a connection of its own, time-limited so a
    hung server makes the probe fail rather than hang.
    """
    head = _head_revision()
    backup = backup_state(backup_dir)
    try:
        with engine.connect() as conn:
            conn.execute(text("SET LOCAL statement_timeout = 5000"))
            if _readable(conn, "alembic_version") is False:
                current, migrations = None, "unknown"
            else:
                heads = MigrationContext.configure(conn).get_current_heads()
                current = ",".join(sorted(heads)) or None
                migrations = "head" if current == head else "behind"
            worker = _worker_state(conn)
    except SQLAlchemyError:
        return Health("unreachable", "unknown", None, head, "unknown", require_worker, backup)
    return Health("ok", migrations, current, head, worker, require_worker, backup)
