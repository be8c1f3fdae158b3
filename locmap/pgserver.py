"""Find or start the PostgreSQL + PostGIS server locmap talks to.

Order: ``DATABASE_URL`` if set; else the local server on 127.0.0.1:5432 if it answers
as ``postgres`` without a password (the usual developer machine; ``LOCMAP_EMBEDDED=1``
skips it); else a private cluster
that locmap initialises and starts under ``<data dir>/pg`` on a Unix socket only.
PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres``
system user that Debian's package creates. The database is created, and PostGIS
enabled in it, on first use: nobody types SQL.

Least privilege: in the embedded default locmap connects as the server's superuser only
to create two roles — ``locmap_owner``, which owns the database and runs the migrations,
and ``locmap_app``, which the app connects as and which may read and write rows but not
alter tables, disable triggers or edit the audit trail (the grants are in
:func:`locmap.db.grant_app_role`). With ``DATABASE_URL`` set, the app uses that URL and
migrations use ``DATABASE_OWNER_URL`` if it is set (the operator made the roles).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import URL, make_url

from locmap.config import check_private

__all__ = [
    "DatabaseUnavailable", "Connections", "OWNER_ROLE", "APP_ROLE", "resolve_url",
    "resolve_connections", "prepare", "role_url", "ensure_roles", "ensure_database",
    "drop_database",
]

PG_BIN = Path(os.environ.get("LOCMAP_PG_BIN", "/usr/lib/postgresql/15/bin"))
LOCAL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/locmap"
OWNER_ROLE = "locmap_owner"
APP_ROLE = "locmap_app"


class DatabaseUnavailable(RuntimeError):
    """No server could be found or started; the message says what to do."""


def _answers(url: URL) -> bool:
    try:
        with psycopg.connect(_dsn(url.set(database="postgres")), connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _private_cluster(data_dir: Path) -> URL:
    """Initialise (once) and start the private cluster; return its URL."""
    pgdata, sock = data_dir / "pg" / "data", data_dir / "pg" / "run"
    url = make_url("postgresql+psycopg://postgres@/locmap").set(query={"host": str(sock)})
    if not (PG_BIN / "initdb").exists():
        raise DatabaseUnavailable(
            "No PostgreSQL server answers on 127.0.0.1:5432 and PostgreSQL 15 is not installed.\n"
            "Run: apt-get install -y postgresql-15 postgresql-15-postgis-3  "
            "(or set DATABASE_URL to a server with PostGIS 3)"
        )
    check_private(data_dir, "LOCMAP_DATA_DIR")
    check_private(pgdata.parent, "The private cluster's folder", traverse_ok=False)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for d in (pgdata.parent, sock):
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.geteuid() == 0:
        # The cluster runs as postgres, which must pass through (not list) the data folder.
        data_dir.chmod(data_dir.stat().st_mode & 0o777 | 0o011)
        shutil.chown(pgdata.parent, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
    if not (pgdata / "PG_VERSION").exists():
        subprocess.run(
            _as_postgres([str(PG_BIN / "initdb"), "-D", str(pgdata), "-A", "trust",
                          "-U", "postgres", "-E", "UTF8"]),
            check=True, capture_output=True,
        )
    if _answers(url):
        return url
    subprocess.run(
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(pgdata), "-w", "-t", "60",
                      "-o", f"-k {sock} -c listen_addresses=''",
                      "-l", str(pgdata.parent / "server.log"), "start"]),
        check=True, capture_output=True,
    )
    for _ in range(50):
        if _answers(url):
            return url
        time.sleep(0.2)
    raise DatabaseUnavailable(f"the private cluster in {pgdata} did not start; see its server.log")


def resolve_url(database_url: str | None, data_dir: Path) -> str:
    """Return the SQLAlchemy URL to use, starting the private cluster if needed."""
    if database_url:
        url = make_url(database_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)
    local = make_url(LOCAL_URL)
    # LOCMAP_EMBEDDED=1 skips the local server even when one answers.
    if os.environ.get("LOCMAP_EMBEDDED") != "1" and _answers(local):
        return LOCAL_URL
    return _private_cluster(data_dir).render_as_string(hide_password=False)


@dataclass(frozen=True)
class Connections:
    """Who connects for what.

    ``app`` is what the web app, the worker and the CLI's data commands use; ``owner`` runs
    the migrations and owns the tables; ``admin`` (the embedded default only) is the
    server's superuser, used to create the two roles, the database and PostGIS.
    """

    app: str
    owner: str
    admin: str | None = None

    @property
    def app_role(self) -> str | None:
        """The role to grant the app's privileges to, or None when app and owner are one."""
        app, owner = make_url(self.app).username, make_url(self.owner).username
        return app if app and app != owner else None


def role_url(url_text: str, role: str) -> str:
    """The same server and database, connecting as ``role`` (trust or peer auth, no password)."""
    url = make_url(url_text).set(username=role, password=None)
    return url.render_as_string(hide_password=False)


