"""Place indicators: exact rate-ratio intervals, local-time profile, monthly trend."""

import json
from datetime import UTC, date, datetime

import numpy as np
import pytest
from scipy import stats

from locmap.assessment.indicators import (
    Exposure,
    Incident,
    binomtest_p_value,
    monthly_series,
    place_indicators,
    rate_ratio,
    time_profile,
)

T0 = datetime(2024, 1, 10, 12, tzinfo=UTC)
EXPOSURE = Exposure(
    date(2024, 1, 1), date(2024, 12, 1), place_km2=0.2, ring_km2=1.0, locality_km2=6.2
)
BASE = {"occurred_at": T0, "precision": "exact", "category": "asb", "severity": 3, "area": "place"}


def _inc(area="place", when=T0, precision="exact", category="asb", severity=2):
    return Incident(when, precision, category, severity, area)


def test_rate_ratio_equals_binomial_construction():
    rr = rate_ratio(30, 2.0, 15, 3.0)
    assert rr.ratio == pytest.approx((30 / 2) / (15 / 3))
    ci = stats.binomtest(30, 45).proportion_ci(method="exact")
    assert rr.ci_low == pytest.approx(ci.low / (1 - ci.low) * 1.5)
    assert rr.ci_high == pytest.approx(ci.high / (1 - ci.high) * 1.5)
    assert rr.p_value == pytest.approx(stats.binomtest(30, 45, 0.4).pvalue)


def test_rate_ratio_equal_rates_is_symmetric_on_log_scale():
    rr = rate_ratio(12, 1.0, 12, 1.0)
    assert rr.ratio == 1.0 and rr.p_value == pytest.approx(1.0)
    assert rr.ci_low * rr.ci_high == pytest.approx(1.0)


def test_rate_ratio_edge_counts():
    none = rate_ratio(0, 1.0, 0, 1.0)
    assert none.ratio is None and none.ci_low is None and none.p_value is None
    zero_a = rate_ratio(0, 1.0, 5, 1.0)
    assert zero_a.ratio == 0.0 and zero_a.ci_low == 0.0 and zero_a.ci_high > 0
    zero_b = rate_ratio(5, 1.0, 0, 1.0)
    assert zero_b.ratio is None and zero_b.ci_high is None and zero_b.ci_low > 0


def test_rate_ratio_interval_covers_true_ratio_at_least_nominally():
    rng = np.random.default_rng(0)
    true_rr, e_a, e_b = 2.5, 0.3, 1.5  # small place, larger ring
    hits = 0
    n = 2000
    for _ in range(n):
        a = int(rng.poisson(4.0 * true_rr * e_a))
        b = int(rng.poisson(4.0 * e_b))
        rr = rate_ratio(a, e_a, b, e_b)
        hi = np.inf if rr.ci_high is None else rr.ci_high
        lo = 0.0 if rr.ci_low is None else rr.ci_low
        hits += lo <= true_rr <= hi
    # exact intervals are conservative: coverage >= 95 % up to MC error (sd ~0.5 %)
    assert hits / n >= 0.935


def test_time_profile_uses_london_local_time_across_dst():
    winter = datetime(2024, 1, 15, 18, 30, tzinfo=UTC)  # Monday 18:30 GMT
    summer = datetime(2024, 7, 15, 18, 30, tzinfo=UTC)  # Monday 19:30 BST
    late = datetime(2024, 7, 14, 23, 30, tzinfo=UTC)  # Monday 00:30 BST (Sunday in UTC)
    p = time_profile([_inc(when=winter), _inc(when=summer), _inc(when=late)])
    m = np.array(p.matrix)
    assert m.shape == (24, 7) and m.sum() == 3
    assert m[18, 0] == 1 and m[19, 0] == 1 and m[0, 0] == 1
    assert m[:, 6].sum() == 0


def test_time_profile_excludes_coarse_precision_and_states_share():
    recs = [_inc()] * 3 + [_inc(precision="day")] * 2 + [_inc(precision="month")] * 5
    p = time_profile(recs)
    assert np.array(p.matrix).sum() == 3
    assert (p.n_exact, p.n_day, p.n_month) == (3, 2, 5)
    assert p.share_excluded == pytest.approx(0.7)
    assert sum(p.weekday_incl_day_precision) == 5
    assert time_profile([]).share_excluded is None


