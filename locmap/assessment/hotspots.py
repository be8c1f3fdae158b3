"""Hot spots of incidents on a regular grid with the Getis-Ord Gi* statistic.

The caller (a query that aggregates incidents into grid cells in PostGIS) passes
counts per cell; this module builds binary spatial weights itself (queen
contiguity or a distance band, each cell counted as its own neighbour as Gi*
requires), computes Gi*, its z-score and analytic p-value exactly as PySAL
``esda.G_Local(y, w, star=True, transform="B")`` does, a conditional-permutation
p-value, and Benjamini-Hochberg q-values so that a map of "hot" and "cold"
cells does not light up by chance across hundreds of tests. Everything is numpy
and ``scipy.sparse``: no libpysal ``W`` objects, which are slow to build on
large grids (see ``docs/perf/hotspots.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse, stats
from scipy.spatial import cKDTree

__all__ = ["HotspotResult", "benjamini_hochberg", "getis_ord_gi_star", "gi_star_from_sums"]

WeightsKind = Literal["queen", "distance_band"]
_QUEEN_OFFSETS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


@dataclass(frozen=True)
class HotspotResult:
    """Gi* for every cell of the study area (arrays are read-only, row-major order).

    Attributes
    ----------
    shape : tuple of int
        ``(n_rows, n_cols)`` of the bounding grid.
    cell_size_m, weights, distance_m, permutations, seed, alpha :
        The settings the result was computed with.
    rows, cols, counts : ndarray
        Grid position and count of each cell in the study area.
    g, expected_g, variance_g, z : ndarray
        Gi*, its expectation and variance under randomisation, and z-score.
    p_norm : ndarray
        Two-sided analytic p-value, ``2 * norm.sf(|z|)`` (esda's ``p_norm`` is
        the one-sided ``norm.sf(|z|)``, i.e. half of this).
    p_sim : ndarray or None
        Two-sided conditional-permutation p-value (None if ``permutations=0``).
    q : ndarray
        Benjamini-Hochberg q-values of ``p_sim`` (or of ``p_norm`` without
        permutations).
    classification : tuple of str
        ``"hot"`` (z > 0 and q <= alpha), ``"cold"`` (z < 0 and q <= alpha) or
        ``"not significant"``.
    """

    shape: tuple[int, int]
    cell_size_m: float
    weights: str
    distance_m: float | None
    permutations: int
    seed: int
    alpha: float
    rows: NDArray[np.int64]
    cols: NDArray[np.int64]
    counts: NDArray[np.float64]
    g: NDArray[np.float64]
    expected_g: NDArray[np.float64]
    variance_g: NDArray[np.float64]
    z: NDArray[np.float64]
    p_norm: NDArray[np.float64]
    p_sim: NDArray[np.float64] | None
    q: NDArray[np.float64]
    classification: tuple[str, ...]

    def hot_cells(self) -> list[tuple[int, int]]:
        """Return ``(row, col)`` of the cells classified hot."""
        return self._cells("hot")

    def cold_cells(self) -> list[tuple[int, int]]:
        """Return ``(row, col)`` of the cells classified cold."""
        return self._cells("cold")

    def _cells(self, label: str) -> list[tuple[int, int]]:
        return [
            (int(r), int(c))
            for r, c, k in zip(self.rows, self.cols, self.classification, strict=True)
            if k == label
        ]

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data: settings plus one record per cell."""
        p_sim = self.p_sim
        cells = [
            {
                "row": int(self.rows[i]),
                "col": int(self.cols[i]),
                "count": float(self.counts[i]),
                "g": float(self.g[i]),
                "z": float(self.z[i]),
                "p_norm": float(self.p_norm[i]),
                "p_sim": None if p_sim is None else float(p_sim[i]),
                "q": float(self.q[i]),
                "classification": self.classification[i],
            }
            for i in range(len(self.rows))
        ]
        return {
            "statistic": "Getis-Ord Gi*",
            "shape": list(self.shape),
            "cell_size_m": self.cell_size_m,
            "weights": self.weights,
            "distance_m": self.distance_m,
            "permutations": self.permutations,
            "seed": self.seed,
            "alpha": self.alpha,
            "fdr": "Benjamini-Hochberg",
            "cells": cells,
        }