def resolve_connections(
    database_url: str | None, owner_url: str | None, data_dir: Path
) -> Connections:
    """The URLs of :class:`Connections`, starting the private cluster if needed.

    ``owner_url`` (``DATABASE_OWNER_URL``) is read only along with ``database_url``: the
    embedded default makes and uses its own two roles.
    """
    if database_url:
        app = resolve_url(database_url, data_dir)
        owner = resolve_url(owner_url, data_dir) if owner_url else app
        return Connections(app=app, owner=owner)
    admin = resolve_url(None, data_dir)
    return Connections(app=role_url(admin, APP_ROLE), owner=role_url(admin, OWNER_ROLE),
                       admin=admin)


def prepare(conns: Connections) -> None:
    """Make the roles (embedded default), the database and PostGIS exist."""
    if conns.admin:
        ensure_roles(conns.admin)
        ensure_database(conns.admin, owner=OWNER_ROLE)
    else:
        ensure_database(conns.owner)


def ensure_roles(admin_url: str) -> None:
    """Create ``locmap_owner`` and ``locmap_app`` (login, no other attribute) if missing."""
    url = make_url(admin_url)
    with psycopg.connect(_dsn(url.set(database="postgres")), autocommit=True) as conn:
        for role in (OWNER_ROLE, APP_ROLE):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                continue
            try:
                conn.execute(psycopg.sql.SQL(
                    "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"
                ).format(psycopg.sql.Identifier(role)))
            except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
                pass  # another process made it at the same moment


# Objects in the user's schemas that another role owns, PostGIS' own (extension members)
# excepted; a sequence that belongs to a column moves with its table, so it is left out.
_FOREIGN_RELATIONS = """
    SELECT o.oid::regclass::text FROM pg_class o
    JOIN pg_namespace n ON n.oid = o.relnamespace JOIN pg_roles r ON r.oid = o.relowner
    WHERE o.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND r.rolname <> %s
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'topology')
      AND n.nspname NOT LIKE 'pg\\_%%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = o.oid
                      AND d.classid = 'pg_class'::regclass AND d.deptype = 'e')
      AND NOT (o.relkind = 'S' AND EXISTS (
          SELECT 1 FROM pg_depend d WHERE d.objid = o.oid
          AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
"""
_FOREIGN_FUNCTIONS = """
    SELECT o.oid::regprocedure::text FROM pg_proc o
    JOIN pg_namespace n ON n.oid = o.pronamespace JOIN pg_roles r ON r.oid = o.proowner
    WHERE r.rolname <> %s
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'topology')
      AND n.nspname NOT LIKE 'pg\\_%%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = o.oid
                      AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e')
"""


def _adopt(conn: psycopg.Connection[Any], owner: str) -> None:
    """Give ``owner`` the tables, sequences and functions an older install left to the
    superuser, so that migrations running as the owner can alter them. PostGIS' own
    objects (extension members) stay where they are.
    """
    ident = psycopg.sql.Identifier(owner)
    for (name,) in conn.execute(_FOREIGN_RELATIONS, (owner,)).fetchall():
        conn.execute(psycopg.sql.SQL("ALTER TABLE {} OWNER TO {}").format(
            psycopg.sql.SQL(name), ident))
    functions = conn.execute(_FOREIGN_FUNCTIONS, (owner,)).fetchall()
    for (signature,) in functions:
        conn.execute(psycopg.sql.SQL("ALTER FUNCTION {} OWNER TO {}").format(
            psycopg.sql.SQL(signature), ident))


def _name(url: URL) -> str:
    if not url.database:
        raise DatabaseUnavailable(f"the database URL {url!r} names no database")
    return url.database


def ensure_database(url_text: str, *, owner: str | None = None) -> None:
    """Create the database if it does not exist and enable PostGIS in it.

    With ``owner`` (a superuser's URL), the database and everything in it that is not
    PostGIS' belongs to that role, including an existing database made before the roles.
    """
    url = make_url(url_text)
    name = _name(url)
    if not _answers(url):
        raise DatabaseUnavailable(f"cannot connect to the server of {url!r}")
    db_ident = psycopg.sql.Identifier(name)
    adopt = False
    with psycopg.connect(_dsn(url.set(database="postgres")), autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if row is None:
            create = psycopg.sql.SQL("CREATE DATABASE {}").format(db_ident)
            if owner:
                create += psycopg.sql.SQL(" OWNER {}").format(psycopg.sql.Identifier(owner))
            try:
                conn.execute(create)
            except psycopg.errors.DuplicateDatabase:
                pass  # another process made it at the same moment
        elif owner and row[0] != owner:
            conn.execute(psycopg.sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                db_ident, psycopg.sql.Identifier(owner)))
            adopt = True
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        if adopt and owner:
            _adopt(conn, owner)
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        except psycopg.errors.FeatureNotSupported as exc:  # pragma: no cover - machine setup
            raise DatabaseUnavailable(
                "PostGIS is not installed on the database server. "
                "Run: apt-get install -y postgresql-15-postgis-3"
            ) from exc
        except psycopg.errors.UndefinedFile as exc:  # pragma: no cover - machine setup
            raise DatabaseUnavailable(
                "PostGIS is not installed on the database server. "
                "Run: apt-get install -y postgresql-15-postgis-3"
            ) from exc


def drop_database(url_text: str) -> None:
    url = make_url(url_text)
    with psycopg.connect(_dsn(url.set(database="postgres")), autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                psycopg.sql.Identifier(_name(url))
            )
        )
