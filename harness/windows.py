"""Sliding windows and the preprocessing neural forecasters need, with exact inverses.

Shared by ``rnn-numpy`` and the torch RNNs so that the two differ only in the network. The steps
follow what the literature found RNNs need on M-competition data (Hewamalage, Bergmeir & Bandara
2021; Smyl 2020): a log transform to stabilise variance, deseasonalisation (RNNs learn seasonality
poorly from short series), and per-window normalisation by the window's last value so that one
global model can serve series of very different levels.

The pipeline for one series ``y`` (in-sample only), fitted by :meth:`SeriesTransform.fit`:

1. ``log``: ``log(y)`` when every value is positive, else ``y / mean|y|`` (so inputs are O(1)).
2. ``deseasonalize``: when ``m > 1`` and the M4 90% autocorrelation test finds seasonality,
   subtract a seasonal component: ``"stl"`` (statsmodels STL, robust) or ``"classical"``
   (multiplicative classical decomposition; in log space its log). Future values of the
   component repeat the last in-sample season. A seasonal series the chosen method cannot adjust
   (``"classical"`` on a series with values <= 0) is left as it is, and its transform's ``note``
   says so: the forecaster reports it as a fallback. (Step 1's scaling instead of the log for a
   non-positive series is the documented ``log`` rule, not a fallback.)
3. ``normalize``: each window is expressed relative to its last input value (its level).

Forecasts are made in the transformed space and :meth:`SeriesTransform.inverse` undoes 2 and 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from harness.seasonality import is_seasonal, seasonal_indices

DESEASONALIZE = ("none", "stl", "classical")


@dataclass(frozen=True)
class Preprocessing:
    """Which preprocessing steps to apply; each is a model parameter, recorded with results."""

    log: bool = True
    deseasonalize: str = "stl"
    normalize: bool = True

    def __post_init__(self) -> None:
        if self.deseasonalize not in DESEASONALIZE:
            raise ValueError(f"deseasonalize must be one of {', '.join(DESEASONALIZE)}, got {self.deseasonalize!r}")


def default_input_size(horizon: int, season_length: int) -> int:
    """Input window length: 1.25 x max(horizon, season length), the heuristic of Hewamalage et al.
    (2021), so a window always covers a full season and at least one horizon."""
    return int(math.ceil(1.25 * max(horizon, season_length)))


@dataclass(frozen=True)
class SeriesTransform:
    """The fitted preprocessing of one series: forward on its history, inverse on forecasts."""

    use_log: bool
    scale: float
    seasonal: np.ndarray  # in-sample component (additive, in transformed space); zeros if none
    future: np.ndarray  # component of the next ``horizon`` points
    z: np.ndarray  # the transformed in-sample series
    #: why a series the M4 test calls seasonal was not deseasonalised ("" when it was, or is not seasonal)
    note: str = ""

    @classmethod
    def fit(cls, y: np.ndarray, season_length: int, horizon: int, prep: Preprocessing) -> SeriesTransform:
        y = np.asarray(y, dtype=float)
        use_log = bool(prep.log and np.all(y > 0))
        scale = 1.0
        if use_log:
            base = np.log(y)
        else:
            scale = float(np.mean(np.abs(y))) or 1.0
            base = y / scale
        n, m = y.size, season_length
        seasonal = np.zeros(n)
        future = np.zeros(horizon)
        note = ""
        if prep.deseasonalize != "none" and m > 1 and is_seasonal(y, m):
            component = _seasonal_component(y, base, m, prep.deseasonalize, use_log)
            if component is not None:
                seasonal = component
                last_season = component[n - m :]  # phases (n - m) .. (n - 1), mod m
                future = last_season[np.arange(horizon) % m]
            else:
                why = "has values <= 0" if np.any(y <= 0) else "is too short for it"
                note = f"{prep.deseasonalize} deseasonalisation skipped: seasonal by the M4 test (m={m}) but {why}"
        return cls(use_log, scale, seasonal, future, base - seasonal, note)

    def inverse(self, z_future: np.ndarray) -> np.ndarray:
        """Forecasts in transformed space (last axis = horizon steps) back to the data's scale."""
        out = np.asarray(z_future, dtype=float) + self.future[: np.shape(z_future)[-1]]
        return np.exp(out) if self.use_log else out * self.scale


def _seasonal_component(y: np.ndarray, base: np.ndarray, m: int, method: str, use_log: bool) -> np.ndarray | None:
    """An additive seasonal component of ``base`` (the log or scaled series), or None if the
    method cannot apply (classical decomposition needs positive data and two full seasons)."""
    if method == "stl":
        if y.size < 2 * m + 1:
            return None
        from statsmodels.tsa.seasonal import STL

        return np.asarray(STL(base, period=m, robust=True).fit().seasonal, dtype=float)
    if not np.all(y > 0) or y.size < 2 * m:
        return None
    idx = seasonal_indices(y, m)[np.arange(y.size) % m]
    # multiplicative indices become additive in log space; on the scaled series, base*(1 - 1/idx)
    return np.log(idx) if use_log else base - base / idx


