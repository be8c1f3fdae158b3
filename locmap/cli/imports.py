"""``locmap import …``: load partners' files from the command line.

Every command runs the one import use case, :func:`locmap.services.imports.run_import`
(the web's worker runs it too), in one transaction per PATH (a CSV, a zip of months or a
folder, a GIS file, an OSM extract): it is imported whole or not at all, and a failure is
recorded as a failed DataImport in its own transaction (:func:`_record_failure`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from click._termui_impl import ProgressBar
from sqlalchemy.orm import Session

from locmap.config import load_settings
from locmap.db import Database
from locmap.errors import LocmapError, NotFound
from locmap.services.permissions import Actor

__all__ = ["import_group"]


@click.group("import")
def import_group() -> None:
    """Import partners' data (police.uk crime CSVs, GIS files, OSM extracts) into a pilot."""


def _pilot_and_actor(s: Session, pilot_name: str, email: str | None) -> tuple[int, Actor]:
    from locmap.services import imports

    try:
        return imports.operator_actor(s, pilot_name, email)
    except NotFound as exc:
        raise click.ClickException(exc.message) from None


def _record_failure(database: Database, pilot_name: str, email: str | None, kind: str,
                    path: Path, message: str) -> None:
    from locmap.services import imports

    with database.session() as s:
        try:
            pilot_id, who = _pilot_and_actor(s, pilot_name, email)
        except click.ClickException:
            return
        imports.record_failure(s, who, pilot_id, kind=kind, filename=path.name, sha256="",
                               message=message)


def _run(database: Database, kind: str, path: Path, pilot_name: str, email: str | None,
         options: dict[str, Any]) -> None:
    """One GIS or OSM file through the use case; its rejected rows on stderr."""
    from locmap.services import imports

    try:
        with database.session() as s:
            pilot_id, who = _pilot_and_actor(s, pilot_name, email)
            di = imports.run_import(s, who, pilot_id, kind, path, options=options)
            click.echo(f"{path}: {di.message} (import {di.id})")
            row = "row " if kind.startswith("gis") else ""  # OSM rows are node/123 refs
            for r in di.report:
                click.echo(f"  {row}{r['row']} {r['name']!r}: {r['reason']}", err=True)
    except LocmapError as exc:
        _record_failure(database, pilot_name, email, kind, path, exc.message)
        raise click.ClickException(f"{path}: FAILED, nothing imported: {exc.message}") from exc


@import_group.command("police")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--pilot", "pilot_name", required=True, help="The pilot's name.")
@click.option("--user", "email", help="Record the import as this user (must have import "
              "rights in the pilot); default: the operator's OS account.")
@click.option("--buffer-m", default=2000.0, show_default=True,
              help="Keep incidents within this many metres around the locality's extent.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def police_command(paths: tuple[Path, ...], pilot_name: str, email: str | None,
                   buffer_m: float, quiet: bool) -> None:
    """Import police.uk street-level crime CSVs (files, zips of months or folders)."""
    database = Database.from_settings(load_settings())
    failed = 0
    for path in paths:
        try:
            _import_one(database, path, pilot_name, email, buffer_m, quiet)
        except LocmapError as exc:
            failed += 1
            click.echo(f"{path}: FAILED, nothing imported: {exc.message}", err=True)
            _record_failure(database, pilot_name, email, "police_csv", path, exc.message)
    if failed:
        raise click.ClickException(f"{failed} of {len(paths)} import(s) failed.")


def _import_one(database: Database, path: Path, pilot_name: str, email: str | None,
                buffer_m: float, quiet: bool) -> None:
    """One PATH in one transaction, with a progress bar in bytes showing rows/s and ETA."""
    from locmap.services import imports

    with database.session() as s:
        pilot_id, who = _pilot_and_actor(s, pilot_name, email)
        sources = imports.police_sources(path)
        total = sum(src.size for src in sources)
        started = time.perf_counter()
        state = {"rows": 0, "bytes": 0}

        def show(_: object) -> str:
            rate = state["rows"] / max(time.perf_counter() - started, 1e-6)
            return f"{state['rows']:,} rows, {rate:,.0f} rows/s"

        bar: ProgressBar[object]
        with click.progressbar(length=total, label=path.name[:30], hidden=quiet,
                               item_show_func=show) as bar:
            def progress(done: int, rows: int) -> None:
                bar.update(max(done - state["bytes"], 0))
                state["bytes"], state["rows"] = done, rows

            di = imports.run_import(s, who, pilot_id, "police_csv", path,
                                    options={"buffer_m": buffer_m}, sources=sources,
                                    progress=progress)
            bar.update(max(total - state["bytes"], 0))
        click.echo(f"{path}: {di.message} (import {di.id}, "
                   f"{time.perf_counter() - started:.1f} s)")


@import_group.command("gis")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--pilot", "pilot_name", required=True, help="The pilot's name.")
@click.option("--as", "as_", type=click.Choice(["layer", "places"]), required=True,
              help="Load as a feature layer or as the pilot's places.")
@click.option("--layer-name", help="Name of the feature layer (default: the file's name).")
@click.option("--source-layer", help="Layer inside a GeoPackage (default: the first).")
@click.option("--crs", help="CRS of a file that declares none, e.g. EPSG:27700.")
@click.option("--name-column", help="Column holding names (default: 'name' if present).")
@click.option("--kind-column", help="Column holding place kinds (default: 'kind').")
@click.option("--user", "email", help="Record the import as this user.")
def gis_command(path: Path, pilot_name: str, as_: str, layer_name: str | None,
                source_layer: str | None, crs: str | None, name_column: str | None,
                kind_column: str | None, email: str | None) -> None:
    """Import a GeoJSON, GeoPackage or zipped Shapefile (reprojected to WGS84)."""
    _run(Database.from_settings(load_settings()), f"gis_{as_}", path, pilot_name, email,
         {"layer_name": layer_name, "crs": crs, "name_column": name_column,
          "kind_column": kind_column, "source_layer": source_layer})


@import_group.command("osm")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--pilot", "pilot_name", required=True, help="The pilot's name.")
@click.option("--preset", "presets", multiple=True, metavar="NAME",
              help="fast_food, library, school, park, transport_hub, off_licence, bus_stop, "
                   "street_lamp (repeatable; default: all).")
@click.option("--as-places", "as_places", multiple=True, metavar="TAG=VALUE",
              help="Also make the matching named features places, e.g. amenity=library.")
@click.option("--place", "pick", multiple=True, metavar="TYPE/ID",
              help="Make this element a place, e.g. node/123 (repeatable).")
@click.option("--buffer-m", default=0.0, show_default=True,
              help="Keep features this many metres around the locality too.")
@click.option("--user", "email", help="Record the import as this user.")
def osm_command(path: Path, pilot_name: str, presets: tuple[str, ...],
                as_places: tuple[str, ...], pick: tuple[str, ...], buffer_m: float,
                email: str | None) -> None:
    """Import an OpenStreetMap extract (.osm.pbf or .osm) as feature layers per preset."""
    _run(Database.from_settings(load_settings()), "osm", path, pilot_name, email,
         {"presets": list(presets), "as_places": list(as_places), "pick": list(pick),
          "buffer_m": buffer_m})
