"""Gi* hot spots over a national grid, out of core, on a Dask cluster.

Five years of every police force's street-level crime (about 30 million incidents) on a
250 m grid of England (about 2 million cells) does not need a home-made engine: Gi* with
binary queen weights (each cell its own neighbour, as Gi* requires) is, for every cell,

* the sum of the counts in the 3 x 3 block around it, and the number of study-area cells
  in that block — a ``map_overlap`` of depth 1 over the chunks of the grid; and
* three global moments of the study area (``n``, ``sum y``, ``sum y**2``) — one reduction;

after which the statistic is elementwise: :func:`locmap.assessment.hotspots.gi_star_from_sums`,
the very function the single-machine :func:`~locmap.assessment.hotspots.getis_ord_gi_star`
uses, so the two agree to rounding (tested to 1e-9). Incidents are read in partitions
(GeoParquet through dask-geopandas, or PostgreSQL/PostGIS through ``read_sql_query``) and
binned to cells partition by partition, so a worker never holds more than one partition of
incidents; only per-cell arrays (a few bytes per cell) come back to the caller.

Risk terrain at national scale works the same way: each feature layer (fast-food outlets,
stations ...) is binned to the grid like the incidents; a cell is *exposed* to a layer when a
feature's cell centre lies within the layer's influence distance of its own centre — a
disk-shaped maximum filter, a ``map_overlap`` whose depth is the influence in cells; the
per-cell table of counts and exposures (a few bytes a cell) is then fitted by
:func:`locmap.assessment.risk_terrain.fit_risk_terrain`, the single-machine model itself.

Not computed here: the conditional-permutation p-values (999 permutations of 2 million
cells are out of proportion for a national screen); classification uses the analytic
p-values with the Benjamini-Hochberg false discovery rate over all study-area cells, as
the single-machine function does with ``permutations=0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from locmap.assessment.hotspots import benjamini_hochberg, gi_star_from_sums
from locmap.assessment.risk_terrain import RiskTerrainResult, fit_risk_terrain

__all__ = ["NationalGrid", "NationalHotspots", "cell_ids", "box_sum_3x3", "gi_star_chunked",
           "national_hotspots", "incident_cell_counts", "disk", "exposed_within",
           "exposure_chunked", "national_risk_terrain"]

# British National Grid (metres): the grid of national analysis.
NATIONAL_CRS = "EPSG:27700"


@dataclass(frozen=True)
class NationalGrid:
    """A regular grid of square cells in British National Grid metres."""

    x0: float
    y0: float
    cell_m: float
    rows: int
    cols: int

    @classmethod
    def covering(cls, bounds: tuple[float, float, float, float], cell_m: float) -> NationalGrid:
        """The grid of ``cell_m`` cells, anchored on multiples of ``cell_m``, over bounds."""
        if not (math.isfinite(cell_m) and cell_m > 0):
            raise ValueError(f"cell size must be a positive number of metres, got {cell_m!r}")
        minx, miny, maxx, maxy = bounds
        if not all(map(math.isfinite, bounds)) or maxx <= minx or maxy <= miny:
            raise ValueError(f"bounds must be finite with max > min, got {bounds!r}")
        x0 = math.floor(minx / cell_m) * cell_m
        y0 = math.floor(miny / cell_m) * cell_m
        return cls(x0, y0, float(cell_m), rows=int(math.floor((maxy - y0) / cell_m)) + 1,
                   cols=int(math.floor((maxx - x0) / cell_m)) + 1)

    @property
    def size(self) -> int:
        return self.rows * self.cols

    def centre(self, row: NDArray[np.int64], col: NDArray[np.int64]
               ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        x = self.x0 + (col.astype(np.float64) + 0.5) * self.cell_m
        y = self.y0 + (row.astype(np.float64) + 0.5) * self.cell_m
        return x.astype(np.float64), y.astype(np.float64)


def cell_ids(x: NDArray[np.float64], y: NDArray[np.float64], grid: NationalGrid
             ) -> NDArray[np.int64]:
    """Row-major cell id of each point, or -1 for a point off the grid (or not finite)."""
    col = np.floor((np.asarray(x, dtype=float) - grid.x0) / grid.cell_m)
    row = np.floor((np.asarray(y, dtype=float) - grid.y0) / grid.cell_m)
    ok = np.isfinite(col) & np.isfinite(row) & (col >= 0) & (col < grid.cols) \
        & (row >= 0) & (row < grid.rows)
    out = np.full(col.shape, -1, dtype=np.int64)
    out[ok] = row[ok].astype(np.int64) * grid.cols + col[ok].astype(np.int64)
    return out


def box_sum_3x3(block: NDArray[Any]) -> NDArray[np.float64]:
    """Sum over each cell's 3 x 3 block (cells beyond the array count as 0)."""
    padded = np.pad(np.asarray(block, dtype=float), 1)
    out = np.zeros(block.shape, dtype=float)
    rows, cols = block.shape
    for dr in (0, 1, 2):
        for dc in (0, 1, 2):
            out += padded[dr:dr + rows, dc:dc + cols]
    return out