def benjamini_hochberg(p_values: ArrayLike) -> NDArray[np.float64]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order.

    Parameters
    ----------
    p_values : array_like
        P-values in [0, 1].

    Returns
    -------
    ndarray
        ``q_i = min_{k >= rank(i)} p_(k) m / k``, capped at 1; reject at FDR
        level alpha where ``q <= alpha``.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.20]).round(3).tolist()
    [0.04, 0.053, 0.053, 0.2]

    References
    ----------
    Benjamini, Y. & Hochberg, Y. (1995) Controlling the false discovery rate.
    JRSS B 57(1), 289-300. Agrees with
    ``statsmodels.stats.multitest.multipletests(p, method="fdr_bh")[1]``.
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"p_values must be one-dimensional, got shape {p.shape}")
    if p.size and (not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1):
        raise ValueError("p_values must be finite and within [0, 1]")
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    q = np.empty(m)
    q[order] = q_sorted
    return q


def getis_ord_gi_star(
    counts: ArrayLike | tuple[ArrayLike, ArrayLike, ArrayLike],
    *,
    cell_size_m: float,
    weights: WeightsKind = "queen",
    distance_m: float | None = None,
    permutations: int = 999,
    seed: int = 0,
    alpha: float = 0.05,
) -> HotspotResult:
    """Getis-Ord Gi* hot spots of counts on a regular grid.

    Parameters
    ----------
    counts : 2-D array_like, or tuple ``(rows, cols, counts)``
        Either a full rectangle of non-negative counts (every cell is in the
        study area) or three equal-length 1-D sequences listing only the cells of
        the study area (e.g. those inside the locality); cells not listed are
        outside it, not zero, so list empty cells with count 0.
    cell_size_m : float
        Cell side in metres (projected CRS).
    weights : {"queen", "distance_band"}
        Queen contiguity (the 8 surrounding cells) or every cell whose centroid
        is within ``distance_m`` of the cell's centroid; binary, self included.
    distance_m : float, optional
        Band in metres; required for ``"distance_band"`` only.
    permutations : int
        Conditional permutations for ``p_sim`` (0 to skip).
    seed : int
        Seed of the permutation draws: same seed, same p-values.
    alpha : float
        FDR level for the classification.

    Returns
    -------
    HotspotResult

    Examples
    --------
    >>> grid = np.ones((5, 5)); grid[2, 2] = 9.0
    >>> res = getis_ord_gi_star(grid, cell_size_m=100, permutations=0)
    >>> round(float(res.z[12]), 4), round(float(res.g[12]), 4)
    (1.3333, 0.5152)

    Notes
    -----
    ``Gi*_i = sum_j w_ij y_j / sum_j y_j`` with ``w_ii = 1``. The moments are
    esda's (Getis & Ord 1992; Ord & Getis 1995): ``E = W_i / n`` and
    ``V = W_i (n - W_i) / ((n - 1) n^2) * s^2 / ybar^2`` with ``W_i`` the row
    sum and ``s^2`` the population variance. G and z equal
    ``esda.G_Local(y, w, star=True, transform="B")`` to 1e-9 for
    ``libpysal.weights.lat2W(rook=False)`` (queen) and
    ``libpysal.weights.DistanceBand(centroids, distance_m, binary=True)``.

    The permutation p-value follows esda's conditional randomisation: ``y_i``
    stays at cell i and its neighbours' values are drawn without replacement
    from the other n - 1 cells; as in esda one set of draws is shared by all
    cells (each cell's null distribution is exact, cells' p-values are
    correlated). Ties count towards both tails, so with integer counts this is
    a little more conservative than doubling esda's ``p_sim``. RNG streams
    differ from esda, so p_sim agrees with it only within Monte Carlo error.

    References
    ----------
    Getis, A. & Ord, J.K. (1992) The analysis of spatial association by use of
    distance statistics. Geographical Analysis 24(3), 189-206.
    Ord, J.K. & Getis, A. (1995) Local spatial autocorrelation statistics.
    Geographical Analysis 27(4), 286-306.
    PySAL ``esda.getisord.G_Local``.
    """
    if not (np.isfinite(cell_size_m) and cell_size_m > 0):
        raise ValueError(f"cell_size_m must be a positive number, got {cell_size_m!r}")
    if weights not in ("queen", "distance_band"):
        raise ValueError(f"weights must be 'queen' or 'distance_band', got {weights!r}")
    if weights == "distance_band":
        if distance_m is None or not (np.isfinite(distance_m) and distance_m > 0):
            raise ValueError("distance_band weights need a positive distance_m")
    elif distance_m is not None:
        raise ValueError("distance_m applies to weights='distance_band' only")
    if isinstance(permutations, bool) or not isinstance(permutations, int | np.integer):
        raise ValueError(f"permutations must be an int, got {permutations!r}")
    if permutations < 0:
        raise ValueError(f"permutations must be >= 0, got {permutations}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    rows, cols, y, shape = _cells(counts)

    w = _weights(rows, cols, cell_size_m, weights, distance_m)
    g, expected, variance, z = _gi_star_moments(w, y)
    p_norm = 2.0 * stats.norm.sf(np.abs(z))
    p_sim = None
    if permutations:
        p_sim = _permutation_p(w, y, permutations, seed)
    q = benjamini_hochberg(p_sim if p_sim is not None else p_norm)
    labels = np.where(q <= alpha, np.where(z > 0, "hot", "cold"), "not significant")
    labels[(q <= alpha) & (z == 0)] = "not significant"
    return HotspotResult(
        shape=shape,
        cell_size_m=float(cell_size_m),
        weights=weights,
        distance_m=None if distance_m is None else float(distance_m),
        permutations=int(permutations),
        seed=int(seed),
        alpha=float(alpha),
        rows=_frozen(rows),
        cols=_frozen(cols),
        counts=_frozen(y),
        g=_frozen(g),
        expected_g=_frozen(expected),
        variance_g=_frozen(variance),
        z=_frozen(z),
        p_norm=_frozen(p_norm),
        p_sim=None if p_sim is None else _frozen(p_sim),
        q=_frozen(q),
        classification=tuple(str(s) for s in labels),
    )


def _frozen(a: NDArray[Any]) -> NDArray[Any]:
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


def _cells(
    counts: ArrayLike | tuple[ArrayLike, ArrayLike, ArrayLike],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], tuple[int, int]]:
    if isinstance(counts, tuple) and len(counts) == 3:
        rows = np.asarray(counts[0])
        cols = np.asarray(counts[1])
        y = np.asarray(counts[2], dtype=float)
        if not (rows.ndim == cols.ndim == y.ndim == 1 and len(rows) == len(cols) == len(y)):
            raise ValueError("(rows, cols, counts) must be 1-D sequences of equal length")
        if rows.size and not (
            np.issubdtype(rows.dtype, np.integer) and np.issubdtype(cols.dtype, np.integer)
        ):
            raise ValueError("rows and cols must be integers")
        rows = rows.astype(np.int64)
        cols = cols.astype(np.int64)
        if rows.size and (rows.min() < 0 or cols.min() < 0):
            raise ValueError("rows and cols must be >= 0")
        shape = (int(rows.max()) + 1, int(cols.max()) + 1) if rows.size else (0, 0)
        if rows.size and np.unique(rows * shape[1] + cols).size != rows.size:
            raise ValueError("a (row, col) cell is listed more than once")
    else:
        grid = np.asarray(counts, dtype=float)
        if grid.ndim != 2:
            raise ValueError(
                f"counts must be a 2-D grid or (rows, cols, counts), got shape {grid.shape}"
            )
        shape = (int(grid.shape[0]), int(grid.shape[1]))
        rr, cc = np.indices(shape)
        rows, cols, y = rr.ravel().astype(np.int64), cc.ravel().astype(np.int64), grid.ravel()
    if y.size < 3:
        raise ValueError(f"need at least 3 cells, got {y.size}")
    if not np.all(np.isfinite(y)) or y.min() < 0:
        raise ValueError("counts must be finite and non-negative")
    if y.sum() == 0:
        raise ValueError("all counts are zero: Gi* is undefined")
    if np.all(y == y[0]):
        raise ValueError("all counts are equal: Gi* has zero variance")
    return rows, cols, y, shape


