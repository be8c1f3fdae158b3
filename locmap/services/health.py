"""Whether this locmap can do its job: the database answers, its schema is at the
migrations' head, and a background worker has been seen lately.

Read by ``GET /healthz`` for a load balancer or a monitoring probe. It reports states, never
case data, and needs no login, so it reads nothing but the schema version and the
worker heartbeats.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

__all__ = ["Health", "check", "WORKER_FRESH_SECONDS"]

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


def check(engine: Engine, *, require_worker: bool = False) -> Health:
    """Probe the database through ``engine`` on a connection of its own, time-limited so a
    hung server makes the probe fail rather than hang.
    """
    head = _head_revision()
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
        return Health("unreachable", "unknown", None, head, "unknown", require_worker)
    return Health("ok", migrations, current, head, worker, require_worker)
