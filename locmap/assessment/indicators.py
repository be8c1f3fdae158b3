"""Incident indicators of a place: rates, place-vs-surroundings, time profile, trend.

The queries layer tells each incident which area it fell in (the place, the ring
around it, or the rest of the locality) and passes plain records plus the
observation window and the area sizes. This module turns them into the numbers
an assessment quotes: counts and rates, the rate ratio of the place against its
surroundings with an exact conditional-binomial (Clopper-Pearson) interval,
overall and by harm category and severity; a 24 x 7 hour-by-weekday profile in
Europe/London local time from exact-time incidents only; and a monthly series
with a Poisson-GLM trend and the change against the previous period.
Timestamps arrive in UTC and are converted with ``zoneinfo`` so that a 23:30
BST fight lands at 23:00 local, not 22:00, and on the right calendar day.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from functools import partial
from typing import Any

import numpy as np
import statsmodels.api as sm
from scipy import special

from locmap.clock import LOCAL_TZ, LOCAL_TZ_NAME

__all__ = [
    "LONDON",
    "AreaRate",
    "Exposure",
    "Incident",
    "MonthlySeries",
    "PlaceIndicators",
    "RateGroup",
    "RateRatio",
    "TimeProfile",
    "monthly_series",
    "place_indicators",
    "place_indicators_from_counts",
    "binomtest_p_value",
    "rate_ratio",
    "time_profile",
]

LONDON = LOCAL_TZ
PRECISIONS = ("exact", "day", "month")
AREAS = ("place", "ring", "locality")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_INCIDENT_FIELDS = ("occurred_at", "precision", "category", "severity", "area")


@dataclass(frozen=True)
class Incident:
    """One incident as the queries layer delivers it.

    ``area`` is the innermost area it fell in: ``"place"``, ``"ring"`` (around
    the place, outside it) or ``"locality"`` (the rest of the locality).
    ``occurred_at`` is timezone-aware UTC; ``precision`` says how much of it is
    known (police open data is monthly).
    """

    occurred_at: datetime
    precision: str
    category: str
    severity: int
    area: str


@dataclass(frozen=True)
class Exposure:
    """Observation window (whole calendar months, local time) and area sizes.

    ``locality_km2`` is the whole locality, place and ring included; the rest of
    the locality is ``locality_km2 - place_km2 - ring_km2``.
    """

    first_month: date
    last_month: date
    place_km2: float
    ring_km2: float
    locality_km2: float

    @property
    def months(self) -> int:
        """Number of calendar months observed, both ends included."""
        return _month_index(self.last_month) - _month_index(self.first_month) + 1

    def km2(self, area: str) -> float:
        """Area in km2 of ``"place"``, ``"ring"`` or ``"locality"`` (the rest)."""
        if area == "locality":
            return self.locality_km2 - self.place_km2 - self.ring_km2
        return self.place_km2 if area == "place" else self.ring_km2


@dataclass(frozen=True)
class AreaRate:
    """Count and rates in one area over the window."""

    area: str
    count: int
    per_month: float
    per_km2: float
    per_km2_per_month: float


@dataclass(frozen=True)
class RateRatio:
    """Rate ratio of two areas with an exact conditional interval.

    ``ratio``/``ci_high`` are None when undefined or infinite (no events in the
    comparison area); ``p_value`` tests ratio = 1 (two-sided, exact binomial).
    """

    count_a: int
    exposure_a: float
    count_b: int
    exposure_b: float
    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    confidence: float
    method: str = "conditional binomial, Clopper-Pearson"


@dataclass(frozen=True)
class RateGroup:
    """Rates of one group of incidents (all, a harm category or a severity)."""

    group: str
    value: str
    rates: tuple[AreaRate, ...]
    place_vs_ring: RateRatio
    place_vs_rest_of_locality: RateRatio


@dataclass(frozen=True)
class TimeProfile:
    """Hour x weekday counts (local time) from exact-time incidents only.

    ``matrix[h][d]`` counts hour ``h`` (0-23) on weekday ``d`` (0 = Monday).
    ``weekday_incl_day_precision`` adds day-precision incidents to the weekday
    margin, since their date is known. ``share_excluded`` is the share of
    incidents left out of the matrix because only their day or month is known.
    """

    matrix: tuple[tuple[int, ...], ...]
    weekday_incl_day_precision: tuple[int, ...]
    n_exact: int
    n_day: int
    n_month: int
    share_excluded: float | None
    timezone: str = LOCAL_TZ_NAME


@dataclass(frozen=True)
class MonthlySeries:
    """Incidents per local calendar month, with a trend and the recent change.

    ``trend_per_year`` is the rate change per year (0.10 = +10 %/year) from a
    Poisson GLM with its 95 % interval (None with under 3 months or no events);
    ``dispersion`` is the Pearson chi2/df used to widen the interval when > 1.
    ``recent_vs_previous`` compares the last ``comparison_months`` months with
    the same number before them.
    """

    months: tuple[str, ...]
    counts: tuple[int, ...]
    trend_per_year: float | None
    trend_ci_low: float | None
    trend_ci_high: float | None
    trend_p_value: float | None
    dispersion: float | None
    comparison_months: int
    recent_vs_previous: RateRatio | None


@dataclass(frozen=True)
class PlaceIndicators:
    """Everything the assessment quotes about incidents at one place."""

    first_month: str
    last_month: str
    months: int
    overall: RateGroup
    by_category: tuple[RateGroup, ...]
    by_severity: tuple[RateGroup, ...]
    time_profile: TimeProfile
    monthly: MonthlySeries

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data (infinite or undefined numbers are None)."""
        return asdict(self)