def fit_transforms(
    values: Sequence[np.ndarray], season_length: int, horizon: int, prep: Preprocessing
) -> list[SeriesTransform]:
    return [SeriesTransform.fit(v, season_length, horizon, prep) for v in values]


@dataclass(frozen=True)
class Windows:
    """Training examples cut from many series: inputs, targets, and where each came from.

    ``series[k]`` is the series of example ``k`` and ``end[k]`` the position just after its last
    target, so callers can hold out the most recent windows of each series for validation.
    """

    X: np.ndarray  # (n, input_size)
    Y: np.ndarray  # (n, output_size)
    series: np.ndarray  # (n,)
    end: np.ndarray  # (n,)

    def split_last(self, k: int = 1, tail: int = 0) -> tuple[Windows, Windows]:
        """(training windows, the newest ``k`` windows of each series): a validation tail per
        series (all of a series' windows when it has at most ``k``).

        The windows are cut with stride 1, so the newest earlier windows' targets overlap the
        validation windows' targets; training on them would let early stopping (and the tuner and
        the conformal calibration, which read the same newest values) watch values the network
        was fit to. So a series' training windows are only those whose targets end at or before
        the first value any of its validation windows predicts, and before its last ``tail``
        values (the model's horizon: the calibration tail, which with a one-step strategy is
        longer than the validation window's target). A series too short for both keeps no
        training window; its validation windows still count."""
        if int(k) < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        last = np.zeros(len(self.series), dtype=bool)
        keep = np.zeros(len(self.series), dtype=bool)
        n_out = self.Y.shape[1] if self.Y.ndim == 2 else 1
        for s in np.unique(self.series):
            members = np.flatnonzero(self.series == s)
            newest = members[np.argsort(-self.end[members], kind="stable")[: int(k)]]
            last[newest] = True
            cutoff = min(int(self.end[newest].min()) - n_out, int(self.end[members].max()) - int(tail))
            keep[members[self.end[members] <= cutoff]] = True
        return self._take(keep & ~last), self._take(last)

    def _take(self, mask: np.ndarray) -> Windows:
        return Windows(self.X[mask], self.Y[mask], self.series[mask], self.end[mask])


def training_windows(
    zs: Sequence[np.ndarray],
    input_size: int,
    output_size: int,
    *,
    normalize: bool,
    stride: int = 1,
    max_per_series: int | None = None,
) -> Windows:
    """All (input, target) windows of every series, newest first when capped by ``max_per_series``.

    With ``normalize`` both input and target are relative to the input's last value.
    Series shorter than ``input_size + output_size`` contribute no window.
    """
    xs, ys, sid, ends = [], [], [], []
    span = input_size + output_size
    for s, z in enumerate(zs):
        if z.size < span:
            continue
        starts = np.arange(z.size - span, -1, -stride)  # newest window first
        if max_per_series is not None:
            starts = starts[:max_per_series]
        idx = starts[:, None] + np.arange(span)[None, :]
        block = z[idx]
        x, y = block[:, :input_size], block[:, input_size:]
        if normalize:
            level = x[:, -1:]
            x, y = x - level, y - level
        xs.append(x)
        ys.append(y)
        sid.append(np.full(len(starts), s))
        ends.append(starts + span)
    if not xs:
        raise ValueError(f"no series is long enough for one window of {input_size} inputs and {output_size} targets")
    return Windows(np.concatenate(xs), np.concatenate(ys), np.concatenate(sid), np.concatenate(ends))


def last_inputs(zs: Sequence[np.ndarray], input_size: int) -> np.ndarray:
    """The last ``input_size`` values of each series ``(n_series, input_size)``; a shorter series is
    padded on the left with its first value."""
    out = np.empty((len(zs), input_size))
    for i, z in enumerate(zs):
        tail = z[-input_size:]
        out[i, input_size - tail.size :] = tail
        out[i, : input_size - tail.size] = tail[0]
    return out


def forecast_direct(predict: Callable[[np.ndarray], np.ndarray], inputs: np.ndarray, *, normalize: bool) -> np.ndarray:
    """Many-to-many ("MIMO"): one call emits the whole horizon ``(n_series, horizon)``."""
    level = inputs[:, -1:] if normalize else 0.0
    return predict(inputs - level) + level


def forecast_recursive(
    predict: Callable[[np.ndarray], np.ndarray], inputs: np.ndarray, horizon: int, *, normalize: bool
) -> np.ndarray:
    """Many-to-one applied recursively: forecast one step, append it, slide, repeat. Each step's
    window is normalised by its own last value, exactly as the training windows were."""
    window = inputs.copy()
    out = np.empty((inputs.shape[0], horizon))
    for step in range(horizon):
        level = window[:, -1:] if normalize else 0.0
        nxt = (predict(window - level) + level)[:, 0]
        out[:, step] = nxt
        window = np.concatenate([window[:, 1:], nxt[:, None]], axis=1)
    return out
