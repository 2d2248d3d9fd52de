"""What one experiment is and what it produces: the types and row schemas shared by the runner
(:mod:`harness.runner`, which makes the rows) and the store (:mod:`harness.store`, which writes
them), so that neither depends on the other.

An :class:`Experiment` is one model with one parameter set and seed on one task; running it gives
an :class:`ExperimentResult` (a timing summary and, unless streamed into a :class:`Sink`, its rows).
Rows have the columns and dtypes of ``SERIES_COLUMNS`` (per series x window) and
``FORECAST_COLUMNS`` (per series x window x step); each failure the runner caught is also a
record with the fields of ``FAILURE_FIELDS`` (the experiment's failure log, with tracebacks).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from harness import metrics
from harness.models import model_family
from harness.params import keyed_params
from harness.plugins import ModelSpec
from harness.tasks import Task

__all__ = [
    "FAILURE_FIELDS",
    "FORECAST_COLUMNS",
    "SERIES_COLUMNS",
    "Experiment",
    "ExperimentResult",
    "Sink",
    "bound_columns",
    "forecast_columns",
    "series_columns",
]


@functools.cache
def series_columns(levels: tuple[float, ...] = metrics.DEFAULT_LEVELS) -> dict[str, str]:
    """Columns of the per-series rows (``series.parquet``, ``metrics.parquet``) of a run at
    ``levels`` and their dtypes: the scores are :func:`harness.metrics.score_names` of them."""
    return {
        "unique_id": "object",
        "category": "object",
        "window": "int64",
        "origin": "int64",
        "series_s": "float64",
        "status": "object",
        "message": "object",
        **{name: "float64" for name in metrics.score_names(levels)},
        "dataset": "object",
        "model": "object",
        "seed": "int64",
    }


def bound_columns(level: float) -> tuple[str, str]:
    """The forecast columns of the interval at ``level``: ``("lo_80", "hi_80")``."""
    key = metrics.level_key(level)
    return f"lo_{key}", f"hi_{key}"


@functools.cache
def forecast_columns(levels: tuple[float, ...] = metrics.DEFAULT_LEVELS) -> dict[str, str]:
    """Columns of the forecast rows (``forecasts.parquet``, one per series x window x step) of a
    run at ``levels``: a ``lo_<L>, hi_<L>`` pair per level (NaN where a model has no interval)."""
    return {
        "unique_id": "object",
        "window": "int64",
        "origin": "int64",
        "step": "int64",
        "y": "float64",
        "yhat": "float64",
        **{name: "float64" for level in levels for name in bound_columns(level)},
        "dataset": "object",
        "model": "object",
        "seed": "int64",
    }


#: The row columns of a run at the default levels (80, 95).
SERIES_COLUMNS: dict[str, str] = series_columns()
FORECAST_COLUMNS: dict[str, str] = forecast_columns()
#: Fields of a failure record (one JSON object per line of ``failures.jsonl``): which experiment
#: (dataset, model, seed, config_id), where (window; unique_id, or None when the failure cost
#: every series of the window or experiment: a global model's fit or predict, a lost unit),
#: how many series it cost, the stage that failed (``fit_predict_one``, ``fit``, ``predict``,
#: ``output``: the returned forecasts failed the contract's checks, ``worker``: the worker process
#: died or was stopped), status (failed, timeout), the row's message and the traceback (None
#: where there is none: an output check, a dead worker).
FAILURE_FIELDS = (
    "dataset",
    "model",
    "seed",
    "config_id",
    "window",
    "unique_id",
    "n_series",
    "stage",
    "status",
    "message",
    "traceback",
)


@dataclass(frozen=True)
class Experiment:
    """One model with one parameter set and seed on one task."""

    task: Task
    model: ModelSpec
    params: dict[str, Any]
    seed: int

    @functools.cached_property
    def config(self) -> dict:
        """What identifies the experiment's results (hashed into ``config_id``); computed once,
        since it fingerprints every value of the dataset. The interval ``levels`` are in it only
        when they are not the default (80, 95), so runs at the default keep the ids they had
        before levels existed; likewise model parameters declared ``id_at_default=False``
        (:func:`harness.params.keyed_params`)."""
        levels = {} if self.task.levels == metrics.DEFAULT_LEVELS else {"levels": list(self.task.levels)}
        return {
            "dataset": self.task.name,
            "fingerprint": self.task.dataset.fingerprint(),
            "n_series": len(self.task.dataset.panel),
            "horizon": self.task.horizon,
            "season_length": self.task.season_length,
            "protocol": self.task.protocol.as_dict(),
            "model": self.model.name,
            "params": keyed_params(getattr(self.model.cls, "parameters", {}), self.params),
            "seed": self.seed,
            **levels,
        }

    @property
    def family(self) -> str:
        """What the model declares it is with this experiment's parameters (a key of
        :data:`harness.models.FAMILIES`); recorded in experiments.csv, read by the claims. Not part
        of the config id: it follows from the model and its parameters, which are."""
        return model_family(self.model.cls, self.params, self.model.name)

    @property
    def config_id(self) -> str:
        text = json.dumps(self.config, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def key(self) -> str:
        """A file-name-safe name that is unique within a run."""

        def safe(s):
            return "".join(c if c.isalnum() or c in "-." else "_" for c in s)

        return f"{safe(self.task.name)}__{safe(self.model.name)}__seed{self.seed}__{self.config_id[:8]}"


@dataclass
class ExperimentResult:
    """What one experiment produced: a timing summary and, unless the rows were streamed into a
    sink (then all three are None), its per-series rows, forecasts and failure records."""

    summary: dict[str, Any]
    series: pd.DataFrame | None = None
    forecasts: pd.DataFrame | None = None
    failures: list[dict[str, Any]] | None = None


class Sink(Protocol):
    """Where scored rows go, a batch at a time and in series order, and the failure records
    beside them (:class:`harness.store.PartWriter`)."""

    def append(self, series: pd.DataFrame, forecasts: pd.DataFrame) -> None: ...

    def log_failures(self, records: list[dict[str, Any]]) -> None: ...
