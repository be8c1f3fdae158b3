"""``locmap analyse national``: Gi* hot spots and risk terrain over a national incident set
on Dask, run here or queued for ``locmap worker``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group("analyse")
def analyse_group() -> None:
    """Analyses that run beyond one pilot."""


@analyse_group.command("national")
@click.argument("source")
@click.option("--table", help="Table of incidents when SOURCE is a PostgreSQL URL.")
@click.option("--cell-m", default=250.0, show_default=True, type=click.FloatRange(min=10),
              help="Grid cell side in metres (British National Grid).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1),
              help="Worker processes of the local Dask cluster.")
@click.option("--scheduler", help="Address of a running Dask scheduler (tcp://host:8786) "
              "to use instead of a local cluster.")
@click.option("--memory-limit", default="2GiB", show_default=True,
              help="Memory per local worker; beyond it Dask spills to disk.")
@click.option("--alpha", default=0.05, show_default=True, type=click.FloatRange(0, 1),
              help="False discovery rate of the hot/cold classification.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Parquet file of the study area's non-empty and significant cells.")
@click.option("--covariate", "covariates", multiple=True, metavar="NAME=SOURCE[@METRES]",
              help="A feature layer for the risk terrain (GeoParquet of points), with its "
              "influence distance; repeat for each layer.")
@click.option("--influence-m", default=500.0, show_default=True,
              type=click.FloatRange(min=0), help="Influence of a layer given no @METRES.")
@click.option("--queue", "queued", is_flag=True,
              help="Queue the analysis for `locmap worker` (needs --out) and return.")
def national(source: str, table: str | None, cell_m: float, workers: int,
             scheduler: str | None, memory_limit: str, alpha: float, out: Path | None,
             covariates: tuple[str, ...], influence_m: float, queued: bool) -> None:
    """Getis-Ord Gi* hot spots of every incident in SOURCE on a national grid, and with
    --covariate the risk terrain's relative risk of each feature layer.

    SOURCE is a GeoParquet file, folder or glob (e.g. police street-level crime for all
    forces), or a PostgreSQL URL with --table. Incidents are read and binned partition by
    partition on the Dask workers; the statistics equal the single-machine ones.
    """
    from locmap.pgserver import DatabaseUnavailable
    from locmap.services.national import parse_covariate, queue_national, run_national

    try:
        layers = {name: (src, metres) for name, src, metres
                  in (parse_covariate(c, influence_m) for c in covariates)}
        options = {"cell_m": cell_m, "workers": workers, "scheduler": scheduler,
                   "table": table, "alpha": alpha, "memory_limit": memory_limit,
                   "covariates": layers}
        if queued:
            if out is None:
                raise ValueError("--queue needs --out: the worker writes its cells there")
            from locmap.config import load_settings
            from locmap.db import Database

            db = Database.from_settings(load_settings())
            job = queue_national(db, source, out=out.resolve(), **options)
            click.echo(f"Queued as job {job}; `locmap worker` writes {out.resolve()}.")
            return
        run, _ = run_national(source, out=out, **options)  # type: ignore[arg-type]
    except (ValueError, FileNotFoundError, DatabaseUnavailable) as e:
        raise click.ClickException(str(e)) from e
    click.echo(json.dumps(run.to_dict(), indent=1))
