"""Forecast accuracy metrics, as defined for the M4 competition.

Plain NumPy functions of one series (``y`` the test values, ``f`` the forecasts, ``insample`` the
history the model saw), so the runner can score each series of each window on its own and the
analysis can aggregate however it likes. Undefined values (a zero MASE scale, no interval) are
returned as NaN, never as an exception or a warning: one degenerate series must not stop a run,
and the analysis decides how to report it.

Interval and quantile scores take a forecast's central intervals by level (``{80.0: (lower,
upper), 95.0: (lower, upper)}``, the run's levels, :data:`DEFAULT_LEVELS` unless the suite says
otherwise): coverage and the Winkler score per level, MSIS at 95%, and the weighted quantile loss
and scaled CRPS of the quantiles those intervals imply (:func:`interval_quantiles`). Every
function has one shape: actual values first, then the forecast (point, bounds or quantiles), then
the in-sample history and season length where a scale is needed.

References: Makridakis, Spiliotis & Assimakopoulos (2020), "The M4 Competition: 100,000 time
series and 61 forecasting methods", IJF 36(1); the M4 "Benchmarks and Evaluation.R" script;
Gneiting & Raftery (2007), "Strictly proper scoring rules, prediction, and estimation", JASA
102(477) (interval score, CRPS as an integral of quantile losses); Winkler (1972), "A
decision-theoretic approach to interval estimation", JASA 67(337); Gasthaus et al. (2019),
"Probabilistic forecasting with spline quantile function RNNs", AISTATS (the weighted quantile
loss of GluonTS and fev).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "DEFAULT_LEVELS",
    "MSIS_LEVEL",
    "SCORE_NAMES",
    "coverage",
    "interval_quantiles",
    "level_key",
    "mae",
    "mase",
    "mase_scale",
    "msis",
    "owa",
    "rmse",
    "score_names",
    "scores_in",
    "scrps",
    "series_scores",
    "smape",
    "winkler",
    "wql",
]

#: The central prediction interval levels (percent) of a run unless its suite or ``--levels``
#: says otherwise.
DEFAULT_LEVELS: tuple[float, ...] = (80.0, 95.0)
#: The level of MSIS, as in M4: ``msis`` is NaN in a run without a 95% interval.
MSIS_LEVEL = 95.0


def level_key(level: float) -> str:
    """How a level is written in column names (``coverage_80``, ``lo_97.5``): up to 10
    significant digits, no trailing zeros."""
    return f"{float(level):.10g}"


def score_names(levels: Sequence[float] = DEFAULT_LEVELS) -> tuple[str, ...]:
    """The per-series scores :func:`series_scores` returns for a run at ``levels``, in table
    order: the point scores, ``coverage_<L>`` and ``winkler_<L>`` per level, then ``msis``,
    ``wql`` and ``scrps``."""
    keys = [level_key(level) for level in levels]
    return (
        "smape",
        "mase",
        "rmse",
        "mae",
        *(f"coverage_{k}" for k in keys),
        *(f"winkler_{k}" for k in keys),
        "msis",
        "wql",
        "scrps",
    )


#: The per-series scores of a run at the default levels, in table order.
SCORE_NAMES: tuple[str, ...] = score_names(DEFAULT_LEVELS)
#: Scores that do not depend on the levels, and the prefixes of those that do.
_FIXED_SCORES = ("smape", "mase", "rmse", "mae", "msis", "wql", "scrps")
_LEVEL_PREFIXES = ("coverage_", "winkler_")


def scores_in(columns: Sequence[str]) -> list[str]:
    """The score columns among ``columns`` of stored per-series rows, in their order: whatever
    levels the run had (``coverage_80`` ...), and ``coverage`` of a run stored before levels."""
    return [c for c in columns if c in _FIXED_SCORES or c == "coverage" or c.startswith(_LEVEL_PREFIXES)]


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


def _alpha(level: float) -> float:
    a = 1.0 - float(level) / 100.0
    if not 0.0 < a < 1.0:
        raise ValueError(f"interval level must be strictly between 0 and 100, got {level}")
    return a


def winkler(y: ArrayLike, lower: ArrayLike, upper: ArrayLike, level: float) -> float:
    """Mean Winkler (interval) score of a central interval at ``level`` percent, in the units of
    the series (like RMSE and MAE): ``mean[(U−L) + (2/a)(L−Y)·1{Y<L} + (2/a)(Y−U)·1{Y>U}]``
    with ``a = 1 − level/100`` (Winkler 1972; Gneiting & Raftery 2007). A narrow interval scores
    well unless it misses, and a miss costs ``2/a`` times its distance (10 times at 80%, 40 at
    95%). Kept unscaled on purpose: :func:`msis` is the scaled version at 95%, and a scaled
    ``winkler_95`` would only repeat it."""
    y, lo, up = _interval(y, lower, upper)
    a = _alpha(level)
    penalty = (2.0 / a) * (np.maximum(lo - y, 0.0) + np.maximum(y - up, 0.0))
    return float(np.mean((up - lo) + penalty))


def msis(
    y: ArrayLike,
    lower: ArrayLike,
    upper: ArrayLike,
    insample: ArrayLike,
    m: int = 1,
    level: float = MSIS_LEVEL,
) -> float:
    """Mean scaled interval score (M4) of a central prediction interval at ``level`` percent:
    :func:`winkler` divided by the MASE scale (:func:`mase_scale`), so it can be averaged over
    series of different units. M4 scores the 95% interval (``level`` 95, a miss costs 40 times
    its distance). NaN when the scale is zero or undefined.
    """
    _alpha(level)
    scale = mase_scale(insample, m)
    if not _usable(scale):
        return math.nan
    return winkler(y, lower, upper, level) / scale


def interval_quantiles(
    mean: ArrayLike, intervals: Mapping[float, tuple[ArrayLike, ArrayLike]]
) -> dict[float, np.ndarray]:
    """The quantile forecasts central intervals imply, by quantile level ``q`` in increasing
    order: a central interval at ``L`` percent is the ``(1 − L/100)/2`` and ``1 − (1 − L/100)/2``
    quantiles, and the point forecast is taken as the median (``q = 0.5``). Levels 80 and 95
    give q = 0.025, 0.1, 0.5, 0.9, 0.975."""
    out = {0.5: np.asarray(mean, dtype=float).reshape(-1)}
    for level, (lower, upper) in intervals.items():
        _alpha(level)
        tail = (100.0 - float(level)) / 200.0  # (1 - 0.8) / 2 is 0.09999999999999998, this is 0.1
        out[tail] = np.asarray(lower, dtype=float).reshape(-1)
        out[1.0 - tail] = np.asarray(upper, dtype=float).reshape(-1)
    return dict(sorted(out.items()))


def _pinball_sums(y: ArrayLike, quantiles: Mapping[float, ArrayLike]) -> tuple[np.ndarray, float]:
    """``y`` as an array and the mean over quantile levels of the summed pinball losses
    ``sum_t max(q(Y−Q), (q−1)(Y−Q))``."""
    if not quantiles:
        raise ValueError("no quantile forecasts to score")
    y = np.asarray(y, dtype=float).reshape(-1)
    total = 0.0
    for q, values in quantiles.items():
        y, f = _pair(y, values, f"quantile {q:g} forecast")
        diff = y - f
        total += float(np.sum(np.maximum(q * diff, (q - 1.0) * diff)))
    return y, total / len(quantiles)


def wql(y: ArrayLike, quantiles: Mapping[float, ArrayLike]) -> float:
    """Weighted quantile loss (GluonTS, fev): ``sum over q, t of 2·pinball_q(Y_t, Q_q,t) /
    (n_q · sum_t |Y_t|)`` for the quantile forecasts ``{q: Q_q}``; unit-free, 0 is perfect. With
    quantiles spread over (0, 1) it approximates the CRPS relative to the mean absolute value
    (utilsforecast calls it ``scaled_crps``). NaN when every actual value is 0."""
    y, mean_loss = _pinball_sums(y, quantiles)
    norm = float(np.sum(np.abs(y)))
    if not _usable(norm):
        return math.nan
    return 2.0 * mean_loss / norm


def scrps(y: ArrayLike, quantiles: Mapping[float, ArrayLike], insample: ArrayLike, m: int = 1) -> float:
    """Scaled CRPS from quantile forecasts: the CRPS at each step approximated by
    ``(2/n_q)·sum_q pinball_q`` (the CRPS is twice the integral of the pinball loss over q;
    Gneiting & Raftery 2007), averaged over the steps and divided by the MASE scale, so it reads
    like MASE (for a point forecast alone, q = 0.5 only, it is exactly MASE). NaN when the scale
    is zero or undefined."""
    y, mean_loss = _pinball_sums(y, quantiles)
    scale = mase_scale(insample, m)
    if not _usable(scale):
        return math.nan
    return 2.0 * mean_loss / y.size / scale


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
    intervals: Mapping[float, tuple[ArrayLike, ArrayLike]] | None = None,
    levels: Sequence[float] = DEFAULT_LEVELS,
) -> dict[str, float]:
    """Every per-series metric of one forecast in one dict (what the runner stores per series
    and window), keys :func:`score_names` of ``levels``.

    ``intervals`` holds the forecast's central intervals by level; the scores of a level without
    one are NaN: ``coverage_<L>`` and ``winkler_<L>`` per level, ``msis`` without a 95% interval.
    ``wql`` and ``scrps`` need an interval at every one of ``levels`` (a model with fewer would be
    scored on other quantiles than the rest, and the numbers would not compare), else NaN.
    ``mase``, ``msis`` and ``scrps`` are NaN when the in-sample scale is zero.
    """
    y, f = _pair(y, f)
    scores = dict.fromkeys(score_names(levels), math.nan)
    scores.update(smape=smape(y, f), mase=mase(y, f, insample, m), rmse=rmse(y, f), mae=mae(y, f))
    given = {float(level): bounds for level, bounds in (intervals or {}).items()}
    for level in levels:
        if float(level) not in given:
            continue
        lower, upper = given[float(level)]
        key = level_key(level)
        scores[f"coverage_{key}"] = coverage(y, lower, upper)
        scores[f"winkler_{key}"] = winkler(y, lower, upper, level)
        if float(level) == MSIS_LEVEL:
            scores["msis"] = msis(y, lower, upper, insample, m, level)
    if levels and all(float(level) in given for level in levels):
        quantiles = interval_quantiles(f, {float(level): given[float(level)] for level in levels})
        scores["wql"] = wql(y, quantiles)
        scores["scrps"] = scrps(y, quantiles, insample, m)
    return scores