def _weights(
    rows: NDArray[np.int64],
    cols: NDArray[np.int64],
    cell_size_m: float,
    kind: str,
    distance_m: float | None,
) -> sparse.csr_array:
    """Binary weights with self-neighbours, as a CSR array (symmetric)."""
    n = rows.size
    if kind == "queen":
        # A lookup grid of cell indices finds the 8 neighbours in O(n).
        index = np.full((int(rows.max()) + 3, int(cols.max()) + 3), -1, dtype=np.int64)
        index[rows + 1, cols + 1] = np.arange(n)
        src_parts, dst_parts = [], []
        for dr, dc in _QUEEN_OFFSETS:
            nb = index[rows + 1 + dr, cols + 1 + dc]
            ok = nb >= 0
            src_parts.append(np.flatnonzero(ok))
            dst_parts.append(nb[ok])
        src = np.concatenate(src_parts)
        dst = np.concatenate(dst_parts)
    else:
        # Centroids in metres; the same coordinates must go to libpysal to agree.
        xy = np.column_stack([(cols + 0.5) * cell_size_m, (rows + 0.5) * cell_size_m])
        pairs = cKDTree(xy).query_pairs(r=float(distance_m), output_type="ndarray")  # type: ignore[arg-type]
        src = np.concatenate([pairs[:, 0], pairs[:, 1]]).astype(np.int64)
        dst = np.concatenate([pairs[:, 1], pairs[:, 0]]).astype(np.int64)
    diag = np.arange(n)
    src = np.concatenate([src, diag])
    dst = np.concatenate([dst, diag])
    w = sparse.csr_array((np.ones(src.size), (src, dst)), shape=(n, n))
    w.sort_indices()
    return w


