"""Forecast accuracy metrics, as defined for the M4 competition.

Plain NumPy functions of one series (``y`` the test values, ``f`` the forecasts, ``insample`` the
history the model saw), so the runner can score each series of each window on its own and the
analysis can aggregate however it likes. Undefined values (a zero MASE scale, no interval) are
returned as NaN, never as an exception or a warning: one degenerate series must not stop a run,
and the analysis decides how to report it.

References: Makridakis, Spiliotis & Assimakopoulos (2020), "The M4 Competition: 100,000 time
series and 61 forecasting methods", IJF 36(1); the M4 "Benchmarks and Evaluation.R" script.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "coverage",
    "mae",
    "mase",
    "mase_scale",
    "msis",
    "owa",
    "rmse",
    "series_scores",
    "smape",
    "SCORE_NAMES",
]

#: The per-series scores ``series_scores`` returns, in table order.
SCORE_NAMES: tuple[str, ...] = ("smape", "mase", "rmse", "mae", "coverage", "msis")


def _pair(y: ArrayLike, f: ArrayLike, what: str = "forecast") -> tuple[np.ndarray, np.ndarray]:
    """Both arguments as flat float arrays of the same, non-zero length (else ValueError)."""
    y = np.asarray(y, dtype=float).reshape(-1)
    f = np.asarray(f, dtype=float).reshape(-1)
    if y.shape != f.shape:
        raise ValueError(f"actual values and {what} differ in length: {y.size} vs {f.size}")
    if y.size == 0:
        raise ValueError("cannot score an empty forecast")
    return y, f


def smape(y: ArrayLike, f: ArrayLike) -> float:
    """Symmetric MAPE in percent: mean over t of ``200·|Y−F| / (|Y| + |F|)``.

    A term where both ``Y`` and ``F`` are 0 is a perfect forecast and counts 0 (M4 convention),
    instead of the 0/0 a literal formula gives.
    """
    y, f = _pair(y, f)
    num = 2.0 * np.abs(y - f)
    den = np.abs(y) + np.abs(f)
    terms = np.divide(num, den, out=np.zeros_like(num), where=den != 0)
    return float(100.0 * terms.mean())


def mase_scale(insample: ArrayLike, m: int = 1) -> float:
    """In-sample mean absolute seasonal difference, ``mean |y_t − y_{t−m}|`` for t = m+1..n.

    This is the MASE (and MSIS) denominator: the in-sample error of the seasonal naive
    forecast. ``m`` is the season length (1 for non-seasonal data). When the history is too
    short for one seasonal difference (``n <= m``) the lag-1 scale is used instead, so short
    seasonal series still get a score (the M4 code would fail there). Returns NaN when not even
    one difference exists (``n < 2``).
    """
    x = np.asarray(insample, dtype=float).reshape(-1)
    m = max(int(m), 1)
    if x.size <= m:
        m = 1
    if x.size <= m:
        return math.nan
    return float(np.mean(np.abs(x[m:] - x[:-m])))


def _usable(scale: float) -> bool:
    return math.isfinite(scale) and scale > 0


def mase(y: ArrayLike, f: ArrayLike, insample: ArrayLike, m: int = 1) -> float:
    """Mean absolute scaled error: ``mean |Y−F|`` divided by :func:`mase_scale`.

    A zero (constant, or seasonally constant, history) or non-finite scale makes MASE undefined
    for the series: NaN is returned rather than dividing by zero.
    """
    y, f = _pair(y, f)
    scale = mase_scale(insample, m)
    if not _usable(scale):
        return math.nan
    return float(np.mean(np.abs(y - f)) / scale)


def rmse(y: ArrayLike, f: ArrayLike) -> float:
    """Root mean squared error, in the units of the series."""
    y, f = _pair(y, f)
    return float(np.sqrt(np.mean((y - f) ** 2)))


def mae(y: ArrayLike, f: ArrayLike) -> float:
    """Mean absolute error, in the units of the series."""
    y, f = _pair(y, f)
    return float(np.mean(np.abs(y - f)))


def _interval(y: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, lo = _pair(y, lower, "lower bound")
    _, up = _pair(y, upper, "upper bound")
    return y, lo, up


def coverage(y: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Share of actual values inside the closed interval ``[lower, upper]`` (0 to 1).

    Compare with the nominal ``level/100`` of the interval: a well-calibrated 95% interval covers
    about 0.95 of the values over many series.
    """
    y, lo, up = _interval(y, lower, upper)
    return float(np.mean((y >= lo) & (y <= up)))


def msis(
    y: ArrayLike,
    lower: ArrayLike,
    upper: ArrayLike,
    insample: ArrayLike,
    m: int = 1,
    level: float = 95.0,
) -> float:
    """Mean scaled interval score (M4) of a central prediction interval at ``level`` percent.

    ``mean[(U−L) + (2/a)(L−Y)·1{Y<L} + (2/a)(Y−U)·1{Y>U}] / scale`` with ``a = 1 − level/100``
    and the MASE scale: narrow intervals score well unless they miss, and a miss costs ``2/a``
    times its distance (40 times at 95%). NaN when the scale is zero or undefined.
    """
    y, lo, up = _interval(y, lower, upper)
    a = 1.0 - float(level) / 100.0
    if not 0.0 < a < 1.0:
        raise ValueError(f"interval level must be strictly between 0 and 100, got {level}")
    scale = mase_scale(insample, m)
    if not _usable(scale):
        return math.nan
    penalty = (2.0 / a) * (np.maximum(lo - y, 0.0) + np.maximum(y - up, 0.0))
    return float(np.mean((up - lo) + penalty) / scale)


def owa(smape: float, mase: float, smape_naive2: float, mase_naive2: float) -> float:
    """Overall weighted average (M4): ``½·(sMAPE/sMAPE_Naive2 + MASE/MASE_Naive2)``.

    Every argument must already be a mean over all series of the dataset (M4 averages first,
    then takes ratios); below 1 means better than Naive2. NaN when a Naive2 value is zero or
    not finite.
    """
    values = [float(v) for v in (smape, mase, smape_naive2, mase_naive2)]
    if not all(math.isfinite(v) for v in values) or values[2] == 0 or values[3] == 0:
        return math.nan
    return 0.5 * (values[0] / values[2] + values[1] / values[3])


def series_scores(
    y: ArrayLike,
    f: ArrayLike,
    insample: ArrayLike,
    m: int = 1,
    lower: ArrayLike | None = None,
    upper: ArrayLike | None = None,
    level: float | None = None,
) -> dict[str, float]:
    """Every per-series metric of one forecast in one dict (what the runner stores per series
    and window): keys ``smape, mase, rmse, mae, coverage, msis``.

    ``coverage`` and ``msis`` are NaN unless both bounds are given (``msis`` also needs
    ``level``); ``mase`` and ``msis`` are NaN when the in-sample scale is zero.
    """
    y, f = _pair(y, f)
    scores = {
        "smape": smape(y, f),
        "mase": mase(y, f, insample, m),
        "rmse": rmse(y, f),
        "mae": mae(y, f),
        "coverage": math.nan,
        "msis": math.nan,
    }
    if lower is not None and upper is not None:
        scores["coverage"] = coverage(y, lower, upper)
        if level is not None:
            scores["msis"] = msis(y, lower, upper, insample, m, level)
    return scores