def test_monthly_series_recovers_planted_trend():
    # Rate doubles over the year: exp(b1) = 2 per year, large counts so CI is tight.
    rng = np.random.default_rng(3)
    recs = []
    for m in range(24):
        mean = 200.0 * 2.0 ** (m / 12)
        for _ in range(rng.poisson(mean)):
            recs.append(_inc(when=datetime(2023 + m // 12, m % 12 + 1, 15, tzinfo=UTC)))
    s = monthly_series(recs, date(2023, 1, 1), date(2024, 12, 1))
    assert len(s.counts) == 24 and sum(s.counts) == len(recs)
    assert s.trend_ci_low < 1.0 < s.trend_ci_high
    assert s.trend_per_year == pytest.approx(1.0, abs=0.12)  # se ~0.034
    assert s.trend_p_value < 1e-10
    # recent 3 months vs the 3 before: ratio 2 ** (3/12)
    assert s.recent_vs_previous.ci_low < 2 ** 0.25 < s.recent_vs_previous.ci_high


def test_monthly_series_flat_counts_give_no_trend_and_no_change():
    recs = [_inc(when=datetime(2024, m, 5, tzinfo=UTC)) for m in range(1, 13) for _ in range(4)]
    s = monthly_series(recs, date(2024, 1, 1), date(2024, 12, 1))
    assert s.counts == (4,) * 12
    assert s.trend_per_year == pytest.approx(0.0, abs=1e-9)
    assert s.recent_vs_previous.ratio == 1.0


def test_monthly_series_assigns_local_month():
    # 23:30 UTC on 31 May is 00:30 BST on 1 June.
    rec = _inc(when=datetime(2024, 5, 31, 23, 30, tzinfo=UTC))
    s = monthly_series([rec], date(2024, 5, 1), date(2024, 6, 1))
    assert s.counts == (0, 1) and s.trend_per_year is None
    # all events in the last month: the ML slope is infinite, so no trend
    end_only = monthly_series([rec] * 4, date(2024, 3, 1), date(2024, 6, 1))
    assert end_only.counts == (0, 0, 0, 4) and end_only.trend_per_year is None
    with pytest.raises(ValueError, match="outside the window"):
        monthly_series([rec], date(2024, 1, 1), date(2024, 5, 1))


def test_place_indicators_by_category_and_severity():
    recs = (
        [_inc("place", category="cce", severity=4)] * 10
        + [_inc("ring", category="cce", severity=4)] * 5
        + [_inc("place", category="asb", severity=1)] * 2
        + [_inc("locality", category="asb", severity=1)] * 50
    )
    ind = place_indicators(recs, EXPOSURE)
    assert ind.months == 12
    cce = next(g for g in ind.by_category if g.value == "cce")
    # 10 per 0.2 km2 vs 5 per 1 km2: ratio 10
    assert cce.place_vs_ring.ratio == pytest.approx(10.0)
    assert cce.place_vs_ring.ci_low > 1.0
    asb = next(g for g in ind.by_category if g.value == "asb")
    assert asb.place_vs_rest_of_locality.ratio == pytest.approx((2 / 0.2) / (50 / 5.0))
    assert [g.value for g in ind.by_severity] == ["1", "2", "3", "4", "5"]
    assert ind.by_severity[3].rates[0].count == 10 and ind.by_severity[2].rates[0].count == 0
    place = ind.overall.rates[0]
    assert place.per_month == pytest.approx(1.0) and place.per_km2 == pytest.approx(60.0)
    assert place.per_km2_per_month == pytest.approx(5.0)
    # profile and series describe the place only
    assert ind.time_profile.n_exact == 12 and sum(ind.monthly.counts) == 12
    json.dumps(ind.to_dict())


def test_mappings_are_accepted_and_input_untouched():
    rec = BASE | {"area": "ring"}
    before = dict(rec)
    ind = place_indicators([rec], EXPOSURE)
    assert ind.overall.rates[1].count == 1 and rec == before


@pytest.mark.parametrize(
    ("record", "match"),
    [
        ({"occurred_at": datetime(2024, 1, 1)}, "timezone-aware"),
        ({"precision": "week"}, "precision"),
        ({"area": "street"}, "area"),
        ({"severity": 6}, "severity"),
        ({"category": ""}, "category"),
    ],
)
def test_record_validation(record, match):
    with pytest.raises(ValueError, match=match):
        place_indicators([BASE | record], EXPOSURE)


def test_argument_validation():
    with pytest.raises(ValueError, match="exceed"):
        place_indicators([], Exposure(date(2024, 1, 1), date(2024, 2, 1), 1.0, 1.0, 2.0))
    with pytest.raises(ValueError, match="before"):
        place_indicators([], Exposure(date(2024, 3, 1), date(2024, 2, 1), 1.0, 1.0, 5.0))
    with pytest.raises(ValueError, match="lacks"):
        place_indicators([{"occurred_at": T0}], EXPOSURE)
    with pytest.raises(ValueError, match="exposure_a"):
        rate_ratio(1, 0.0, 1, 1.0)
    with pytest.raises(ValueError, match="count_b"):
        rate_ratio(1, 1.0, -1, 1.0)
    with pytest.raises(ValueError, match="comparison_months"):
        monthly_series([], date(2024, 1, 1), date(2024, 2, 1), comparison_months=0)


def test_binomtest_p_value_is_scipy_s() -> None:
    rng = np.random.default_rng(8)
    cases = [(0, 10, 0.3), (10, 10, 0.3), (3, 10, 0.3), (30, 45, 0.4), (5, 10, 0.5),
             (85, 2_000_000, 3.8e-5), (2_688, 2_000_000, 1.2e-3), (1, 2, 0.5)]
    for _ in range(300):
        n = int(rng.choice([5, 40, 1_000, 60_000, 2_000_000]))
        p = float(rng.uniform(1e-5, 1 - 1e-5)) if rng.random() < 0.5 else float(
            10 ** rng.uniform(-6, -1))
        k = int(min(n, max(0, round(rng.normal(n * p, 3 * (n * p * (1 - p)) ** 0.5 + 1)))))
        cases.append((k, n, p))
    for k, n, p in cases:
        assert binomtest_p_value(k, n, p) == pytest.approx(
            stats.binomtest(k, n, p).pvalue, rel=1e-9, abs=1e-300), (k, n, p)
    with pytest.raises(ValueError):
        binomtest_p_value(1, 2, 1.0)


@pytest.mark.parametrize("counts", [(4,) * 12, (1, 2, 4, 8, 16), (27, 18, 12, 8)])
def test_an_exact_poisson_fit_raises_no_warning_and_matches_irls(counts):
    # Flat counts, or counts changing by one ratio a month, are fitted exactly; IRLS
    # would warn "perfect prediction" (an error under this suite's filterwarnings).
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    first = date(2024, 1, 1)
    recs = [_inc(when=datetime(2024, m + 1, 5, tzinfo=UTC))
            for m, n in enumerate(counts) for _ in range(n)]
    s = monthly_series(recs, first, date(2024, len(counts), 1))
    assert s.counts == counts
    t = np.arange(len(counts)) / 12.0
    with pytest.warns(PerfectSeparationWarning):
        ref = sm.GLM(np.array(counts), sm.add_constant(t), family=sm.families.Poisson()).fit()
    low, high = ref.conf_int(alpha=0.05)[1]
    # Two iterative fits of the same exact solution: equal to their tolerances (~1e-6).
    assert s.trend_per_year == pytest.approx(np.expm1(ref.params[1]), rel=1e-6, abs=1e-9)
    assert s.trend_ci_low == pytest.approx(np.expm1(low), rel=1e-6)
    assert s.trend_ci_high == pytest.approx(np.expm1(high), rel=1e-6)
    assert s.trend_p_value == pytest.approx(ref.pvalues[1], rel=1e-5)