def rate_ratio(
    count_a: int, exposure_a: float, count_b: int, exposure_b: float, confidence: float = 0.95
) -> RateRatio:
    """Ratio of two Poisson rates with an exact conditional interval.

    Parameters
    ----------
    count_a, count_b : int
        Event counts.
    exposure_a, exposure_b : float
        Exposures (e.g. km2 x months), positive.
    confidence : float
        Confidence level of the interval.

    Returns
    -------
    RateRatio

    Examples
    --------
    >>> rr = rate_ratio(20, 1.0, 10, 2.0)
    >>> rr.ratio, round(rr.ci_low, 3), round(rr.ci_high, 3)
    (4.0, 1.787, 9.569)

    Notes
    -----
    Given ``n = a + b``, ``a ~ Binomial(n, pi)`` with
    ``pi = RR e_a / (RR e_a + e_b)``; the Clopper-Pearson interval for pi maps
    to ``RR = pi / (1 - pi) * e_b / e_a``. The interval is exact (coverage at
    least nominal) and conservative for small counts.

    References
    ----------
    Clopper, C.J. & Pearson, E.S. (1934) Biometrika 26, 404-413.
    Armitage, Berry & Matthews (2002) Statistical Methods in Medical Research,
    4th ed., sec. 5.3. Agrees with ``scipy.stats.binomtest(a, n, e_a/(e_a+e_b))``
    and its ``proportion_ci(method="exact")``; R ``poisson.test(c(a, b), c(e_a, e_b))``.
    """
    for name, c in (("count_a", count_a), ("count_b", count_b)):
        if isinstance(c, bool) or not isinstance(c, int | np.integer) or c < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {c!r}")
    for name, e in (("exposure_a", exposure_a), ("exposure_b", exposure_b)):
        if not (isinstance(e, int | float) and math.isfinite(e) and e > 0):
            raise ValueError(f"{name} must be a positive finite number, got {e!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    a, b = int(count_a), int(count_b)
    n = a + b
    if n == 0:
        return RateRatio(a, exposure_a, b, exposure_b, None, None, None, None, confidence)
    scale = exposure_b / exposure_a
    p_value = binomtest_p_value(a, n, exposure_a / (exposure_a + exposure_b))
    # Clopper-Pearson bounds as beta quantiles: the roots proportion_ci(method="exact")
    # finds with brentq (to its tolerance), about 20 times faster; an assessment computes
    # some two dozen of these intervals.
    tail = (1.0 - confidence) / 2.0
    ci_lo = 0.0 if a == 0 else float(special.betaincinv(a, n - a + 1, tail))
    ci_hi = 1.0 if a == n else float(special.betaincinv(a + 1, n - a, 1.0 - tail))

    def to_ratio(pi: float) -> float | None:
        return None if pi >= 1.0 else pi / (1.0 - pi) * scale

    return RateRatio(
        a, exposure_a, b, exposure_b,
        ratio=None if b == 0 else (a / exposure_a) / (b / exposure_b),
        ci_low=to_ratio(ci_lo),
        ci_high=to_ratio(ci_hi),
        p_value=p_value,
        confidence=confidence,
    )


def _binom_pmf(x: int, n: int, p: float) -> float:
    # C(n, x) = 1 / ((n + 1) B(n - x + 1, x + 1)); betaln keeps the log small and exact
    # where differences of lgamma(n + 1) lose digits for a county's n.
    return math.exp(-math.log(n + 1) - float(special.betaln(n - x + 1, x + 1))
                    + x * math.log(p) + (n - x) * math.log1p(-p))


def _search(pmf: Callable[[int], float], d: float, lo: int, hi: int) -> int:
    """The index i in [lo, hi] with pmf(i) <= d < pmf(i + 1) (pmf ascending there)."""
    while lo < hi:
        mid = lo + (hi - lo) // 2
        value = pmf(mid)
        if value < d:
            lo = mid + 1
        elif value > d:
            hi = mid - 1
        else:
            return mid
    return lo if pmf(lo) <= d else lo - 1


def binomtest_p_value(k: int, n: int, p: float) -> float:
    """Two-sided exact binomial test of ``k`` successes in ``n`` trials with ``0 < p < 1``.

    The p-value ``scipy.stats.binomtest(k, n, p).pvalue`` gives — the same rule (the
    probability of outcomes no more likely than ``k``, with scipy's 1e-7 relative
    tolerance, found by the same binary search on the far side of the mode) — computed
    with scipy's ``betaln``, ``betainc`` and ``betaincc`` ufuncs instead of
    ``scipy.stats.binom``, whose argument checks cost ~20 us a call: the search calls
    the pmf some 20 times for a county's counts, and an assessment runs two dozen
    tests. Agrees with scipy to about 1e-9 relative (tests).

    Examples
    --------
    >>> from scipy import stats
    >>> p = binomtest_p_value(30, 45, 0.4)
    >>> bool(abs(p - stats.binomtest(30, 45, 0.4).pvalue) < 1e-12 * p)
    True
    """
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p!r}")

    def pmf(x: int) -> float:
        return _binom_pmf(x, n, p)

    # P(X <= x) and P(X > x) as regularised incomplete beta functions of p itself (not of
    # 1 - p, which loses digits when p is small), as scipy.stats.binom computes them.
    def cdf(x: int) -> float:
        return 0.0 if x < 0 else 1.0 if x >= n else float(special.betaincc(x + 1, n - x, p))

    def sf(x: int) -> float:
        return 1.0 if x < 0 else 0.0 if x >= n else float(special.betainc(x + 1, n - x, p))

    d = pmf(k)
    rerr = 1 + 1e-7
    if k == p * n:
        return 1.0
    if k < p * n:
        ix = _search(lambda x: -pmf(x), -d * rerr, math.ceil(p * n), n)
        y = n - ix + int(d * rerr == pmf(ix))
        pval = cdf(k) + sf(n - y)
    else:
        ix = _search(pmf, d * rerr, 0, math.floor(p * n))
        y = ix + 1
        pval = cdf(y - 1) + sf(k - 1)
    return min(1.0, pval)


