"""The model contract plugins implement: Forecaster (global) and LocalForecaster (per series).

The harness owns windowing, refitting, timing and parallelism; a model owns only learning and
forecasting. Parameters are declared once, in ``defaults``, so they can be listed, validated,
recorded with every result and hashed into its config id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from harness.data import Panel
from harness.errors import ModelError


@dataclass(frozen=True)
class Forecast:
    """A point forecast with an optional central prediction interval at ``level`` percent."""

    mean: np.ndarray
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    level: float | None = None


class Forecaster:
    """A global model: ``fit`` once on the training panel of a task, then ``predict`` from any
    context panel of the same series.

    Subclasses set ``name`` (default registry name), ``defaults`` (every tunable parameter with
    its default value) and implement ``fit`` and ``predict``. Constructed by the harness as
    ``cls(horizon=..., season_length=..., seed=..., **params)``; each parameter becomes an
    attribute of the same name.
    """

    name: ClassVar[str] = ""
    scope: ClassVar[str] = "global"
    defaults: ClassVar[dict[str, Any]] = {}
    #: A deterministic model gives the same forecasts for every seed, so it runs once per task.
    deterministic: ClassVar[bool] = False

    def __init__(self, *, horizon: int, season_length: int = 1, seed: int = 0, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            known = ", ".join(sorted(self.defaults)) or "none"
            raise ModelError(
                f"model {self.name or type(self).__name__}: unknown parameter {unknown[0]!r} (known: {known})"
            )
        self.horizon = int(horizon)
        self.season_length = int(season_length)
        self.seed = int(seed)
        self.params: dict[str, Any] = {**self.defaults, **params}
        for key, value in self.params.items():
            setattr(self, key, value)

    @property
    def device(self) -> str:
        """Where the model computes (``cpu``, ``cuda:0`` ...); recorded in every result row."""
        return "cpu"

    @property
    def device_name(self) -> str:
        """The accelerator's name (e.g. ``NVIDIA H100 80GB HBM3``), empty on CPU; recorded."""
        return ""

    def synchronize(self) -> None:
        """Wait for asynchronous work (GPU kernels) to finish; the timer calls it before reading
        the clock. CPU models have nothing to wait for."""

    def warm_up(self, panel: Panel) -> None:
        """Untimed work before the timed ``fit`` (CUDA context, cuDNN autotuning, JIT), so one-off
        start-up costs are not reported as training time. Default: nothing."""

    def peak_device_memory_mb(self) -> float | None:
        """Peak accelerator memory of this model's work in MiB (e.g. from
        ``torch.cuda.max_memory_allocated``), or None on CPU."""
        return None

    def fit(self, panel: Panel) -> None:
        raise NotImplementedError

    def predict(self, panel: Panel) -> np.ndarray | list[Forecast]:
        """Forecast ``self.horizon`` steps after the end of each series of ``panel``.

        Returns an array ``(len(panel), horizon)`` or one :class:`Forecast` per series.
        """
        raise NotImplementedError


class LocalForecaster(Forecaster):
    """A model fit to one series at a time (ARIMA, baselines).

    Implement ``fit_predict_one(y)``: ``y`` is the in-sample history of one series (1-D float
    array); return ``self.horizon`` forecasts (array) or a :class:`Forecast` with an interval.
    The runner calls it per series, in parallel worker processes, refitting at every origin.
    """

    scope: ClassVar[str] = "local"
    deterministic: ClassVar[bool] = True

    def fit_predict_one(self, y: np.ndarray) -> np.ndarray | Forecast:
        raise NotImplementedError

    def fit(self, panel: Panel) -> None:
        """Local models learn nothing across series: fitting happens in ``predict``."""

    def predict(self, panel: Panel) -> list[Forecast]:
        return [as_forecast(self.fit_predict_one(np.asarray(y, dtype=float)), self.horizon) for y in panel.values]


def as_forecast(out: Any, horizon: int) -> Forecast:
    """Check a model's output for one series and wrap it as a Forecast.

    Raises ``ValueError`` with a one-line reason for a wrong length or non-finite values, so the
    runner can record the series as failed.
    """
    fc = out if isinstance(out, Forecast) else Forecast(mean=out)
    mean = np.asarray(fc.mean, dtype=float).reshape(-1)
    if mean.shape != (horizon,):
        raise ValueError(f"forecast has {mean.size} values, expected horizon {horizon}")
    if not np.all(np.isfinite(mean)):
        raise ValueError("forecast has non-finite values")
    lower = upper = None
    if fc.lower is not None and fc.upper is not None:
        lower = np.asarray(fc.lower, dtype=float).reshape(-1)
        upper = np.asarray(fc.upper, dtype=float).reshape(-1)
        if lower.shape != (horizon,) or upper.shape != (horizon,):
            raise ValueError("prediction interval length differs from the horizon")
        if not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper))):
            lower = upper = None  # an unusable interval is dropped, the point forecast stands
    return Forecast(mean=mean, lower=lower, upper=upper, level=fc.level if lower is not None else None)
