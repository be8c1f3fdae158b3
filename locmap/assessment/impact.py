"""Impact of a response at a place, and whether harm moved next door.

The reference case: a restaurant turns its WiFi off, incidents there fall, and the young
people (and the ASB that follows them) move to the library. Two complementary views are
computed from monthly counts. The *weighted displacement quotient* (Bowers & Johnson
2003) compares the target, a buffer (displacement ring or nearby place) and a control
area before and after. An *interrupted time series* (segmented Poisson regression, or
negative binomial when the counts are overdispersed) estimates the immediate level
change and the change in monthly trend as rate ratios with confidence intervals.
`detect_displacement` combines both to flag nearby places whose rise coincides with the
target's drop. Every result carries plain-language `limits`. The time series itself lives
in `locmap.assessment.its` and is re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from locmap.assessment.its import (
    MONTH_PRECISION,
    ItsResult,
    RateRatio,
    consecutive_months,
    interrupted_time_series,
    split_months,
)

__all__ = [
    "AreaCounts", "DisplacementEvidence", "ItsResult", "RateRatio", "WdqResult",
    "detect_displacement", "interrupted_time_series", "weighted_displacement",
]

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
    months, a = consecutive_months(target, "target")
    series = {"buffer": consecutive_months(buffer, "buffer"),
              "control": consecutive_months(control, "control")}
    for what, (m, _) in series.items():
        if m != months:
            raise ValueError(f"{what} must cover the same months as target")
    _, before, after = split_months(months, intervention_month, exclude_intervention_month)
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
    months, _ = consecutive_months(target_series, "target")
    out = []
    for name, counts in candidate_series_by_name.items():
        cand_months, values = consecutive_months(counts, f"candidate {name!r}")
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
