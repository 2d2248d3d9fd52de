"""Built-in baseline models: naive, seasonal naive, Naive2 (the M4 OWA reference), Theta and the mean.

These are the yardsticks every other model is measured against, so they follow the M4
benchmark code ("Benchmarks and Evaluation.R") exactly; the conformance test checks Naive2
against its published M3 monthly sMAPE (16.91). Deseasonalisation comes from
:mod:`harness.seasonality` so that Naive2, Theta and the neural models share one definition.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

import harness
from harness import deseasonalize_if_seasonal, unadjusted_reason


def _check(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=float).reshape(-1)
    if y.size == 0:
        raise ValueError("empty series: nothing to forecast from")
    return y


class Naive(harness.LocalForecaster):
    """Random walk: every future value equals the last observation."""

    name: ClassVar[str] = "naive"
    family: ClassVar[str] = "baseline"

    def fit_predict_one(self, y: np.ndarray) -> np.ndarray:
        y = _check(y)
        return np.full(self.horizon, y[-1])


class SeasonalNaive(harness.LocalForecaster):
    """The last full season repeated; the last value (naive) when ``season_length`` is 1 or the
    series is shorter than one season."""

    name: ClassVar[str] = "snaive"
    family: ClassVar[str] = "baseline"

    def fit_predict_one(self, y: np.ndarray) -> np.ndarray:
        y = _check(y)
        m = self.season_length
        if m <= 1 or y.size < m:
            return np.full(self.horizon, y[-1])
        return np.resize(y[-m:], self.horizon)


class Mean(harness.LocalForecaster):
    """The in-sample mean repeated (Hyndman's ``meanf``).

    It learns nothing about the dynamics, so it is the "learned nothing" floor of the long-memory
    study (:mod:`plugins.longmemory`): on a stationary series its RMSE tends to the process
    standard deviation ``sqrt(gamma_0)``, the ``floor_rmse`` those datasets record.
    """

    name: ClassVar[str] = "mean"
    family: ClassVar[str] = "baseline"

    def fit_predict_one(self, y: np.ndarray) -> np.ndarray:
        y = _check(y)
        return np.full(self.horizon, float(np.mean(y)))


class Naive2(harness.LocalForecaster):
    """M4 Naive2: naive on the seasonally adjusted series, seasonality multiplied back.

    A series is adjusted only when it passes the M4 90% autocorrelation test
    (``n >= 3m`` and a significant lag-``m`` autocorrelation) and is strictly positive:
    multiplicative indices of a series that reaches zero or below are undefined, so a seasonal
    series that does gets the plain naive forecast, with a ``fallback`` note saying so (the
    M-competition data are all positive, so this never changes a published number).
    """

    name: ClassVar[str] = "naive2"
    family: ClassVar[str] = "baseline"

    def fit_predict_one(self, y: np.ndarray) -> np.ndarray | harness.Forecast:
        y = _check(y)
        adjusted, future, _ = deseasonalize_if_seasonal(y, self.season_length, self.horizon)
        mean = adjusted[-1] * future
        why = unadjusted_reason(y, self.season_length)
        if why:
            return harness.Forecast(mean=mean, note=f"fallback: naive, not deseasonalised ({why})")
        return mean


class Theta(harness.LocalForecaster):
    """The standard Theta method (Assimakopoulos & Nikolopoulos 2000; Hyndman & Billah 2003).

    Half the drift of a linear trend plus simple exponential smoothing, fit by statsmodels'
    ``ThetaModel`` on the series deseasonalised by the M4 rule (:mod:`harness.seasonality`:
    the 90% autocorrelation test and multiplicative classical decomposition), then
    reseasonalised. We pass ``deseasonalize=False`` to statsmodels because its own test
    (a Ljung-Box-like statistic) differs from the M4 one, and the benchmark must be the M4 Theta.

    Central prediction intervals at the run's levels (``self.levels``), computed as R's
    ``forecast::thetaf`` does: the simple-exponential-smoothing interval around the Theta
    forecast, variance ``sigma2 * (1 + alpha**2 * (j - 1))`` at step ``j``, with ``sigma2`` the
    mean squared one-step SES residual (denominator ``n - 2``: alpha and the initial level), and
    scaled by the same seasonal indices. (statsmodels' own ``prediction_intervals`` estimates
    ``sigma2`` with an extra SARIMAX fit, which made Theta five times slower.)

    A constant series forecasts its constant, with an interval of width 0: that is what the
    method gives (no drift, every SES level the constant), computed directly because statsmodels
    fits a spurious drift to an exactly constant series (all 42 gave 47-56). A seasonal series
    that is not strictly positive cannot be deseasonalised (see :class:`Naive2`): Theta runs on
    the raw series, with a ``fallback`` note.
    """

    name: ClassVar[str] = "theta"
    family: ClassVar[str] = "theta"
    theta: float = harness.param(
        2.0, "SES plus (1 - 1/theta) x the linear trend's drift; 2 is the standard Theta method", ge=1
    )

    def fit_predict_one(self, y: np.ndarray) -> harness.Forecast:
        from statsmodels.tsa.forecasting.theta import ThetaModel

        y = _check(y)
        if y.size < 3:
            raise ValueError(f"theta needs at least 3 observations, got {y.size}")
        if np.all(y == y[0]):
            return harness.Forecast.normal(np.full(self.horizon, y[0]), np.zeros(self.horizon), self.levels)
        why = unadjusted_reason(y, self.season_length)
        note = f"fallback: theta, not deseasonalised ({why})" if why else ""
        adjusted, future, _ = deseasonalize_if_seasonal(y, self.season_length, self.horizon)
        with warnings.catch_warnings():
            # statsmodels warns about convergence on short or flat series; the forecast stands.
            warnings.simplefilter("ignore")
            res = ThetaModel(adjusted, period=1, deseasonalize=False).fit()
            mean = np.asarray(res.forecast(self.horizon, theta=float(self.theta)), dtype=float) * future
            alpha = float(res.params["alpha"])
        # Gaussian intervals on the seasonally adjusted scale, multiplied back by the indices
        gaussian = harness.Forecast.normal(mean / future, _ses_sd(adjusted, alpha, self.horizon), self.levels)
        intervals = {level: (lo * future, hi * future) for level, (lo, hi) in gaussian.intervals.items()}
        return harness.Forecast(mean=mean, note=note, intervals=intervals)


def _ses_sd(y: np.ndarray, alpha: float, horizon: int) -> np.ndarray:
    """Standard deviation of the SES forecast error (Hyndman et al. 2008, ETS(A,N,N)):
    ``sqrt(sigma2 * (1 + alpha**2 * (j - 1)))`` for steps ``j = 1..horizon``."""
    from scipy.signal import lfilter

    # level l_t = alpha*y_t + (1-alpha)*l_{t-1}, l_0 = y_0; one-step errors e_t = y_t - l_{t-1}
    levels = lfilter([alpha], [1.0, alpha - 1.0], y[1:], zi=[(1.0 - alpha) * y[0]])[0]
    errors = y[1:] - np.r_[y[0], levels[:-1]]
    sigma2 = float(np.sum(errors**2) / max(errors.size - 1, 1))
    steps = np.arange(horizon)
    return np.sqrt(sigma2 * (1.0 + alpha**2 * steps))


MODELS: tuple[type[harness.LocalForecaster], ...] = (Naive, SeasonalNaive, Naive2, Theta, Mean)


@harness.hookimpl
def register_models(register: Callable[..., Any]) -> None:
    """Register the built-in baselines: naive, snaive, naive2, theta, mean."""
    for cls in MODELS:
        register(cls)
