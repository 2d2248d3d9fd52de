"""Tests of the ``arima`` plugin (plugins/arima.py): fixed orders against theory, the automatic
choice of differencing, intervals, robustness on short/constant series, parameter checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import harness
from plugins.arima import AutoArima, register_models


def simulate_arma(n: int, phi: float, theta: float, seed: int, mean: float = 0.0, burn: int = 200):
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(n + burn)
    y = np.zeros(n + burn)
    for t in range(1, n + burn):
        y[t] = phi * y[t - 1] + e[t] + theta * e[t - 1]
    return y[burn:] + mean


def optimal_arma11_forecast(y: np.ndarray, phi: float, theta: float, h: int, mean: float = 0.0) -> np.ndarray:
    """Minimum-MSE forecast with the true parameters (innovations by the invertible recursion)."""
    x = y - mean
    e = 0.0
    for t in range(1, x.size):
        e = x[t] - phi * x[t - 1] - theta * e
    f1 = phi * x[-1] + theta * e
    return mean + f1 * phi ** np.arange(h)


def test_fixed_ar1_matches_theoretical_forecast():
    y = simulate_arma(400, 0.7, 0.0, seed=1, mean=5.0)
    model = AutoArima(horizon=6, season_length=1, order=(1, 0, 0))
    fc = model.fit_predict_one(y)
    assert model.last_model["kind"] == "arima"
    assert model.last_model["order"] == (1, 0, 0)
    assert abs(model.last_model["params"]["ar"][0] - 0.7) < 0.08
    best = optimal_arma11_forecast(y, 0.7, 0.0, 6, mean=5.0)
    assert np.max(np.abs(fc.mean - best)) < 0.25  # innovations have sd 1


def test_fixed_arma11_matches_theoretical_forecast():
    y = simulate_arma(500, 0.5, 0.4, seed=2)
    model = AutoArima(horizon=8, season_length=1, order=(1, 0, 1))
    fc = model.fit_predict_one(y)
    params = model.last_model["params"]
    assert abs(params["ar"][0] - 0.5) < 0.12 and abs(params["ma"][0] - 0.4) < 0.12
    best = optimal_arma11_forecast(y, 0.5, 0.4, 8)
    assert np.max(np.abs(fc.mean - best)) < 0.3
    # the one-step 95% interval is about +-1.96 innovation sd, the 80% one +-1.28
    lower, upper = fc.intervals[95.0]
    assert 1.6 < (upper[0] - lower[0]) / 2 < 2.4
    lower, upper = fc.intervals[80.0]
    assert 1.05 < (upper[0] - lower[0]) / 2 < 1.55


def test_auto_picks_d1_on_random_walk_and_d0_on_ar1():
    rw = np.cumsum(np.random.default_rng(3).standard_normal(200)) + 50
    model = AutoArima(horizon=10, season_length=1)
    model.fit_predict_one(rw)
    assert model.last_model["kind"] == "arima"
    assert model.last_model["order"][1] == 1
    ar = simulate_arma(200, 0.5, 0.0, seed=5, mean=10.0)
    model.fit_predict_one(ar)
    assert model.last_model["order"][1] == 0
    assert model.last_model["order"][0] >= 1 or model.last_model["order"][2] >= 1


def test_kpss_decision_agrees_with_statsmodels():
    import warnings

    from statsmodels.tsa.stattools import kpss

    from plugins.arima_search import kpss_rejects

    for seed in range(6):
        for y in (simulate_arma(150, 0.5, 0.0, seed=seed), np.cumsum(simulate_arma(150, 0.3, 0.0, seed=seed))):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                stat = kpss(y, "c", nlags=int(np.floor(3 * np.sqrt(y.size) / 13)))[0]
            assert kpss_rejects(y, 0.05) == (stat > 0.463)


def test_auto_picks_seasonal_differencing_on_seasonal_series():
    rng = np.random.default_rng(5)
    t = np.arange(144)
    y = 100 + 0.2 * t + 15 * np.sin(2 * np.pi * t / 12) + 5 * (t % 12 == 3) + rng.standard_normal(144)
    model = AutoArima(horizon=18, season_length=12, seed=0)
    fc = model.fit_predict_one(y)
    assert model.last_model["seasonal_order"][1] == 1
    assert model.last_model["seasonal_order"][3] == 12
    # the forecast follows the seasonal pattern
    truth = (
        100
        + 0.2 * np.arange(144, 162)
        + 15 * np.sin(2 * np.pi * np.arange(144, 162) / 12)
        + 5 * (np.arange(144, 162) % 12 == 3)
    )
    assert np.corrcoef(fc.mean, truth)[0, 1] > 0.95


def test_intervals_contain_forecast_and_widen():
    y = np.cumsum(np.random.default_rng(6).standard_normal(120)) + 20
    fc = AutoArima(horizon=12, season_length=1, levels=(80.0,)).fit_predict_one(y)
    assert list(fc.intervals) == [80.0]
    lower, upper = fc.intervals[80.0]
    assert np.all(lower <= fc.mean) and np.all(fc.mean <= upper)
    width = upper - lower
    assert np.all(np.diff(width) >= -1e-9) and width[-1] > width[0]
    both = AutoArima(horizon=12, season_length=1).fit_predict_one(y)  # the default levels, 80 and 95
    assert list(both.intervals) == [80.0, 95.0]
    np.testing.assert_allclose(both.intervals[80.0], fc.intervals[80.0])
    (lo80, hi80), (lo95, hi95) = both.intervals[80.0], both.intervals[95.0]
    assert np.all(lo95 < lo80) and np.all(hi80 < hi95)  # 95 contains 80


def test_fixed_seasonal_airline_model():
    rng = np.random.default_rng(7)
    t = np.arange(96)
    y = 50 + 0.5 * t + 10 * np.cos(2 * np.pi * t / 12) + rng.standard_normal(96)
    model = AutoArima(horizon=18, season_length=12, order=(0, 1, 1), seasonal_order=(0, 1, 1))
    fc = model.fit_predict_one(y)
    assert model.last_model["seasonal_order"] == (0, 1, 1, 12)
    assert fc.mean.shape == (18,) and np.all(np.isfinite(fc.mean))
    for lower, upper in fc.intervals.values():
        assert np.all(lower < upper)


@pytest.mark.parametrize(
    "y, m",
    [
        (np.array([3.0]), 1),
        (np.array([3.0, 4.0]), 1),
        (np.array([1.0, 5.0, 2.0]), 12),
        (np.full(30, 7.0), 12),
        (np.cumsum(np.random.default_rng(8).standard_normal(14)) + 100, 1),  # short yearly
        (np.abs(np.random.default_rng(9).standard_normal(20)) * 10, 12),  # n < 2m
        (np.r_[np.zeros(20), 1.0, np.zeros(20)], 1),  # almost constant
        (np.r_[1.0, 2.0, np.nan, 4.0, 5.0, np.inf, 7.0, 8.0], 1),  # non-finite values dropped
        (np.arange(40, dtype=float), 4),  # exact linear trend: constant after differencing
        (np.tile([1.0, 5.0, 3.0, 9.0], 8), 4),  # exact seasonal pattern
        (1e9 + np.cumsum(np.random.default_rng(10).standard_normal(60)), 1),  # large level
    ],
)
def test_short_constant_and_awkward_series_give_finite_forecasts(y, m):
    fc = AutoArima(horizon=7, season_length=m).fit_predict_one(y)
    assert list(fc.intervals) == [80.0, 95.0]
    for lower, upper in fc.intervals.values():
        for arr in (fc.mean, lower, upper):
            assert arr.shape == (7,)
            assert np.all(np.isfinite(arr))
        assert np.all(lower <= fc.mean + 1e-9) and np.all(fc.mean <= upper + 1e-9)


def test_constant_series_forecasts_the_constant():
    fc = AutoArima(horizon=5, season_length=12).fit_predict_one(np.full(40, 3.5))
    np.testing.assert_allclose(fc.mean, 3.5)


def test_optimizer_failure_falls_back_to_naive_with_a_note(monkeypatch):
    import plugins.arima as arima

    def boom(*args, **kwargs):
        raise RuntimeError("optimiser failed")

    monkeypatch.setattr(arima, "least_squares", boom)
    monkeypatch.setattr(arima, "_sarimax_forecast", boom)
    y = np.cumsum(np.random.default_rng(11).standard_normal(50))
    model = AutoArima(horizon=4, season_length=1)
    fc = model.fit_predict_one(y)
    assert model.last_model["kind"] == "naive"
    assert fc.note.startswith("fallback: naive (") and "optimiser failed" in fc.note, fc.note
    np.testing.assert_allclose(fc.mean, y[-1])
    for lower, upper in fc.intervals.values():
        assert np.all(np.isfinite(lower)) and np.all(np.diff(upper - lower) > 0)


def test_unknown_or_bad_parameters_raise_model_error():
    with pytest.raises(harness.ModelError):
        AutoArima(horizon=6, season_length=1, not_a_parameter=1)
    with pytest.raises(harness.ModelError):
        AutoArima(horizon=6, season_length=1, ic="hqic")
    with pytest.raises(harness.ModelError):
        AutoArima(horizon=6, season_length=1, order=(1, 0))
    with pytest.raises(harness.ModelError):
        AutoArima(horizon=6, season_length=1, method="exact")
    with pytest.raises(harness.ModelError):
        AutoArima(horizon=6, season_length=1).fit_predict_one(np.array([np.nan, np.nan]))


def test_parameters_are_attributes_and_defaults_complete():
    model = AutoArima(horizon=6, season_length=1, order=(1, 0, 0), ic="bic")
    assert model.order == (1, 0, 0) and model.ic == "bic" and model.max_p == 5
    assert AutoArima.name == "arima" and AutoArima.scope == "local"
    assert {"order", "seasonal_order", "ic", "stepwise", "max_p", "max_Q"} <= set(AutoArima.defaults)
    assert "level" not in AutoArima.defaults  # the run's levels, not a parameter


def test_register_models_hook_and_panel_interface():
    registered = []
    register_models(lambda cls, name=None, **params: registered.append((cls, name, params)))
    assert registered == [(AutoArima, None, {})]
    rng = np.random.default_rng(12)
    panel = harness.Panel(
        ids=("a", "b"),
        values=(rng.standard_normal(60).cumsum(), rng.standard_normal(30)),
        freq="M",
        season_length=12,
        horizon=5,
    )
    out = AutoArima(horizon=5, season_length=12).predict(panel)
    assert len(out) == 2 and all(f.mean.shape == (5,) for f in out)


def test_non_stepwise_search_runs():
    y = simulate_arma(120, 0.6, 0.0, seed=13)
    model = AutoArima(horizon=3, season_length=1, stepwise=False, max_order=3)
    fc = model.fit_predict_one(y)
    assert np.all(np.isfinite(fc.mean)) and model.last_model["kind"] == "arima"


def test_exact_trend_and_seasonal_pattern_are_continued():
    fc = AutoArima(horizon=4, season_length=1).fit_predict_one(np.arange(40, dtype=float))
    np.testing.assert_allclose(fc.mean, [40, 41, 42, 43], atol=1e-6)
    y = np.tile([1.0, 5.0, 3.0, 9.0], 8) + np.arange(32.0)
    fc = AutoArima(horizon=4, season_length=4).fit_predict_one(y)
    np.testing.assert_allclose(fc.mean, [33, 38, 37, 44], atol=1e-6)


# --- issue 17: time limits, units, short series, visible fallbacks -----------------------------


def _m3_monthly(ids: tuple[int, ...]):
    from plugins.competitions import _load_part

    ds = _load_part("m3", "monthly")
    return [(np.asarray(ds.panel.values[i]), np.asarray(ds.test[i])) for i in ids], ds.panel


def _chunk(items, timeout):
    from harness.plugins import ModelSpec
    from harness.runner import _fit_predict_chunk

    spec = ModelSpec("arima", AutoArima, dict(AutoArima.defaults), "plugins.arima")
    rows, _ = _fit_predict_chunk(spec, dict(AutoArima.defaults), 18, 12, 0, items, timeout)
    return {key: (status, None if fc is None else fc.mean, wall) for key, fc, _, status, wall, *_ in rows}


def test_a_time_limit_stops_arima_and_never_changes_its_forecast():
    """The limit is a BaseException: arima's catch-alls cannot turn it into a skipped candidate
    or a naive fallback. Twice with a tiny limit: each series is a timeout row or the very
    forecast of the run without a limit, and every series over the limit is a timeout."""
    series, _ = _m3_monthly((3, 36, 292, 329, 700, 1100))
    items = [((0, i), y) for i, (y, _) in enumerate(series)]
    free = _chunk(items, None)
    assert all(status == "ok" for status, _, _ in free.values())
    limit = 0.02
    runs = [_chunk(items, limit), _chunk(items, limit)]
    for rows in runs:
        assert sum(status == "timeout" for status, _, _ in rows.values()) >= 3, rows
        for key, (status, mean, wall) in rows.items():
            assert status in ("ok", "timeout")
            if status == "ok":
                np.testing.assert_array_equal(mean, free[key][1])
            if wall > limit + 0.25:  # the alarm fires between bytecodes: a short C call may finish
                assert status == "timeout", (key, wall)
    # the same statuses in both runs are the same rows
    for key in runs[0]:
        if runs[0][key][0] == runs[1][key][0] == "ok":
            np.testing.assert_array_equal(runs[0][key][1], runs[1][key][1])


def test_a_generous_limit_gives_the_results_of_no_limit():
    series, _ = _m3_monthly((3, 36, 700))
    items = [((0, i), y) for i, (y, _) in enumerate(series)]
    free, generous = _chunk(items, None), _chunk(items, 600.0)
    for key in free:
        assert generous[key][0] == "ok"
        np.testing.assert_array_equal(generous[key][1], free[key][1])


@pytest.mark.parametrize("n", [3, 4, 5])
def test_a_short_series_is_not_forecast_as_zero(n):
    y = np.array([10.0, 12.0, 11.0, 13.0, 12.0])[:n]
    fc = AutoArima(horizon=4, season_length=12).fit_predict_one(y)
    assert np.all(fc.mean > 9) and np.all(fc.mean < 14), fc.mean
    if n == 3:
        assert fc.note.startswith("fallback: naive (3 values"), fc.note
        np.testing.assert_allclose(fc.mean, 11.0)


@pytest.mark.parametrize("level", [0.0, 42.0, -3.5, 1e-9, 7e8])
def test_a_constant_or_all_zero_series_forecasts_the_constant(level):
    for n in (3, 40):
        fc = AutoArima(horizon=5, season_length=12).fit_predict_one(np.full(n, level))
        np.testing.assert_array_equal(fc.mean, level)
        assert fc.note == ""


def test_a_series_crossing_zero_is_forecast_near_its_level():
    y = simulate_arma(80, 0.5, 0.0, seed=21)  # mean 0, crossing zero often
    fc = AutoArima(horizon=6, season_length=1).fit_predict_one(y)
    assert np.all(np.isfinite(fc.mean)) and np.all(np.abs(fc.mean) < 4 * np.std(y))
    fc2 = AutoArima(horizon=6, season_length=1).fit_predict_one(y * 1e-7)
    np.testing.assert_allclose(fc2.mean, fc.mean * 1e-7, rtol=1e-5, atol=1e-12)


def test_a_fixed_order_too_long_for_the_series_is_an_error_not_naive():
    """The user asked for this order: answering with another model would score the wrong one."""
    y = simulate_arma(100, 0.5, 0.0, seed=22, mean=50.0)
    with pytest.raises(harness.ModelError, match=r"ARIMA\(400,0,0\) with non-zero mean cannot be fitted .* 100"):
        AutoArima(horizon=3, season_length=1, order=(400, 0, 0)).fit_predict_one(y)
    fc = AutoArima(horizon=3, season_length=1, order=(2, 0, 0)).fit_predict_one(y)
    assert fc.note == ""


def test_every_fallback_says_what_was_used_and_why(monkeypatch):
    import plugins.arima as arima

    y = np.cumsum(np.random.default_rng(23).standard_normal(60)) + 30
    real = arima._sarimax_forecast
    calls = []

    def first_fails(*args, **kwargs):  # the chosen model's forecast fails, the next one works
        calls.append(1)
        if len(calls) == 1:
            raise np.linalg.LinAlgError("singular matrix")
        return real(*args, **kwargs)

    monkeypatch.setattr(arima, "_sarimax_forecast", first_fails)
    model = AutoArima(horizon=4, season_length=1)
    fc = model.fit_predict_one(y)
    assert model.last_model["kind"] == "arima"
    assert fc.note.startswith("fallback: ARIMA(") and "failed: LinAlgError: singular matrix" in fc.note, fc.note

    def boom(*args, **kwargs):
        raise RuntimeError("optimiser failed")

    monkeypatch.setattr(arima, "_sarimax_forecast", boom)
    fc = AutoArima(horizon=4, season_length=1).fit_predict_one(y)
    assert fc.note.startswith("fallback: naive (ARIMA(") and "RuntimeError: optimiser failed" in fc.note, fc.note
    np.testing.assert_allclose(fc.mean, y[-1])


def test_a_failed_likelihood_refinement_is_noted(monkeypatch):
    import plugins.arima as arima

    monkeypatch.setattr(arima._Search, "refine", lambda self, fit: None)
    y = simulate_arma(120, 0.6, 0.3, seed=24, mean=10.0)
    fc = AutoArima(horizon=4, season_length=1).fit_predict_one(y)
    assert fc.note.startswith("fallback: ARIMA(") and "with CSS estimates" in fc.note, fc.note


def test_building_arima_imports_statsmodels_outside_any_time_limit():
    """An import cut half-way by a time limit left patsy half-initialised, and every later fit
    of that worker failed and fell back: the model imports what it fits with when it is built."""
    import subprocess
    import sys

    code = (
        "import sys; from plugins.arima import AutoArima; "
        "assert 'statsmodels.tsa.statespace.sarimax' not in sys.modules; "
        "AutoArima(horizon=3, season_length=1); "
        "assert {'statsmodels.tsa.statespace.sarimax', 'statsmodels.tsa.seasonal', 'statsmodels.base.covtype', "
        "'patsy.highlevel'} <= set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(Path(__file__).parents[1]))


def test_a_tiny_limit_twice_through_the_cli_gives_timeouts_or_the_unlimited_rows(tmp_path):
    from tests.conftest import invoke

    base = ["run", "--models", "arima", "--datasets", "m3-monthly", "--limit", "12", "--workers", "2"]
    free = invoke([*base, "--out", str(tmp_path / "free")])
    assert free.exit_code == 0, free.output
    ref = _arima_rows(tmp_path / "free").set_index("unique_id")
    for k in (1, 2):
        result = invoke([*base, "--timeout-series", "0.02", "--out", str(tmp_path / f"tiny{k}")])
        rows = _arima_rows(tmp_path / f"tiny{k}").set_index("unique_id")
        assert set(rows["status"]) <= {"ok", "timeout"} and (rows["status"] == "timeout").sum() >= 3
        assert result.exit_code == 1  # timeouts are failures of their series
        ok = rows[rows["status"] == "ok"]
        assert ok["smape"].equals(ref.loc[ok.index, "smape"]) and ok["message"].equals(ref.loc[ok.index, "message"])


def _arima_rows(run):
    import pandas as pd

    rows = pd.read_parquet(run / "metrics.parquet")
    return rows[rows["model"] == "arima"]
