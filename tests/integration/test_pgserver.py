"""The embedded default a fresh machine uses: a private cluster under the data folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from locmap import pgserver


def test_private_cluster_is_initialised_started_and_given_postgis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() == 0:
        # The cluster runs as the postgres system user, which must reach the data folder.
        tmp_path.chmod(0o711)
        for parent in tmp_path.parents:
            if parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o005)
    monkeypatch.setenv("LOCMAP_EMBEDDED", "1")
    url = pgserver.resolve_url(None, tmp_path)
    pgdata = tmp_path / "pg" / "data"
    try:
        assert (pgdata / "PG_VERSION").exists()
        assert (tmp_path / "pg").stat().st_mode & 0o077 == 0  # the cluster's folder: owner-only
        parsed = make_url(url)
        assert parsed.query["host"] == str(tmp_path / "pg" / "run")  # a Unix socket only
        pgserver.ensure_database(url)
        with psycopg.connect(parsed.set(drivername="postgresql").render_as_string(False)) as conn:
            version = conn.execute("SELECT postgis_lib_version()").fetchone()
        assert version and version[0].startswith("3.")
        # A second call finds the running cluster instead of starting another.
        assert pgserver.resolve_url(None, tmp_path) == url
        # The embedded default splits the roles: the owner owns the database, the app
        # connects as a plain role.
        conns = pgserver.resolve_connections(None, None, tmp_path)
        assert conns.admin == url and conns.app_role == pgserver.APP_ROLE
        pgserver.prepare(conns)
        pgserver.prepare(conns)  # idempotent
        app_dsn = make_url(conns.app).set(drivername="postgresql").render_as_string(False)
        with psycopg.connect(app_dsn) as conn:
            row = conn.execute(
                "SELECT current_user, pg_get_userbyid(datdba), rolsuper FROM pg_database, "
                "pg_roles WHERE datname = current_database() AND rolname = current_user"
            ).fetchone()
        assert row == (pgserver.APP_ROLE, pgserver.OWNER_ROLE, False)
    finally:
        cmd = [str(pgserver.PG_BIN / "pg_ctl"), "-D", str(pgdata), "stop", "-m", "immediate"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, capture_output=True, check=False)
