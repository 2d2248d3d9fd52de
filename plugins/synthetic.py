"""Seeded synthetic panels whose generating process is known.

Real data cannot tell whether a model failed because the signal is unlearnable or because the
model is wrong; synthetic data with known truth can. An ARMA panel has a known optimal linear
forecast (ARIMA should be near it and an RNN should not beat it by much), a trend+season panel
tests seasonal handling, and a two-regime threshold AR is a simple nonlinearity where an RNN
may beat a linear model. Each generator is a plain function of its sizes, parameters and
``seed`` (numpy ``default_rng``), so the same call gives the same numbers on every machine; the
true parameters are kept in ``Dataset.meta`` and in the description.

Series lengths may vary: ``length`` is an int or an inclusive ``(min, max)`` range drawn per
series. Every series starts after ``burn_in`` discarded steps so it is a draw from the
stationary distribution, not from the arbitrary zero start.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import harness

Length = int | tuple[int, int]


def _lengths(rng: np.random.Generator, n_series: int, length: Length) -> np.ndarray:
    if isinstance(length, (int, np.integer)):
        lo = hi = int(length)
    else:
        lo, hi = (int(v) for v in length)
    if n_series <= 0:
        raise ValueError(f"n_series must be positive, got {n_series}")
    if lo <= 0 or hi < lo:
        raise ValueError(f"length must be a positive int or a (min, max) range, got {length!r}")
    return rng.integers(lo, hi + 1, size=n_series)


def _ids(prefix: str, n: int) -> tuple[str, ...]:
    width = max(3, len(str(n)))
    return tuple(f"{prefix}-{i + 1:0{width}d}" for i in range(n))


def _dataset(
    name: str,
    prefix: str,
    values: list[np.ndarray],
    *,
    freq: str,
    season_length: int,
    horizon: int,
    description: str,
    meta: dict,
) -> harness.Dataset:
    panel = harness.Panel(
        ids=_ids(prefix, len(values)), values=tuple(values), freq=freq, season_length=season_length, horizon=horizon
    )
    return harness.Dataset(name=name, panel=panel, test=None, description=description, source="synthetic", meta=meta)


def _fmt(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


def arma(
    n_series: int = 50,
    length: Length = (120, 200),
    ar: Sequence[float] = (0.6, -0.2),
    ma: Sequence[float] = (0.3,),
    sigma: float = 1.0,
    mean: float = 0.0,
    *,
    seed: int = 0,
    horizon: int = 8,
    burn_in: int = 200,
    name: str = "arma",
) -> harness.Dataset:
    """Independent ARMA(p, q) series ``y_t - mean = sum ar_i (y_{t-i} - mean) + e_t + sum ma_j e_{t-j}``
    with Gaussian ``e_t ~ N(0, sigma^2)``.

    Raises ValueError when the AR part is not stationary, because then no stationary draw exists
    and the "known truth" would be an explosive path instead.
    """
    from scipy.signal import lfilter  # scipy (~0.3 s): when a dataset is made, not at plugin load

    ar = [float(a) for a in ar]
    ma = [float(m) for m in ma]
    ar_poly = np.r_[1.0, -np.asarray(ar)]
    if ar and np.any(np.abs(np.roots(ar_poly[::-1])) <= 1.0):
        raise ValueError(
            f"AR coefficients {ar} are not stationary (a root of the AR polynomial is inside the unit circle)"
        )
    rng = np.random.default_rng(seed)
    lengths = _lengths(rng, n_series, length)
    values = []
    for n in lengths:
        e = rng.normal(0.0, sigma, size=int(n) + burn_in)
        x = lfilter(np.r_[1.0, ma], ar_poly, e)
        values.append(mean + x[burn_in:])
    description = (
        f"synthetic ARMA({len(ar)},{len(ma)}): ar={_fmt(ar)}, ma={_fmt(ma)}, sigma={sigma:g}, "
        f"mean={mean:g}, {n_series} series, seed {seed}"
    )
    meta = {
        "generator": "arma",
        "ar": ar,
        "ma": ma,
        "sigma": float(sigma),
        "mean": float(mean),
        "seed": seed,
        "burn_in": burn_in,
    }
    return _dataset(
        name, "arma", values, freq="other", season_length=1, horizon=horizon, description=description, meta=meta
    )


def trend_seasonal(
    n_series: int = 50,
    length: Length = (120, 200),
    season_length: int = 12,
    level: float = 100.0,
    slope: float = 0.2,
    amplitude: float = 10.0,
    noise_ar: float = 0.5,
    sigma: float = 2.0,
    *,
    seed: int = 0,
    horizon: int = 18,
    freq: str = "monthly",
    burn_in: int = 100,
    name: str = "trend-seasonal",
) -> harness.Dataset:
    """``y_t = level + slope*t + amplitude*sin(2*pi*t/season_length + phase) + u_t`` with a random
    phase per series (stored in ``meta["phases"]``) and AR(1) noise ``u_t = noise_ar*u_{t-1} + e_t``,
    ``e_t ~ N(0, sigma^2)``. Additive, so classical decomposition and seasonal models see exactly
    the pattern they assume; the AR(1) noise keeps it from being trivially predictable.
    """
    from scipy.signal import lfilter  # scipy (~0.3 s): when a dataset is made, not at plugin load

    if not -1.0 < noise_ar < 1.0:
        raise ValueError(f"noise_ar must be in (-1, 1) for stationary noise, got {noise_ar}")
    if season_length <= 0:
        raise ValueError(f"season_length must be positive, got {season_length}")
    rng = np.random.default_rng(seed)
    lengths = _lengths(rng, n_series, length)
    phases = rng.uniform(0.0, 2.0 * np.pi, size=n_series)
    values = []
    for n, phase in zip(lengths, phases):
        n = int(n)
        e = rng.normal(0.0, sigma, size=n + burn_in)
        u = lfilter([1.0], [1.0, -noise_ar], e)[burn_in:]
        t = np.arange(n, dtype=np.float64)
        values.append(level + slope * t + amplitude * np.sin(2.0 * np.pi * t / season_length + phase) + u)
    description = (
        f"synthetic trend+season: level={level:g}, slope={slope:g}, amplitude={amplitude:g}, "
        f"m={season_length}, AR(1) noise phi={noise_ar:g} sigma={sigma:g}, {n_series} series, seed {seed}"
    )
    meta = {
        "generator": "trend_seasonal",
        "level": float(level),
        "slope": float(slope),
        "amplitude": float(amplitude),
        "season_length": int(season_length),
        "noise_ar": float(noise_ar),
        "sigma": float(sigma),
        "phases": [float(p) for p in phases],
        "seed": seed,
    }
    return _dataset(
        name,
        "seasonal",
        values,
        freq=freq,
        season_length=season_length,
        horizon=horizon,
        description=description,
        meta=meta,
    )


def threshold_ar(
    n_series: int = 50,
    length: Length = (120, 200),
    low: Sequence[float] = (3.0, 0.6),
    high: Sequence[float] = (1.0, 0.7),
    threshold: float = 5.0,
    delay: int = 1,
    sigma: float = 1.0,
    *,
    seed: int = 0,
    horizon: int = 8,
    burn_in: int = 200,
    name: str = "tar",
) -> harness.Dataset:
    """Two-regime SETAR(2; 1, 1): ``y_t = c + phi*y_{t-1} + e_t`` with ``(c, phi) = low`` when
    ``y_{t-delay} <= threshold`` and ``high`` otherwise, ``e_t ~ N(0, sigma^2)``.

    The defaults pull each regime towards the other's side (low regime mean 3/(1-0.6) = 7.5 lies
    above the threshold, high regime mean 1/(1-0.7) = 3.3 below it), so series keep switching:
    a nonlinearity no single AR model captures. Both |phi| < 1, so the process is stationary.
    """
    c_low, phi_low = (float(v) for v in low)
    c_high, phi_high = (float(v) for v in high)
    if delay < 1:
        raise ValueError(f"delay must be >= 1, got {delay}")
    if abs(phi_low) >= 1.0 or abs(phi_high) >= 1.0:
        raise ValueError(f"regime AR coefficients must be below 1 in absolute value, got {phi_low}, {phi_high}")
    rng = np.random.default_rng(seed)
    lengths = _lengths(rng, n_series, length)
    values = []
    for n in lengths:
        total = int(n) + burn_in
        e = rng.normal(0.0, sigma, size=total)
        y = np.full(total, float(threshold))
        for t in range(max(1, delay), total):
            if y[t - delay] <= threshold:
                y[t] = c_low + phi_low * y[t - 1] + e[t]
            else:
                y[t] = c_high + phi_high * y[t - 1] + e[t]
        values.append(y[burn_in:])
    description = (
        f"synthetic SETAR(2;1,1): low (c, phi)={_fmt((c_low, phi_low))}, high={_fmt((c_high, phi_high))}, "
        f"threshold={threshold:g}, delay={delay}, sigma={sigma:g}, {n_series} series, seed {seed}"
    )
    meta = {
        "generator": "threshold_ar",
        "low": [c_low, phi_low],
        "high": [c_high, phi_high],
        "threshold": float(threshold),
        "delay": int(delay),
        "sigma": float(sigma),
        "seed": seed,
    }
    return _dataset(
        name, "tar", values, freq="other", season_length=1, horizon=horizon, description=description, meta=meta
    )


# Registered panels: seed 0 and modest sizes so a benchmark run stays quick. The ARMA panel is
# shifted to mean 10 because sMAPE (a percentage) is meaningless for series hovering around zero.
REGISTERED = {
    "synthetic-arma": lambda: arma(
        50, (120, 200), ar=(0.6, -0.2), ma=(0.3,), sigma=1.0, mean=10.0, seed=0, name="synthetic-arma"
    ),
    "synthetic-seasonal": lambda: trend_seasonal(50, (120, 200), season_length=12, seed=0, name="synthetic-seasonal"),
    "synthetic-tar": lambda: threshold_ar(50, (120, 200), seed=0, name="synthetic-tar"),
}

_DESCRIPTIONS = {
    "synthetic-arma": "ARMA(2,1) ar=(0.6, -0.2) ma=(0.3) sigma=1 mean=10, 50 series of 120-200, h=8, seed 0",
    "synthetic-seasonal": "trend + sine season m=12 + AR(1) noise, 50 monthly series of 120-200, h=18, seed 0",
    "synthetic-tar": "two-regime threshold AR (SETAR), threshold 5, 50 series of 120-200, h=8, seed 0",
}


@harness.hookimpl
def register_datasets(register: Callable[..., Any]) -> None:
    """Register the fixed-seed synthetic panels (generated only when loaded)."""
    for name, load in REGISTERED.items():
        register(name, load, description=_DESCRIPTIONS[name])
