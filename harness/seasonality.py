"""Seasonality test and multiplicative classical decomposition, as in the M4 benchmarks.

Shared by the Naive2 and Theta baselines and by neural-network preprocessing, so every model that
"deseasonalises" does it the same way and Naive2 (the OWA reference) stays exactly the published
one. The reference is the M4 "Benchmarks and Evaluation.R" script:

- ``SeasonalityTest``: a 90% test on the lag-``m`` autocorrelation (:func:`is_seasonal`);
- R's ``decompose(type="multiplicative")``: a centred moving average trend, ratios to it averaged
  per position in the season, normalised to mean 1 (:func:`seasonal_indices`);
- the future indices are the last ``m`` in-sample indices repeated (:func:`deseasonalize`).

Phases are counted from the first observation (``t mod m``), as R's ``decompose`` does for a
series built with ``ts(x, frequency = m)``; the calendar month of the first observation does not
matter, only the position.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["acf", "deseasonalize", "deseasonalize_if_seasonal", "is_seasonal", "seasonal_indices"]

#: One-sided 90% normal quantile used by the M4 seasonality test.
Z90 = 1.645


def _series(y: ArrayLike) -> np.ndarray:
    x = np.asarray(y, dtype=float).reshape(-1)
    if not np.all(np.isfinite(x)):
        raise ValueError("series has non-finite values")
    return x


def acf(y: ArrayLike, nlags: int) -> np.ndarray:
    """Sample autocorrelations ``r_0..r_nlags`` (``r_0 = 1``), as R's ``acf`` computes them.

    ``r_k = Σ_{t=1}^{n−k} (y_t − ȳ)(y_{t+k} − ȳ) / Σ_{t=1}^{n} (y_t − ȳ)²`` — the biased
    estimator (denominator over all ``n`` points), the one the M4 test was calibrated with.
    Lags at or beyond ``n`` are 0; a constant series has no defined autocorrelation and gives
    NaN for every lag (``r_0`` included).
    """
    x = _series(y)
    nlags = int(nlags)
    if nlags < 0:
        raise ValueError(f"nlags must be >= 0, got {nlags}")
    d = x - x.mean()
    denom = float(np.dot(d, d))
    if x.size == 0 or denom == 0.0:
        return np.full(nlags + 1, np.nan)
    r = np.zeros(nlags + 1)
    for k in range(min(nlags, x.size - 1) + 1):
        r[k] = np.dot(d[: x.size - k], d[k:]) / denom
    return r


def is_seasonal(y: ArrayLike, m: int, z: float = Z90) -> bool:
    """M4 seasonality test (90% by default): is the lag-``m`` autocorrelation significant?

    Seasonal when ``m > 1``, ``n >= 3m`` and
    ``|r_m| > z·sqrt((1 + 2·Σ_{k=1}^{m−1} r_k²) / n)`` — Bartlett's standard error of ``r_m``
    under an MA(m−1) null. Shorter series are never called seasonal (too few seasons to trust
    the indices), nor are constant ones (undefined autocorrelation).
    """
    x = _series(y)
    m = int(m)
    n = x.size
    if m <= 1 or n < 3 * m:
        return False
    r = acf(x, m)
    if not np.all(np.isfinite(r)):
        return False
    limit = z * math.sqrt((1.0 + 2.0 * float(np.sum(r[1:m] ** 2))) / n)
    return bool(abs(r[m]) > limit)


def seasonal_indices(y: ArrayLike, m: int) -> np.ndarray:
    """Multiplicative classical-decomposition seasonal indices, one per position ``t mod m``.

    Matches R's ``decompose(type="multiplicative")`` and statsmodels'
    ``seasonal_decompose(model="multiplicative", period=m)``: the trend is a centred moving
    average (2×m for even ``m``, m for odd ``m``), the ratios ``y/trend`` are averaged per
    position over the points where the trend exists, and the ``m`` averages are normalised to
    mean 1. Index ``i`` belongs to observations ``i, i+m, i+2m, ...`` counted from the first.

    Needs at least two full seasons and a strictly positive series (a ratio to a trend through
    zero or negative values is meaningless); raises ``ValueError`` otherwise.
    """
    x = _series(y)
    m = int(m)
    if m < 2:
        raise ValueError(f"season length must be >= 2 for seasonal indices, got {m}")
    if x.size < 2 * m:
        raise ValueError(f"series of length {x.size} has fewer than two seasons of length {m}")
    if np.any(x <= 0):
        raise ValueError("multiplicative decomposition needs a strictly positive series")
    if m % 2 == 0:
        weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    else:
        weights = np.ones(m) / m
    half = m // 2
    trend = np.full(x.size, np.nan)
    trend[half : x.size - half] = np.convolve(x, weights, mode="valid")
    ratios = x / trend
    figure = np.array([np.nanmean(ratios[i::m]) for i in range(m)])
    return figure / figure.mean()


def deseasonalize(y: ArrayLike, m: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Divide ``y`` by its seasonal indices; also give the indices of the next ``h`` points.

    Returns ``(adjusted_y, future_indices)``: forecast ``adjusted_y`` with any method and
    multiply the forecast by ``future_indices`` to put the season back. The future index of step
    ``j`` (1-based) is the index of position ``(n + j − 1) mod m``, i.e. the last ``m`` in-sample
    indices repeated, as in the M4 benchmark code. No seasonality test is applied here; see
    :func:`deseasonalize_if_seasonal`.
    """
    x = _series(y)
    figure = seasonal_indices(x, m)
    n = x.size
    insample = figure[np.arange(n) % m]
    future = figure[np.arange(n, n + int(h)) % m]
    return x / insample, future


def deseasonalize_if_seasonal(y: ArrayLike, m: int, h: int, z: float = Z90) -> tuple[np.ndarray, np.ndarray, bool]:
    """The M4 preprocessing rule: deseasonalise only series that pass :func:`is_seasonal`.

    Returns ``(adjusted_y, future_indices, seasonal)``; when the series is not seasonal, or is
    not strictly positive (multiplicative indices are undefined for it), ``adjusted_y`` is ``y``
    unchanged and the indices are all 1, so callers can always multiply them back.
    """
    x = _series(y)
    h = int(h)
    if np.all(x > 0) and is_seasonal(x, m, z):
        adjusted, future = deseasonalize(x, m, h)
        return adjusted, future, True
    return x.copy(), np.ones(h), False


def unadjusted_reason(y: ArrayLike, m: int, z: float = Z90) -> str:
    """Why :func:`deseasonalize_if_seasonal` left a *seasonal* series unadjusted, or ``""``.

    A series the M4 test calls seasonal (:func:`is_seasonal`) that reaches zero or below cannot
    be adjusted (multiplicative indices are undefined for it), so a method defined on the
    adjusted series (Naive2, Theta) runs on the raw one: a fallback its forecast must say. A
    series that is not seasonal is adjusted by nobody under the M4 rule, so it gets ``""``."""
    x = _series(y)
    if np.all(x > 0) or not is_seasonal(x, m, z):
        return ""
    return f"seasonal by the M4 test (m={int(m)}) but has values <= 0: multiplicative seasonal indices undefined"
