"""Fit a Poisson (or NB2) GLM after finding its degenerate cases in the data, not in warnings.

statsmodels' GLM warns when a fit predicts the data exactly ("perfect separation or
prediction"), when its weighted design is rank-deficient, and numpy warns on overflow
when a coefficient runs off to infinity. Reading those takes ``warnings.catch_warnings``,
which swaps the process-wide warnings filters and is not thread-safe in a web process.
So the three conditions are checked on the inputs first: design columns that are linear
combinations of earlier ones (left out), months with no incidents that a coefficient
running to minus infinity predicts exactly (the maximum-likelihood estimate does not
exist: Santos Silva & Tenreyro 2010; those months and the coefficients they leave
undetermined are set aside), and counts the model fits exactly (fitted from their exact
solution). What remains has an estimate, and statsmodels has nothing to warn about.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import statsmodels.api as sm
from numpy.typing import NDArray
from scipy.optimize import linprog

__all__ = ["PoissonFit", "fit_glm"]

_TOL = 1e-7


@dataclass(frozen=True)
class PoissonFit:
    """A GLM fitted on the identified part of a design, and what was set aside.

    ``columns`` maps each fitted coefficient to its design column; ``rows`` marks the
    observations fitted. ``collinear`` lists columns dropped because earlier columns
    already span them. ``diverging`` gives, for each column left undetermined by
    separated zero counts, the direction its estimate runs off in (-1, +1, or 0 when
    either way fits). ``exact`` says the model reproduces the fitted counts exactly.
    """

    fit: Any
    columns: tuple[int, ...]
    rows: NDArray[np.bool_]
    collinear: tuple[int, ...]
    diverging: dict[int, int]
    separated_rows: int
    exact: bool

    def coefficient(self, column: int) -> int | None:
        """Position of a design column among the fitted coefficients, or None."""
        return self.columns.index(column) if column in self.columns else None


def _independent(x: NDArray[np.float64], candidates: list[int]) -> list[int]:
    # Greedy in column order, so the terms listed first (intercept, trend, the change)
    # are kept and later ones (month-of-year) are dropped when they add nothing.
    keep: list[int] = []
    for j in candidates:
        if np.linalg.matrix_rank(x[:, [*keep, j]]) == len(keep) + 1:
            keep.append(j)
    return keep


def _separation(y: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """A direction b with x_i b = 0 where y_i > 0 and x_i b <= 0 (some < 0) where y_i = 0."""
    zero = y == 0
    if not zero.any():
        return None
    xz = x[zero]
    res = linprog(
        c=xz.sum(axis=0),  # make the zero rows as negative as the bound allows
        A_ub=np.vstack([xz, -xz]), b_ub=np.concatenate([np.zeros(len(xz)), np.ones(len(xz))]),
        A_eq=x[~zero] if (~zero).any() else None,
        b_eq=np.zeros(int((~zero).sum())) if (~zero).any() else None,
        bounds=(None, None), method="highs",
    )
    if res.status != 0 or res.fun > -_TOL:
        return None
    direction: NDArray[np.float64] = res.x
    return direction


def fit_glm(y: NDArray[Any], x: NDArray[np.float64], family: Any | None = None,
            like: PoissonFit | None = None) -> PoissonFit:
    """Fit ``sm.GLM(y, x, family)`` (Poisson by default) on its identified part.

    Pass ``like``, an earlier :func:`fit_glm` of the same data, to refit the same part
    with another family (the negative binomial refit of an overdispersed series).

    Raises
    ------
    ValueError
        When no count is positive: nothing can be estimated.
    """
    family = sm.families.Poisson() if family is None else family
    y = np.asarray(y, dtype=float)
    if not (y > 0).any():
        raise ValueError("no incidents in the months fitted")
    if like is not None:
        part = x[np.ix_(like.rows, np.array(like.columns, dtype=np.intp))]
        with np.errstate(divide="ignore", invalid="ignore"):
            refit = sm.GLM(y[like.rows], part, family=family).fit()
        return replace(like, fit=refit, exact=False)
    cols = _independent(x, list(range(x.shape[1])))
    collinear = tuple(j for j in range(x.shape[1]) if j not in cols)
    keep = np.ones(len(y), dtype=bool)
    diverging: dict[int, int] = {}
    # A vertex of the linear programme need not separate every separable month at once,
    # so it is solved again on what remains until nothing more separates.
    while (b := _separation(y[keep], x[np.ix_(keep, np.array(cols, dtype=np.intp))])) is not None:
        separated = np.zeros_like(keep)
        separated[keep] = (y[keep] == 0) & (x[np.ix_(keep, np.array(cols, dtype=np.intp))] @ b
                                            < -_TOL)
        keep &= ~separated
        identified = _independent(x[keep], cols)
        for j in cols:
            if j not in identified:
                bj = b[cols.index(j)]
                diverging[j] = 0 if abs(bj) < _TOL else int(np.sign(bj))
        cols = identified
    xr, yr = x[np.ix_(keep, np.array(cols, dtype=np.intp))], y[keep]
    model = sm.GLM(yr, xr, family=family)
    exact = False
    if (yr > 0).all():
        start = np.linalg.lstsq(xr, np.log(yr), rcond=None)[0]
        # statsmodels' own test for a perfect prediction, on the exact solution.
        exact = bool(np.allclose(np.exp(xr @ start) - yr, 0))
    # A saturated remainder (as many months as terms) divides by zero degrees of freedom
    # in the working regression's scale, which a Poisson fit does not use. numpy's error
    # state is a context variable (numpy >= 2.0): this touches no other thread.
    with np.errstate(divide="ignore", invalid="ignore"):
        if exact:
            # IRLS would flag the perfect prediction; Newton's method from the exact
            # solution confirms it and gives the same estimates, without the check.
            fit = model.fit(method="newton", start_params=start, warn_convergence=False)
        else:
            fit = model.fit()
    return PoissonFit(fit, tuple(cols), keep, collinear, diverging, int((~keep).sum()), exact)
