"""Impact of a response at a place, and whether harm moved next door.

The reference case: a restaurant turns its WiFi off, incidents there fall, and the young
people (and the ASB that follows them) move to the library. Two complementary views are
computed from monthly counts. The *weighted displacement quotient* (Bowers & Johnson
2003) compares the target, a buffer (displacement ring or nearby place) and a control
area before and after. An *interrupted time series* (segmented Poisson regression, or
negative binomial when the counts are overdispersed) estimates the immediate level
change and the change in monthly trend as rate ratios with confidence intervals.
`detect_displacement` combines both to flag nearby places whose rise coincides with the
target's drop. Every result carries plain-language `limits`.
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
    "AreaCounts", "DisplacementEvidence", "ItsResult", "RateRatio", "WdqResult",
    "detect_displacement", "interrupted_time_series", "weighted_displacement",
]

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MONTH_PRECISION = ("Incidents are dated to the month (police open data are monthly), so "
                   "the intervention month mixes days before and after the change.")


@dataclass(frozen=True)
class AreaCounts:
    """Incidents in one area before and after, with mean monthly rates."""

    count_before: int
    count_after: int
    months_before: int
    months_after: int

    @property
    def rate_before(self) -> float:
        """Mean incidents per month before."""
        return self.count_before / self.months_before

    @property
    def rate_after(self) -> float:
        """Mean incidents per month after."""
        return self.count_after / self.months_after

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {**asdict(self), "rate_before": self.rate_before, "rate_after": self.rate_after}


@dataclass(frozen=True)
class WdqResult:
    """Weighted displacement quotient and its parts (None where undefined)."""

    target: AreaCounts
    buffer: AreaCounts
    control: AreaCounts
    success_measure: float | None
    buffer_displacement_measure: float | None
    wdq: float | None
    total_net_effect: float | None
    band: str
    limits: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {"target": self.target.to_dict(), "buffer": self.buffer.to_dict(),
                "control": self.control.to_dict(), "success_measure": self.success_measure,
                "buffer_displacement_measure": self.buffer_displacement_measure,
                "wdq": self.wdq, "total_net_effect": self.total_net_effect,
                "band": self.band, "limits": list(self.limits)}


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


@dataclass(frozen=True)
class DisplacementEvidence:
    """Why a candidate place was, or was not, flagged as receiving displaced harm."""

    name: str
    flagged: bool
    target_level_change: RateRatio
    candidate_level_change: RateRatio
    wdq: WdqResult | None
    series: tuple[tuple[str, int], ...]
    limits: tuple[str, ...]
    #: Either time series (the target's or this candidate's) is unstable (ItsResult).
    unstable: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {"name": self.name, "flagged": self.flagged, "unstable": self.unstable,
                "target_level_change": self.target_level_change.to_dict(),
                "candidate_level_change": self.candidate_level_change.to_dict(),
                "wdq": None if self.wdq is None else self.wdq.to_dict(),
                "series": [list(p) for p in self.series], "limits": list(self.limits)}


def _month_index(label: str) -> int:
    match = _MONTH.match(label) if isinstance(label, str) else None
    if match is None:
        raise ValueError(f"month labels must look like 'YYYY-MM', got {label!r}")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def _series(counts: Mapping[str, int], what: str) -> tuple[list[str], np.ndarray]:
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


def _split(months: list[str], intervention_month: str, exclude: bool) -> tuple[np.ndarray, ...]:
    if intervention_month not in months:
        raise ValueError(f"intervention month {intervention_month!r} is not in the series")
    k = months.index(intervention_month)
    t = np.arange(len(months))
    keep = t != k if exclude else np.ones(len(months), dtype=bool)
    return t, (t < k) & keep, (t >= k) & keep


def _area(values: np.ndarray, before: np.ndarray, after: np.ndarray) -> AreaCounts:
    return AreaCounts(int(values[before].sum()), int(values[after].sum()),
                      int(before.sum()), int(after.sum()))


def _band(sm_: float, wdq: float) -> str:
    if sm_ > 0:
        return "no_success"  # harm rose at the target relative to control: do not read WDQ
    if math.isclose(wdq, 0.0, abs_tol=1e-12):
        return "no_displacement_or_diffusion"
    if wdq > 1:
        return "diffusion_greater_than_benefit"
    if wdq > 0:
        return "diffusion_of_benefits"
    if math.isclose(wdq, -1.0, abs_tol=1e-12):
        return "displacement_equals_benefit"
    return "displacement_less_than_benefit" if wdq > -1 else "displacement_greater_than_benefit"


def weighted_displacement(target: Mapping[str, int], buffer: Mapping[str, int],
                          control: Mapping[str, int], intervention_month: str, *,
                          exclude_intervention_month: bool = False) -> WdqResult:
    """Weighted displacement quotient of a response at a target area.

    Parameters
    ----------
    target, buffer, control : mapping of str to int
        Monthly counts keyed ``"YYYY-MM"``, the same consecutive months in each.
    intervention_month : str
        First month of the "after" period.
    exclude_intervention_month : bool, default False
        Leave the intervention month out of both periods.

    Returns
    -------
    WdqResult
        With A, B, C the target, buffer and control counts and 0, 1 before and after:
        ``SM = A1/C1 - A0/C0`` (negative when the target improved relative to control),
        ``BDM = B1/C1 - B0/C0``, ``WDQ = BDM / SM`` and the total net effect
        ``TNE = (A0 C1/C0 - A1) - (B1 - B0 C1/C0)`` (incidents prevented net of those
        displaced). `band`: ``diffusion_greater_than_benefit`` (WDQ > 1),
        ``diffusion_of_benefits`` (0 < WDQ <= 1), ``no_displacement_or_diffusion``
        (0), ``displacement_less_than_benefit`` (-1 < WDQ < 0),
        ``displacement_equals_benefit`` (-1), ``displacement_greater_than_benefit``
        (< -1); ``no_success`` when SM > 0 (WDQ given but not to be read),
        ``no_change_at_target`` when SM = 0 and ``control_empty`` when the control has no
        incidents in a period (both leave SM or WDQ undefined, None).

    References
    ----------
    Bowers, K. J. & Johnson, S. D. (2003). Measuring the geographical displacement and
    diffusion of benefit effects of crime prevention activity. *Journal of Quantitative
    Criminology* 19(3), 275-301.

    Examples
    --------
    >>> months = [f"2024-{m:02d}" for m in range(1, 7)]
    >>> a = dict(zip(months, [40, 40, 40, 20, 20, 20]))
    >>> b = dict(zip(months, [10, 10, 10, 20, 20, 20]))
    >>> c = dict.fromkeys(months, 100)
    >>> r = weighted_displacement(a, b, c, "2024-04")
    >>> round(r.success_measure, 3), round(r.buffer_displacement_measure, 3), round(r.wdq, 3)
    (-0.2, 0.1, -0.5)
    >>> r.band
    'displacement_less_than_benefit'
    """
    months, a = _series(target, "target")
    series = {"buffer": _series(buffer, "buffer"), "control": _series(control, "control")}
    for what, (m, _) in series.items():
        if m != months:
            raise ValueError(f"{what} must cover the same months as target")
    _, before, after = _split(months, intervention_month, exclude_intervention_month)
    if not before.any() or not after.any():
        raise ValueError("need at least one month before and one after the intervention")
    ta, tb, tc = (_area(v, before, after) for v in (a, series["buffer"][1], series["control"][1]))
    limits = [MONTH_PRECISION, "The WDQ compares totals and carries no measure of chance "
              "variation; read it with the time-series confidence intervals."]
    small = [n for n, x in (("target", ta), ("buffer", tb), ("control", tc))
             if min(x.count_before, x.count_after) < 10]
    if small:
        limits.append(f"Small numbers ({', '.join(small)}: fewer than 10 incidents in a "
                      "period): a few incidents more or less could change the band.")
    if tc.count_before == 0 or tc.count_after == 0:
        return WdqResult(ta, tb, tc, None, None, None, None, "control_empty", tuple(limits))
    c0, c1 = tc.count_before, tc.count_after
    sm_ = ta.count_after / c1 - ta.count_before / c0
    bdm = tb.count_after / c1 - tb.count_before / c0
    expected_a, expected_b = ta.count_before * c1 / c0, tb.count_before * c1 / c0
    tne = (expected_a - ta.count_after) - (tb.count_after - expected_b)
    if math.isclose(sm_, 0.0, abs_tol=1e-12):
        return WdqResult(ta, tb, tc, 0.0, bdm, None, tne, "no_change_at_target", tuple(limits))
    wdq = bdm / sm_
    return WdqResult(ta, tb, tc, sm_, bdm, wdq, tne, _band(sm_, wdq), tuple(limits))


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
    months, y_all = _series(series, "series")
    t, before, after = _split(months, intervention_month, exclude_intervention_month)
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


def detect_displacement(target_series: Mapping[str, int],
                        candidate_series_by_name: Mapping[str, Mapping[str, int]],
                        intervention_month: str, *, control: Mapping[str, int] | None = None,
                        seasonality: bool | None = None,
                        level: float = 0.95) -> tuple[DisplacementEvidence, ...]:
    """Flag nearby places whose rise coincides with the target's drop.

    Parameters
    ----------
    target_series : mapping of str to int
        Monthly counts at the place where the response happened.
    candidate_series_by_name : mapping of str to mapping
        Monthly counts at each nearby place (same months).
    intervention_month : str
    control : mapping of str to int, optional
        Control area for the WDQ; by default the sum of the *other* candidates.
    seasonality, level
        Passed to `interrupted_time_series`.

    Returns
    -------
    tuple of DisplacementEvidence
        One per candidate, in the order given.

    Notes
    -----
    A candidate is flagged when all hold: the target's level-change rate ratio has its
    upper confidence limit below 1 (a drop); the candidate's has its lower limit above
    1 (a rise at the same time); and, when a control exists, the WDQ with the candidate
    as buffer has SM < 0 and WDQ < 0. With a single candidate and no control the WDQ is
    skipped and a limit says so.

    Examples
    --------
    >>> months = [f"2024-{m:02d}" for m in range(1, 13)]
    >>> drop = dict(zip(months, [40] * 6 + [20] * 6))
    >>> rise = dict(zip(months, [10] * 6 + [30] * 6))
    >>> flat = dict.fromkeys(months, 25)
    >>> ev = detect_displacement(drop, {"Library": rise, "Park": flat, "Station": flat},
    ...                          "2024-07", seasonality=False)
    >>> [(e.name, e.flagged) for e in ev]
    [('Library', True), ('Park', False), ('Station', False)]
    """
    if not candidate_series_by_name:
        raise ValueError("need at least one candidate place")
    target_its = interrupted_time_series(target_series, intervention_month,
                                         seasonality=seasonality, level=level)
    months, _ = _series(target_series, "target")
    out = []
    for name, counts in candidate_series_by_name.items():
        cand_months, values = _series(counts, f"candidate {name!r}")
        if cand_months != months:
            raise ValueError(f"candidate {name!r} must cover the same months as the target")
        its = interrupted_time_series(counts, intervention_month, seasonality=seasonality,
                                      level=level)
        rest = control
        if rest is None and len(candidate_series_by_name) > 1:
            rest = {m: sum(int(s[m]) for n, s in candidate_series_by_name.items() if n != name)
                    for m in months}
        wdq = None if rest is None else weighted_displacement(target_series, counts, rest,
                                                              intervention_month)
        limits = list(its.limits)
        if wdq is None:
            limits.append("No control area: the flag rests on the time series alone.")
        wdq_ok = wdq is None or (wdq.wdq is not None and wdq.success_measure is not None
                                 and wdq.success_measure < 0 and wdq.wdq < 0)
        flagged = (target_its.level_change.ci_high < 1 and its.level_change.ci_low > 1
                   and wdq_ok)
        out.append(DisplacementEvidence(
            name, bool(flagged), target_its.level_change, its.level_change, wdq,
            tuple(zip(months, (int(v) for v in values), strict=True)), tuple(limits),
            unstable=target_its.unstable or its.unstable))
    return tuple(out)
