"""Seeded long-memory panels: the information a forecast needs lies exactly ``L`` steps back.

Claim (c) of the study says that RNNs "have difficulty accessing a very old time frame". A bad
score on real data cannot separate "the model cannot remember that far" from "the series was
unpredictable anyway". These tasks can: in each, the useful information sits exactly one (and,
for the adding task, two) periods of ``L`` steps back, nothing nearer helps, and two numbers are
known exactly and stored in ``Dataset.meta``:

- ``optimal_rmse``: the RMSE of the best possible forecast (the true conditional mean) over
  steps 1..h, i.e. ``sqrt(mean_j MSE_j)`` with ``MSE_j = sigma^2 * sum_{i<j} psi_i^2`` from the
  psi-weights of the AR polynomial. Because ``h <= L`` every step is a one-step-ahead problem for
  the lag-``L`` recursion, so this is ``sigma``.
- ``floor_rmse``: the RMSE of a model that learned nothing, i.e. forecasts the unconditional mean
  (0): ``sqrt(gamma_0)``, the process standard deviation.
- ``oracle``: per unique_id, the optimal forecast (the conditional mean the generator knows,
  :func:`oracle_forecast`) of the holdout test window, the last ``h`` values; the study scores
  it on the very values it scores the models on, so the optimum has the same sampling noise as
  the errors it is compared with (``optimal_rmse`` stays the theoretical value).

A model near ``optimal_rmse`` remembered lag ``L``; a model near ``floor_rmse`` did not; the gap
between the two (``optimal/floor`` is about 0.31 for the copy task, 0.41 for the adding task and
0.45 for the seasonal task with the defaults) is wide enough for the study's verdict rule.
Sweeping ``L`` over :data:`LAGS` (6 ... 192) shows *where* memory fails, if it does.

Three families, all with ``season_length = L`` given to the models and horizon ``h <= L``:

- :func:`lagged_copy`: ``y_t = phi*y_{t-L} + e_t``, the next value is a noisy copy of the one
  ``L`` steps back.
- :func:`adding`: ``y_t = alpha*(y_{t-L} + y_{t-2L}) + e_t``, the adding problem as a forecast:
  the sum of the values one and two periods back (stationary for ``-1 < alpha < 1/2``).
- :func:`long_seasonal`: ``y_t = s_{t mod L} + e_t`` with a fixed random pattern ``s`` per
  series (``meta["patterns"]``); memorising one long period is all there is to learn.

Values are stationary around zero (score them with RMSE, not sMAPE). The AR families start from
an exact draw of the stationary distribution and also discard a burn-in of ``10*L`` steps, so no
trace of an arbitrary start remains; :func:`oracle_forecast` gives the optimal forecast of any
series from its history (from what ``meta`` holds: ``generator``, ``lag`` and ``phi``, ``alpha``
or ``patterns``), for tests and for plotting the optimum next to the models.

What the memory study (:mod:`harness.studies.memory`) reads, it reads through the registry, never
by importing this module: each panel is registered with ``info={"study": "memory", "task": TASK,
"lag": L}`` (how the study finds the tasks and lags there are, without loading anything), and
the loaded dataset's ``meta`` has ``task``, ``lag``, ``optimal_rmse``, ``floor_rmse`` and ``oracle``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import harness

LAGS: tuple[int, ...] = (6, 12, 24, 48, 96, 192)
TASKS: tuple[str, ...] = ("copy", "adding", "seasonal")
#: Series per panel: 256, so a global network sees enough independent data (16 starved it: at
#: most 60 windows each, ~900 updates before early stopping) and the study's bootstrap over
#: series has enough of them.
N_SERIES = 256
HORIZON = 6


def dataset_name(task: str, lag: int) -> str:
    """Registry name of a memory dataset: ``dataset_name("copy", 48) == "memory-copy-L48"``."""
    if task not in TASKS:
        raise ValueError(f"unknown memory task {task!r} (known: {', '.join(TASKS)})")
    return f"memory-{task}-L{int(lag)}"


def default_length(lag: int) -> int:
    """``max(300, 4*lag + 128)`` values: the study's input window of ``2.25*lag`` (which holds the
    ``2*lag``-old value the adding task needs) plus the horizon fits with room for ~200-300
    windows per series (268 at L=12, 207 at L=48, 291 at L=96, 459 at L=192): with 256 series,
    50-120 thousand windows, more than a 5,000-update budget of batches of 64 can exhaust, while
    the windows of a panel stay small enough to hold (float64: 130 MB at L=96) and a panel of
    256 series generates in well under a second. (It was ``max(300, 12*lag)`` with 16 series.)"""
    return max(300, 4 * int(lag) + 128)


# --- validation and small helpers -------------------------------------------------------------


def _check_common(
    n_series: int, lag: int, length: int | None, sigma: float, horizon: int, burn_in: int | None, periods_needed: int
) -> tuple[int, int, int]:
    """Validate the shared arguments; return ``(lag, length, burn_in)`` with defaults filled."""
    if int(n_series) <= 0:
        raise ValueError(f"n_series must be positive, got {n_series}")
    if int(lag) != lag or lag <= 0:
        raise ValueError(f"lag must be a positive integer, got {lag}")
    lag = int(lag)
    if int(horizon) != horizon or horizon <= 0:
        raise ValueError(f"horizon must be a positive integer, got {horizon}")
    if horizon > lag:
        raise ValueError(f"horizon {horizon} exceeds the lag {lag}: the needed value would not be observed yet")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    length = default_length(lag) if length is None else int(length)
    minimum = periods_needed * lag + int(horizon)
    if length < minimum:
        raise ValueError(
            f"length {length} is too short: the history before the last {horizon} points "
            f"must hold {periods_needed} period(s) of {lag}, so length >= {minimum}"
        )
    burn_in = 10 * lag if burn_in is None else int(burn_in)
    if burn_in < 0:
        raise ValueError(f"burn_in must be >= 0, got {burn_in}")
    return lag, length, burn_in


def _ids(prefix: str, n: int) -> tuple[str, ...]:
    width = max(3, len(str(n)))
    return tuple(f"{prefix}-{i + 1:0{width}d}" for i in range(n))


def _dataset(
    name: str, prefix: str, values: list[np.ndarray], *, lag: int, horizon: int, description: str, meta: dict
) -> harness.Dataset:
    """The dataset, its ``meta`` completed with ``oracle``: per unique_id the optimal forecast of
    the holdout test window (the last ``horizon`` values) from the history before it, so that the
    study scores the optimum on exactly the windows it scores the models on."""
    ids = _ids(prefix, len(values))
    meta["oracle"] = {uid: _oracle(meta, v[:-horizon], i, horizon, name) for i, (uid, v) in enumerate(zip(ids, values))}
    panel = harness.Panel(ids=ids, values=tuple(values), freq="other", season_length=lag, horizon=horizon)
    return harness.Dataset(name=name, panel=panel, test=None, description=description, source="synthetic", meta=meta)


def _lag_polynomial(coefs: tuple[float, ...], lag: int) -> np.ndarray:
    """``[1, 0, ..., -coefs[0] (at lag), ..., -coefs[1] (at 2*lag), ...]`` (statsmodels sign)."""
    poly = np.zeros(len(coefs) * lag + 1)
    poly[0] = 1.0
    for k, c in enumerate(coefs, start=1):
        poly[k * lag] = -float(c)
    return poly


def _check_stationary(coefs: tuple[float, ...], what: str) -> None:
    # Stationarity of the lag-L polynomial 1 - sum c_k B^{kL} is that of 1 - sum c_k z^k (z = B^L).
    roots = np.roots(np.r_[1.0, -np.asarray(coefs, dtype=float)][::-1])
    if np.any(np.abs(roots) <= 1.0 + 1e-9):
        raise ValueError(f"{what} is not stationary (a root of the AR polynomial lies on or inside the unit circle)")


def _ar_truth(coefs: tuple[float, ...], lag: int, sigma: float, horizon: int) -> tuple[float, float, np.ndarray]:
    """``(optimal_rmse, floor_rmse, gammas)`` of ``y_t = sum_k c_k y_{t-kL} + e_t``.

    ``gammas`` are the autocovariances at lags ``0, L, ..., (p-1)L``. They equal those of the
    compact AR(p) ``x_k = sum c_k x_{k-k'} + e`` (each phase mod L is one such process), which
    ``arma_acovf`` solves in microseconds instead of seconds for the order-``pL`` polynomial.
    """
    # statsmodels (~1 s): when a dataset is made, not at plugin load
    from statsmodels.tsa.arima_process import arma2ma, arma_acovf

    psi = arma2ma(_lag_polynomial(coefs, lag), np.array([1.0]), lags=horizon)
    mse = sigma**2 * np.cumsum(psi**2)  # MSE of the optimal j-step forecast, j = 1..horizon
    compact = np.r_[1.0, -np.asarray(coefs, dtype=float)]
    gammas = arma_acovf(compact, np.array([1.0]), nobs=len(coefs), sigma2=sigma**2)
    return float(np.sqrt(np.mean(mse))), float(np.sqrt(gammas[0])), np.asarray(gammas, dtype=float)


def _simulate_ar(
    rng: np.random.Generator, coefs: tuple[float, ...], lag: int, sigma: float, gammas: np.ndarray, total: int
) -> np.ndarray:
    """One path of length ``total`` of ``y_t = sum_k c_k y_{t-kL} + e_t`` started in its
    stationary distribution: the first ``p*L`` values are an exact draw (each phase an
    independent AR(p) with Toeplitz covariance of ``gammas``), the rest follow by ``lfilter``."""
    from scipy.signal import lfilter, lfiltic  # scipy (~0.3 s): when a dataset is made, not at plugin load

    p = len(coefs)
    cov = np.array([[gammas[abs(i - j)] for j in range(p)] for i in range(p)])
    start = (rng.standard_normal((lag, p)) @ np.linalg.cholesky(cov).T).T.reshape(-1)  # period-major
    poly = _lag_polynomial(coefs, lag)
    e = rng.normal(0.0, sigma, size=total - start.size)
    zi = lfiltic([1.0], poly, y=start[::-1])
    rest, _ = lfilter([1.0], poly, e, zi=zi)
    return np.concatenate([start, rest])


def _ar_dataset(
    generator: str,
    task: str,
    coefs: tuple[float, ...],
    params: dict[str, float],
    *,
    n_series: int,
    lag: int,
    length: int | None,
    sigma: float,
    seed: int,
    horizon: int,
    burn_in: int | None,
    name: str,
    prefix: str,
    formula: str,
) -> harness.Dataset:
    lag, length, burn_in = _check_common(n_series, lag, length, sigma, horizon, burn_in, len(coefs))
    optimal, floor, gammas = _ar_truth(coefs, lag, float(sigma), int(horizon))
    rng = np.random.default_rng(seed)
    total = max(burn_in + length, len(coefs) * lag + 1)
    values = [
        _simulate_ar(rng, coefs, lag, float(sigma), gammas, total)[total - length :] for _ in range(int(n_series))
    ]
    meta = {
        "generator": generator,
        "task": task,
        "lag": lag,
        **params,
        "sigma": float(sigma),
        "length": length,
        "n_series": int(n_series),
        "seed": seed,
        "horizon": int(horizon),
        "burn_in": burn_in,
        "optimal_rmse": optimal,
        "floor_rmse": floor,
    }
    description = (
        f"long-memory {generator}: {formula}, L={lag}, "
        + ", ".join(f"{k}={v:g}" for k, v in params.items())
        + f", sigma={sigma:g}, {n_series} series of {length}, h={horizon}, seed {seed}; "
        f"optimal RMSE {optimal:.3f}, learned-nothing floor {floor:.3f}"
    )
    return _dataset(name, prefix, values, lag=lag, horizon=int(horizon), description=description, meta=meta)


# --- generators -------------------------------------------------------------------------------


def lagged_copy(
    n_series: int = N_SERIES,
    lag: int = 12,
    length: int | None = None,
    phi: float = 0.95,
    sigma: float = 1.0,
    *,
    seed: int = 0,
    horizon: int = HORIZON,
    burn_in: int | None = None,
    name: str = "memory-copy",
) -> harness.Dataset:
    """``y_t = phi*y_{t-L} + e_t``, ``e_t ~ N(0, sigma^2)``, ``L = lag``: the next value is a noisy
    copy of the value ``L`` steps back and nothing nearer carries information.

    Optimal RMSE ``sigma``; floor ``sigma/sqrt(1 - phi^2)`` (3.20 for the defaults, ratio 0.31).
    ``length`` defaults to :func:`default_length`; ``burn_in`` (default ``10*lag``) steps are
    discarded after an exact stationary start. Raises ValueError for ``|phi| >= 1``,
    ``lag <= 0``, ``horizon > lag`` or a ``length`` too short to hold a period before the test.
    """
    if not -1.0 < phi < 1.0:
        raise ValueError(f"phi must be in (-1, 1) for a stationary process, got {phi}")
    _check_stationary((phi,), f"lagged_copy phi={phi}")
    return _ar_dataset(
        "lagged_copy",
        "copy",
        (float(phi),),
        {"phi": float(phi)},
        n_series=n_series,
        lag=lag,
        length=length,
        sigma=sigma,
        seed=seed,
        horizon=horizon,
        burn_in=burn_in,
        name=name,
        prefix=f"copy-L{lag}",
        formula="y_t = phi*y_{t-L} + e_t",
    )


def adding(
    n_series: int = N_SERIES,
    lag: int = 12,
    length: int | None = None,
    alpha: float = 0.47,
    sigma: float = 1.0,
    *,
    seed: int = 0,
    horizon: int = HORIZON,
    burn_in: int | None = None,
    name: str = "memory-adding",
) -> harness.Dataset:
    """The adding problem as a forecast: ``y_t = alpha*(y_{t-L} + y_{t-2L}) + e_t``.

    The forecast needs the *sum* of the values one and two periods back, so a model must hold
    ``2L`` steps. Stationary exactly for ``-1 < alpha < 1/2`` (ValueError otherwise). Floor
    ``sqrt(gamma_0)`` with ``gamma_0 = sigma^2 (1-alpha)/((1+alpha)((1-alpha)^2 - alpha^2))``:
    2.45 for the default 0.47 (ratio 0.41). ``alpha = 0.45`` would give ratio 0.51, too narrow a
    gap for the verdict rule (optimal < 0.5*floor), hence the default.
    """
    if not -1.0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (-1, 0.5) for a stationary process (2*alpha < 1), got {alpha}")
    _check_stationary((alpha, alpha), f"adding alpha={alpha}")
    return _ar_dataset(
        "adding",
        "adding",
        (float(alpha), float(alpha)),
        {"alpha": float(alpha)},
        n_series=n_series,
        lag=lag,
        length=length,
        sigma=sigma,
        seed=seed,
        horizon=horizon,
        burn_in=burn_in,
        name=name,
        prefix=f"adding-L{lag}",
        formula="y_t = alpha*(y_{t-L} + y_{t-2L}) + e_t",
    )


def long_seasonal(
    n_series: int = N_SERIES,
    period: int = 12,
    length: int | None = None,
    amplitude: float = 2.0,
    sigma: float = 1.0,
    *,
    seed: int = 0,
    horizon: int = HORIZON,
    name: str = "memory-seasonal",
) -> harness.Dataset:
    """``y_t = s_{t mod L} + e_t`` with ``L = period``, ``t`` counted from each series' first
    value, and a fixed random pattern ``s`` per series (``meta["patterns"]``).

    The pattern is drawn ``N(0, amplitude^2)`` and then centred and rescaled to mean 0 and root
    mean square exactly ``amplitude``, so that the floor ``sqrt(amplitude^2 + sigma^2)`` holds for
    every series, not only on average over patterns (2.24 for the defaults, optimal ``sigma``,
    ratio 0.45). White noise needs no burn-in (``meta["burn_in"]`` is 0). Requires ``period >= 2``.
    """
    if int(period) != period or period < 2:
        raise ValueError(f"period must be an integer >= 2, got {period}")
    if not amplitude > 0:
        raise ValueError(f"amplitude must be positive, got {amplitude}")
    lag, length, _ = _check_common(n_series, period, length, sigma, horizon, 0, 1)
    rng = np.random.default_rng(seed)
    patterns = rng.normal(0.0, amplitude, size=(int(n_series), lag))
    patterns -= patterns.mean(axis=1, keepdims=True)
    patterns *= amplitude / np.sqrt(np.mean(patterns**2, axis=1, keepdims=True))
    phase = np.arange(length) % lag
    values = [patterns[i, phase] + rng.normal(0.0, sigma, size=length) for i in range(int(n_series))]
    optimal, floor = float(sigma), float(np.sqrt(amplitude**2 + sigma**2))
    meta = {
        "generator": "long_seasonal",
        "task": "seasonal",
        "lag": lag,
        "period": lag,
        "amplitude": float(amplitude),
        "sigma": float(sigma),
        "length": length,
        "n_series": int(n_series),
        "seed": seed,
        "horizon": int(horizon),
        "burn_in": 0,
        "optimal_rmse": optimal,
        "floor_rmse": floor,
        "patterns": patterns.tolist(),
    }
    description = (
        f"long-memory seasonal: y_t = s_(t mod L) + e_t, L={lag}, pattern rms {amplitude:g}, "
        f"sigma={sigma:g}, {n_series} series of {length}, h={horizon}, seed {seed}; "
        f"optimal RMSE {optimal:.3f}, learned-nothing floor {floor:.3f}"
    )
    return _dataset(name, f"seasonal-L{lag}", values, lag=lag, horizon=int(horizon), description=description, meta=meta)


# --- the optimum --------------------------------------------------------------------------------


def oracle_forecast(dataset: harness.Dataset, history: np.ndarray, series_index: int, horizon: int) -> np.ndarray:
    """The optimal forecast of ``horizon`` steps after ``history`` for series ``series_index`` of a
    dataset made here, knowing the true process.

    AR families: the recursion iterated with future noise set to zero (uses the last ``p*L``
    values of ``history``). Seasonal: the true pattern at phases ``(n + j - 1) mod L``,
    ``j = 1..horizon``, where ``n = len(history)`` and ``history`` starts at the series' first value.
    """
    return _oracle(dataset.meta, history, series_index, horizon, dataset.name)


def _oracle(meta: dict, history: np.ndarray, series_index: int, horizon: int, name: str) -> np.ndarray:
    """:func:`oracle_forecast` from a dataset's ``meta`` (also while the dataset is being made)."""
    generator = meta.get("generator")
    history = np.asarray(history, dtype=float).reshape(-1)
    horizon = int(horizon)
    if horizon <= 0:
        raise ValueError(f"horizon must be positive, got {horizon}")
    lag = int(meta["lag"])
    if generator == "long_seasonal":
        pattern = np.asarray(meta["patterns"][series_index], dtype=float)
        return pattern[(history.size + np.arange(horizon)) % lag]
    if generator == "lagged_copy":
        coefs: tuple[float, ...] = (float(meta["phi"]),)
    elif generator == "adding":
        coefs = (float(meta["alpha"]),) * 2
    else:
        raise ValueError(f"dataset {name!r} was not made by plugins.longmemory (generator {generator!r})")
    need = len(coefs) * lag
    if history.size < need:
        raise ValueError(f"history of {history.size} values is too short: the {generator} recursion needs {need}")
    path = np.concatenate([history[-need:], np.zeros(horizon)])
    for j in range(need, need + horizon):
        path[j] = sum(c * path[j - (k + 1) * lag] for k, c in enumerate(coefs))
    return path[need:]


# --- registration -------------------------------------------------------------------------------

_GENERATORS: dict[str, Callable[..., harness.Dataset]] = {
    "copy": lambda lag, name: lagged_copy(N_SERIES, lag, seed=0, horizon=HORIZON, name=name),
    "adding": lambda lag, name: adding(N_SERIES, lag, seed=0, horizon=HORIZON, name=name),
    "seasonal": lambda lag, name: long_seasonal(N_SERIES, lag, seed=0, horizon=HORIZON, name=name),
}

_TASK_DESCRIPTIONS = {
    "copy": "lagged copy y_t = 0.95*y_(t-L) + e_t (optimal RMSE 1, floor 3.20)",
    "adding": "adding y_t = 0.47*(y_(t-L) + y_(t-2L)) + e_t (optimal RMSE 1, floor 2.45)",
    "seasonal": "fixed random season of length L (rms 2) + N(0,1) noise (optimal RMSE 1, floor 2.24)",
}


def _loader(task: str, lag: int) -> Callable[[], harness.Dataset]:
    name = dataset_name(task, lag)
    return lambda: _GENERATORS[task](lag, name)


@harness.hookimpl
def register_datasets(register: Callable[..., Any]) -> None:
    """Register the long-memory panels, ``memory-{copy,adding,seasonal}-L{6..192}`` (256 series,
    h=6, seed 0, generated only when loaded), one collection per task and ``memory`` for all.
    Each panel's ``info`` names its study, task and lag, which is how the memory study finds it."""
    for task in TASKS:
        for lag in LAGS:
            register(
                dataset_name(task, lag),
                _loader(task, lag),
                description=f"{_TASK_DESCRIPTIONS[task]}, L={lag}, {N_SERIES} series of "
                f"{default_length(lag)}, h={HORIZON}, seed 0",
                info={"study": "memory", "task": task, "lag": lag},
            )
        register(
            f"memory-{task}",
            None,
            parts=[dataset_name(task, lag) for lag in LAGS],
            description=f"{_TASK_DESCRIPTIONS[task]} for L in {', '.join(map(str, LAGS))}",
        )
    register(
        "memory",
        None,
        parts=[dataset_name(task, lag) for task in TASKS for lag in LAGS],
        description="all long-memory panels (claim c): copy, adding and seasonal tasks, L = 6 ... 192",
    )
