"""The forecaster around a neural network: preprocessing, windows, strategies, global or local
training, and split-conformal prediction intervals. Neural plugins subclass
:class:`WindowForecaster` and supply only the network, so ``rnn-numpy`` and the torch RNNs differ
in nothing else.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from harness import windows as W
from harness.data import Panel
from harness.errors import ModelError
from harness.metrics import level_key, mase_scale
from harness.models import Forecast, Forecaster
from harness.params import param
from harness.training import TrainingLog, UpdateBudget, summarise

#: A trained network as the forecaster sees it: normalised input windows ``(n, input_size)`` in
#: transformed space to outputs ``(n, n_out)``.
Predictor = Callable[[np.ndarray], np.ndarray]


def conformal_rank(n: int, level: float) -> int:
    """The finite-sample rank of split conformal prediction: the ``ceil((n + 1) * level / 100)``-th
    smallest of ``n`` calibration scores bounds a new score with probability at least
    ``level``% (Lei et al. 2018, Lemma 2). Computed in exact decimal arithmetic (``(19 + 1) *
    0.95`` is 19, not 19.000000000000004). Greater than ``n`` when ``n`` is too small for the level."""
    return math.ceil((n + 1) * Fraction(level_key(level)) / 100)


def calibration_needed(level: float) -> int:
    """The fewest calibration scores that give a finite interval at ``level`` (19 for 95%, 4 for 80%)."""
    n = 1
    while conformal_rank(n, level) > n:
        n += 1
    return n


@dataclass(frozen=True)
class Calibration:
    """What split conformal calibration left: ``n`` calibration series, and per level the
    half-width ``(horizon,)`` in units of a series' MASE scale (levels with too few series for
    their rank have none)."""

    n: int
    quantiles: dict[float, np.ndarray]

    @classmethod
    def from_scores(cls, scores: np.ndarray, levels: tuple[float, ...]) -> Calibration:
        """``scores``: |scaled residuals| ``(n, horizon)``, one row per calibration series."""
        n = scores.shape[0]
        ordered = np.sort(scores, axis=0)
        quantiles = {}
        for level in levels:
            k = conformal_rank(n, level)
            if k <= n:
                quantiles[level] = ordered[k - 1]
        return cls(n, quantiles)

    def missing_note(self, levels: tuple[float, ...]) -> str:
        """What the note of every forecast says about levels without an interval ("" if none)."""
        missing = [level for level in levels if level not in self.quantiles]
        return "; ".join(
            f"no {level_key(level)}% interval: {self.n} calibration series, it needs {calibration_needed(level)}"
            for level in missing
        )


class WindowForecaster(Forecaster):
    """Turns a network that maps a window to outputs into a forecaster.

    The shared preprocessing (:mod:`harness.windows`: log, deseasonalisation when the M4 test finds
    seasonality, per-window normalisation) turns each series into windows of ``input_size``
    values. Strategies: ``"mimo"`` (default: the output layer emits all ``horizon`` steps at
    once), ``"recursive"`` (many-to-one, one step fed back ``horizon`` times); subclasses may add
    their own (an encoder-decoder also emits the horizon at once). ``training="global"`` (default)
    trains one network on the windows of all series of the task; ``"local"`` one per series. The
    newest ``val_windows`` windows (default 1) of every series are held out as the validation
    tail for early stopping.
    ``input_size=None`` uses ceil(1.25 x max(horizon, season length)) (Hewamalage et al. 2021);
    ``input_seasons=k`` makes it ceil(k x season length) instead, for tasks whose information lies
    several seasons back (the memory study's adding task needs two); an explicit ``input_size`` wins.

    Subclasses implement :meth:`train_network` and declare their network's parameters with
    :func:`harness.param`; to offer more strategies they declare ``strategy`` again with more
    ``choices`` (every strategy but ``recursive`` emits the whole horizon at once).

    **Training log.** :meth:`train_network` starts a :class:`harness.TrainingLog` with
    :meth:`training_log` where its training begins and records every epoch in it from the losses
    its loop computes anyway; ``training_logs_`` holds one per network of the last fit (one, or
    one per series with local training), and :meth:`training_summary` pools them into the
    experiments.csv columns of :mod:`harness.training` (epochs, best epoch, updates, time to
    accuracy ...). A subclass that keeps no log has no summary (NaN columns).

    **Budget.** ``max_updates`` and ``check_every`` turn the epoch budget into one in parameter
    updates with validation every ``check_every`` updates (:class:`harness.UpdateBudget`, from
    :meth:`update_budget`): a loop then logs one entry per check, patience counts checks, and the
    log's budget (``max_epochs``) is the number of checks, so ``still_learning`` means the last
    10% of the update budget. Null (the default) keeps the epoch budget and a check per epoch.

    **Prediction intervals** (every subclass gets them, at the model's ``levels``) are split
    conformal (Lei, G'Sell, Rinaldo, Tibshirani & Wasserman 2018), calibrated per horizon step
    as Stankeviciute, Alaa & van der Schaar (2021) do for RNN forecasts. After training, each
    series long enough for an input window before its last ``horizon`` values is forecast from
    its history without those values, exactly as :meth:`predict` forecasts (its own
    preprocessing of the shorter history, the trained network, the strategy); with
    ``strategy="mimo"`` that tail is the validation window that ``windows.split_last`` held out
    of training and early stopping watched. The residuals at each step ``h`` in the data's
    units, divided by the series' MASE scale on the history without the tail, are the
    calibration scores, pooled across series (a global network forecast every tail; with local
    training each series' own network forecast its own). The half-width at step ``h`` is the
    ``ceil((n + 1) * level / 100)``-th smallest ``|score|`` of the ``n`` series
    (:func:`conformal_rank`) times the forecast series' MASE scale on its context. A level
    whose rank exceeds ``n`` (fewer than 19 series for 95%) gets no interval, and every
    forecast's note says so; a series whose context has no usable scale (constant) gets none.

    What it assumes and gives: the guarantee ``P(Y in interval) >= level%`` holds when the
    scaled errors of the calibration series and of the forecast series are exchangeable, i.e.
    when the series are alike draws from one population and their newest ``horizon`` values
    behave like the next ``horizon``; it is *marginal* (on average over series), not
    conditional on any one series, so some series are over- and others under-covered. It is
    not exact here: early stopping chose the network on the tail, so the scores can be a little
    optimistic (narrower intervals). No training window's target reaches into the tail
    (:meth:`harness.windows.Windows.split_last` with ``tail=horizon``; before issue 12 the
    stride-1 windows just before the validation window were trained on the tail's values, and
    local coverage was 0.72 at 80%). The coverage test on synthetic Gaussian panels (tests/test_intervals.py) measures it.
    Point forecasts are unchanged: the calibration forecasts only read the trained network.
    """

    strategy: str = param(
        "mimo",
        "mimo: the output layer emits all horizon steps at once; recursive: one step, fed back horizon times",
        choices=("mimo", "recursive"),
    )
    training: str = param(
        "global", "global: one network on the windows of all series; local: one per series", choices=("global", "local")
    )
    input_size: int | None = param(
        None,
        "input window length (null: ceil(1.25 x max(horizon, season length)))",
        type=int,
        ge=1,
        search=(0.6, 2.4, "log", "window"),
    )
    input_seasons: float | None = param(
        None,
        "input window of ceil(k x season length) when input_size is null (null: the default window)",
        type=float,
        gt=0,
    )
    max_windows_per_series: int | None = param(
        60, "training windows per series, the newest (null: all)", ge=1, nullable=True
    )
    log: bool = param(True, "log-transform series whose values are all positive")
    deseasonalize: str = param(
        "classical",
        "seasonal adjustment, applied when the M4 autocorrelation test finds seasonality",
        choices=W.DESEASONALIZE,
        search=["classical", "none"],
    )
    normalize: bool = param(True, "express each window relative to its last input value")
    max_updates: int | None = param(
        None,
        "training budget in parameter updates: train exactly this many (epochs re-shuffle as needed and "
        "epochs is then no limit) unless early stopping ends it (null: the epochs budget)",
        type=int,
        ge=1,
        id_at_default=False,
    )
    check_every: int | None = param(
        None,
        "validate (and log) every this many updates; patience then counts checks, so patience in updates "
        "is patience x check_every, and still_learning means a best check in the last 10% of the budget "
        "(null: once per epoch)",
        type=int,
        ge=1,
        id_at_default=False,
    )
    val_windows: int = param(
        1,
        "validation windows per series for early stopping: the newest k (training windows end "
        "before the first value they predict)",
        ge=1,
        id_at_default=False,
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prep = W.Preprocessing(self.log, self.deseasonalize, self.normalize)
        if self.input_size is not None:
            self.window = int(self.input_size)
        elif self.input_seasons is not None:
            self.window = int(math.ceil(float(self.input_seasons) * self.season_length))
        else:
            self.window = W.default_input_size(self.horizon, self.season_length)
        if self.window < 1:
            raise ModelError(f"model {self.name}: input window must be at least 1, got {self.window}")
        self.n_out = 1 if self.strategy == "recursive" else self.horizon
        self.predictors_: list[Predictor] = []
        #: one training log per network of the last fit, in training order (:meth:`training_log`)
        self.training_logs_: list[TrainingLog] = []
        self.calibration_: Calibration | None = None
        self._transforms: list[W.SeriesTransform] = []
        self._transformed_for: Panel | None = None

    @abc.abstractmethod
    def train_network(self, train: W.Windows, val: W.Windows | None, seed: int) -> Predictor:
        """Train a network on ``train`` (early stopping on ``val`` when given) and return its
        predictor. ``train.X`` is ``(n, input_size)``, ``train.Y`` is ``(n, self.n_out)``."""

    def training_log(self, max_epochs: int) -> TrainingLog:
        """A new :class:`~harness.training.TrainingLog` of a network about to be trained with a
        budget of ``max_epochs``, its clocks started, kept in ``training_logs_``. Call it in
        :meth:`train_network` where the network's training begins, and its ``epoch(...)`` at the
        end of every epoch."""
        log = TrainingLog.start(max_epochs)
        self.training_logs_.append(log)
        return log

    def update_budget(self, n_windows: int, batch_size: int, epochs: int) -> UpdateBudget:
        """The schedule of a network trained on ``n_windows`` windows in mini-batches of
        ``batch_size`` with ``epochs``: this model's ``max_updates`` and ``check_every`` applied
        (:class:`harness.UpdateBudget`). Start the log with ``training_log(budget.checks)``."""
        return UpdateBudget.of(n_windows, batch_size, epochs, self.max_updates, self.check_every)

    def training_summary(self) -> dict[str, float] | None:
        """The last fit's training summary (:func:`harness.training.summarise` of its networks'
        logs), or None when no network kept a log."""
        return summarise(self.training_logs_)

    def _transformed(self, panel: Panel) -> list[W.SeriesTransform]:
        # fit() and the first predict() usually get the same panel: reuse its transforms
        if self._transformed_for is not panel:
            self._transforms = W.fit_transforms(panel.values, self.season_length, self.horizon, self.prep)
            self._transformed_for = panel
        return self._transforms

    def _train(self, zs: list[np.ndarray], seed: int) -> Predictor:
        windows = W.training_windows(
            zs, self.window, self.n_out, normalize=self.normalize, max_per_series=self.max_windows_per_series
        )
        train, val = windows.split_last(int(self.val_windows), tail=self.horizon)
        if len(train.X) == 0:  # one window per series: train on it, no early stopping
            return self.train_network(windows, None, seed)
        return self.train_network(train, val, seed)

    def fit(self, panel: Panel) -> None:
        zs = [t.z for t in self._transformed(panel)]
        self.training_logs_ = []
        if self.training == "global":
            self.predictors_ = [self._train(zs, self.seed)]
        else:
            self.predictors_ = [self._train([z], self.seed * 100_003 + i) for i, z in enumerate(zs)]
        self.calibration_ = self._calibrate(panel) if self.levels else None

    def _z_forecasts(self, transforms: list[W.SeriesTransform], which: list[int]) -> np.ndarray:
        """Forecasts in transformed space ``(len(which), horizon)`` from ``transforms`` (the
        preprocessing of the series ``which`` of the panel the network was fit on, in order)."""
        inputs = W.last_inputs([t.z for t in transforms], self.window)
        if self.training == "global":
            return self._forecast(self.predictors_[0], inputs)
        return np.vstack([self._forecast(self.predictors_[i], inputs[k : k + 1]) for k, i in enumerate(which)])

    def _calibrate(self, panel: Panel) -> Calibration:
        """Split conformal calibration on every series' newest ``horizon`` values (see the class
        docstring): scaled absolute residuals per series and step, their quantiles per level."""
        h, m = self.horizon, self.season_length
        which, scales = [], []
        for i, y in enumerate(panel.values):
            if len(y) >= self.window + h:
                scale = mase_scale(y[:-h], m)
                if math.isfinite(scale) and scale > 0:
                    which.append(i)
                    scales.append(scale)
        if not which:
            return Calibration(0, {})
        histories = [np.asarray(panel.values[i][:-h], dtype=float) for i in which]
        transforms = W.fit_transforms(histories, m, h, self.prep)
        z_hat = self._z_forecasts(transforms, which)
        y_hat = np.vstack([t.inverse(z) for t, z in zip(transforms, z_hat, strict=True)])
        tails = np.vstack([np.asarray(panel.values[i][-h:], dtype=float) for i in which])
        scores = np.abs(tails - y_hat) / np.asarray(scales)[:, None]
        scores = scores[np.all(np.isfinite(scores), axis=1)]
        return Calibration.from_scores(scores, self.levels)

    def _intervals(self, y: np.ndarray, mean: np.ndarray) -> tuple[dict[float, tuple[np.ndarray, np.ndarray]], str]:
        """The conformal intervals around ``mean`` of the series with context ``y``, and a note
        for the levels without one."""
        cal = self.calibration_
        if cal is None:
            return {}, ""
        notes = [cal.missing_note(self.levels)] if len(cal.quantiles) < len(self.levels) else []
        scale = mase_scale(y, self.season_length)
        if not (math.isfinite(scale) and scale > 0):
            if cal.quantiles:
                notes.append("no interval: the context has no usable MASE scale (a constant series)")
            return {}, "; ".join(notes)
        intervals = {level: (mean - q * scale, mean + q * scale) for level, q in cal.quantiles.items()}
        return intervals, "; ".join(notes)

    def predict(self, panel: Panel) -> dict[str, Forecast]:
        """The forecasts of every series of ``panel``, keyed by unique_id, with their conformal
        intervals; a series whose deseasonalisation could not be applied has a ``fallback`` note."""
        if not self.predictors_:
            raise RuntimeError(f"model {self.name}: predict called before fit")
        if self.training == "local" and len(self.predictors_) != len(panel):
            raise ValueError(f"local {self.name} was fit on {len(self.predictors_)} series, asked for {len(panel)}")
        transforms = self._transformed(panel)
        z_hat = self._z_forecasts(transforms, list(range(len(panel))))
        out = {}
        for uid, y, t, z in zip(panel.ids, panel.values, transforms, z_hat, strict=True):
            mean = t.inverse(z)
            intervals, why = self._intervals(y, mean)
            note = "; ".join(n for n in (f"fallback: {t.note}" if t.note else "", why) if n)
            out[uid] = Forecast(mean, note=note, intervals=intervals)
        return out

    def _forecast(self, predictor: Predictor, inputs: np.ndarray) -> np.ndarray:
        if self.strategy == "recursive":
            return W.forecast_recursive(predictor, inputs, self.horizon, normalize=self.normalize)
        return W.forecast_direct(predictor, inputs, normalize=self.normalize)
