"""Windowing and preprocessing shared by the neural forecasters: shapes, exact inverses."""

from __future__ import annotations

import numpy as np
import pytest

from harness.windows import (
    Preprocessing,
    SeriesTransform,
    default_input_size,
    forecast_direct,
    forecast_recursive,
    last_inputs,
    training_windows,
)


def seasonal_series(n: int = 96, m: int = 12) -> np.ndarray:
    t = np.arange(n)
    return (100 + 0.5 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / m))


@pytest.mark.parametrize("method", ["stl", "classical", "none"])
@pytest.mark.parametrize("log", [True, False])
def test_transform_is_exactly_inverted_in_sample(method, log):
    y = seasonal_series()
    tr = SeriesTransform.fit(y, 12, 18, Preprocessing(log=log, deseasonalize=method))
    assert tr.use_log == log
    back = np.exp(tr.z + tr.seasonal) if log else (tr.z + tr.seasonal) * tr.scale
    np.testing.assert_allclose(back, y, rtol=1e-12)
    assert bool(np.any(tr.seasonal)) == (method != "none")


def test_classical_future_component_repeats_the_season():
    y = seasonal_series()
    tr = SeriesTransform.fit(y, 12, 18, Preprocessing(log=True, deseasonalize="classical"))
    np.testing.assert_allclose(tr.future[:12], tr.seasonal[-12:])
    np.testing.assert_allclose(tr.future[12:], tr.seasonal[-12:-6])
    # a flat forecast in transformed space comes back as level x seasonal pattern
    fc = tr.inverse(np.zeros(18))
    np.testing.assert_allclose(fc, np.exp(tr.future))


def test_non_positive_series_skips_log_and_scales():
    y = np.sin(np.arange(50)) * 10
    tr = SeriesTransform.fit(y, 1, 6, Preprocessing(log=True, deseasonalize="stl"))
    assert not tr.use_log and tr.scale == pytest.approx(np.mean(np.abs(y)))
    np.testing.assert_allclose(tr.inverse(tr.z[-6:]), y[-6:])


def test_non_seasonal_series_is_not_deseasonalised():
    y = 50 + np.random.default_rng(0).normal(0, 1, 120)
    tr = SeriesTransform.fit(y, 12, 18, Preprocessing())
    assert not np.any(tr.seasonal) and not np.any(tr.future)


def test_training_windows_are_normalised_and_newest_first():
    z = np.arange(10.0)
    w = training_windows([z, np.arange(3.0)], 4, 2, normalize=True)
    assert w.X.shape == (5, 4) and w.Y.shape == (5, 2)  # 10 - 6 + 1 windows; the short series none
    np.testing.assert_allclose(w.X[0], [-3, -2, -1, 0])
    np.testing.assert_allclose(w.Y[0], [1, 2])
    assert list(w.end) == [10, 9, 8, 7, 6] and set(w.series) == {0}
    raw = training_windows([z], 4, 2, normalize=False, max_per_series=2)
    np.testing.assert_allclose(raw.X, [[4, 5, 6, 7], [3, 4, 5, 6]])


def test_split_last_holds_out_the_newest_window_of_each_series():
    w = training_windows([np.arange(10.0), np.arange(8.0)], 3, 1, normalize=False)
    train, val = w.split_last()
    assert sorted(val.series) == [0, 1] and sorted(val.end) == [8, 10]
    assert len(train.series) == len(w.series) - 2


def test_split_last_trains_on_no_value_a_validation_window_predicts():
    # series of 12: windows of 3 inputs + 4 targets end at 7..12; the newest (end 12) predicts 8..11
    w = training_windows([np.arange(12.0)], 3, 4, normalize=False)
    train, val = w.split_last()
    assert list(val.end) == [12]
    assert list(train.end) == [8, 7]  # targets end at or before position 8, where validation begins
    assert np.max(train.Y) < np.min(val.Y)
    two_train, two_val = w.split_last(2)
    assert sorted(two_val.end) == [11, 12] and list(two_train.end) == [7]
    # a one-step target with a longer calibration tail: training stops before the last `tail`
    one = training_windows([np.arange(12.0)], 3, 1, normalize=False)
    tr, va = one.split_last(1, tail=4)
    assert list(va.end) == [12] and max(tr.end) == 8


def test_last_inputs_pads_short_series_with_their_first_value():
    x = last_inputs([np.arange(6.0), np.array([7.0, 8.0])], 4)
    np.testing.assert_allclose(x, [[2, 3, 4, 5], [7, 7, 7, 8]])


def test_recursive_and_direct_forecasts_continue_a_line():
    inputs = np.array([[1.0, 2.0, 3.0], [10.0, 12.0, 14.0]])

    def one_step(x):
        return x[:, -1:] - x[:, -2:-1]  # next = last + last difference

    rec = forecast_recursive(one_step, inputs, 3, normalize=True)
    np.testing.assert_allclose(rec, [[4, 5, 6], [16, 18, 20]])
    direct = forecast_direct(lambda x: (x[:, -1:] - x[:, -2:-1]) * np.arange(1, 4), inputs, normalize=True)
    np.testing.assert_allclose(direct, rec)


def test_default_input_size_covers_a_season_and_a_horizon():
    assert default_input_size(18, 12) == 23
    assert default_input_size(6, 1) == 8
    assert default_input_size(8, 4) == 10
