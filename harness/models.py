"""The model contract plugins implement: Forecaster (global) and LocalForecaster (per series).

The harness owns windowing, refitting, timing and parallelism; a model owns only learning and
forecasting. Parameters are declared once, as :func:`harness.param` class attributes, so they can
be listed, validated, recorded with every result and hashed into its config id.

The contract is checked: ``fit``/``predict`` (and ``fit_predict_one`` of a local model) are
abstract, so a class that misses one cannot be built, and registering it fails at load.

What crosses the contract is checked too, both ways. Inputs are read-only: a model gets
:func:`read_only` copies of the data (``y`` of a local model, every array of ``panel.values`` of
a global one), never the harness's own arrays nor the test values after them, so writing into
them raises numpy's ``ValueError`` and the runner records the failure (:func:`input_failure`).
Outputs are unambiguous: :func:`forecasts_by_series` matches a global model's ``predict`` output
to the panel's series by ``unique_id`` (see :meth:`Forecaster.predict`).
"""

from __future__ import annotations

import abc
import sys
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
    """A point forecast with an optional central prediction interval at ``level`` percent.

    ``note`` says how the forecast was made when that is not the model's own method: a fallback
    (``"fallback: naive (ARIMA(2,1,1) failed to fit: ...)"``), a degenerate case handled
    specially. It is stored as the message of the series' ``ok`` row and counted in the report,
    so a fallback is never a bare "ok"."""

    mean: np.ndarray
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    level: float | None = None
    note: str = ""


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
        start-up costs are not reported as training time. Default: nothing.

        Called once per experiment, before the first ``fit``, with a read-only copy of the first
        window's context panel of its own (what it does to that copy cannot reach ``fit``). An
        exception here is ignored: a real problem shows up again, and is recorded, in ``fit``."""
        return None  # an optional hook, not part of the abstract contract

    def peak_device_memory_mb(self) -> float | None:
        """Peak accelerator memory of this model's work in MiB (e.g. from
        ``torch.cuda.max_memory_allocated``), or None on CPU."""
        return None

    @abc.abstractmethod
    def fit(self, panel: Panel) -> None:
        """Learn from the training panel of a task (every series, in-sample values only).

        ``panel.values`` are read-only arrays (copy one before changing it); the test values that
        follow them never reach a model."""

    @abc.abstractmethod
    def predict(self, panel: Panel) -> Mapping[str, np.ndarray | Forecast] | list[Forecast]:
        """Forecast ``self.horizon`` steps after the end of each series of ``panel``.

        Return the forecasts keyed by series id: a mapping ``{unique_id: forecast}`` (a dict, or
        a pandas Series indexed by unique_id) with exactly one entry for each id of
        ``panel.ids``, where a forecast is a 1-D array of ``horizon`` values or a
        :class:`Forecast` (with an interval). From rows in panel order that is
        ``dict(zip(panel.ids, rows, strict=True))``. A list of one :class:`Forecast` per series,
        in panel order, is accepted too.

        A missing id fails that series, an id that is not in the panel fails the whole call; both
        are named in the message. A plain 2-D array ``(len(panel), horizon)`` (the old contract)
        still works, with a one-time FutureWarning naming the model, except when ``len(panel) ==
        horizon``: a square array cannot tell series from steps (a transposed forecast would be
        scored as if it were right), so it is refused as ambiguous and every series of the call
        fails. ``panel.values`` are read-only, as in :meth:`fit`.
        """


class LocalForecaster(Forecaster):
    """A model fit to one series at a time (ARIMA, baselines).

    Implement ``fit_predict_one(y)``: ``y`` is the in-sample history of one series (1-D float
    array, read-only: copy it before changing it); return ``self.horizon`` forecasts (array) or a
    :class:`Forecast` with an interval. The runner calls it per series, in parallel worker
    processes, refitting at every origin, each call with a fresh read-only copy. Before the first
    timed call in a process it makes one untimed warm-up call (lazy imports, first-call costs)
    on a copy of its own of the first series; its result is discarded.
    """

    scope: ClassVar[str] = "local"
    deterministic: ClassVar[bool] = True

    @abc.abstractmethod
    def fit_predict_one(self, y: np.ndarray) -> np.ndarray | Forecast:
        """Fit to one series' history ``y`` (read-only) and forecast ``self.horizon`` steps after it."""

    def fit(self, panel: Panel) -> None:
        """Local models learn nothing across series: fitting happens in ``predict``."""
        return None

    def predict(self, panel: Panel) -> list[Forecast]:
        return [as_forecast(self.fit_predict_one(read_only(y)), self.horizon) for y in panel.values]


