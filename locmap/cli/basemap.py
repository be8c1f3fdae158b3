"""``locmap basemap build EXTRACT.osm.pbf``: the base map every map draws, from an
OpenStreetMap extract (see :mod:`locmap.services.basemap` and docs/operations.md).
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from locmap.config import ConfigError, load_settings
from locmap.db import Database
from locmap.errors import LocmapError
from locmap.pgserver import DatabaseUnavailable
from locmap.services import basemap

__all__ = ["basemap_group"]


@click.group("basemap")
def basemap_group() -> None:
    """The base map: build it from an OpenStreetMap extract, see what is built."""


@basemap_group.command("build")
@click.argument("extract", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--show", "show", type=int, default=20, show_default=True,
              help="How many skipped elements to list.")
def build(extract: Path, show: int) -> None:
    """Replace the base map with roads, railways, buildings, water, green space and named
    places of EXTRACT (.osm.pbf or .osm). Broken elements are skipped and listed.
    """
    started = time.monotonic()
    try:
        db = Database.from_settings(load_settings())
        with db.session() as s:
            result = basemap.build(s, None, extract)
            s.commit()
        db.dispose()
    except (ConfigError, DatabaseUnavailable) as exc:
        raise click.ClickException(str(exc)) from exc
    except LocmapError as exc:
        raise click.ClickException(exc.message) from exc
    counts = ", ".join(f"{n:,} {layer}" for layer, n in sorted(result["counts"].items()))
    click.echo(f"Base map built from {extract.name} in {time.monotonic() - started:.1f} s: "
               f"{counts}.")
    click.echo(f"{result['repaired']:,} elements repaired; {result['broken']:,} broken "
               "elements skipped.")
    for r in result["report"][:show]:
        click.echo(f"  skipped {r['row']}{' ' + repr(r['name']) if r['name'] else ''}: "
                   f"{r['reason']}")
    if result["broken"] > show:
        click.echo(f"  … and {result['broken'] - show:,} more.")


@basemap_group.command("status")
def status() -> None:
    """What base map is built: its source, when, and how many features per layer."""
    try:
        db = Database.from_settings(load_settings())
        with db.session() as s:
            b = basemap.current(s)
        db.dispose()
    except (ConfigError, DatabaseUnavailable) as exc:
        raise click.ClickException(str(exc)) from exc
    if b is None:
        click.echo("No base map is built (locmap basemap build EXTRACT.osm.pbf).")
        return
    counts = ", ".join(f"{n:,} {layer}" for layer, n in sorted(b["counts"].items()))
    click.echo(f"Base map from {b['source']}, built {b['built_at']:%Y-%m-%d %H:%M} "
               f"(version {b['version']}): {counts}.")
