"""Gi* on a grid where a cell neighbours every cell (found by the API fuzz test, issue 14).

The centre of a 3 x 3 grid under queen contiguity has the whole grid as its neighbourhood:
its Gi* has no variance, and the division by zero used to warn (a 500 under the test
suite's warnings-as-errors) and leave a NaN z-score in the API's answer.
"""

from __future__ import annotations

import warnings

import numpy as np

from locmap.assessment.hotspots import getis_ord_gi_star


def test_a_cell_whose_neighbourhood_is_the_whole_grid_is_not_significant() -> None:
    counts = np.zeros((3, 3))
    counts[0, 0] = 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = getis_ord_gi_star(counts, cell_size_m=100.0, permutations=0)
    assert np.all(np.isfinite(res.z))
    centre = int(np.flatnonzero((res.rows == 1) & (res.cols == 1))[0])
    assert res.z[centre] == 0.0
    assert res.classification[centre] == "not significant"