@dataclass(frozen=True)
class NationalHotspots:
    """Gi* over every study-area cell (row-major arrays; NaN outside the study area)."""

    grid: NationalGrid
    alpha: float
    n_cells: int
    n_incidents: int
    counts: NDArray[np.float64]
    g: NDArray[np.float64]
    z: NDArray[np.float64]
    p_norm: NDArray[np.float64]
    q: NDArray[np.float64]
    classification: NDArray[np.int8]  # 1 hot, -1 cold, 0 not significant / outside

    def cells(self, label: int) -> NDArray[np.int64]:
        """Row-major ids of the cells classified ``label`` (1 hot, -1 cold)."""
        return np.flatnonzero(self.classification.ravel() == label)


def gi_star_chunked(counts: Any, mask: Any | None = None) -> dict[str, Any]:
    """Gi* of a chunked 2-D dask array of counts (queen weights, self included).

    ``mask`` (a boolean dask array of the same shape and chunks) marks the study area; cells
    outside it are absent, not zero. Returns lazy dask arrays ``g`` and ``z`` (NaN outside
    the study area) and the global moments, as a dict; nothing is computed yet but the
    three moments.
    """
    import dask
    import dask.array as da

    if mask is None:
        mask = da.ones(counts.shape, dtype=bool, chunks=counts.chunks)
    y = da.where(mask, counts.astype(float), 0.0)
    n, total, total_sq = dask.compute(mask.sum(), y.sum(), (y**2).sum())
    n, total, total_sq = int(n), float(total), float(total_sq)
    if n < 3:
        raise ValueError(f"need at least 3 cells in the study area, got {n}")
    if total == 0:
        raise ValueError("all counts are zero: Gi* is undefined")
    if total_sq / n - (total / n) ** 2 <= 0:
        raise ValueError("all counts are equal: Gi* has zero variance")
    neighbour_sum = y.map_overlap(box_sum_3x3, depth=1, boundary=0, dtype=float)
    cardinality = mask.astype(float).map_overlap(box_sum_3x3, depth=1, boundary=0,
                                                 dtype=float)

    def part(s: NDArray[Any], k: NDArray[Any], m: NDArray[Any], which: int) -> NDArray[Any]:
        value = gi_star_from_sums(s, k, n=n, total=total, total_sq=total_sq)[which]
        return np.where(m, value, np.nan)

    g = da.map_blocks(part, neighbour_sum, cardinality, mask, 0, dtype=float)
    z = da.map_blocks(part, neighbour_sum, cardinality, mask, 3, dtype=float)
    return {"g": g, "z": z, "mask": mask, "n": n, "total": total, "total_sq": total_sq}


def national_hotspots(counts: Any, grid: NationalGrid, *, mask: Any | None = None,
                      alpha: float = 0.05) -> NationalHotspots:
    """Gi* hot and cold spots of a chunked count grid, classified at FDR ``alpha``."""
    import dask

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    parts = gi_star_chunked(counts, mask)
    g, z, inside, y = dask.compute(parts["g"], parts["z"], parts["mask"], counts)
    p = np.full(z.shape, np.nan)
    p[inside] = 2.0 * stats.norm.sf(np.abs(z[inside]))
    q = np.full(z.shape, np.nan)
    # One ranking over the whole study area: a few bytes per cell, never the incidents.
    q[inside] = benjamini_hochberg(p[inside])
    significant = inside & (q <= alpha) & (z != 0)
    cls = np.zeros(z.shape, dtype=np.int8)
    cls[significant & (z > 0)] = 1
    cls[significant & (z < 0)] = -1
    return NationalHotspots(grid=grid, alpha=alpha, n_cells=parts["n"],
                            n_incidents=int(round(parts["total"])),
                            counts=np.where(inside, y, np.nan), g=g, z=z, p_norm=p, q=q,
                            classification=cls)


