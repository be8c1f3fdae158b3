"""`locmap analyse national` reads a PostGIS table in partitions and a GeoParquet folder,
and both give the same cell counts as binning the points directly; with feature layers it
fits the risk terrain; queued, a real `locmap worker` runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import create_engine, text

from locmap.assessment.national import NationalGrid, cell_ids, incident_cell_counts
from locmap.db import upgrade
from locmap.pgserver import drop_database
from locmap.services.national import read_incidents
from tests.conftest import _fresh_database

RNG = np.random.default_rng(11)
X = RNG.uniform(400_000, 402_000, 3_000)
Y = RNG.uniform(300_000, 301_500, 3_000)
GRID = NationalGrid.covering((400_000, 300_000, 401_999, 301_499), 250.0)


@pytest.fixture(scope="module")
def national_table() -> Iterator[str]:
    url = _fresh_database("national")
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        c.execute(text("CREATE TABLE street_crime (id bigserial PRIMARY KEY, "
                       "location geometry(Point, 4326) NOT NULL)"))
        # Stored in WGS84 as published; the reader reprojects to British National Grid.
        c.execute(text("INSERT INTO street_crime (location) SELECT ST_Transform("
                       "ST_SetSRID(ST_MakePoint(x, y), 27700), 4326) "
                       "FROM unnest(CAST(:x AS float8[]), CAST(:y AS float8[])) AS t(x, y)"),
                  {"x": X.tolist(), "y": Y.tolist()})
    engine.dispose()
    yield url
    drop_database(url)


def _direct() -> np.ndarray:
    ids = cell_ids(X, Y, GRID)
    return np.bincount(ids[ids >= 0], minlength=GRID.size).reshape(GRID.rows, GRID.cols)


def test_a_postgis_table_is_read_in_partitions(national_table: str) -> None:
    frame = read_incidents(national_table, table="street_crime", partitions=4)
    assert frame.npartitions == 4
    with dask.config.set(scheduler="synchronous"):
        counts = incident_cell_counts(frame, GRID)
    # Reprojection there and back moves points by far less than a cell, but a point on a
    # cell edge may change sides: all but a handful land in the same cell.
    assert counts.sum() == 3_000
    assert np.abs(counts - _direct()).sum() <= 6


def test_geoparquet_and_the_command(tmp_path: Path) -> None:
    points = gpd.GeoDataFrame(geometry=shapely.points(X, Y), crs="EPSG:27700")
    folder = tmp_path / "crime"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(points)), 3)):
        points.iloc[part].to_parquet(folder / f"part-{i}.parquet")
    with dask.config.set(scheduler="synchronous"):
        counts = incident_cell_counts(read_incidents(str(folder)), GRID)
    assert np.array_equal(counts, _direct())
    out = tmp_path / "cells.parquet"
    done = subprocess.run([sys.executable, "-m", "locmap.cli", "analyse", "national", str(folder),
                           "--workers", "1", "--memory-limit", "1GiB", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout[done.stdout.index("{"):])
    assert report["n_incidents"] == 3_000 and report["output"] == str(out)
    cells = gpd.pd.read_parquet(out)
    assert cells["count"].sum() == 3_000


def test_a_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "locmap.cli", "analyse", "national",
                           str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert done.returncode != 0 and "no such GeoParquet" in done.stderr


def _layers(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Incidents three times as dense within 500 m of the shops, and a layer of stations
    placed with no bearing on them."""
    rng = np.random.default_rng(4)
    shops = rng.uniform((400_000, 300_000), (406_000, 305_000), (30, 2))
    stations = rng.uniform((400_000, 300_000), (406_000, 305_000), (12, 2))
    xy = rng.uniform((400_000, 300_000), (406_000, 305_000), (40_000, 2))
    near = np.min(np.hypot(*(xy[:, None, :] - shops[None, :, :]).transpose(2, 0, 1)),
                  axis=1) <= 500
    keep = near | (rng.random(len(xy)) < 1 / 3)
    paths = []
    for name, pts in (("crime", xy[keep]), ("shops", shops), ("stations", stations)):
        path = tmp_path / f"{name}.parquet"
        gpd.GeoDataFrame(geometry=shapely.points(pts), crs="EPSG:27700").to_parquet(path)
        paths.append(path)
    return paths[0], paths[1], paths[2]


@pytest.fixture
def queue_url() -> Iterator[str]:
    url = _fresh_database("national_queue")
    upgrade(url)
    yield url
    drop_database(url)


def test_a_queued_analysis_with_feature_layers_is_run_by_the_worker(
        tmp_path: Path, queue_url: str, start_worker: Any) -> None:
    """The risk terrain finds the planted shops effect and no station effect; the worker
    writes the cells and the model beside them."""
    from click.testing import CliRunner

    from locmap.cli import main

    crime, shops, stations = _layers(tmp_path)
    out = tmp_path / "queued" / "cells.parquet"
    runner = CliRunner(env={"DATABASE_URL": queue_url})
    command = ["analyse", "national", str(crime)]
    for args, error in ((["--queue"], "--queue needs --out"),
                        (["--covariate", "shops"], "NAME=SOURCE"),
                        (["--covariate", f"shops={tmp_path / 'none'}", "--queue", "--out",
                          str(out)], "no such GeoParquet")):
        refused = runner.invoke(main, command + args)
        assert refused.exit_code != 0 and error in refused.output, (args, refused.output)
    queued = runner.invoke(main, command + [
        "--workers", "1", "--memory-limit", "1GiB", "--queue", "--out", str(out),
        "--covariate", f"shops={shops}", "--covariate", f"stations={stations}@750"])
    assert queued.exit_code == 0, queued.output
    assert "Queued as job" in queued.output and not out.exists()
    start_worker(queue_url, "--concurrency", "1")
    deadline = time.monotonic() + 300
    while not out.with_suffix(".json").exists():
        assert time.monotonic() < deadline, (tmp_path / "worker-0.log").read_text()[-3000:]
        time.sleep(1)
    terrain = json.loads(out.with_suffix(".json").read_text())["risk_terrain"]
    risk = {f["feature"]: f for f in terrain["features"]}
    assert risk["shops"]["relative_risk"] > 2 and risk["shops"]["ci_low"] > 1.5
    assert risk["stations"]["ci_low"] < 1.5
    assert terrain["layers"]["stations"] == {"source": str(stations), "influence_m": 750.0,
                                             "influence_cells": 3}
    assert gpd.pd.read_parquet(out)["count"].sum() == len(gpd.read_parquet(crime))
