"""The model contract plugins implement: Forecaster (global) and LocalForecaster (per series).

The harness owns windowing, refitting, timing and parallelism; a model owns only learning and
forecasting. Parameters are declared once, as :func:`harness.param` class attributes, so they can
be listed, validated, recorded with every result and hashed into its config id.

The contract is checked: ``fit``/``predict`` (and ``fit_predict_one`` of a local model) are
abstract, so a class that misses one cannot be built, and registering it fails at load.
"""

from __future__ import annotations

import abc
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from harness.data import Panel
from harness.errors import ModelError
from harness.params import Param, from_legacy

#: Names a parameter cannot have: the constructor's own arguments and the class's registry fields.
RESERVED_NAMES = frozenset(
    {"horizon", "season_length", "seed", "params", "parameters", "defaults", "name", "scope", "deterministic", "family"}
)

#: What a model can declare it is (:attr:`Forecaster.family`), with what each value means. The
#: claims compare the recurrent families (``RECURRENT_FAMILIES``) with arima, so a model is a
#: contender because it says what it is, never because of its name.
FAMILIES: dict[str, str] = {
    "rnn": "Elman (simple) recurrent network",
    "lstm": "long short-term memory network (gated recurrent)",
    "gru": "gated recurrent unit network (gated recurrent)",
    "tcn": "temporal convolutional network",
    "mlp": "feed-forward network on input windows",
    "transformer": "attention-based network",
    "arima": "ARIMA, auto-ARIMA",
    "ets": "exponential smoothing state space models",
    "theta": "the Theta method",
    "baseline": "benchmarks that learn (almost) nothing: naive, seasonal naive, Naive2, mean",
    "other": "anything else; the default of a class that declares nothing",
}
#: The families the claims are about ("RNNs"): a model of one of them is a contender.
RECURRENT_FAMILIES = frozenset({"rnn", "lstm", "gru"})
#: The gated recurrent families: claim (c) asks whether the Elman network fails where these succeed.
GATED_FAMILIES = frozenset({"lstm", "gru"})


@dataclass(frozen=True)
class Forecast:
    """A point forecast with an optional central prediction interval at ``level`` percent."""

    mean: np.ndarray
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    level: float | None = None


