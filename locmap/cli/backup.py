"""``locmap backup`` and ``locmap restore``: one archive holds everything locmap keeps.

See :mod:`locmap.services.backup` for what is in it and what a restore checks, and
docs/operations.md for the restore drill.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from locmap.config import ConfigError, load_settings
from locmap.errors import LocmapError
from locmap.pgserver import DatabaseUnavailable

__all__ = ["backup", "restore"]


def _passphrase(ask: bool, confirm: bool) -> str | None:
    if not ask:
        return None
    env = os.environ.get("LOCMAP_BACKUP_PASSPHRASE")
    if env:
        return env
    return str(click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm))


@click.command()
@click.option("--to", "to_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder for the archive (default: LOCMAP_BACKUP_DIR, else .)")
@click.option("--recipient", "recipients", multiple=True, metavar="AGE_PUBLIC_KEY",
              help="Encrypt to this age public key (age1...; repeatable). Default: "
                   "LOCMAP_BACKUP_RECIPIENTS.")
@click.option("--passphrase", "ask_passphrase", is_flag=True,
              help="Encrypt with a passphrase (prompted, or LOCMAP_BACKUP_PASSPHRASE).")
@click.option("--no-encrypt", is_flag=True, help="Write a plain archive even if "
              "LOCMAP_BACKUP_RECIPIENTS is set.")
def backup(to_dir: Path | None, recipients: tuple[str, ...], ask_passphrase: bool,
           no_encrypt: bool) -> None:
    """Write one archive of the database, uploads and secret key, with a manifest."""
    from locmap.services import backup as service

    try:
        settings = load_settings()
        folder = to_dir or settings.backup_dir or Path.cwd()
        keys = () if no_encrypt else (recipients or settings.backup_recipients)
        passphrase = _passphrase(ask_passphrase and not no_encrypt, confirm=True)
        result = service.create_backup(settings, folder, recipients=keys,
                                       passphrase=passphrase)
        if settings.backup_dir and folder.resolve() == settings.backup_dir:
            service.record_last_good(folder, result)
    except (LocmapError, DatabaseUnavailable, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(result.summary())
    if not result.encrypted:
        click.echo("It holds case data and the secret key: keep it somewhere only you can "
                   "read, or use --recipient.")


@click.command()
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--identity", "-i", type=click.Path(dir_okay=False, path_type=Path),
              help="age identity file (AGE-SECRET-KEY-...) for an archive made with --recipient.")
@click.option("--passphrase", "ask_passphrase", is_flag=True,
              help="The archive's passphrase (prompted, or LOCMAP_BACKUP_PASSPHRASE).")
@click.option("--force", is_flag=True,
              help="Replace everything in a database that is not empty.")
@click.option("--yes", is_flag=True, help="With --force: do not ask for confirmation.")
def restore(archive: Path, identity: Path | None, ask_passphrase: bool, force: bool,
            yes: bool) -> None:
    """Restore ARCHIVE into an empty database, upgrading it to this locmap's schema.

    The archive is checked completely (manifest, SHA-256 of every part) before the
    database is touched.
    """
    from locmap.services import backup as service

    if force and not yes:
        click.confirm("--force drops every table in the database first. Go on?", abort=True)
    try:
        settings = load_settings()
        passphrase = _passphrase(ask_passphrase, confirm=False)
        report = service.restore_backup(settings, archive, identity=identity,
                                        passphrase=passphrase, force=force)
    except (LocmapError, DatabaseUnavailable, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.summary())
