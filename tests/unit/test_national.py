"""The national (chunked, Dask) Gi* equals the single-machine Gi* to 1e-9."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest

from locmap.assessment.hotspots import getis_ord_gi_star
from locmap.assessment.national import (
    NationalGrid,
    box_sum_3x3,
    cell_ids,
    incident_cell_counts,
    national_hotspots,
)


@pytest.fixture(autouse=True)
def _threads() -> None:
    # The synchronous scheduler: the same arithmetic, no thread pool in unit tests.
    with dask.config.set(scheduler="synchronous"):
        yield


def _grid(shape: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(2.0, size=shape).astype(float)
    counts[5:8, 10:13] += 25  # a planted hot spot
    return counts


@pytest.mark.parametrize("chunks", [(7, 9), (40, 55), (1, 55)])
def test_chunked_gi_star_equals_the_single_machine_one(chunks: tuple[int, int]) -> None:
    counts = _grid((40, 55), seed=3)
    grid = NationalGrid(0.0, 0.0, 250.0, rows=40, cols=55)
    result = national_hotspots(da.from_array(counts, chunks=chunks), grid)
    single = getis_ord_gi_star(counts, cell_size_m=250.0, permutations=0)
    np.testing.assert_allclose(result.z.ravel(), single.z, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.g.ravel(), single.g, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.p_norm.ravel(), single.p_norm, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.q.ravel(), single.q, rtol=0, atol=1e-9)
    labels = {1: "hot", -1: "cold", 0: "not significant"}
    assert [labels[int(c)] for c in result.classification.ravel()] == list(single.classification)
    assert 5 * 55 + 11 in result.cells(1)  # the planted spot is hot


def test_a_study_area_mask_matches_listing_only_its_cells() -> None:
    counts = _grid((30, 31), seed=8)
    mask = np.ones(counts.shape, dtype=bool)
    mask[:, :6] = False  # the sea: absent, not zero
    mask[20:, 20:] = False
    grid = NationalGrid(0.0, 0.0, 250.0, rows=30, cols=31)
    result = national_hotspots(da.from_array(counts, chunks=(8, 8)), grid,
                               mask=da.from_array(mask, chunks=(8, 8)))
    rows, cols = np.nonzero(mask)
    single = getis_ord_gi_star((rows, cols, counts[mask]), cell_size_m=250.0, permutations=0)
    np.testing.assert_allclose(result.z[mask], single.z, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.q[mask], single.q, rtol=0, atol=1e-9)
    assert np.isnan(result.z[~mask]).all() and (result.classification[~mask] == 0).all()
    assert result.n_cells == int(mask.sum())


def test_box_sum_counts_the_cells_that_exist() -> None:
    ones = np.ones((3, 4))
    assert box_sum_3x3(ones).tolist() == [[4, 6, 6, 4], [6, 9, 9, 6], [4, 6, 6, 4]]


def test_points_are_binned_by_partition_and_off_grid_points_dropped() -> None:
    import dask.dataframe as dd

    grid = NationalGrid.covering((1000.0, 2000.0, 1999.0, 2999.0), 250.0)
    assert (grid.rows, grid.cols, grid.x0, grid.y0) == (4, 4, 1000.0, 2000.0)
    frame = pd.DataFrame({"x": [1001.0, 1001.0, 1260.0, 5000.0, np.nan],
                          "y": [2001.0, 2001.0, 2260.0, 2100.0, 2100.0]})
    assert cell_ids(frame.x.to_numpy(), frame.y.to_numpy(), grid).tolist() == [0, 0, 5, -1, -1]
    counts = incident_cell_counts(dd.from_pandas(frame, npartitions=3), grid)
    assert counts.shape == (4, 4) and counts[0, 0] == 2 and counts[1, 1] == 1
    assert counts.sum() == 3


def test_degenerate_grids_are_refused_with_a_reason() -> None:
    grid = NationalGrid(0.0, 0.0, 250.0, rows=4, cols=4)
    with pytest.raises(ValueError, match="all counts are zero"):
        national_hotspots(da.zeros((4, 4), chunks=2), grid)
    with pytest.raises(ValueError, match="all counts are equal"):
        national_hotspots(da.ones((4, 4), chunks=2), grid)
    with pytest.raises(ValueError, match="positive"):
        NationalGrid.covering((0, 0, 1, 1), 0)
