"""The national (chunked, Dask) risk terrain: exposures equal the single-machine
definition, and the fitted relative risks equal the single-machine model's to 1e-9."""

from __future__ import annotations

from collections.abc import Iterator

import dask
import dask.array as da
import numpy as np
import pytest

from locmap.assessment.national import (
    NationalGrid,
    disk,
    exposed_within,
    exposure_chunked,
    national_risk_terrain,
)
from locmap.assessment.risk_terrain import fit_risk_terrain, terrain_covariates
from locmap.services.national import parse_covariate

GRID = NationalGrid(x0=400_000.0, y0=300_000.0, cell_m=250.0, rows=60, cols=80)


@pytest.fixture(autouse=True)
def _synchronous() -> Iterator[None]:
    with dask.config.set(scheduler="synchronous"):
        yield


def _features(seed: int, share: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((GRID.rows, GRID.cols)) < share).astype(float)


def _centres() -> np.ndarray:
    rows, cols = np.divmod(np.arange(GRID.size), GRID.cols)
    x, y = GRID.centre(rows, cols)
    return np.column_stack([x, y])


def test_the_disk_holds_the_cells_within_the_radius() -> None:
    assert disk(0).tolist() == [[True]]
    assert disk(1).sum() == 5 and disk(2).sum() == 13  # a plus; then the 5 x 5 less corners
    with pytest.raises(ValueError):
        disk(-1)


@pytest.mark.parametrize("radius", [0, 1, 2, 4, 9])
@pytest.mark.parametrize("chunks", [(7, 9), (60, 80), (3, 5)])
def test_chunked_exposure_equals_the_whole_grid(radius: int, chunks: tuple[int, int]) -> None:
    features = _features(3)
    whole = exposed_within(features, radius)
    chunked = exposure_chunked(da.from_array(features, chunks=chunks), radius).compute()
    assert chunked.dtype == bool and np.array_equal(chunked, whole)


@pytest.mark.parametrize("radius", [1, 2, 4])
def test_exposure_is_the_single_machine_within_influence_of_cell_centres(radius: int) -> None:
    """A feature at its cell's centre: the grid exposure is exactly RTM's "within the
    influence distance" of the single-machine covariates (distance between centres)."""
    features = _features(5)
    rows, cols = np.nonzero(features)
    fx, fy = GRID.centre(rows, cols)
    single = terrain_covariates(_centres(), {"shop": np.column_stack([fx, fy])},
                                influence_m=radius * GRID.cell_m)
    grid = exposed_within(features, radius).ravel()
    assert np.array_equal(grid, single.within_influence["shop"])


def test_relative_risks_equal_the_single_machine_model() -> None:
    rng = np.random.default_rng(8)
    shops, stations = _features(11, 0.01), _features(12, 0.004)
    exp_shops = exposure_chunked(da.from_array(shops, chunks=(16, 16)), 2).compute()
    exp_stations = exposure_chunked(da.from_array(stations, chunks=(16, 16)), 3).compute()
    # Planted: three times the harm near the shops, none added near the stations.
    counts = rng.poisson(0.3 * np.where(exp_shops, 3.0, 1.0)).astype(float)
    national = national_risk_terrain(counts, {"shops": exp_shops, "stations": exp_stations})
    single = fit_risk_terrain(counts.ravel().astype(int),
                              {"shops": exposed_within(shops, 2).ravel().astype(float),
                               "stations": exposed_within(stations, 3).ravel().astype(float)})
    assert national.model == single.model
    for a, b in zip(national.features, single.features, strict=True):
        assert a.feature == b.feature
        assert a.relative_risk == pytest.approx(b.relative_risk, rel=1e-9, abs=1e-9)
        assert a.ci_low == pytest.approx(b.ci_low, rel=1e-9, abs=1e-9)
    risk = {f.feature: f for f in national.features}
    assert risk["shops"].ci_low < 3.0 < risk["shops"].ci_high
    assert risk["stations"].ci_low < 1.0 < risk["stations"].ci_high


def test_the_study_area_mask_leaves_cells_out() -> None:
    counts = np.random.default_rng(2).poisson(1.0, (GRID.rows, GRID.cols)).astype(float)
    exposure = exposed_within(_features(4, 0.02), 1)
    mask = np.zeros(counts.shape, dtype=bool)
    mask[:, :40] = True
    part = national_risk_terrain(counts, {"shop": exposure}, mask=mask)
    assert part.n_cells == int(mask.sum())
    assert part.n_incidents == int(counts[mask].sum())
    with pytest.raises(ValueError, match="at least one feature layer"):
        national_risk_terrain(counts, {})
    with pytest.raises(ValueError, match="shape"):
        national_risk_terrain(counts, {"shop": exposure[:, :10]})


@pytest.mark.parametrize(("text", "expected"), [
    ("shops=/data/shops.parquet", ("shops", "/data/shops.parquet", 500.0)),
    ("stations=/data/st@400", ("stations", "/data/st", 400.0)),
    (" bars = b.parquet@0", ("bars", "b.parquet", 0.0)),
])
def test_a_feature_layer_is_name_source_and_reach(text: str,
                                                  expected: tuple[str, str, float]) -> None:
    assert parse_covariate(text) == expected


@pytest.mark.parametrize("text", ["shops", "=x.parquet", "shops=", "shops=x@far", "s=x@-5"])
def test_a_malformed_feature_layer_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_covariate(text)
