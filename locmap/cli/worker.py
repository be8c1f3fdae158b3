"""``locmap worker``: the process that runs imports (and other long jobs) off the web.

Run one or more next to ``locmap serve``, on any machine that reaches the database. On
start it settles what a killed worker left behind (see :func:`locmap.jobs.recover`);
SIGINT or SIGTERM lets running jobs finish before it stops.
"""

from __future__ import annotations

import logging
import os

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from locmap.config import load_settings
from locmap.db import WORKER_APP_NAME, Database
from locmap.pgserver import DatabaseUnavailable

__all__ = ["worker"]


@click.command()
@click.option("--concurrency", type=click.IntRange(1, 64), default=None,
              help="Jobs run at once by this worker (default: LOCMAP_MAX_IMPORTS, 2).")
def worker(concurrency: int | None) -> None:
    """Run queued imports until stopped (Ctrl-C)."""
    from locmap.jobs import max_imports, run_worker

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("PGAPPNAME", WORKER_APP_NAME)  # see locmap.db
    try:
        database = Database.from_settings(load_settings(), create=False)
    except DatabaseUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    n = concurrency or max_imports()
    click.echo(f"locmap worker: up to {n} job(s) at once (Ctrl-C stops it)")
    try:
        run_worker(database, n)
    except ProgrammingError as exc:
        if "procrastinate_" in str(exc) or "upload" in str(exc):
            raise click.ClickException("The database has no job queue yet: run "
                                       "`locmap db upgrade` first.") from None
        raise
    except OperationalError as exc:
        raise click.ClickException(f"Cannot reach the database: {exc.orig}") from None
