"""National hot-spot and risk-terrain analysis as a use case: read a national incident set
in partitions, bin it on a Dask cluster, compute Gi* and, given feature layers, the risk
terrain's relative risks (:mod:`locmap.assessment.national`), write the cells.

The national set is public data (police street-level crime as published, converted to
GeoParquet, or a PostGIS table of it) held apart from any pilot's safeguarding records, so
this use case reads no pilot's data and needs no pilot permission; its output is per cell.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from locmap.assessment.national import (
    NATIONAL_CRS,
    NationalGrid,
    NationalHotspots,
    exposure_chunked,
    incident_cell_counts,
    national_hotspots,
    national_risk_terrain,
)
from locmap.assessment.risk_terrain import RiskTerrainResult

__all__ = ["NationalRun", "read_incidents", "run_national", "cluster", "parse_covariate",
           "queue_national", "INFLUENCE_M"]

CHUNK_CELLS = 1024  # grid chunk side: 1024 x 1024 cells = 8 MiB of float64 per chunk
INFLUENCE_M = 500.0  # a feature layer's default reach (rounded to whole cells)


@dataclass(frozen=True)
class NationalRun:
    source: str
    cell_m: float
    workers: int | None
    scheduler: str | None
    grid: dict[str, Any]
    n_cells: int
    n_incidents: int
    hot_cells: int
    cold_cells: int
    seconds_read_and_bin: float
    seconds_gi_star: float
    output: str | None
    risk_terrain: dict[str, Any] | None = None
    seconds_risk_terrain: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def cluster(workers: int | None = 2, scheduler: str | None = None,
            memory_limit: str = "2GiB") -> Any:
    """A Dask client: on ``scheduler`` if given, else a ``LocalCluster`` of ``workers``
    single-threaded processes with a memory limit each (spilling beyond it).
    """
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True,
                      memory_limit=memory_limit, dashboard_address=None) as lc, \
            Client(lc) as client:
        yield client


def read_incidents(source: str, *, table: str | None = None, geometry: str = "location",
                   partitions: int = 32) -> Any:
    """A lazily partitioned frame of incident points.

    ``source`` is a GeoParquet file, folder or glob (read with dask-geopandas; plain Parquet
    with ``x``/``y`` columns in British National Grid metres also works), or a PostgreSQL
    URL with ``table`` (its ``geometry`` column, reprojected to EPSG:27700 in SQL, read in
    ``partitions`` ranges of its integer ``id``).
    """
    if source.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        if not table or not table.replace("_", "").replace(".", "").isalnum():
            raise ValueError("a PostgreSQL source needs --table NAME (letters, digits, _ .)")
        if not geometry.replace("_", "").isalnum():
            raise ValueError(f"invalid geometry column name {geometry!r}")
        import dask.dataframe as dd
        from sqlalchemy import column, func, literal_column, select
        from sqlalchemy import table as sql_table

        url = source.replace("postgresql://", "postgresql+psycopg://", 1) \
            if source.startswith("postgresql://") else source
        geom = func.ST_Transform(literal_column(geometry), 27700)
        query = select(column("id"), func.ST_X(geom).label("x"), func.ST_Y(geom).label("y")) \
            .select_from(sql_table(table.split(".")[-1],
                                   schema=table.split(".")[0] if "." in table else None))
        return dd.read_sql_query(query, url, index_col="id", npartitions=partitions)
    path = Path(source)
    if not (path.exists() or any(ch in source for ch in "*?[")):
        raise FileNotFoundError(f"no such GeoParquet file or folder: {source}")
    import pyarrow.parquet as pq

    first = next(iter(sorted(path.glob("*.parquet")))) if path.is_dir() else path
    names = set(pq.read_schema(first).names) if first.exists() else set()
    if {"x", "y"} <= names:
        import dask.dataframe as dd

        return dd.read_parquet(source, columns=["x", "y"])
    import dask_geopandas

    return dask_geopandas.read_parquet(source, columns=["geometry"])


def _bounds(frame: Any) -> tuple[float, float, float, float]:
    import dask

    if "geometry" in frame.columns:
        b = frame.to_crs(NATIONAL_CRS).total_bounds if frame.crs and \
            frame.crs.to_string() != NATIONAL_CRS else frame.total_bounds
        return tuple(float(v) for v in dask.compute(b)[0])  # type: ignore[return-value]
    lo_x, hi_x, lo_y, hi_y = dask.compute(frame.x.min(), frame.x.max(), frame.y.min(),
                                          frame.y.max())
    return float(lo_x), float(lo_y), float(hi_x), float(hi_y)


def parse_covariate(text: str, influence_m: float = INFLUENCE_M) -> tuple[str, str, float]:
    """``NAME=SOURCE`` or ``NAME=SOURCE@METRES`` as (name, source, influence in metres)."""
    name, sep, rest = text.partition("=")
    if not sep or not name.strip() or not rest.strip():
        raise ValueError(f"a feature layer is NAME=SOURCE[@METRES], got {text!r}")
    source, at, metres = rest.rpartition("@") if "@" in rest else (rest, "", "")
    if at:
        try:
            influence_m = float(metres)
        except ValueError:
            raise ValueError(f"influence of {name!r} is not a number of metres: {metres!r}"
                             ) from None
    if not (influence_m >= 0 and np.isfinite(influence_m)):
        raise ValueError(f"influence of {name!r} must be >= 0 metres, got {influence_m!r}")
    return name.strip(), source.strip(), influence_m


def run_national(source: str, *, cell_m: float = 250.0, workers: int | None = 2,
                 scheduler: str | None = None, table: str | None = None,
                 bounds: tuple[float, float, float, float] | None = None,
                 alpha: float = 0.05, out: Path | None = None,
                 memory_limit: str = "2GiB",
                 covariates: Mapping[str, tuple[str, float]] | None = None,
                 ) -> tuple[NationalRun, NationalHotspots]:
    """Bin ``source`` on a grid of ``cell_m`` cells and compute Gi* on a Dask cluster;
    with ``covariates`` (name → (feature source, influence in metres)) also the risk
    terrain's relative risk of each layer; write the study area's non-empty and significant
    cells to ``out`` (Parquet) if given, with the model beside it (JSON).
    """
    import dask
    import dask.array as da

    terrain: RiskTerrainResult | None = None
    with cluster(workers, scheduler, memory_limit):
        frame = read_incidents(source, table=table)
        grid = NationalGrid.covering(bounds or _bounds(frame), cell_m)
        started = time.perf_counter()
        counts = incident_cell_counts(frame, grid)
        binned = time.perf_counter()
        result = national_hotspots(da.from_array(counts, chunks=CHUNK_CELLS), grid,
                                   alpha=alpha)
        done = time.perf_counter()
        if covariates:
            lazy = {name: exposure_chunked(
                        da.from_array(incident_cell_counts(read_incidents(src), grid),
                                      chunks=CHUNK_CELLS),
                        int(round(influence / cell_m)))
                    for name, (src, influence) in covariates.items()}
            exposures = dict(zip(lazy, dask.compute(*lazy.values()), strict=True))
            terrain = national_risk_terrain(counts, exposures)
    fitted = time.perf_counter()
    if out is not None:
        _write(result, out, terrain, covariates)
    run = NationalRun(
        source=source, cell_m=cell_m, workers=None if scheduler else workers,
        scheduler=scheduler, grid={"x0": grid.x0, "y0": grid.y0, "rows": grid.rows,
                                   "cols": grid.cols, "crs": NATIONAL_CRS},
        n_cells=result.n_cells, n_incidents=result.n_incidents,
        hot_cells=int((result.classification == 1).sum()),
        cold_cells=int((result.classification == -1).sum()),
        seconds_read_and_bin=round(binned - started, 2),
        seconds_gi_star=round(done - binned, 2), output=str(out) if out else None,
        risk_terrain=_terrain_dict(terrain, covariates, cell_m) if terrain else None,
        seconds_risk_terrain=round(fitted - done, 2) if terrain else None)
    return run, result


def queue_national(db: Any, source: str, *, out: Path, **options: Any) -> int:
    """Queue :func:`run_national` for ``locmap worker`` (its cells written to ``out``); the
    job's id. A file source must exist now: a typo is an error here, not in the worker's log.
    """
    from locmap.jobs import defer_national

    if not source.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        read_incidents(source)  # lazy: checks the path and the schema, reads no rows
    for src, _ in (options.get("covariates") or {}).values():
        read_incidents(src)
    layers = {name: [src, metres] for name, (src, metres)
              in (options.get("covariates") or {}).items()}
    return defer_national(db, source, str(out), {**options, "covariates": layers})


def _terrain_dict(terrain: RiskTerrainResult, covariates: Mapping[str, tuple[str, float]]
                  | None, cell_m: float) -> dict[str, Any]:
    """The model as JSON-ready data, with each layer's source and reach in whole cells."""
    data = terrain.to_dict()
    data["layers"] = {name: {"source": src, "influence_m": influence,
                             "influence_cells": int(round(influence / cell_m))}
                      for name, (src, influence) in (covariates or {}).items()}
    return data


def _write(result: NationalHotspots, out: Path, terrain: RiskTerrainResult | None = None,
           covariates: Mapping[str, tuple[str, float]] | None = None) -> None:
    import pandas as pd

    keep = np.flatnonzero((np.nan_to_num(result.counts.ravel()) > 0)
                          | (result.classification.ravel() != 0))
    rows, cols = np.divmod(keep, result.grid.cols)
    x, y = result.grid.centre(rows, cols)
    label = np.array(["cold", "not significant", "hot"])[result.classification.ravel()[keep] + 1]
    frame = pd.DataFrame({"row": rows, "col": cols, "x": x, "y": y,
                          "count": result.counts.ravel()[keep], "g": result.g.ravel()[keep],
                          "z": result.z.ravel()[keep], "p_norm": result.p_norm.ravel()[keep],
                          "q": result.q.ravel()[keep], "classification": label})
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)
    out.with_suffix(".json").write_text(json.dumps(
        {"crs": NATIONAL_CRS, "cell_m": result.grid.cell_m, "alpha": result.alpha,
         "statistic": "Getis-Ord Gi* (queen, self included), BH FDR on analytic p",
         "risk_terrain": _terrain_dict(terrain, covariates, result.grid.cell_m)
         if terrain else None}, indent=1))