def time_profile(incidents: Iterable[Incident | Mapping[str, Any]]) -> TimeProfile:
    """Hour-of-day x day-of-week counts in Europe/London local time.

    Parameters
    ----------
    incidents : iterable of Incident or mappings with the same keys

    Returns
    -------
    TimeProfile

    Examples
    --------
    >>> from datetime import UTC
    >>> summer = Incident(datetime(2024, 7, 5, 22, 30, tzinfo=UTC), "exact", "asb", 2, "place")
    >>> p = time_profile([summer])
    >>> p.matrix[23][4], p.n_exact   # 22:30 UTC is 23:30 BST on a Friday
    (1, 1)

    Notes
    -----
    Only exact-time incidents enter the matrix; a day- or month-precision
    record stored at midnight would otherwise pile up in a false 00:00 peak.
    """
    recs = [_as_incident(r) for r in incidents]
    matrix = np.zeros((24, 7), dtype=int)
    weekday = np.zeros(7, dtype=int)
    n = {"exact": 0, "day": 0, "month": 0}
    for r in recs:
        n[r.precision] += 1
        local = r.occurred_at.astimezone(LONDON)
        if r.precision == "exact":
            matrix[local.hour, local.weekday()] += 1
        if r.precision in ("exact", "day"):
            weekday[local.weekday()] += 1
    total = len(recs)
    return TimeProfile(
        matrix=tuple(tuple(int(v) for v in row) for row in matrix),
        weekday_incl_day_precision=tuple(int(v) for v in weekday),
        n_exact=n["exact"],
        n_day=n["day"],
        n_month=n["month"],
        share_excluded=None if total == 0 else (n["day"] + n["month"]) / total,
    )


