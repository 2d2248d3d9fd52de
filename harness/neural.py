"""The forecaster around a neural network: preprocessing, windows, strategies, global or local
training. Neural plugins subclass :class:`WindowForecaster` and supply only the network, so
``rnn-numpy`` and the torch RNNs differ in nothing else.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from harness import windows as W
from harness.data import Panel
from harness.errors import ModelError
from harness.models import Forecast, Forecaster
from harness.params import param

#: A trained network as the forecaster sees it: normalised input windows ``(n, input_size)`` in
#: transformed space to outputs ``(n, n_out)``.
Predictor = Callable[[np.ndarray], np.ndarray]


class WindowForecaster(Forecaster):
    """Turns a network that maps a window to outputs into a forecaster.

    The shared preprocessing (:mod:`harness.windows`: log, deseasonalisation when the M4 test finds
    seasonality, per-window normalisation) turns each series into windows of ``input_size``
    values. Strategies: ``"mimo"`` (default: the output layer emits all ``horizon`` steps at
    once), ``"recursive"`` (many-to-one, one step fed back ``horizon`` times); subclasses may add
    their own (an encoder-decoder also emits the horizon at once). ``training="global"`` (default)
    trains one network on the windows of all series of the task; ``"local"`` one per series. The
    newest window of every series is held out as the validation tail for early stopping.
    ``input_size=None`` uses ceil(1.25 x max(horizon, season length)) (Hewamalage et al. 2021);
    ``input_seasons=k`` makes it ceil(k x season length) instead, for tasks whose information lies
    several seasons back (the memory study's adding task needs two); an explicit ``input_size`` wins.

    Subclasses implement :meth:`train_network` and declare their network's parameters with
    :func:`harness.param`; to offer more strategies they declare ``strategy`` again with more
    ``choices`` (every strategy but ``recursive`` emits the whole horizon at once).
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
        None, "input window length (null: ceil(1.25 x max(horizon, season length)))", type=int, ge=1
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
    )
    normalize: bool = param(True, "express each window relative to its last input value")

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
        self._transforms: list[W.SeriesTransform] = []
        self._transformed_for: Panel | None = None

    @abc.abstractmethod
    def train_network(self, train: W.Windows, val: W.Windows | None, seed: int) -> Predictor:
        """Train a network on ``train`` (early stopping on ``val`` when given) and return its
        predictor. ``train.X`` is ``(n, input_size)``, ``train.Y`` is ``(n, self.n_out)``."""

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
        train, val = windows.split_last()
        if len(train.X) == 0:  # one window per series: train on it, no early stopping
            return self.train_network(windows, None, seed)
        return self.train_network(train, val, seed)

    def fit(self, panel: Panel) -> None:
        zs = [t.z for t in self._transformed(panel)]
        if self.training == "global":
            self.predictors_ = [self._train(zs, self.seed)]
        else:
            self.predictors_ = [self._train([z], self.seed * 100_003 + i) for i, z in enumerate(zs)]

    def predict(self, panel: Panel) -> dict[str, np.ndarray | Forecast]:
        """The forecasts of every series of ``panel``, keyed by unique_id; a series whose
        deseasonalisation could not be applied gets a :class:`Forecast` with a ``fallback`` note."""
        if not self.predictors_:
            raise RuntimeError(f"model {self.name}: predict called before fit")
        transforms = self._transformed(panel)
        inputs = W.last_inputs([t.z for t in transforms], self.window)
        if self.training == "global":
            z_hat = self._forecast(self.predictors_[0], inputs)
        else:
            if len(self.predictors_) != len(panel):
                raise ValueError(f"local {self.name} was fit on {len(self.predictors_)} series, asked for {len(panel)}")
            z_hat = np.vstack([self._forecast(p, inputs[i : i + 1]) for i, p in enumerate(self.predictors_)])
        return {
            uid: Forecast(t.inverse(z), note=f"fallback: {t.note}") if t.note else t.inverse(z)
            for uid, t, z in zip(panel.ids, transforms, z_hat, strict=True)
        }

    def _forecast(self, predictor: Predictor, inputs: np.ndarray) -> np.ndarray:
        if self.strategy == "recursive":
            return W.forecast_recursive(predictor, inputs, self.horizon, normalize=self.normalize)
        return W.forecast_direct(predictor, inputs, normalize=self.normalize)
