"""``locmap audit verify``: check the audit trail's hash chain."""

from __future__ import annotations

import click

from locmap.config import load_settings
from locmap.db import Database


@click.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("verify")
def verify() -> None:
    """Recompute the audit trail's hash chain and report the first broken link.

    Exit code 0 when the chain is intact (the last event's id and hash are printed: keep
    them elsewhere, so that a trail cut short can be told apart), 1 when it is broken.
    """
    from locmap.services import audit

    database = Database.from_settings(load_settings())
    try:
        with database.session() as s:
            result = audit.verify_chain(s)
    finally:
        database.dispose()
    click.echo(result.message())
    if not result.ok:
        raise SystemExit(1)
