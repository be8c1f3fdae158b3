"""The ``locmap`` command: database, users, pilots, demo and server.

User mistakes end with a one-line message and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
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
from locmap.vocab import AGENCY_KINDS, PILOT_ROLES, ROLES

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


@user.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@_friendly
def user_set_password(email: str, password_stdin: bool) -> None:
    """Reset a user's password (prompted for); every session of theirs ends."""
    from locmap.services import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = str(click.prompt("New password", hide_input=True, confirmation_prompt=True))
    database = _database()
    with database.session() as s:
        accounts.reset_password(s, None, email, password)
    click.echo(f"{email}: password set; every session of this user has ended.")


@user.command("totp-reset")
@click.argument("email")
@_friendly
def user_totp_reset(email: str) -> None:
    """Turn off a user's two-factor sign-in (a lost phone) and end their sessions; they
    set it up again at their next login (admins and auditors must).
    """
    from locmap.services import two_factor

    database = _database()
    with database.session() as s:
        two_factor.reset(s, None, email)
    click.echo(f"{email}: two-factor sign-in reset; every session of this user has ended.")

def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("Password (at least 12 characters)", hide_input=True,
                            confirmation_prompt=True))


@main.command()
@click.option("--email", prompt="The first admin's email", help="The first admin's email.")
@click.option("--name", default="", help="Display name (default: the email).")
@click.option("--link", "use_link", is_flag=True,
              help="Print a one-time setup link (24 hours) instead of asking for a password.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--base-url", envvar="LOCMAP_BASE_URL", default="http://127.0.0.1:8000",
              show_default=True, help="Where the app is served (for the setup link).")
@_friendly
def init(email: str, name: str, use_link: bool, password_stdin: bool, base_url: str) -> None:
    """First run: upgrade the database and create the first admin (only while none exists).

    Until an admin exists the web app answers every page with "run locmap init".
    """
    from locmap.services import admin

    conns = connections(load_settings())
    upgrade(conns.owner, app_role=conns.app_role)
    database = Database(conns.app)
    with database.session() as s:
        if admin.has_admin(s):
            raise click.ClickException("An admin already exists; nothing to do.")
        password = None if use_link else _read_password(password_stdin)
        user, link = admin.init_first_admin(s, email=email, name=name, password=password)
        email = user.email
    if link is not None:
        click.echo(f"admin {email} created. Open this one-time link within 24 hours to "
                   f"choose the password:\n  {link.url(base_url)}")
    else:
        click.echo(f"admin {email} created; log in at {base_url}/login")


@main.group()
def agency() -> None:
    """Agencies of the partnership."""


@agency.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(AGENCY_KINDS), required=True)
@_friendly
def agency_add(name: str, kind: str) -> None:
    """Add an agency (police, school, children's services...)."""
    from locmap.services import admin

    with _database().session() as s:
        a = admin.create_agency(s, OPERATOR, name=name, kind=kind)
        click.echo(f"{a.id:>4}  {a.name}  {a.kind}")


@agency.command("list")
@_friendly
def agency_list() -> None:
    """List the agencies."""
    from locmap.services import admin

    with _database().session() as s:
        for a in admin.list_agencies(s, OPERATOR):
            click.echo(f"{a['id']:>4}  {a['name']}  {a['kind']}"
                       + ("" if a["active"] else "  (deactivated)"))


@user.command("invite")
@click.argument("email")
@click.option("--name", default="", help="Display name (default: the email).")
@click.option("--agency", help="Agency name (must exist).")
@click.option("--admin", "is_admin", is_flag=True, help="Make them an admin.")
@click.option("--auditor", "is_auditor", is_flag=True, help="Make them an auditor.")
@click.option("--base-url", envvar="LOCMAP_BASE_URL", default="http://127.0.0.1:8000",
              show_default=True, help="Where the app is served (for the link).")
