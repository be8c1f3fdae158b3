"""Find or start the PostgreSQL + PostGIS server locmap talks to.

Order: ``DATABASE_URL`` if set; else the local server on 127.0.0.1:5432 if it answers
as ``postgres`` without a password (the usual developer machine; ``LOCMAP_EMBEDDED=1``
skips it); else a private cluster
that locmap initialises and starts under ``<data dir>/pg`` on a Unix socket only.
PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres``
system user that Debian's package creates. The database is created, and PostGIS
enabled in it, on first use: nobody types SQL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL, make_url

__all__ = ["DatabaseUnavailable", "resolve_url", "ensure_database", "drop_database"]

PG_BIN = Path(os.environ.get("LOCMAP_PG_BIN", "/usr/lib/postgresql/15/bin"))
LOCAL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/locmap"


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
    for d in (pgdata.parent, sock):
        d.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
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


def _name(url: URL) -> str:
    if not url.database:
        raise DatabaseUnavailable(f"the database URL {url!r} names no database")
    return url.database


def ensure_database(url_text: str) -> None:
    """Create the database if it does not exist and enable PostGIS in it."""
    url = make_url(url_text)
    name = _name(url)
    if not _answers(url):
        raise DatabaseUnavailable(f"cannot connect to the server of {url!r}")
    with psycopg.connect(_dsn(url.set(database="postgres")), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            conn.execute(
                psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name))
            )
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
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
