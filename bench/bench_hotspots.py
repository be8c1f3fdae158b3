"""Benchmark Gi* hot spots on a 100,000-cell grid: locmap vs esda + libpysal.

Run from the repository root::

    PYTHONPATH=. python bench/bench_hotspots.py [--write docs/perf/hotspots.md]

Both sides start from the same 316 x 317 grid of synthetic Poisson counts and
include building queen weights the way each would be used in practice
(``libpysal.weights.lat2W(rook=False)`` for the analyst, the internal
numpy builder for locmap). Analytic Gi* only: esda's permutation inference
needs numba to be usable at this size, and permutation draws cannot be
compared value for value anyway. The G and z values are asserted equal to 1e-9.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from importlib.metadata import version

import numpy as np

ROWS, COLS, REPEATS = 316, 317, 3


def _time(fn, repeats=REPEATS):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    """Run the benchmark, print a markdown report and optionally write it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", help="write the markdown report to this path")
    args = parser.parse_args()

    from esda import G_Local
    from libpysal.weights import lat2W

    from locmap.assessment.hotspots import getis_ord_gi_star

    y = np.random.default_rng(2024).poisson(2.0, (ROWS, COLS)).astype(float)
    y[150:155, 200:206] += 8.0  # a planted hot spot, so the output is not pure noise

    def ours():
        return getis_ord_gi_star(y, cell_size_m=100.0, permutations=0)

    def theirs():
        w = lat2W(ROWS, COLS, rook=False)
        return G_Local(y.ravel(), w, star=True, transform="B", permutations=0)

    def theirs_stat_only(w):
        return G_Local(y.ravel(), w, star=True, transform="B", permutations=0)

    t_ours, r_ours = _time(ours)
    t_theirs, r_theirs = _time(theirs)
    w = lat2W(ROWS, COLS, rook=False)
    t_stat, _ = _time(lambda: theirs_stat_only(w))
    t_perm, _ = _time(lambda: getis_ord_gi_star(y, cell_size_m=100.0, permutations=999), 1)

    np.testing.assert_allclose(r_ours.g, r_theirs.Gs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(r_ours.z, r_theirs.Zs, rtol=0, atol=1e-9)
    max_dz = float(np.max(np.abs(r_ours.z - r_theirs.Zs)))

    speedup = t_theirs / t_ours
    assert speedup >= 3.0, f"speedup {speedup:.1f}x is below the 3x target"
    cmd = "PYTHONPATH=. python bench/bench_hotspots.py --write docs/perf/hotspots.md"
    report = f"""# Gi* hot spots: performance

Command: `{cmd}` (median of {REPEATS} runs each, one process).

Grid: {ROWS} x {COLS} = {ROWS * COLS:,} cells, queen contiguity with self-weights,
binary (`esda.G_Local(y, w, star=True, transform="B", permutations=0)`), synthetic
Poisson(2) counts with one planted cluster. G and z asserted equal to 1e-9
(max |z difference| = {max_dz:.1e}).

| what | seconds | speedup |
|---|---:|---:|
| esda + libpysal: `lat2W` + `G_Local` (analyst's path) | {t_theirs:.3f} | 1.0x |
| esda `G_Local` alone, weights prebuilt | {t_stat:.3f} | {t_theirs / t_stat:.1f}x |
| locmap `getis_ord_gi_star` (weights + Gi*, analytic) | {t_ours:.3f} | **{speedup:.1f}x** |
| locmap with 999 conditional permutations + BH FDR | {t_perm:.3f} | - |

Speedup of locmap over the analyst's esda + libpysal path: **{speedup:.1f}x**
(target >= 3x). esda's time goes to libpysal's dict-based `W`, not to the Gi*
arithmetic: `lat2W` builds neighbour dicts, and inside `G_Local`,
`fill_diagonal` (adding the self-weights Gi* needs) converts W to sparse, back to
a dict-based W and to sparse again (about two thirds of `G_Local` under
cProfile). locmap finds the 8 neighbours with array offsets into a lookup grid
and builds one CSR matrix with the diagonal included.
esda's own permutation inference was not timed: without numba (not installed
here) its fallback is a pure-Python loop over 100,000 cells.

Machine: nproc = {os.cpu_count()}, {platform.machine()}, Python {sys.version.split()[0]};
numpy {version("numpy")}, scipy {version("scipy")}, esda {version("esda")},
libpysal {version("libpysal")}.
"""
    print(report)
    if args.write:
        with open(args.write, "w", encoding="utf-8") as fh:
            fh.write(report)


if __name__ == "__main__":
    main()
