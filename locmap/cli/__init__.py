"""The ``locmap`` command: database, users, pilots, demo and server.

User mistakes end with a one-line message and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import getpass
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from locmap.cli.serve import exit_now, serve_app, start_child, stop_child, web_options
from locmap.config import ConfigError, load_settings
from locmap.db import Database, connections, downgrade, upgrade
from locmap.errors import LocmapError
from locmap.pgserver import DatabaseUnavailable
from locmap.services.permissions import Actor
from locmap.vocab import ROLES

__all__ = ["main"]


# The server's operator at the command line: recorded by OS account name; an admin, who
# manages pilots and users but is no member of any pilot (so sees no case data).
OPERATOR = Actor(user_id=None, email=f"cli:{getpass.getuser()}", is_admin=True)


def _friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (LocmapError, DatabaseUnavailable, ConfigError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapped


def _database() -> Database:
    return Database.from_settings(load_settings())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="locmap")
def main() -> None:
    """locmap: location assessment and context mapping for Contextual Safeguarding."""


@main.group()
def db() -> None:
    """Create, upgrade or downgrade the database schema (Alembic)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@_friendly
def db_upgrade(revision: str) -> None:
    """Upgrade the schema to REVISION (default: head), creating the database if needed.

    Runs as DATABASE_OWNER_URL if set (else DATABASE_URL), then grants the app's role
    its row access; the embedded default uses its roles locmap_owner and locmap_app.
    """
    conns = connections(load_settings())
    upgrade(conns.owner, revision, app_role=conns.app_role)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision", default="base")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_friendly
def db_downgrade(revision: str, yes: bool) -> None:
    """Downgrade the schema to REVISION (default: base — drops every table)."""
    if not yes:
        click.confirm(f"Downgrade to {revision}? Data in dropped tables is lost.", abort=True)
    downgrade(connections(load_settings()).owner, revision)
    click.echo(f"database at {revision}")


@main.group()
def user() -> None:
    """Manage user accounts."""


@user.command("add")
@click.argument("email")
@click.option("--name", default="", help="Display name (default: the email).")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="admin and auditor are global; the others need --pilot.")
@click.option("--pilot", "pilot_name", help="Pilot name, for a pilot role.")
@click.option("--agency", help="Agency name (must exist).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@_friendly
def user_add(email: str, name: str, role: str, pilot_name: str | None, agency: str | None,
             password_stdin: bool) -> None:
    """Add a user (or a pilot role to an existing user). The password is prompted for."""
    from locmap.services import accounts

    if role in ("admin", "auditor") and pilot_name:
        raise click.UsageError(f"{role} is a global role; drop --pilot.")
    if role not in ("admin", "auditor") and not pilot_name:
        raise click.UsageError(f"{role} is a pilot role; name the pilot with --pilot.")

    def password() -> str:
        if password_stdin:
            return sys.stdin.readline().rstrip("\n")
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))

    database = _database()
    with database.session() as s:
        accounts.grant_role(s, None, email=email, role=role, pilot_name=pilot_name,
                            password=password, name=name, agency=agency)
    click.echo(f"{email}: {role}" + (f" in {pilot_name}" if pilot_name else ""))


@main.group()
def pilot() -> None:
    """Pilots."""


@pilot.command("list")
@_friendly
def pilot_list() -> None:
    """List every pilot with its dates and size."""
    from locmap.services import pilots
    from locmap.timeline import pilot_end

    database = _database()
    with database.session() as s:
        rows = pilots.visible_pilots(s, OPERATOR)
        if not rows:
            click.echo("no pilots yet (try: locmap demo)")
        for p in rows:
            click.echo(f"{p.id:>4}  {p.name}  {p.start_date} → "
                       f"{pilot_end(p.start_date, p.duration_months)}  {p.status}")


@main.command()
@web_options
@_friendly
def serve(host: str, port: int, workers: int, threads: int, timeout: int) -> None:
    """Serve the web app under gunicorn (upgrade the database first: `locmap db upgrade`).

    GUNICORN_CMD_ARGS passes any other gunicorn setting, e.g.
    GUNICORN_CMD_ARGS="--max-requests 1000 --certfile cert.pem --keyfile key.pem".
    """
    exit_now(serve_app(host, port, workers, threads, timeout))


@main.command()
@web_options
@click.option("--no-serve", is_flag=True, help="Load the demo data and stop.")
@click.option("--anchor", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="The day the demo's story reaches (default: today).")
@_friendly
def demo(host: str, port: int, workers: int, threads: int, timeout: int,
         no_serve: bool, anchor: dt.datetime | None) -> None:
    """Upgrade the database, load the synthetic demo town (idempotent) and serve it, with
    a background worker beside the web server; Ctrl-C stops both.
    """
    from locmap.services.demo import DEMO_DIR, load_demo

    conns = connections(load_settings())
    upgrade(conns.owner, app_role=conns.app_role)
    database = Database(conns.app)
    with database.session() as s:
        report = load_demo(s, DEMO_DIR, anchor=anchor.date() if anchor else None)
    database.dispose()
    click.echo(report.summary())
    click.echo("\nDemo logins (synthetic accounts, password for all: "
               f"{report.password}):")
    for email, role in report.logins:
        click.echo(f"  {role:<18} {email}")
    if no_serve:
        return
    worker = start_child("worker") if "worker" in main.commands else None
    try:
        status = serve_app(host, port, workers, threads, timeout)
    finally:
        if worker is not None:
            stop_child(worker)
    exit_now(status)


from locmap.cli.imports import import_group  # noqa: E402

main.add_command(import_group)
from locmap.cli.worker import worker  # noqa: E402, I001
main.add_command(worker)
from locmap.cli.audit import audit_group  # noqa: E402, I001
main.add_command(audit_group)
