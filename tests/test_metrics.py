"""Metrics against hand-computed values and the M4 edge cases (zero terms, zero scales)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from harness.metrics import (
    SCORE_NAMES,
    coverage,
    mae,
    mase,
    mase_scale,
    msis,
    owa,
    rmse,
    score_names,
    series_scores,
    smape,
    winkler,
)


def test_smape_hand_computed():
    # terms: 200*10/210, 200*0/..., 200*5/15
    y, f = [100.0, 50.0, 10.0], [110.0, 50.0, 5.0]
    expected = (200 * 10 / 210 + 0.0 + 200 * 5 / 15) / 3
    assert smape(y, f) == pytest.approx(expected)


def test_smape_both_zero_term_counts_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert smape([0.0, 0.0], [0.0, 0.0]) == 0.0
        # one exact zero pair, one total miss (200%)
        assert smape([0.0, 0.0], [0.0, 3.0]) == pytest.approx(100.0)


def test_smape_bounded_by_200():
    assert smape([1.0, -1.0], [-1.0, 1.0]) == pytest.approx(200.0)


def test_mase_scale_and_mase_hand_computed():
    x = [1.0, 3.0, 2.0, 5.0, 4.0]
    # lag 1: |2|,|1|,|3|,|1| -> 7/4; lag 2: |1|,|2|,|2| -> 5/3
    assert mase_scale(x, 1) == pytest.approx(7 / 4)
    assert mase_scale(x, 2) == pytest.approx(5 / 3)
    y, f = [6.0, 7.0], [5.0, 4.0]  # mean abs error 2
    assert mase(y, f, x, 1) == pytest.approx(2 / (7 / 4))
    assert mase(y, f, x, 2) == pytest.approx(2 / (5 / 3))


def test_mase_scale_falls_back_to_lag_one_when_too_short():
    assert mase_scale([1.0, 2.0, 4.0], 12) == pytest.approx(1.5)
    assert math.isnan(mase_scale([5.0], 1))


def test_zero_scale_gives_nan_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        constant = [3.0] * 10
        assert mase_scale(constant, 1) == 0.0
        assert math.isnan(mase([1.0, 2.0], [1.0, 1.0], constant, 1))
        seasonal_constant = [1.0, 2.0] * 5  # lag-2 differences all zero
        assert math.isnan(mase([1.0, 2.0], [1.0, 1.0], seasonal_constant, 2))
        assert not math.isnan(mase([1.0, 2.0], [1.0, 1.0], seasonal_constant, 1))
        assert math.isnan(msis([1.0], [0.0], [2.0], constant, 1, 95))


def test_rmse_mae():
    y, f = [1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 1.0, 4.0]  # errors -1, 0, 2, 0
    assert mae(y, f) == pytest.approx(3 / 4)
    assert rmse(y, f) == pytest.approx(math.sqrt(5 / 4))


@pytest.mark.parametrize("fn", [smape, rmse, mae])
def test_length_mismatch_raises(fn):
    with pytest.raises(ValueError, match="differ in length"):
        fn([1.0, 2.0, 3.0], [1.0, 2.0])


def test_length_mismatch_raises_for_scaled_and_interval_metrics():
    with pytest.raises(ValueError, match="differ in length"):
        mase([1.0, 2.0], [1.0], [1.0, 2.0, 3.0], 1)
    with pytest.raises(ValueError, match="differ in length"):
        coverage([1.0, 2.0], [0.0], [3.0, 3.0])
    with pytest.raises(ValueError, match="differ in length"):
        series_scores([1.0, 2.0], [1.0, 2.0, 3.0], [1.0, 2.0])


def test_coverage():
    y = [1.0, 5.0, 10.0, 3.0]
    lower = [0.0, 0.0, 0.0, 3.0]
    upper = [2.0, 4.0, 12.0, 3.0]  # inside, above, inside, on both bounds (inside)
    assert coverage(y, lower, upper) == pytest.approx(3 / 4)


def test_msis_hand_computed():
    insample = [1.0, 3.0, 2.0, 5.0, 4.0]  # lag-1 scale 7/4
    y = [5.0, 0.0, 10.0]
    lower = [4.0, 1.0, 6.0]
    upper = [6.0, 3.0, 8.0]
    a = 0.05
    # widths 2, 2, 2; penalties: 0, (2/a)*(1-0)=40, (2/a)*(10-8)=80
    expected = ((2 + 2 + 2) + (2 / a) * 1 + (2 / a) * 2) / 3 / (7 / 4)
    assert msis(y, lower, upper, insample, 1, 95) == pytest.approx(expected)
    # a perfect-width-zero interval that contains the truth scores 0
    assert msis([2.0], [2.0], [2.0], insample, 1, 80) == 0.0


def test_msis_rejects_bad_level():
    with pytest.raises(ValueError, match="level"):
        msis([1.0], [0.0], [2.0], [1.0, 2.0], 1, 100)


def test_owa():
    assert owa(12.0, 0.9, 16.0, 1.2) == pytest.approx(0.5 * (12 / 16 + 0.9 / 1.2))
    # Naive2 against itself is exactly 1
    assert owa(16.91, 1.04, 16.91, 1.04) == 1.0
    assert math.isnan(owa(1.0, 1.0, 0.0, 1.0))


def test_series_scores_keys_and_nans():
    insample = np.arange(1.0, 13.0)
    y, f = [13.0, 14.0], [12.0, 12.0]
    s = series_scores(y, f, insample, 1)
    assert list(s) == list(SCORE_NAMES)
    assert set(s) == {
        *("smape", "mase", "rmse", "mae", "coverage_80", "coverage_95", "winkler_80", "winkler_95"),
        *("msis", "wql", "scrps"),
    }
    assert s["mae"] == pytest.approx(1.5)
    assert s["mase"] == pytest.approx(1.5)  # scale 1
    assert s["rmse"] == pytest.approx(math.sqrt(2.5))
    assert s["smape"] == pytest.approx(smape(y, f))
    assert all(math.isnan(s[k]) for k in SCORE_NAMES[4:])  # no interval: no interval score

    lo, hi = [12.0, 12.0], [13.0, 13.0]
    s = series_scores(y, f, insample, 1, {95.0: (lo, hi)})
    assert s["coverage_95"] == pytest.approx(0.5)
    assert s["msis"] == pytest.approx(msis(y, lo, hi, insample, 1, 95))
    assert s["winkler_95"] == pytest.approx(winkler(y, lo, hi, 95))
    # only 95: no 80 scores, and no quantile scores (they need every level of the run)
    assert math.isnan(s["coverage_80"]) and math.isnan(s["wql"]) and math.isnan(s["scrps"])
    # MSIS is the M4 one: at 95 only; an interval at 90 in a run at 90 gets coverage, not MSIS
    s = series_scores(y, f, insample, 1, {90: (lo, hi)}, levels=(90.0,))
    assert list(s) == list(score_names((90.0,)))
    assert s["coverage_90"] == pytest.approx(0.5) and math.isnan(s["msis"])
    assert not math.isnan(s["wql"])