def read_only(values: np.ndarray) -> np.ndarray:
    """A read-only float64 copy of ``values`` for a model: a view of a fresh read-only copy, so
    it shares no memory with the caller's array and cannot be made writeable again
    (``setflags(write=True)`` fails on a view of a read-only array). A write raises numpy's
    ``ValueError`` (``assignment destination is read-only``)."""
    copy = np.array(values, dtype=np.float64, copy=True)
    copy.flags.writeable = False
    return copy.view()


def read_only_panel(panel: Panel) -> Panel:
    """``panel`` with every series a :func:`read_only` copy (ids and metadata are immutable)."""
    return panel.with_values([read_only(v) for v in panel.values])


#: What numpy (and the buffer protocol) say when something writes into a read-only array.
_READ_ONLY_SIGNS = ("read-only", "WRITEABLE")


def input_failure(model: str, exc: BaseException, what: str) -> str | None:
    """The message of a failure caused by a model writing into its read-only inputs ``what``
    (``y``, ``panel.values``), or None when ``exc`` is something else."""
    text = str(exc)
    if isinstance(exc, (ValueError, TypeError)) and any(sign in text for sign in _READ_ONLY_SIGNS):
        return f"model {model}: inputs are read-only (copy {what} before changing it): {' '.join(text.split())}"
    return None


#: Forecasts of one predict call by series index, what failed (index -> message) and a note.
SplitOutput = tuple[dict[int, Any], dict[int, str], str | None]


def forecasts_by_series(out: Any, panel: Panel, horizon: int, model: str) -> SplitOutput:
    """Match a global model's ``predict`` output to the series of ``panel`` (the contract of
    :meth:`Forecaster.predict`): returns (raw forecast by series index, message by index of each
    series it has no forecast for, a deprecation note or None). Raises ``ValueError`` naming the
    problem when the output as a whole cannot be trusted (an id not in the panel, one given
    twice, a square array, a wrong shape or count)."""
    n = len(panel)
    # pandas only if it is loaded: an output cannot be a Series otherwise, and importing pandas
    # here would cost every process that loads a model ~0.2 s (see harness/__init__.py)
    pd = sys.modules.get("pandas")
    if isinstance(out, Mapping) or (pd is not None and isinstance(out, pd.Series)):
        index = {uid: i for i, uid in enumerate(panel.ids)}
        got: dict[int, Any] = {}
        for key, value in out.items():
            i = index.get(key) if isinstance(key, str) else None
            if i is None:
                raise ValueError(
                    f"model {model}: predict returned a forecast for {key!r}, which is not a unique_id of the panel"
                )
            if i in got:
                raise ValueError(f"model {model}: predict returned two forecasts for series {key!r}")
            got[i] = value
        missing = {i: f"model {model}: predict returned no forecast for series {panel.ids[i]!r}" for i in range(n)}
        for i in got:
            del missing[i]
        return got, missing, None
    if isinstance(out, (list, tuple)) and out and all(isinstance(fc, Forecast) for fc in out):
        if len(out) != n:
            raise ValueError(f"model {model}: predict returned {len(out)} forecasts for {n} series")
        return dict(enumerate(out)), {}, None
    try:
        array = np.asarray(out, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"model {model}: predict returned {type(out).__name__}; return forecasts keyed by unique_id "
            "(a dict {unique_id: forecast})"
        ) from None
    keyed = "return forecasts keyed by unique_id, e.g. dict(zip(panel.ids, rows, strict=True))"
    if array.shape == (n, horizon) and n == horizon:
        raise ValueError(
            f"model {model}: predict returned a ({n}, {horizon}) array for {n} series and horizon {horizon}: "
            f"ambiguous (series and steps cannot be told apart): {keyed}"
        )
    if array.ndim != 2 or array.shape[0] != n:
        raise ValueError(f"model {model}: predict returned shape {array.shape}, expected ({n}, horizon); {keyed}")
    note = (
        f"model {model}: predict returned a plain array, which is deprecated (refused when a panel has as "
        f"many series as horizon steps): {keyed}"
    )
    return dict(enumerate(array)), {}, note


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
    return Forecast(
        mean=mean, lower=lower, upper=upper, level=fc.level if lower is not None else None, note=str(fc.note or "")
    )
