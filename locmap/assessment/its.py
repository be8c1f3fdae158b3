"""Interrupted time series: the change in a place's monthly incidents at an intervention.

Segmented Poisson regression (negative binomial when the counts are overdispersed) of
monthly counts around an intervention month, giving the immediate level change, the
change in monthly trend and the baseline trend as rate ratios with confidence intervals
(Bernal, Cummins & Gasparrini 2017). Degenerate data (a side of the date with no
incidents, month-of-year terms confounded with the change, counts fitted exactly) are
found in the data before fitting (`locmap.assessment._poisson`) and stated in `limits`.
`locmap.assessment.impact` builds the displacement checks on it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import statsmodels.api as sm
from scipy import stats

from locmap.assessment._poisson import PoissonFit, fit_glm

__all__ = [
    "MONTH_PRECISION", "ItsResult", "RateRatio", "consecutive_months",
    "interrupted_time_series", "split_months",
]

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MONTH_PRECISION = ("Incidents are dated to the month (police open data are monthly), so "
                   "the intervention month mixes days before and after the change.")


@dataclass(frozen=True)
class RateRatio:
    """A multiplicative effect with its confidence interval and p-value."""

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True)
class ItsResult:
    """Segmented regression of one monthly series."""

    model: str
    level_change: RateRatio
    slope_change: RateRatio
    baseline_trend: RateRatio
    dispersion_alpha: float
    dispersion_p_value: float
    seasonality: bool
    months_before: int
    months_after: int
    limits: tuple[str, ...]
    #: The level change, slope change or trend cannot be estimated (a side of the date
    #: with no incidents; see `limits`): found in the data, where a warning from the fit
    #: used to be the only sign.
    unstable: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        out = asdict(self)
        out["limits"] = list(self.limits)
        return out


def _month_index(label: str) -> int:
    match = _MONTH.match(label) if isinstance(label, str) else None
    if match is None:
        raise ValueError(f"month labels must look like 'YYYY-MM', got {label!r}")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def consecutive_months(counts: Mapping[str, int], what: str) -> tuple[list[str], np.ndarray]:
    """Sorted month labels and counts; months must be consecutive."""
    if not counts:
        raise ValueError(f"{what} has no months")
    months = sorted(counts, key=_month_index)
    index = [_month_index(m) for m in months]
    if index[-1] - index[0] + 1 != len(index):
        raise ValueError(f"{what} months must be consecutive with no gaps")
    values = [counts[m] for m in months]
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0 for v in values):
        raise ValueError(f"{what} counts must be non-negative integers")
    return months, np.array(values, dtype=np.int64)


def split_months(months: list[str], intervention_month: str,
                 exclude: bool) -> tuple[np.ndarray, ...]:
    """Month positions, and which are before and after the intervention (kept ones)."""
    if intervention_month not in months:
        raise ValueError(f"intervention month {intervention_month!r} is not in the series")
    k = months.index(intervention_month)
    t = np.arange(len(months))
    keep = t != k if exclude else np.ones(len(months), dtype=bool)
    return t, (t < k) & keep, (t >= k) & keep


def _overdispersion(y: np.ndarray, mu: np.ndarray) -> tuple[float, float]:
    """Cameron-Trivedi auxiliary regression: alpha estimate and one-sided p-value."""
    z = ((y - mu) ** 2 - y) / mu
    fit = sm.OLS(z, mu).fit()
    alpha, t_value = float(fit.params[0]), float(fit.tvalues[0])
    return alpha, float(stats.t.sf(t_value, fit.df_resid))


def _ratio(fit: PoissonFit, column: int, level: float) -> RateRatio:
    i = fit.coefficient(column)
    if i is None:  # not identified: the estimate runs off to 0 or infinity (or either)
        way = fit.diverging.get(column, 0)
        return RateRatio(0.0 if way < 0 else math.inf if way > 0 else math.nan, 0.0,
                         math.inf, math.nan)
    low, high = fit.fit.conf_int(alpha=1 - level)[i]
    with np.errstate(over="ignore"):  # a huge interval's upper end is inf, as it should be
        return RateRatio(float(np.exp(fit.fit.params[i])), float(np.exp(low)),
                         float(np.exp(high)), float(fit.fit.pvalues[i]))


_TERMS = {1: "baseline trend", 2: "level change", 3: "slope change"}


def _fit_limits(fit: PoissonFit, month_terms: int) -> list[str]:
    """Say what the model could not estimate, as found in the data (see _poisson)."""
    out = []
    lost = [_TERMS[j] for j in sorted(_TERMS) if fit.coefficient(j) is None]
    seasonal_out = sum(1 for j in (*fit.collinear, *fit.diverging) if j >= 4)
    if lost:
        out.append(f"Model warning: the {' and '.join(lost)} cannot be estimated: "
                   f"{fit.separated_rows} month(s) with no incidents are predicted exactly "
                   "only as the estimate runs off to zero or infinity (almost no incidents "
                   "on one side of the date); its interval is unbounded.")
    elif fit.separated_rows:
        out.append(f"Model warning: {fit.separated_rows} month(s) with no incidents are "
                   "fitted exactly by month-of-year terms that run off to zero; they are "
                   "left out of the fit.")
    if seasonal_out and month_terms > 0:
        out.append(f"Model warning: {seasonal_out} of {month_terms} month-of-year terms "
                   "cannot be told apart from the trend and the change with these months "
                   "(or have no incidents) and are left out.")
    if fit.exact:
        out.append("Model warning: the model reproduces these counts exactly (perfect "
                   "prediction): its intervals rest on very little variation.")
    return out


def interrupted_time_series(series: Mapping[str, int], intervention_month: str, *,
                            seasonality: bool | None = None, level: float = 0.95,
                            exclude_intervention_month: bool = False) -> ItsResult:
    """Segmented regression of monthly counts around an intervention.

    Parameters
    ----------
    series : mapping of str to int
        Monthly counts keyed ``"YYYY-MM"``, consecutive; at least 3 months each side.
    intervention_month : str
        First month of the "after" segment.
    seasonality : bool or None
        Add month-of-year terms; None (default) adds them when there are >= 24 months.
    level : float, default 0.95
        Confidence level of the intervals.
    exclude_intervention_month : bool, default False
        Leave the (mixed) intervention month out of the fit.

    Returns
    -------
    ItsResult
        `level_change` (immediate step), `slope_change` (change in month-on-month
        ratio) and `baseline_trend`, as rate ratios.

    Notes
    -----
    ``log E[y_t] = b0 + b1 t + b2 post_t + b3 (t - t0) post_t [+ month of year]``, fitted
    as a Poisson GLM (`statsmodels.api.GLM`). Overdispersion is tested with the
    Cameron-Trivedi (1990) auxiliary regression ``((y - mu)^2 - y) / mu = alpha mu``
    on the Poisson fit; when alpha > 0 at one-sided p < 0.05 the model is refitted as a
    negative binomial (NB2) GLM with that alpha. Degenerate cases are found in the data
    before fitting (`locmap.assessment._poisson`) and reported in `limits`, never raised:
    a segment with no incidents leaves the level change unidentified (estimate 0 or
    infinity, interval 0 to infinity, p-value NaN); month-of-year terms that cannot be
    told apart from the change are left out.

    References
    ----------
    Bernal, J. L., Cummins, S. & Gasparrini, A. (2017). Interrupted time series
    regression for the evaluation of public health interventions: a tutorial.
    *Int. J. Epidemiology* 46(1), 348-355.
    Cameron, A. C. & Trivedi, P. K. (1990). Regression-based tests for overdispersion in
    the Poisson model. *J. Econometrics* 46(3), 347-364.

    Examples
    --------
    >>> months = [f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13)]
    >>> counts = dict(zip(months, [30, 34, 29, 31, 33, 28, 32, 30, 31, 29, 33, 30,
    ...                            15, 17, 14, 16, 15, 14, 16, 15, 17, 14, 15, 16]))
    >>> r = interrupted_time_series(counts, "2024-01", seasonality=False)
    >>> r.model, round(r.level_change.estimate, 2)
    ('poisson', 0.5)
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    months, y_all = consecutive_months(series, "series")
    t, before, after = split_months(months, intervention_month, exclude_intervention_month)
    if before.sum() < 3 or after.sum() < 3:
        raise ValueError("need at least 3 months before and 3 after the intervention")
    k = months.index(intervention_month)
    seasonal = len(months) >= 24 if seasonality is None else seasonality
    columns = [np.ones(len(t)), t.astype(float), (t >= k).astype(float),
               np.where(t >= k, t - k, 0).astype(float)]
    if seasonal:
        moy = np.array([_month_index(m) % 12 for m in months])
        columns += [(moy == j).astype(float) for j in range(1, 12) if (moy == j).any()]
    keep = before | after
    x, y = np.column_stack(columns)[keep], y_all[keep]
    if len(y) <= x.shape[1] + 1:
        raise ValueError(f"{len(y)} months are too few for {x.shape[1]} model terms")
    pois = fit_glm(y, x)
    yf = y[pois.rows].astype(float)
    with np.errstate(divide="ignore", over="ignore"):  # per thread: a context variable
        alpha, p_disp = _overdispersion(yf, pois.fit.mu)
    model, fit = "poisson", pois
    if alpha > 0 and p_disp < 0.05:
        model = "negative_binomial"
        fit = fit_glm(y, x, sm.families.NegativeBinomial(alpha=alpha), like=pois)
    level_rr, slope_rr, trend_rr = (_ratio(fit, i, level) for i in (2, 3, 1))
    limits = [MONTH_PRECISION, *_fit_limits(pois, len(columns) - 4)]
    n0, n1 = int(before.sum()), int(after.sum())
    if min(n0, n1) < 12:
        limits.append(f"Short series ({n0} months before, {n1} after; at least 12 each side "
                      "is advised): trends are poorly pinned down.")
    if seasonal:
        limits.append("Month-of-year seasonality is modelled.")
    else:
        limits.append("Seasonality is not modelled (fewer than 24 months or switched off): a "
                      "change that coincides with school holidays or darker evenings may be "
                      "seasonal.")
    if y[before[keep]].mean() < 5 or y[after[keep]].mean() < 5:
        limits.append("Small numbers (fewer than 5 incidents a month on average in a "
                      "segment): intervals are wide and single incidents matter.")
    return ItsResult(model, level_rr, slope_rr, trend_rr, alpha, p_disp, seasonal, n0, n1,
                     tuple(limits),
                     unstable=any(pois.coefficient(j) is None for j in _TERMS))