def monthly_series(
    incidents: Iterable[Incident | Mapping[str, Any]],
    first_month: date,
    last_month: date,
    *,
    comparison_months: int = 3,
) -> MonthlySeries:
    """Counts per local calendar month with a Poisson trend and recent change.

    Parameters
    ----------
    incidents : iterable of Incident or mappings
        All must fall within the window (local time).
    first_month, last_month : date
        Window, whole months (the day is ignored).
    comparison_months : int
        Length of the recent period compared with the one before (3 = a
        pilot's review interval).

    Returns
    -------
    MonthlySeries

    Examples
    --------
    >>> from datetime import UTC
    >>> recs = [Incident(datetime(2024, m, 10, tzinfo=UTC), "day", "asb", 1, "place")
    ...         for m in (1, 2, 2, 3, 3, 3)]
    >>> s = monthly_series(recs, date(2024, 1, 1), date(2024, 3, 1), comparison_months=1)
    >>> s.months, s.counts
    (('2024-01', '2024-02', '2024-03'), (1, 2, 3))

    Notes
    -----
    Trend: ``log E[count_m] = b0 + b1 * t_m`` with t in years, fitted by
    ``statsmodels.GLM(..., family=Poisson())``; the rate changes by
    ``exp(b1) - 1`` per year. When the Pearson dispersion exceeds 1 the
    standard errors are scaled by it (quasi-Poisson) so that overdispersed
    months do not give falsely narrow intervals. Calendar months are treated
    as equal exposure.

    References
    ----------
    McCullagh, P. & Nelder, J.A. (1989) Generalized Linear Models, 2nd ed.,
    ch. 6 (Poisson log-linear models, quasi-likelihood scale).
    """
    if not isinstance(comparison_months, int) or comparison_months < 1:
        raise ValueError(f"comparison_months must be a positive int, got {comparison_months!r}")
    start, end = _month_index(first_month), _month_index(last_month)
    if end < start:
        raise ValueError("last_month is before first_month")
    counts = np.zeros(end - start + 1, dtype=int)
    for r in (_as_incident(x) for x in incidents):
        local = r.occurred_at.astimezone(LONDON)
        k = local.year * 12 + local.month - 1 - start
        if not 0 <= k < counts.size:
            raise ValueError(f"incident at {r.occurred_at.isoformat()} is outside the window")
        counts[k] += 1
    months = tuple(f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(start, end + 1))
    trend = _poisson_trend(counts)
    recent = None
    if counts.size >= 2 * comparison_months:
        k = comparison_months
        recent = rate_ratio(
            int(counts[-k:].sum()), float(k), int(counts[-2 * k : -k].sum()), float(k)
        )
    return MonthlySeries(months, tuple(int(c) for c in counts), *trend, comparison_months, recent)


def place_indicators(
    incidents: Sequence[Incident | Mapping[str, Any]],
    exposure: Exposure,
    *,
    comparison_months: int = 3,
    confidence: float = 0.95,
) -> PlaceIndicators:
    """All incident indicators of one place against its surroundings.

    Parameters
    ----------
    incidents : sequence of Incident or mappings
        Incidents in the place, its ring and the rest of the locality.
    exposure : Exposure
        Window and area sizes (km2).
    comparison_months : int
        Recent period for ``monthly.recent_vs_previous``.
    confidence : float
        Level of the rate-ratio intervals.

    Returns
    -------
    PlaceIndicators
        Rates and ratios overall, by category and by severity (1-5, all
        listed); profile and monthly series of the place's incidents.

    Examples
    --------
    >>> from datetime import UTC
    >>> t = datetime(2024, 3, 1, 16, tzinfo=UTC)
    >>> recs = [Incident(t, "exact", "asb", 2, a) for a in ["place"] * 8 + ["ring"] * 4]
    >>> ind = place_indicators(recs, Exposure(date(2024, 1, 1), date(2024, 6, 1), 0.5, 1.0, 10.0))
    >>> ind.overall.place_vs_ring.ratio, ind.overall.rates[0].per_km2_per_month
    (4.0, 2.6666666666666665)

    Notes
    -----
    "Surroundings" is the ring (the primary comparison: same streets, same
    policing) and, second, the rest of the locality. Place and ring share the
    window, so the ratio is of incidents per km2.

    References
    ----------
    See :func:`rate_ratio`, :func:`time_profile`, :func:`monthly_series`.
    """
    _check_exposure(exposure)
    recs = [_as_incident(r) for r in incidents]
    counts = Counter((r.area, r.category, r.severity) for r in recs)
    at_place = [r for r in recs if r.area == "place"]
    return _indicators(counts, at_place, exposure, comparison_months, confidence)


