"""Impact and displacement: WDQ by hand, ITS recovering a planted effect."""

import json

import numpy as np
import pytest

from locmap.assessment.impact import (
    detect_displacement,
    interrupted_time_series,
    weighted_displacement,
)

MONTHS = [f"{y}-{m:02d}" for y in (2022, 2023) for m in range(1, 13)]  # 24 months
INTERVENTION = "2023-01"  # 12 before, 12 after


def _const(before, after):
    return dict(zip(MONTHS, [before] * 12 + [after] * 12, strict=True))


def _poisson(rng, before, after, months=MONTHS, k=12):
    lam = np.where(np.arange(len(months)) < k, before, after)
    return dict(zip(months, rng.poisson(lam).tolist(), strict=True))


# --- weighted displacement quotient ---------------------------------------------------

def test_wdq_planted_drop_and_matching_rise_by_hand():
    # target 40 -> 20 a month, buffer 10 -> 30, control 100 -> 100, 12 months each side:
    # A0=480 A1=240 B0=120 B1=360 C0=C1=1200
    r = weighted_displacement(_const(40, 20), _const(10, 30), _const(100, 100), INTERVENTION)
    assert r.target.count_before == 480 and r.target.count_after == 240
    assert r.target.rate_before == 40 and r.buffer.rate_after == 30
    assert r.success_measure == pytest.approx(240 / 1200 - 480 / 1200)  # -0.2
    assert r.buffer_displacement_measure == pytest.approx(360 / 1200 - 120 / 1200)  # 0.2
    assert r.wdq == pytest.approx(-1.0)
    assert r.band == "displacement_equals_benefit"
    assert r.total_net_effect == pytest.approx((480 - 240) - (360 - 120))  # 0: all displaced


def test_wdq_with_changing_control_by_hand():
    # control falls 100 -> 80: A0/C0 = 480/1200, A1/C1 = 240/960, B: 120/1200 -> 180/960
    r = weighted_displacement(_const(40, 20), _const(10, 15), _const(100, 80), INTERVENTION)
    sm_ = 240 / 960 - 480 / 1200
    bdm = 180 / 960 - 120 / 1200
    assert r.success_measure == pytest.approx(sm_)
    assert r.wdq == pytest.approx(bdm / sm_)
    assert -1 < r.wdq < 0 and r.band == "displacement_less_than_benefit"
    tne = (480 * 960 / 1200 - 240) - (180 - 120 * 960 / 1200)
    assert r.total_net_effect == pytest.approx(tne)


@pytest.mark.parametrize(
    ("buffer", "band"),
    [
        ((10, 10), "no_displacement_or_diffusion"),
        ((10, 40), "displacement_greater_than_benefit"),  # BDM 0.3 / SM -0.2
        ((10, 5), "diffusion_of_benefits"),  # BDM -0.05 / -0.2 = 0.25
        ((40, 10), "diffusion_greater_than_benefit"),  # BDM -0.3 / -0.2 = 1.5
    ],
)
def test_wdq_bands(buffer, band):
    r = weighted_displacement(_const(40, 20), _const(*buffer), _const(100, 100), INTERVENTION)
    assert r.band == band


def test_wdq_guards():
    no_success = weighted_displacement(_const(20, 40), _const(10, 30), _const(100, 100),
                                       INTERVENTION)
    assert no_success.band == "no_success" and no_success.success_measure > 0
    flat = weighted_displacement(_const(20, 20), _const(10, 30), _const(100, 100), INTERVENTION)
    assert flat.band == "no_change_at_target" and flat.wdq is None
    empty = weighted_displacement(_const(40, 20), _const(10, 30), _const(5, 0), INTERVENTION)
    assert empty.band == "control_empty" and empty.success_measure is None
    small = weighted_displacement(_const(1, 0), _const(0, 1), _const(100, 100), INTERVENTION)
    assert any("Small numbers (target, buffer" in s for s in small.limits)
    assert json.loads(json.dumps(small.to_dict()))["band"] == small.band


def test_wdq_exclude_intervention_month():
    r = weighted_displacement(_const(40, 20), _const(10, 30), _const(100, 100), INTERVENTION,
                              exclude_intervention_month=True)
    assert r.target.months_after == 11 and r.target.count_after == 220


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"intervention_month": "2030-01"}, "not in the series"),
        ({"intervention_month": "2022-01"}, "at least one month before"),
        ({"buffer": {"2022-01": 1}}, "same months as target"),
        ({"control": dict.fromkeys(["2022-01", "2022-03"], 1)}, "consecutive"),
        ({"target": {"22-01": 1}}, "YYYY-MM"),
        ({"target": dict.fromkeys(MONTHS, -1)}, "non-negative integers"),
    ],
)
def test_wdq_validation(kwargs, message):
    args = {"target": _const(40, 20), "buffer": _const(10, 30), "control": _const(100, 100),
            "intervention_month": INTERVENTION} | kwargs
    with pytest.raises(ValueError, match=message):
        weighted_displacement(**args)


