"""Engine, sessions and schema migrations.

The schema is created only by Alembic (``locmap db upgrade``); nothing here calls
``create_all``. One ``Database`` object holds the engine and the session factory; the web
app opens one session per request, the CLI one per command.

Migrations run as the owner of the tables; the app connects as a role that
:func:`grant_app_role` gives row access only (see :mod:`locmap.pgserver`), re-granted after
every upgrade so that tables added by later migrations are covered too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from locmap.config import Settings
from locmap.pgserver import Connections, ensure_database, prepare, resolve_connections

__all__ = ["Database", "alembic_config", "upgrade", "downgrade", "grant_app_role",
           "connections", "MIGRATIONS_DIR", "WEB_APP_NAME", "WORKER_APP_NAME"]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


# Each connection of the app's engine: no JIT compilation. locmap's statements are short
# (a page runs 5-40 of them), and PostgreSQL compiles any plan costed above
# jit_above_cost (100,000) to machine code first, which took 25-30 ms on the place counts
# of the 2,000,000-incident town, longer than the 8 place counts themselves (decisions.md).
SESSION_SETTINGS = {"jit": "off"}

# application_name of the web server's and the worker's connections (``locmap serve`` and
# ``locmap worker`` set libpq's PGAPPNAME to them unless the environment sets another): a
# DBA sees who is who in pg_stat_activity, and the load benchmark splits PostgreSQL's CPU
# between them.
WEB_APP_NAME = "locmap web"
WORKER_APP_NAME = "locmap worker"


def _session_settings(dbapi_connection: Any, _record: Any) -> None:
    """Apply :data:`SESSION_SETTINGS` for the connection's life (committed, so the pool's
    rollback on return keeps them).
    """
    with dbapi_connection.cursor() as cursor:
        for name, value in SESSION_SETTINGS.items():
            cursor.execute(f"SET {name} = {value}")  # constants only
    dbapi_connection.commit()


class Database:
    """The engine and a session factory; optionally bound to one outer connection (tests)."""

    def __init__(
        self, url: str, *, bind: Connection | None = None, engine: Engine | None = None
    ) -> None:
        self.url = url
        if engine is None:
            engine = create_engine(url, pool_pre_ping=True)
            event.listen(engine, "connect", _session_settings)
        self.engine: Engine = engine
        if bind is not None:
            # Tests: every session joins the test's outer transaction via savepoints.
            self.sessionmaker = sessionmaker(
                bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
        else:
            self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings, *, create: bool = True) -> Database:
        """The app's database (``DATABASE_URL`` or the embedded app role).

        ``DATABASE_OWNER_URL`` is never read here: the web server and the worker need not
        hold the owner's credentials, only ``locmap db upgrade`` does.
        """
        conns = resolve_connections(settings.database_url, None, settings.data_dir)
        if create and conns.admin:
            prepare(conns)
        elif create:
            ensure_database(conns.app)
        return cls(conns.app)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        with self.sessionmaker() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()


def connections(settings: Settings, *, create: bool = True) -> Connections:
    """Who connects for what (see :class:`locmap.pgserver.Connections`); with ``create``,
    make the roles, the database and PostGIS exist first.
    """
    conns = resolve_connections(
        settings.database_url, settings.database_owner_url, settings.data_dir
    )
    if create:
        prepare(conns)
    return conns


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head", *, app_role: str | None = None) -> None:
    """Migrate as ``url``'s role (the owner), then grant ``app_role`` its row access."""
    command.upgrade(alembic_config(url), revision)
    if app_role:
        grant_app_role(url, app_role)


# Relations in the schemas the owner may grant on, minus PostGIS' own objects.
_OWNED = """
    SELECT o.oid::{kind}::text FROM {catalog} o JOIN pg_namespace n ON n.oid = o.{ns}
    WHERE o.{owner} = (SELECT oid FROM pg_roles WHERE rolname = current_user)
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') {extra}
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = o.oid
                      AND d.classid = '{catalog}'::regclass AND d.deptype = 'e')
    ORDER BY 1
"""
# What the app may never do to the audit trail, even though it writes every other table.
_AUDIT_REVOKED = "UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER"


def grant_app_role(owner_url: str, app_role: str) -> None:
    """Give ``app_role`` what the app needs and nothing more, as the owner of the tables.

    Row access (SELECT, INSERT, UPDATE, DELETE) on the owner's tables and views, USAGE and
    SELECT on its sequences, EXECUTE on its functions, USAGE on its schemas; only SELECT
    and INSERT on ``audit_event`` and SELECT on ``alembic_version``. Never ownership, so
    the app cannot ALTER or DROP a table or disable the audit trail's trigger. Idempotent:
    it runs after every upgrade, so tables a later migration adds (procrastinate's too)
    are covered.
    """
    engine = create_engine(owner_url)
    try:
        with engine.begin() as conn:
            role = conn.execute(text("SELECT quote_ident(:r)"), {"r": app_role}).scalar_one()
            schemas = conn.execute(text(
                "SELECT quote_ident(nspname) FROM pg_namespace "
                "WHERE nspname = 'public' OR nspowner = "
                "(SELECT oid FROM pg_roles WHERE rolname = current_user) "
                "AND nspname NOT LIKE 'pg\\_%'"
            )).scalars().all()
            for schema in schemas:
                conn.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {role}"))
            tables = conn.execute(text(_OWNED.format(
                kind="regclass", catalog="pg_class", ns="relnamespace", owner="relowner",
                extra="AND o.relkind IN ('r', 'p', 'v', 'm', 'f')"))).scalars().all()
            for table in tables:
                conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role}"))
            sequences = conn.execute(text(_OWNED.format(
                kind="regclass", catalog="pg_class", ns="relnamespace", owner="relowner",
                extra="AND o.relkind = 'S'"))).scalars().all()
            for sequence in sequences:
                conn.execute(text(f"GRANT USAGE, SELECT ON SEQUENCE {sequence} TO {role}"))
            functions = conn.execute(text(_OWNED.format(
                kind="regprocedure", catalog="pg_proc", ns="pronamespace", owner="proowner",
                extra="AND o.prokind IN ('f', 'p')"))).scalars().all()
            for function in functions:
                conn.execute(text(f"GRANT EXECUTE ON ROUTINE {function} TO {role}"))
            if "audit_event" in tables:
                conn.execute(text(f"REVOKE {_AUDIT_REVOKED} ON audit_event FROM {role}"))
            if "alembic_version" in tables:
                conn.execute(text(f"REVOKE INSERT, UPDATE, DELETE ON alembic_version "
                                  f"FROM {role}"))
    finally:
        engine.dispose()


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
