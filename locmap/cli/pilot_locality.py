"""``locmap pilot locality``: change a pilot's locality from a boundary file (issue 15)."""

from __future__ import annotations

from pathlib import Path

import click

from locmap.config import load_settings
from locmap.db import Database
from locmap.errors import LocmapError

__all__ = ["pilot_locality"]


@click.command("locality")
@click.argument("name")
@click.option("--locality", "locality_file", required=True,
              type=click.Path(exists=True, dir_okay=False),
              help="GeoJSON, GeoPackage or zipped Shapefile holding the new locality.")
@click.option("--feature", help="Use the one feature with this name from the file.")
@click.option("--crs", help="The file's coordinate system, if it declares none.")
@click.option("--confirm", is_flag=True,
              help="Save even if places or incidents would fall outside it.")
def pilot_locality(name: str, locality_file: str, feature: str | None, crs: str | None,
                   confirm: bool) -> None:
    """Change a pilot's locality; without --confirm, only says what would fall outside."""
    from locmap.cli import OPERATOR, _pilot_id
    from locmap.services import locality, pilot_admin

    database = Database.from_settings(load_settings())
    try:
        area = pilot_admin.locality_from_file(Path(locality_file), crs=crs, feature=feature)
        with database.session() as s:
            pid = _pilot_id(s, name)
            found = locality.impact(s, OPERATOR, pid, area)
            if found["anything_outside"] and not confirm:
                outside = ", ".join(p["name"] for p in found["places_outside"]) or "none"
                click.echo(f"places outside: {outside}; partly outside: "
                           f"{len(found['places_partly_outside'])}; incidents leaving the "
                           f"locality: {found['incidents_leaving']}. Run again with "
                           "--confirm to save it.")
                raise SystemExit(1)
            version = locality.current(s, OPERATOR, pid)["version"]
            done = locality.set_locality(s, OPERATOR, pid, area, version=version,
                                         confirm=confirm)
    except LocmapError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        database.dispose()
    click.echo(f"{name}: locality saved ({done['incidents_joining']} incident(s) join it, "
               f"{done['incidents_leaving']} leave it)")