@_friendly
def user_invite(email: str, name: str, agency: str | None, is_admin: bool, is_auditor: bool,
                base_url: str) -> None:
    """Invite a user: prints a one-time link (7 days) to choose their password."""
    from locmap.services import admin

    with _database().session() as s:
        agency_id = None
        if agency:
            match = [a for a in admin.list_agencies(s, OPERATOR) if a["name"] == agency]
            if not match:
                raise click.ClickException(f"No agency called {agency!r}.")
            agency_id = match[0]["id"]
        _, link = admin.invite_user(s, OPERATOR, email=email, name=name, agency_id=agency_id,
                                    is_admin=is_admin, is_auditor=is_auditor,
                                    base_url=base_url)
    click.echo(f"{email} invited; one-time link until {link.expires_at:%Y-%m-%d %H:%M} UTC"
               + (" (emailed)" if link.emailed else "") + f":\n  {link.url(base_url)}")


@main.group()
def member() -> None:
    """Members of pilots."""


@member.command("add")
@click.argument("email")
@click.option("--pilot", "pilot_name", required=True, help="Pilot name.")
@click.option("--role", type=click.Choice(PILOT_ROLES), required=True)
@_friendly
def member_add(email: str, pilot_name: str, role: str) -> None:
    """Add an existing user to a pilot with a role."""
    from locmap.services import pilot_admin

    with _database().session() as s:
        pid = _pilot_id(s, pilot_name)
        pilot_admin.add_member(s, OPERATOR, pid, email=email, role=role)
    click.echo(f"{email}: {role} in {pilot_name}")


def _pilot_id(session: Any, name: str) -> int:
    from locmap.services import pilot_admin

    match = [p for p in pilot_admin.list_pilots(session, OPERATOR) if p["name"] == name]
    if not match:
        raise click.ClickException(f"No pilot called {name!r}.")
    return int(match[0]["id"])


@main.group()
def pilot() -> None:
    """Pilots."""


@pilot.command("create")
@click.argument("name")
@click.option("--locality", "locality_file", required=True,
              type=click.Path(exists=True, dir_okay=False),
              help="GeoJSON, GeoPackage or zipped Shapefile holding the locality.")
@click.option("--feature", help="Use the one feature with this name from the file.")
@click.option("--crs", help="The file's coordinate system, if it declares none "
              "(e.g. EPSG:27700).")
@click.option("--start", "start", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--months", default=18, show_default=True, help="Duration in months.")
@click.option("--review-every", default=3, show_default=True, help="Months between reviews.")
@click.option("--description", default="")
@_friendly
def pilot_create(name: str, locality_file: str, feature: str | None, crs: str | None,
                 start: dt.datetime, months: int, review_every: int, description: str) -> None:
    """Create a pilot with its locality; its review points follow from the timeline."""
    from pathlib import Path

    from locmap.services import pilot_admin

    area = pilot_admin.locality_from_file(Path(locality_file), crs=crs, feature=feature)
    with _database().session() as s:
        p = pilot_admin.create_pilot(s, OPERATOR, name=name, locality=area,
                                     start_date=start.date(), duration_months=months,
                                     review_interval_months=review_every,
                                     description=description)
        click.echo(f"{p.id:>4}  {p.name}: {len(p.review_points)} review points")


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
        click.echo("\n`locmap serve` asks admins and auditors to set up two-factor sign-in "
                   "at their first login; LOCMAP_REQUIRE_TOTP_FOR_ADMINS=0 lets them in "
                   "with the password alone.")
        return
    if os.environ.get("LOCMAP_REQUIRE_TOTP_FOR_ADMINS") is None:
        # The demo's admin and auditor sign in with the password alone; every page says so.
        os.environ["LOCMAP_REQUIRE_TOTP_FOR_ADMINS"] = "0"
        click.echo("\nTwo-factor sign-in is not required for the demo's admin and auditor "
                   "(LOCMAP_REQUIRE_TOTP_FOR_ADMINS=0 for this server; a banner says so).")
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
from locmap.cli.backup import backup, restore  # noqa: E402, I001
main.add_command(backup)
main.add_command(restore)
from locmap.cli.audit import audit_group  # noqa: E402, I001
main.add_command(audit_group)
from locmap.cli.analyse import analyse_group  # noqa: E402, I001
main.add_command(analyse_group)
from locmap.cli.retention import retention_group, subject_access  # noqa: E402, I001
main.add_command(retention_group)
main.add_command(subject_access)
from locmap.cli.pilot_locality import pilot_locality  # noqa: E402, I001
pilot.add_command(pilot_locality)
from locmap.cli.basemap import basemap_group  # noqa: E402, I001
main.add_command(basemap_group)