def place_indicators_from_counts(
    at_place: Sequence[Incident | Mapping[str, Any]],
    ring: Mapping[tuple[str, int], int],
    rest_of_locality: Mapping[tuple[str, int], int],
    exposure: Exposure,
    *,
    comparison_months: int = 3,
    confidence: float = 0.95,
) -> PlaceIndicators:
    """:func:`place_indicators` from the place's incidents and the other areas' counts.

    Parameters
    ----------
    at_place : sequence of Incident or mappings
        Incidents at the place (``area`` "place").
    ring, rest_of_locality : mapping of (category, severity) to int
        Number of incidents in the ring and in the rest of the locality per harm
        category and severity; zero counts may be left out.
    exposure : Exposure
        Window and area sizes (km2).
    comparison_months, confidence
        As for :func:`place_indicators`.

    Returns
    -------
    PlaceIndicators
        The same numbers :func:`place_indicators` gives for ``at_place`` plus one
        ``"ring"`` or ``"locality"`` record per incident counted.

    Examples
    --------
    >>> from datetime import UTC
    >>> t = datetime(2024, 3, 1, 16, tzinfo=UTC)
    >>> at_place = [Incident(t, "exact", "asb", 2, "place")] * 8
    >>> exp = Exposure(date(2024, 1, 1), date(2024, 6, 1), 0.5, 1.0, 10.0)
    >>> ind = place_indicators_from_counts(at_place, {("asb", 2): 4}, {("asb", 2): 17}, exp)
    >>> ind.overall.place_vs_ring.ratio, ind.overall.place_vs_rest_of_locality.count_b
    (4.0, 17)

    Notes
    -----
    Only the place's own incidents need their times (for the time profile and the
    monthly series); the ring and a county-sized rest of the locality need only counts
    per category and severity, which the queries layer counts with ``GROUP BY``.
    """
    _check_exposure(exposure)
    recs = [_as_incident(r) for r in at_place]
    for r in recs:
        if r.area != "place":
            raise ValueError("at_place incidents must be at the place; count the ring and the "
                             "rest of the locality in ring and rest_of_locality")
    counts = Counter((r.area, r.category, r.severity) for r in recs)
    for area, given in (("ring", ring), ("locality", rest_of_locality)):
        for key, n in given.items():
            if not (isinstance(key, tuple) and len(key) == 2):
                raise ValueError(f"{area} count keys must be (category, severity), got {key!r}")
            category, severity = key
            if not isinstance(category, str) or not category:
                raise ValueError(f"category must be a non-empty string, got {category!r}")
            if (isinstance(severity, bool) or not isinstance(severity, int)
                    or not 1 <= severity <= 5):
                raise ValueError(f"severity must be an int from 1 to 5, got {severity!r}")
            if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
                raise ValueError(f"count of {key!r} must be a non-negative integer, got {n!r}")
            if n:
                counts[area, category, severity] += int(n)
    return _indicators(counts, recs, exposure, comparison_months, confidence)


def _indicators(
    counts: Counter[tuple[str, str, int]],
    at_place: list[Incident],
    exposure: Exposure,
    comparison_months: int,
    confidence: float,
) -> PlaceIndicators:
    """Both entry points end here, so records and counts give the same numbers."""
    categories = sorted({c for (_, c, _), n in counts.items() if n})

    def group(name: str, value: str, keep: Callable[[tuple[str, str, int]], bool]) -> RateGroup:
        by_area = dict.fromkeys(AREAS, 0)
        for key, n in counts.items():
            if keep(key):
                by_area[key[0]] += n
        return _rate_group(name, value, by_area, exposure, confidence)

    return PlaceIndicators(
        first_month=exposure.first_month.strftime("%Y-%m"),
        last_month=exposure.last_month.strftime("%Y-%m"),
        months=exposure.months,
        overall=group("all", "all", lambda k: True),
        by_category=tuple(
            group("category", c, partial(_has, 1, c)) for c in categories
        ),
        by_severity=tuple(
            group("severity", str(v), partial(_has, 2, v)) for v in range(1, 6)
        ),
        time_profile=time_profile(at_place),
        monthly=monthly_series(
            at_place, exposure.first_month, exposure.last_month, comparison_months=comparison_months
        ),
    )


