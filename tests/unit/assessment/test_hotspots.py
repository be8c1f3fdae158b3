"""Gi* hot spots: equality with PySAL esda, permutation p-values, FDR, a planted cluster."""

import numpy as np
import pytest
from esda import G_Local
from libpysal.weights import DistanceBand, lat2W

from locmap.assessment.hotspots import benjamini_hochberg, getis_ord_gi_star

# esda's crand warns that its default `alternative` will change; the warning is
# about esda's own API, not about our use of its numbers.
ESDA_ALTERNATIVE = (
    "ignore:The alternative hypothesis for conditional randomization:DeprecationWarning"
)


def _poisson_grid(shape, seed, lam=3.0):
    return np.random.default_rng(seed).poisson(lam, shape).astype(float)


def _planted(shape=(20, 20), block=(slice(8, 11), slice(8, 11)), seed=7):
    grid = _poisson_grid(shape, seed, lam=2.0)
    grid[block] += 12.0
    return grid


def _centroids(shape, cell):
    rr, cc = np.indices(shape)
    return np.column_stack([(cc.ravel() + 0.5) * cell, (rr.ravel() + 0.5) * cell])


@pytest.mark.parametrize("shape", [(7, 9), (23, 17), (1, 12)])
def test_queen_g_and_z_equal_esda(shape):
    y = _poisson_grid(shape, seed=sum(shape))
    ours = getis_ord_gi_star(y, cell_size_m=250, permutations=0)
    esda = G_Local(y.ravel(), lat2W(*shape, rook=False), star=True, transform="B", permutations=0)
    np.testing.assert_allclose(ours.g, esda.Gs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.z, esda.Zs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.expected_g, esda.EGs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.p_norm, 2 * esda.p_norm, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("shape", "cell", "band"),
    # the last band equals a centroid distance exactly: ties count as neighbours
    [((8, 11), 100.0, 250.0), ((15, 12), 50.0, 120.0), ((10, 10), 100.0, 200.0)],
)
def test_distance_band_g_and_z_equal_esda(shape, cell, band):
    y = _poisson_grid(shape, seed=3)
    ours = getis_ord_gi_star(
        y, cell_size_m=cell, weights="distance_band", distance_m=band, permutations=0
    )
    w = DistanceBand(_centroids(shape, cell), threshold=band, binary=True, silence_warnings=True)
    esda = G_Local(y.ravel(), w, star=True, transform="B", permutations=0)
    assert int(ours.g.size) == w.n
    np.testing.assert_allclose(ours.g, esda.Gs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.z, esda.Zs, rtol=0, atol=1e-9)


def test_listed_cells_only_use_listed_neighbours():
    # An L-shaped study area: the missing corner is outside it, not zero.
    grid = _poisson_grid((6, 6), seed=11)
    keep = np.ones((6, 6), bool)
    keep[:3, :3] = False
    rows, cols = np.nonzero(keep)
    ours = getis_ord_gi_star((rows, cols, grid[keep]), cell_size_m=100, permutations=0)
    full = lat2W(6, 6, rook=False)
    ids = [int(r * 6 + c) for r, c in zip(rows, cols, strict=True)]
    from libpysal.weights import w_subset

    esda = G_Local(grid[keep], w_subset(full, ids), star=True, transform="B", permutations=0)
    np.testing.assert_allclose(ours.z, esda.Zs, rtol=0, atol=1e-9)
    assert ours.shape == (6, 6)


def test_planted_cluster_is_hot_exactly_there_after_fdr():
    grid = _planted()
    planted = {(r, c) for r in range(8, 11) for c in range(8, 11)}
    ring = {(r + dr, c + dc) for r, c in planted for dr in (-1, 0, 1) for dc in (-1, 0, 1)}
    # 400 tests at FDR 5% need p ~ 1e-4 at the top: 9999 permutations give
    # a smallest two-sided p of 2e-4, 999 would leave nothing significant.
    for perms in (0, 9999):
        res = getis_ord_gi_star(grid, cell_size_m=100, permutations=perms, seed=1)
        hot = set(res.hot_cells())
        assert planted <= hot, planted - hot
        assert hot <= ring, hot - ring
        assert res.cold_cells() == []
    # A flat field with no cluster has no hot spots at all.
    flat = getis_ord_gi_star(_poisson_grid((20, 20), seed=7, lam=2.0), cell_size_m=100, seed=1)
    assert flat.hot_cells() == [] and flat.cold_cells() == []


