"""The forecaster around a neural network: preprocessing, windows, strategies, global or local
training. Neural plugins subclass :class:`WindowForecaster` and supply only the network, so
``rnn-numpy`` and the torch RNNs differ in nothing else.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from harness import windows as W
from harness.data import Panel
from harness.errors import ModelError
from harness.models import Forecaster

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

    Subclasses implement :meth:`train_network` and list their network's parameters in
    ``defaults`` (``{**WindowForecaster.defaults, ...}``).
    """

    strategies: ClassVar[tuple[str, ...]] = ("mimo", "recursive")
    defaults: ClassVar[dict[str, Any]] = {
        "strategy": "mimo",
        "training": "global",
        "input_size": None,
        "input_seasons": None,
        "max_windows_per_series": 60,
        "log": True,
        "deseasonalize": "classical",
        "normalize": True,
    }

    #: Parameters that must be positive: name -> (integer?, may be None). Checked when the model
    #: is built, so ``-p rnn-numpy.hidden=-4`` is bad input (exit 2), not a column of failed rows.
    positive: ClassVar[dict[str, tuple[bool, bool]]] = {"max_windows_per_series": (True, True)}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for param, (integer, nullable) in self.positive.items():
            value = self.params[param]
            if value is None and nullable:
                continue
            number = isinstance(value, numbers.Integral if integer else numbers.Real) and not isinstance(value, bool)
            if not (number and value > 0):
                kind = "a positive integer" if integer else "a positive number"
                raise ModelError(
                    f"model {self.name}: {param} must be {kind}{' or null' if nullable else ''}, got {value!r}"
                )
        if self.strategy not in self.strategies:
            raise ModelError(
                f"model {self.name}: strategy must be one of {', '.join(self.strategies)}, got {self.strategy!r}"
            )
        if self.training not in ("global", "local"):
            raise ModelError(f"model {self.name}: training must be one of global, local, got {self.training!r}")
        try:
            self.prep = W.Preprocessing(self.log, self.deseasonalize, self.normalize)
        except ValueError as exc:
            raise ModelError(f"model {self.name}: {exc}") from None
        if self.input_size is not None:
            self.window = int(self.input_size)
        elif self.input_seasons is not None:
            if not float(self.input_seasons) > 0:
                raise ModelError(f"model {self.name}: input_seasons must be positive, got {self.input_seasons!r}")
            self.window = int(math.ceil(float(self.input_seasons) * self.season_length))
        else:
            self.window = W.default_input_size(self.horizon, self.season_length)
        if self.window < 1:
            raise ModelError(f"model {self.name}: input window must be at least 1, got {self.window}")
        self.n_out = 1 if self.strategy == "recursive" else self.horizon
        self.predictors_: list[Predictor] = []
        self._transforms: list[W.SeriesTransform] = []
        self._transformed_for: Panel | None = None

    def train_network(self, train: W.Windows, val: W.Windows | None, seed: int) -> Predictor:
        """Train a network on ``train`` (early stopping on ``val`` when given) and return its
        predictor. ``train.X`` is ``(n, input_size)``, ``train.Y`` is ``(n, self.n_out)``."""
        raise NotImplementedError

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

    def predict(self, panel: Panel) -> np.ndarray:
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
        return np.vstack([t.inverse(z) for t, z in zip(transforms, z_hat)])

    def _forecast(self, predictor: Predictor, inputs: np.ndarray) -> np.ndarray:
        if self.strategy == "recursive":
            return W.forecast_recursive(predictor, inputs, self.horizon, normalize=self.normalize)
        return W.forecast_direct(predictor, inputs, normalize=self.normalize)