def _gi_star_moments(
    w: sparse.csr_array, y: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    cardinality = np.asarray(w.sum(axis=1)).squeeze()
    return gi_star_from_sums(w @ y, cardinality, n=y.size, total=float(y.sum()),
                             total_sq=float((y**2).sum()))


def gi_star_from_sums(
    neighbour_sum: NDArray[np.float64], cardinality: NDArray[np.float64], *,
    n: int, total: float, total_sq: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Gi*, its expectation, variance and z from each cell's neighbourhood sums and the
    study area's global moments — the whole statistic, cell by cell.

    ``neighbour_sum`` is ``sum_j w_ij y_j`` and ``cardinality`` ``W_i = sum_j w_ij`` (binary
    weights, self included); ``n``, ``total`` and ``total_sq`` are the number of cells,
    ``sum y`` and ``sum y**2`` over the whole study area. Elementwise in the two arrays, so
    a chunked (out-of-core, distributed) caller gets exactly the single-machine numbers
    (:mod:`locmap.assessment.national`).
    """
    # Same operations in the same order as esda.G_Local.calc with star=True.
    statistic = neighbour_sum / total
    mean = total / n
    mean_of_squares = total_sq / n
    var_y = mean_of_squares - mean**2
    expected = cardinality / n
    variance = cardinality * (n - cardinality)
    variance = variance / (n - 1)
    variance = variance * (1 / n**2)
    variance = variance * (var_y / (mean**2))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (statistic - expected) / np.sqrt(variance)
    # A cell whose neighbourhood is the whole grid (a 3 x 3 grid's centre) has no variance
    # under permutation: its Gi* is undefined, so it gets z = 0 and is never significant.
    z = np.where(variance > 0, z, 0.0)
    return statistic, expected, variance, z


def _permutation_p(
    w: sparse.csr_array, y: NDArray[np.float64], permutations: int, seed: int
) -> NDArray[np.float64]:
    """Two-sided conditional-permutation p-values for binary self-including W."""
    n = y.size
    observed = w @ y  # numerators: compare sums, not ratios, so ties are exact
    k_other = np.diff(w.indptr) - 1  # neighbours other than the cell itself
    k_max = int(k_other.max())
    ge = np.zeros(n)
    le = np.zeros(n)
    if k_max == 0:  # only islands: every draw equals the observation
        return np.ones(n)
    rng = np.random.default_rng(seed)
    groups = [(int(k), np.flatnonzero(k_other == k)) for k in np.unique(k_other)]
    sims = np.empty(n)
    for _ in range(permutations):
        # k_max distinct ids of the other n - 1 cells: id r stands for cell
        # r if r < i else r + 1, so that cell i is never drawn for itself.
        r = rng.choice(n - 1, size=k_max, replace=False)
        shift = y[r + 1] - y[r]
        base = np.concatenate([[0.0], np.cumsum(y[r])])
        for k, sites in groups:
            if k == 0:
                sims[sites] = y[sites]
                continue
            order = np.argsort(r[:k])
            r_sorted = r[:k][order]
            # suffix[m] = sum of shifts of the drawn ids >= r_sorted[m]
            suffix = np.concatenate([np.cumsum(shift[:k][order][::-1])[::-1], [0.0]])
            correction = suffix[np.searchsorted(r_sorted, sites, side="left")]
            sims[sites] = base[k] + correction + y[sites]
        ge += sims >= observed
        le += sims <= observed
    p = 2.0 * (np.minimum(ge, le) + 1.0) / (permutations + 1.0)
    return np.minimum(p, 1.0)