@pytest.mark.filterwarnings(ESDA_ALTERNATIVE)
def test_permutation_p_agrees_with_esda_within_monte_carlo_error():
    # Continuous values: no ties, so our two-sided p is twice esda's directed p.
    rng = np.random.default_rng(5)
    grid = rng.gamma(2.0, 1.0, (15, 15))
    grid[5:8, 5:8] += 4.0
    perms = 999
    ours = getis_ord_gi_star(grid, cell_size_m=100, permutations=perms, seed=2)
    esda = G_Local(grid.ravel(), lat2W(15, 15, rook=False), star=True, transform="B",
                   permutations=perms, seed=2, n_jobs=1)
    p = np.clip(esda.p_sim, 1 / (perms + 1), 0.5)
    se = np.sqrt(2 * p * (1 - p) / perms)  # s.d. of the difference of two estimates
    diff = np.abs(ours.p_sim / 2 - esda.p_sim)
    assert np.all(diff <= 4.5 * se + 2 / (perms + 1)), diff.max()
    # and they are not trivially equal: the planted centre is extreme in both
    assert ours.p_sim[6 * 15 + 6] == pytest.approx(2 / (perms + 1))
    assert esda.p_sim[6 * 15 + 6] == pytest.approx(1 / (perms + 1))


def test_permutation_p_is_seeded_and_two_seeds_agree_within_mc_error():
    grid = _planted()
    a = getis_ord_gi_star(grid, cell_size_m=100, permutations=999, seed=1)
    b = getis_ord_gi_star(grid, cell_size_m=100, permutations=999, seed=1)
    c = getis_ord_gi_star(grid, cell_size_m=100, permutations=999, seed=2)
    np.testing.assert_array_equal(a.p_sim, b.p_sim)
    assert not np.array_equal(a.p_sim, c.p_sim)
    se = np.sqrt(2 * np.clip(a.p_sim, 0.002, 1) * 1.0 / 999)
    assert np.all(np.abs(a.p_sim - c.p_sim) <= 4.5 * se + 0.004)


def test_island_cells_never_significant_under_permutation():
    rows = np.array([0, 0, 0, 5])
    cols = np.array([0, 1, 2, 9])
    res = getis_ord_gi_star((rows, cols, np.array([1.0, 2.0, 3.0, 40.0])), cell_size_m=100)
    assert res.p_sim is not None and res.p_sim[3] == 1.0


def test_benjamini_hochberg_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = np.random.default_rng(0).uniform(size=200) ** 3
    expected = multipletests(p, method="fdr_bh")[1]
    np.testing.assert_allclose(benjamini_hochberg(p), expected, atol=1e-12)


def test_input_is_not_mutated_and_result_is_read_only():
    grid = _planted()
    before = grid.copy()
    res = getis_ord_gi_star(grid, cell_size_m=100, permutations=9)
    np.testing.assert_array_equal(grid, before)
    with pytest.raises(ValueError):
        res.z[0] = 1.0
    d = res.to_dict()
    assert d["cells"][0].keys() >= {"row", "col", "g", "z", "p_sim", "q", "classification"}
    assert len(d["cells"]) == 400


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"counts": np.ones((3, 3)), "cell_size_m": 100}, "all counts are equal"),
        ({"counts": np.zeros((3, 3)), "cell_size_m": 100}, "all counts are zero"),
        ({"counts": -np.eye(3), "cell_size_m": 100}, "non-negative"),
        ({"counts": np.ones(9), "cell_size_m": 100}, "2-D"),
        ({"counts": np.eye(3), "cell_size_m": 0}, "cell_size_m"),
        ({"counts": np.eye(3), "cell_size_m": 100, "weights": "rook"}, "weights"),
        ({"counts": np.eye(3), "cell_size_m": 100, "weights": "distance_band"}, "distance_m"),
        ({"counts": np.eye(3), "cell_size_m": 100, "distance_m": 5.0}, "applies to"),
        ({"counts": np.eye(3), "cell_size_m": 100, "permutations": -1}, "permutations"),
        ({"counts": ([0, 0, 0], [1, 1, 2], [1, 2, 3]), "cell_size_m": 100}, "more than once"),
    ],
)
def test_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        getis_ord_gi_star(**kwargs)