def _has(position: int, value: object, key: tuple[str, str, int]) -> bool:
    return key[position] == value


def _rate_group(
    name: str, value: str, counts: Mapping[str, int], exposure: Exposure, confidence: float
) -> RateGroup:
    months = exposure.months
    rates = tuple(
        AreaRate(a, counts[a], counts[a] / months, counts[a] / exposure.km2(a),
                 counts[a] / exposure.km2(a) / months)
        for a in AREAS
    )
    return RateGroup(
        name, value, rates,
        rate_ratio(
            counts["place"], exposure.km2("place"), counts["ring"], exposure.km2("ring"), confidence
        ),
        rate_ratio(counts["place"], exposure.km2("place"), counts["locality"],
                   exposure.km2("locality"), confidence),
    )


def _poisson_trend(
    counts: np.ndarray,
) -> tuple[float | None, float | None, float | None, float | None, float | None]:
    nonzero = np.flatnonzero(counts)
    # No events, or all of them in the first or in the last month: the
    # maximum-likelihood slope is infinite, so there is no trend to report.
    if counts.size < 3 or nonzero.size == 0 or nonzero[0] == nonzero[-1] in (0, counts.size - 1):
        return None, None, None, None, None
    t = np.arange(counts.size) / 12.0
    model = sm.GLM(counts, sm.add_constant(t), family=sm.families.Poisson())
    if nonzero.size == counts.size and np.array_equal(counts[1:-1] ** 2, counts[:-2] * counts[2:]):
        # Counts that change by one constant ratio a month (flat counts above all) are
        # fitted exactly: a perfect fit for a Poisson rate. statsmodels' IRLS flags any
        # fitted == observed as "perfect prediction" (a warning that only the
        # process-wide warnings filters could silence), so such a fit starts at the
        # exact solution and is confirmed by Newton's method, which has no such check.
        # The genuinely unidentified cases were returned above.
        start = [math.log(counts[0]), 12 * math.log(counts[1] / counts[0])]
        fit = model.fit(method="newton", start_params=start)
        dispersion = float(fit.pearson_chi2 / fit.df_resid)  # ~0: no refit needed
    else:
        fit = model.fit()
        dispersion = float(fit.pearson_chi2 / fit.df_resid)
        if dispersion > 1.0:
            fit = model.fit(scale="X2")
    low, high = fit.conf_int(alpha=0.05)[1]
    return (
        math.expm1(fit.params[1]), math.expm1(low), math.expm1(high),
        float(fit.pvalues[1]), dispersion,
    )


def _month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def _check_exposure(e: Exposure) -> None:
    if not isinstance(e, Exposure):
        raise ValueError(f"exposure must be an Exposure, got {type(e).__name__}")
    if _month_index(e.last_month) < _month_index(e.first_month):
        raise ValueError("exposure.last_month is before exposure.first_month")
    for name in ("place_km2", "ring_km2", "locality_km2"):
        v = getattr(e, name)
        if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
            raise ValueError(f"exposure.{name} must be positive, got {v!r}")
    if e.km2("locality") <= 0:
        raise ValueError("exposure.locality_km2 must exceed place_km2 + ring_km2")


def _as_incident(r: Incident | Mapping[str, Any]) -> Incident:
    if isinstance(r, Mapping):
        try:
            r = Incident(**{k: r[k] for k in _INCIDENT_FIELDS})
        except KeyError as exc:
            raise ValueError(f"incident record lacks {exc.args[0]!r}") from None
    if not isinstance(r, Incident):
        raise ValueError(f"expected an Incident or a mapping, got {type(r).__name__}")
    if not isinstance(r.occurred_at, datetime) or r.occurred_at.utcoffset() is None:
        raise ValueError(f"occurred_at must be a timezone-aware datetime, got {r.occurred_at!r}")
    if r.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {r.precision!r}")
    if r.area not in AREAS:
        raise ValueError(f"area must be one of {AREAS}, got {r.area!r}")
    if isinstance(r.severity, bool) or not isinstance(r.severity, int) or not 1 <= r.severity <= 5:
        raise ValueError(f"severity must be an int from 1 to 5, got {r.severity!r}")
    if not isinstance(r.category, str) or not r.category:
        raise ValueError(f"category must be a non-empty string, got {r.category!r}")
    return r
