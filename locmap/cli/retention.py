"""``locmap retention`` (see and apply the retention rules) and ``locmap subject-access``
(issue 15).

``run`` is what the worker does every night (``LOCMAP_RETENTION_CRON``); ``--dry-run``
lists what would go and changes nothing. The operator at the command line acts as an
admin and is recorded in the audit trail by OS account name.
"""

from __future__ import annotations

import click

from locmap.config import load_settings
from locmap.db import Database
from locmap.errors import LocmapError

__all__ = ["retention_group", "subject_access"]


@click.group("retention")
def retention_group() -> None:
    """Retention rules: how long personal and case data is kept."""


def _months_option(key: str) -> click.Option:
    return click.Option([f"--{key.removesuffix('_months').replace('_', '-')}-months", key],
                        type=click.IntRange(0, 600), default=None)


@retention_group.command("show")
def show() -> None:
    """Print the default rule and each pilot's periods (months; "-" keeps)."""
    from locmap.cli import OPERATOR
    from locmap.services import retention

    database = Database.from_settings(load_settings())
    try:
        with database.session() as s:
            r = retention.rules(s, OPERATOR)
    finally:
        database.dispose()
    keys = [k["key"] for k in r["kinds"]]

    def line(name: str, values: dict[str, int | None]) -> str:
        return f"{name[:28]:<28}" + "".join(
            f"{'-' if values[k] is None else values[k]:>10}" for k in keys)

    click.echo(f"{'':<28}" + "".join(f"{k.removesuffix('_months')[:9]:>10}" for k in keys))
    click.echo(line("(default)", r["default"]))
    for p in r["pilots"]:
        click.echo(line(p["name"], p["effective"]))


@retention_group.command("set")
@click.option("--pilot", "pilot_name", help="The pilot (default: the partnership's default).")
@click.pass_context
def set_rule(ctx: click.Context, pilot_name: str | None, **months: int | None) -> None:
    """Set periods in months (omitted ones: the pilot uses the default; the default keeps)."""
    from locmap.cli import OPERATOR, _pilot_id
    from locmap.services import retention

    database = Database.from_settings(load_settings())
    try:
        with database.session() as s:
            pid = _pilot_id(s, pilot_name) if pilot_name else None
            current = retention.rules(s, OPERATOR)
            rule = current["default"] if pid is None else next(
                p["rule"] for p in current["pilots"] if p["id"] == pid)
            saved = retention.set_rule(s, OPERATOR, pid, months, version=rule["version"])
    except LocmapError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        database.dispose()
    click.echo(f"{pilot_name or 'default'}: " + ", ".join(
        f"{k} {'kept' if saved[k] is None else saved[k]}" for k in months))


for _key in ("identity_months", "person_months", "incident_text_months", "incident_months",
             "visit_text_months", "engagement_text_months"):
    set_rule.params.append(_months_option(_key))


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="List what would be erased; change nothing.")
def run(dry_run: bool) -> None:
    """Erase what is past its period, with one audit event per pilot and kind."""
    from locmap.cli import OPERATOR
    from locmap.services import retention

    database = Database.from_settings(load_settings())
    try:
        with database.session() as s:
            result = retention.run(s, OPERATOR, dry_run=dry_run)
            if dry_run:
                s.rollback()
    except LocmapError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        database.dispose()
    click.echo(result.summary())
    for f in result.findings:
        ids = ", ".join(map(str, f.ids[:20])) + (" …" if len(f.ids) > 20 else "")
        click.echo(f"  {f.pilot_name}: {f.kind.label} before {f.cutoff} "
                   f"({f.months} months): {len(f.ids)} — ids {ids}")


@click.command("subject-access")
@click.argument("pseudonym")
@click.option("--pilot", "pilot_name", required=True, help="The person's pilot.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=".",
              show_default=True, help="Folder for the ZIP (CSVs and the PDF summary).")
def subject_access(pseudonym: str, pilot_name: str, out_dir: str) -> None:
    """Export everything held about one person (a subject access request; audited)."""
    from pathlib import Path

    from locmap.cli import OPERATOR, _pilot_id
    from locmap.services import subject_access as sar

    database = Database.from_settings(load_settings())
    try:
        with database.session() as s:
            pid = _pilot_id(s, pilot_name)
            person_id = sar.find(s, OPERATOR, pid, pseudonym)
            data = sar.export_zip(s, OPERATOR, pid, person_id)
    except LocmapError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        database.dispose()
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"subject-access-{''.join(pseudonym.split()).upper()}.zip"
    path.write_bytes(data)
    path.chmod(0o600)
    click.echo(f"{path} ({len(data):,} bytes): review free text for other people before "
               "sending it")