# --- interrupted time series ----------------------------------------------------------

def test_its_recovers_planted_halving_with_seeded_poisson_noise():
    hits = 0
    for seed in range(20):
        r = interrupted_time_series(_poisson(np.random.default_rng(seed), 40, 20),
                                    INTERVENTION, seasonality=False)
        assert r.level_change.ci_high < 1  # a real drop is detected every time
        hits += r.level_change.ci_low <= 0.5 <= r.level_change.ci_high
        assert r.seasonality is False and (r.months_before, r.months_after) == (12, 12)
    assert hits >= 16  # a 95% interval should cover the true 0.5 in ~19 of 20


def test_its_with_seasonality_and_trend():
    rng = np.random.default_rng(3)
    months = [f"{y}-{m:02d}" for y in (2020, 2021, 2022, 2023) for m in range(1, 13)]
    t = np.arange(48)
    season = 1 + 0.3 * np.sin(2 * np.pi * t / 12)  # a planted summer peak, no trend
    lam = 30 * season * np.where(t >= 24, 0.5, 1.0)
    series = dict(zip(months, rng.poisson(lam).tolist(), strict=True))
    r = interrupted_time_series(series, "2022-01")
    assert r.seasonality is True
    assert r.level_change.ci_low <= 0.5 <= r.level_change.ci_high
    assert r.slope_change.ci_low <= 1 <= r.slope_change.ci_high
    assert "Month-of-year seasonality is modelled." in r.limits


def test_its_switches_to_negative_binomial_when_overdispersed():
    rng = np.random.default_rng(11)
    lam = rng.gamma(shape=2.0, scale=20.0, size=24)  # alpha = 0.5: variance >> mean
    series = dict(zip(MONTHS, rng.poisson(lam).tolist(), strict=True))
    r = interrupted_time_series(series, INTERVENTION, seasonality=False)
    assert r.model == "negative_binomial" and r.dispersion_alpha > 0.1
    calm = interrupted_time_series(_poisson(np.random.default_rng(1), 30, 30), INTERVENTION,
                                   seasonality=False)
    assert calm.model == "poisson"
    assert calm.level_change.ci_low < 1 < calm.level_change.ci_high


def test_its_limits_for_short_small_series():
    months = [f"2024-{m:02d}" for m in range(1, 9)]
    r = interrupted_time_series(dict(zip(months, [2, 3, 1, 2, 1, 0, 1, 2], strict=True)),
                                "2024-05")
    text = " ".join(r.limits)
    assert "Short series (4 months before, 4 after" in text
    assert "Seasonality is not modelled" in text and "Small numbers" in text
    assert "dated to the month" in text
    assert json.loads(json.dumps(r.to_dict()))["model"] == r.model


def test_its_validation():
    with pytest.raises(ValueError, match="at least 3 months before"):
        interrupted_time_series(_const(1, 2), "2022-03")
    with pytest.raises(ValueError, match="level must be"):
        interrupted_time_series(_const(1, 2), INTERVENTION, level=95)
    months = MONTHS[:8]
    with pytest.raises(ValueError, match="too few"):
        interrupted_time_series(dict.fromkeys(months, 3), "2022-05", seasonality=True)


# --- displacement detection -----------------------------------------------------------

def test_detect_displacement_flags_the_place_that_rose():
    rng = np.random.default_rng(42)
    target = _poisson(rng, 40, 20)
    library = _poisson(rng, 10, 30)
    park, station = _poisson(rng, 25, 25), _poisson(rng, 15, 15)
    ev = detect_displacement(target, {"Library": library, "Park": park, "Station": station},
                             INTERVENTION, seasonality=False)
    assert [(e.name, e.flagged) for e in ev] == [("Library", True), ("Park", False),
                                                 ("Station", False)]
    lib = ev[0]
    assert lib.target_level_change.ci_high < 1 and lib.candidate_level_change.ci_low > 1
    assert lib.wdq is not None and lib.wdq.wdq < 0
    # the control for the library is the park plus the station
    assert lib.wdq.control.count_before == sum(park[m] + station[m] for m in MONTHS[:12])
    assert lib.series[0] == (MONTHS[0], library[MONTHS[0]])
    assert json.loads(json.dumps(lib.to_dict()))["flagged"] is True


def test_flat_buffer_flags_no_displacement():
    rng = np.random.default_rng(5)
    ev = detect_displacement(_poisson(rng, 40, 20),
                             {"Library": _poisson(rng, 20, 20), "Park": _poisson(rng, 25, 25)},
                             INTERVENTION, seasonality=False)
    assert not any(e.flagged for e in ev)