def incident_cell_counts(frame: Any, grid: NationalGrid) -> NDArray[np.float64]:
    """Incidents per cell of ``grid`` from a partitioned frame of points.

    ``frame`` is a dask(-geopandas) frame with either a point ``geometry`` column (any CRS
    with a definition; reprojected to British National Grid partition by partition) or
    ``x`` / ``y`` columns in British National Grid metres. Each partition is binned on its
    own worker; the per-partition counts are summed in a tree reduction, so memory per
    worker is one partition plus one grid of counts.
    """
    import dask

    def bin_partition(part: Any) -> NDArray[np.float64]:
        if "geometry" in getattr(part, "columns", ()):
            geo = part.geometry
            if geo.crs is not None and geo.crs.to_string() != NATIONAL_CRS:
                geo = geo.to_crs(NATIONAL_CRS)
            x, y = geo.x.to_numpy(), geo.y.to_numpy()
        else:
            x, y = part["x"].to_numpy(), part["y"].to_numpy()
        ids = cell_ids(x, y, grid)
        ids = ids[ids >= 0]
        return np.bincount(ids, minlength=grid.size).astype(float)

    delayed = [dask.delayed(bin_partition)(p) for p in frame.to_delayed()]
    while len(delayed) > 1:  # pairwise tree: at most two grids meet on one worker
        delayed = [dask.delayed(np.add)(*delayed[i:i + 2]) if i + 1 < len(delayed)
                   else delayed[i] for i in range(0, len(delayed), 2)]
    (total,) = dask.compute(delayed[0])
    return np.asarray(total).reshape(grid.rows, grid.cols)


def disk(radius_cells: int) -> NDArray[np.bool_]:
    """The cells whose centres lie within ``radius_cells`` cell sides of the middle one."""
    r = int(radius_cells)
    if r < 0:
        raise ValueError(f"radius must be >= 0 cells, got {radius_cells!r}")
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    return np.asarray(dx * dx + dy * dy <= r * r)


def exposed_within(features: NDArray[Any], radius_cells: int) -> NDArray[np.bool_]:
    """Cells with a feature's cell centre within ``radius_cells`` cells of their own centre
    (cells beyond the array hold no feature).
    """
    from scipy import ndimage

    present = np.asarray(features) > 0
    if radius_cells == 0:
        return present
    return np.asarray(ndimage.maximum_filter(present, footprint=disk(radius_cells),
                                             mode="constant", cval=False))


def exposure_chunked(features: Any, radius_cells: int) -> Any:
    """:func:`exposed_within` of a chunked 2-D dask array: a ``map_overlap`` whose depth is
    the radius (each chunk sees the features of its neighbours' margins).
    """
    r = int(radius_cells)
    if r < 0:
        raise ValueError(f"radius must be >= 0 cells, got {radius_cells!r}")
    if r == 0:
        return features > 0
    # dask needs every chunk at least as deep as the overlap: one cell more than the
    # radius per chunk side (a last, smaller chunk is merged by dask's own rechunking).
    side = max(r + 1, *(max(c) for c in features.chunks))
    if any(min(c) < r for c in features.chunks):
        features = features.rechunk(side)
    return features.map_overlap(exposed_within, depth=r, boundary=0, dtype=bool,
                                radius_cells=r)


def national_risk_terrain(counts: NDArray[Any], exposures: dict[str, NDArray[Any]], *,
                          mask: NDArray[Any] | None = None, model: str = "auto"
                          ) -> RiskTerrainResult:
    """Relative risk of each feature layer over the study-area cells of a national grid.

    ``counts`` and each exposure are 2-D arrays of the grid (computed, not lazy: one value a
    cell); ``mask`` marks the study area (all cells when None). The fit is
    :func:`~locmap.assessment.risk_terrain.fit_risk_terrain` on the study area's cells.
    """
    y = np.asarray(counts, dtype=float)
    inside = np.ones(y.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if not exposures:
        raise ValueError("risk terrain needs at least one feature layer")
    for name, e in exposures.items():
        if np.shape(e) != y.shape:
            raise ValueError(f"exposure {name!r} has shape {np.shape(e)}, the grid {y.shape}")
    return fit_risk_terrain(y[inside].astype(np.int64),
                            {name: np.asarray(e, dtype=bool)[inside].astype(float)
                             for name, e in exposures.items()}, model=model)