class Forecaster(abc.ABC):
    """A global model: ``fit`` once on the training panel of a task, then ``predict`` from any
    context panel of the same series.

    Subclasses set ``name`` (default registry name), declare every tunable parameter as a class
    attribute with :func:`harness.param` (``hidden: int = param(32, "hidden units", ge=1)``) and
    implement ``fit`` and ``predict``. The declarations of a class and its bases are collected
    into ``parameters`` (a subclass may declare a name again to change it); ``defaults`` is
    derived from them. Constructed by the harness as ``cls(horizon=..., season_length=...,
    seed=..., **params)``: every value is validated against its declaration and becomes an
    attribute of the same name (shadowing the declaration), and ``self.params`` holds them all.

    A class that still sets a plain ``defaults = {...}`` dict keeps working (each entry becomes a
    declaration typed by its value), with a DeprecationWarning.
    """

    name: ClassVar[str] = ""
    scope: ClassVar[str] = "global"
    #: Every parameter's declaration, this class's and its bases' (collected, never set by hand).
    parameters: ClassVar[dict[str, Param]] = {}
    #: Every parameter's default value, derived from ``parameters``.
    defaults: ClassVar[dict[str, Any]] = {}
    #: The declarations made by this class itself (``parameters`` merges them over the bases').
    _declared: ClassVar[dict[str, Param]] = {}
    #: A deterministic model gives the same forecasts for every seed, so it runs once per task.
    deterministic: ClassVar[bool] = False
    #: What kind of model this is, a key of :data:`FAMILIES` (default ``"other"``); recorded with
    #: every result (experiments.csv) and read by the claims. A class whose parameters choose the
    #: architecture overrides :meth:`family_of` instead of fixing one value here.
    family: ClassVar[str] = "other"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared: dict[str, Param] = {}
        for base in reversed(cls.__mro__[1:]):
            declared.update(base.__dict__.get("_declared", {}))
        own = {key: value for key, value in vars(cls).items() if isinstance(value, Param)}
        legacy = vars(cls).get("defaults")
        if isinstance(legacy, dict) and legacy:
            warnings.warn(
                f"{cls.__module__}.{cls.__name__} sets a plain `defaults` dict, which is deprecated: "
                "declare each parameter as a class attribute with harness.param(default, description, ...)",
                DeprecationWarning,
                stacklevel=3,  # past ABCMeta.__new__: the class statement
            )
            for key, value in legacy.items():
                if key not in own:
                    own[key] = from_legacy(value, declared.get(key))
        reserved = sorted(RESERVED_NAMES & set(own))
        if reserved:
            raise TypeError(f"{cls.__qualname__}: {reserved[0]!r} cannot be a parameter name (the harness sets it)")
        if cls.family not in FAMILIES:
            raise TypeError(f"{cls.__qualname__}: family {cls.family!r} is not one of {', '.join(FAMILIES)}")
        cls._declared = own
        cls.parameters = {**declared, **own}
        cls.defaults = {key: p.default for key, p in cls.parameters.items()}

    def __init__(self, *, horizon: int, season_length: int = 1, seed: int = 0, **params: Any) -> None:
        model = self.name or type(self).__name__
        unknown = sorted(set(params) - set(self.parameters))
        if unknown:
            known = ", ".join(sorted(self.parameters)) or "none"
            raise ModelError(f"model {model}: unknown parameter {unknown[0]!r} (known: {known})")
        self.horizon = int(horizon)
        self.season_length = int(season_length)
        self.seed = int(seed)
        self.params: dict[str, Any] = {**self.defaults, **params}
        for key, value in self.params.items():
            self.parameters[key].validate(model, key, value)
        for key, value in self.params.items():
            setattr(self, key, value)
        #: this object's family, which may depend on its parameters (:meth:`family_of`)
        self.family = model_family(type(self), self.params, model)

    @classmethod
    def family_of(cls, params: Mapping[str, Any]) -> str:
        """The family of this class with these parameter values (registered defaults updated by
        the suite and ``-p``): by default the class's :attr:`family`. Override it when a parameter
        chooses the architecture, as the torch plugin's ``cell`` does (``lstm-torch`` is an
        ``lstm``, ``rnn-torch`` an ``rnn``, one class registered under both names)."""
        return cls.family

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
        return None  # an optional hook, not part of the abstract contract

    def warm_up(self, panel: Panel) -> None:
        """Untimed work before the timed ``fit`` (CUDA context, cuDNN autotuning, JIT), so one-off
        start-up costs are not reported as training time. Default: nothing."""
        return None  # an optional hook, not part of the abstract contract

    def peak_device_memory_mb(self) -> float | None:
        """Peak accelerator memory of this model's work in MiB (e.g. from
        ``torch.cuda.max_memory_allocated``), or None on CPU."""
        return None

    @abc.abstractmethod
    def fit(self, panel: Panel) -> None:
        """Learn from the training panel of a task (every series, in-sample values only)."""

    @abc.abstractmethod
    def predict(self, panel: Panel) -> np.ndarray | list[Forecast]:
        """Forecast ``self.horizon`` steps after the end of each series of ``panel``.

        Returns an array ``(len(panel), horizon)`` or one :class:`Forecast` per series.
        """


class LocalForecaster(Forecaster):
    """A model fit to one series at a time (ARIMA, baselines).

    Implement ``fit_predict_one(y)``: ``y`` is the in-sample history of one series (1-D float
    array); return ``self.horizon`` forecasts (array) or a :class:`Forecast` with an interval.
    The runner calls it per series, in parallel worker processes, refitting at every origin.
    """

    scope: ClassVar[str] = "local"
    deterministic: ClassVar[bool] = True

    @abc.abstractmethod
    def fit_predict_one(self, y: np.ndarray) -> np.ndarray | Forecast:
        """Fit to one series' history ``y`` and forecast ``self.horizon`` steps after it."""

    def fit(self, panel: Panel) -> None:
        """Local models learn nothing across series: fitting happens in ``predict``."""
        return None

    def predict(self, panel: Panel) -> list[Forecast]:
        return [as_forecast(self.fit_predict_one(np.asarray(y, dtype=float)), self.horizon) for y in panel.values]


def model_family(cls: type[Forecaster], params: Mapping[str, Any], model: str = "") -> str:
    """The family a model class declares for these parameter values (:meth:`Forecaster.family_of`),
    checked: a value outside :data:`FAMILIES` is a :class:`ModelError` naming the model."""
    family = cls.family_of({**cls.defaults, **params})
    if family not in FAMILIES:
        name = model or cls.name or cls.__name__
        raise ModelError(f"model {name}: family {family!r} is not one of {', '.join(FAMILIES)}")
    return family


def is_recurrent(family: str) -> bool:
    """True for the recurrent families (rnn, lstm, gru), the subject of the claims."""
    return family in RECURRENT_FAMILIES


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