def test_single_candidate_without_control_uses_time_series_only():
    rng = np.random.default_rng(8)
    ev = detect_displacement(_poisson(rng, 40, 20), {"Library": _poisson(rng, 10, 30)},
                             INTERVENTION, seasonality=False)
    assert ev[0].flagged and ev[0].wdq is None
    assert any("No control area" in s for s in ev[0].limits)


def test_detect_displacement_validation():
    with pytest.raises(ValueError, match="at least one candidate"):
        detect_displacement(_const(40, 20), {}, INTERVENTION)
    with pytest.raises(ValueError, match="same months as the target"):
        detect_displacement(_const(40, 20), {"X": {"2022-01": 1, "2022-02": 2}}, INTERVENTION)


def test_a_near_empty_segment_is_a_stated_limit_not_an_error() -> None:
    # 24 months, nothing at all after the intervention: the level change diverges.
    months = [f"{2024 + (m // 12)}-{m % 12 + 1:02d}" for m in range(24)]
    series = {m: (6 if i < 12 else 0) for i, m in enumerate(months)}
    result = interrupted_time_series(series, "2025-01", seasonality=False)
    assert result.level_change.estimate < 1e-3
    assert any("Model warning" in text for text in result.limits)


def _glm(y, columns):
    import statsmodels.api as sm

    return sm.GLM(np.asarray(y), np.column_stack(columns), family=sm.families.Poisson())


def test_an_empty_segment_is_found_in_the_data_and_the_rest_still_fitted() -> None:
    # Nothing after the intervention: the level change runs off to zero (statsmodels
    # warned "perfect prediction" and numpy overflowed). Now it is found before fitting:
    # estimate 0, unbounded interval, and the trend is fitted from the months before.
    rng = np.random.default_rng(4)
    before = rng.poisson(8, 12)
    series = dict(zip(MONTHS, [*before.tolist(), *[0] * 12], strict=True))
    r = interrupted_time_series(series, INTERVENTION, seasonality=False)
    assert r.unstable
    assert (r.level_change.estimate, r.level_change.ci_low, r.level_change.ci_high) == (
        0.0, 0.0, float("inf"))
    assert any("level change and slope change cannot be estimated" in s for s in r.limits)
    t = np.arange(12.0)
    ref = _glm(before, [np.ones(12), t]).fit()
    assert r.baseline_trend.estimate == pytest.approx(np.exp(ref.params[1]), rel=1e-9)
    assert r.baseline_trend.p_value == pytest.approx(ref.pvalues[1], rel=1e-9)


def test_counts_fitted_exactly_match_irls_without_its_warning() -> None:
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    r = interrupted_time_series(_const(40, 20), INTERVENTION, seasonality=False)
    assert any("reproduces these counts exactly" in s for s in r.limits)
    assert not r.unstable  # every term is estimated
    t = np.arange(24.0)
    post = (t >= 12).astype(float)
    with pytest.warns(PerfectSeparationWarning):
        ref = _glm([40] * 12 + [20] * 12, [np.ones(24), t, post, (t - 12) * post]).fit()
    low, high = np.exp(ref.conf_int()[2])
    assert r.level_change.estimate == pytest.approx(0.5, rel=1e-9)
    assert r.level_change.ci_low == pytest.approx(low, rel=1e-6)
    assert r.level_change.ci_high == pytest.approx(high, rel=1e-6)


def test_a_month_term_confounded_with_the_change_is_left_out() -> None:
    # 24 months split 12/12 with month-of-year terms: the last month term is a linear
    # combination of the others, the trend and the change (statsmodels warned that the
    # design was rank-deficient and took a minimum-norm solution). It is dropped first.
    rng = np.random.default_rng(5)
    series = _poisson(rng, 30, 18)
    r = interrupted_time_series(series, INTERVENTION, seasonality=True)
    assert r.seasonality and not r.unstable
    assert any("1 of 11 month-of-year terms" in s for s in r.limits)
    t = np.arange(24.0)
    post = (t >= 12).astype(float)
    moy = t % 12
    columns = [np.ones(24), t, post, (t - 12) * post] + [(moy == j).astype(float)
                                                         for j in range(1, 11)]
    ref = _glm(list(series.values()), columns).fit()
    assert r.level_change.estimate == pytest.approx(np.exp(ref.params[2]), rel=1e-9)
    assert r.level_change.p_value == pytest.approx(ref.pvalues[2], rel=1e-9)


def test_an_ordinary_series_is_not_unstable() -> None:
    r = interrupted_time_series(_poisson(np.random.default_rng(6), 30, 18), INTERVENTION,
                                seasonality=False)
    assert not r.unstable and not any(s.startswith("Model warning") for s in r.limits)
