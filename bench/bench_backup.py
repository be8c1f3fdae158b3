"""Benchmark ``locmap backup`` / ``locmap restore`` against plain ``pg_dump`` / ``pg_restore``.

Run from the repository root (needs a PostGIS server; ``DATABASE_URL`` or the local one)::

    .venv/bin/python bench/bench_backup.py [--n 2000000] [--write docs/perf/backup.md]

Setup: a fresh database gets bench_map_view's 2-million-incident town (``INSERT ... SELECT
generate_series``). Then, in the same run, on the same database:

* locmap: :func:`locmap.services.backup.create_backup` (pg_dump custom format, SHA-256 of
  each part, the tar archive; plain, and encrypted to an age public key) and
  :func:`locmap.services.backup.restore_backup` of the plain archive into a new empty
  database (extract, hash check, restore in one transaction, upgrade check, grants);
* plain: ``pg_dump --format=custom`` of the same database and ``pg_restore`` of that file
  into another new empty database (default options: not in one transaction, and it goes
  on after errors; it reports one, see docs/operations.md).

Every database made here is dropped at the end, also on failure.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from bench_map_view import _fresh_url, _seed  # noqa: E402
from pyrage import x25519  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from locmap.config import load_settings  # noqa: E402
from locmap.db import Database, upgrade  # noqa: E402
from locmap.pgserver import Connections, drop_database  # noqa: E402
from locmap.services import backup  # noqa: E402


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _count(url: str) -> int:
    eng = create_engine(url)
    try:
        with eng.connect() as c:
            return int(c.execute(text("SELECT count(*) FROM incident")).scalar_one())
    finally:
        eng.dispose()


def _timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2_000_000, help="incidents in the town")
    ap.add_argument("--write", help="write the markdown report to this path")
    args = ap.parse_args()
    settings = load_settings()
    made: list[str] = []
    try:
        src = _fresh_url()
        made.append(src)
        upgrade(src)
        db = Database(src)
        t_load, _ = _timed(lambda: _seed(db, args.n))
        db.dispose()
        print(f"town of {args.n:,} incidents loaded in {t_load:.0f} s", flush=True)
        with create_engine(src).connect() as c:
            size = c.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            pg = c.execute(text("SELECT split_part(version(), ' ', 2), "
                                "postgis_lib_version()")).one()
        conns = Connections(app=src, owner=src)
        with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
            out = Path(tmp)
            rows: list[tuple[str, float, float, str]] = []
            # -- locmap backup, plain and encrypted
            t_ours, res = _timed(lambda: backup.create_backup(settings, out / "plain",
                                                              conns=conns))
            key = x25519.Identity.generate()
            t_enc, enc = _timed(lambda: backup.create_backup(
                settings, out / "enc", recipients=[str(key.to_public())], conns=conns))
            # -- plain pg_dump
            dump = out / "plain.dump"
            pg_dump = backup.arc.pg_tool("pg_dump", 15, [])
            t_dump, _ = _timed(lambda: subprocess.run(
                [str(pg_dump), "--format=custom", "--file", str(dump), "--dbname",
                 _libpq(src)], check=True))
            print(f"backup: locmap {t_ours:.1f} s (encrypted {t_enc:.1f} s), pg_dump "
                  f"{t_dump:.1f} s", flush=True)
            # -- locmap restore into a new empty database
            dest_ours = _fresh_url()
            made.append(dest_ours)
            t_rest, _ = _timed(lambda: backup.restore_backup(
                settings, res.path, conns=Connections(app=dest_ours, owner=dest_ours)))
            assert _count(dest_ours) == args.n
            # -- plain pg_restore into another
            dest_plain = _fresh_url()
            made.append(dest_plain)
            pg_restore = backup.arc.pg_tool("pg_restore", 15, [])
            t_prest, proc = _timed(lambda: subprocess.run(
                [str(pg_restore), "--dbname", _libpq(dest_plain), str(dump)],
                capture_output=True, text=True, check=False))
            errors = proc.stderr.count("error:")
            assert _count(dest_plain) == args.n
            print(f"restore: locmap {t_rest:.1f} s, pg_restore {t_prest:.1f} s "
                  f"({errors} error(s) reported by pg_restore)", flush=True)
            rows = [
                ("backup", t_ours, t_dump,
                 f"archive {res.path.stat().st_size / 1e6:.0f} MB, dump "
                 f"{dump.stat().st_size / 1e6:.0f} MB; encrypted to an age key: "
                 f"{t_enc:.1f} s ({t_enc / t_dump:.2f}×)"),
                ("restore", t_rest, t_prest,
                 f"locmap: one transaction, hashes checked first; pg_restore: "
                 f"{errors} error(s) reported ({'the geometry trigger' if errors else 'none'})"),
            ]
            load = os.getloadavg()
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            report = [
                f"# Backup and restore, {args.n:,}-incident town (issue 21)",
                "",
                f"`bench/bench_backup.py --n {args.n}`, {when}; "
                f"PostgreSQL {pg[0]}, PostGIS {pg[1]}, Python {platform.python_version()}; "
                f"database {size / 1e6:.0f} MB; load average at the end "
                f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on 2 cores (shared machine).",
                "",
                "| step | locmap | plain pg_dump / pg_restore | ratio | notes |",
                "|---|---:|---:|---:|---|",
                *(f"| {a} | {b:.1f} s | {c:.1f} s | {b / c:.2f}× | {d} |" for a, b, c, d in rows),
                "",
                "locmap's backup is pg_dump plus a SHA-256 pass over the dump and one copy into "
                "the tar archive; its restore is the hash check plus pg_restore piped through "
                "psql in one transaction (all or nothing) and the grants.",
            ]
            text_out = "\n".join(report) + "\n"
            print(text_out)
            if args.write:
                Path(args.write).write_text(text_out)
    finally:
        for url in made:
            drop_database(url)


if __name__ == "__main__":
    main()
