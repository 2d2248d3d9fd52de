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
import statistics
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from harness.data import Panel
from harness.errors import ModelError
from harness.metrics import DEFAULT_LEVELS, level_key
from harness.params import Param, from_legacy

#: Names a parameter cannot have: the constructor's own arguments and the class's registry fields.
RESERVED_NAMES = frozenset(
    {
        "horizon",
        "season_length",
        "seed",
        "levels",
        "params",
        "parameters",
        "defaults",
        "name",
        "scope",
        "deterministic",
        "family",
    }
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


#: How far (relative to the largest magnitude at a step) a bound may lie on the wrong side of
#: the point forecast and still count: rounding, e.g. a bound computed in a transformed space
#: and mapped back, can cross the mean by an ulp.
INTERVAL_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Forecast:
    """A point forecast with central prediction intervals at several levels.

    ``intervals`` maps a level in percent to ``(lower, upper)`` arrays of ``horizon`` values
    (``{80.0: (lo80, hi80), 95.0: (lo95, hi95)}``); a model forecasts at the levels it is built
    with (``self.levels``, the run's). The one-interval form ``Forecast(mean, lower, upper,
    level)`` is shorthand for ``intervals={level: (lower, upper)}`` and is merged into
    ``intervals`` (giving one level both ways is a ValueError). :meth:`normal` makes Gaussian
    intervals around the mean.

    The harness checks every interval (:func:`as_forecast`): one of the wrong length fails the
    series like a wrong-length mean; one with non-finite bounds, bounds on the wrong side of the
    mean, a level outside (0, 100) or not one of the run's levels, or bounds without a level,
    is dropped and the ``note`` says so, and the point forecast stands. Nesting across levels
    (95% containing 80%) is not checked.

    ``note`` says how the forecast was made when that is not the model's own method: a fallback
    (``"fallback: naive (ARIMA(2,1,1) failed to fit: ...)"``), a degenerate case handled
    specially, an interval that was dropped or could not be made. It is stored as the message of
    the series' ``ok`` row and counted in the report, so a fallback is never a bare "ok"."""

    mean: np.ndarray
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    level: float | None = None
    note: str = ""
    intervals: Mapping[float, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        intervals = dict(self.intervals or {})
        if self.level is not None and self.lower is not None and self.upper is not None:
            if any(_same_level(self.level, key) for key in intervals):
                raise ValueError(
                    f"Forecast: the interval at level {self.level} is given twice (lower/upper and intervals)"
                )
            intervals[self.level] = (self.lower, self.upper)
        object.__setattr__(self, "intervals", intervals)

    @classmethod
    def normal(cls, mean: np.ndarray, sd: np.ndarray, levels: Sequence[float], note: str = "") -> Forecast:
        """Central Gaussian intervals ``mean ± z·sd`` at each of ``levels`` (percent), ``z`` the
        standard normal quantile at ``0.5 + level/200``; ``sd`` the forecast standard deviation
        per step (0 gives intervals of width 0)."""
        mean = np.asarray(mean, dtype=float)
        sd = np.asarray(sd, dtype=float)
        intervals = {}
        for level in levels:
            half = statistics.NormalDist().inv_cdf(0.5 + float(level) / 200.0) * sd
            intervals[float(level)] = (mean - half, mean + half)
        return cls(mean=mean, note=note, intervals=intervals)


def _same_level(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


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

    def __init__(
        self,
        *,
        horizon: int,
        season_length: int = 1,
        seed: int = 0,
        levels: Sequence[float] = DEFAULT_LEVELS,
        **params: Any,
    ) -> None:
        model = self.name or type(self).__name__
        unknown = sorted(set(params) - set(self.parameters))
        if unknown:
            known = ", ".join(sorted(self.parameters)) or "none"
            raise ModelError(f"model {model}: unknown parameter {unknown[0]!r} (known: {known})")
        self.horizon = int(horizon)
        self.season_length = int(season_length)
        self.seed = int(seed)
        #: the central interval levels (percent) to forecast at: the run's (``levels`` of the suite)
        self.levels: tuple[float, ...] = tuple(float(level) for level in levels)
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

    def training_summary(self) -> dict[str, float] | None:
        """What training the last ``fit`` did, for a model that trains by epochs: a dict of the
        columns :data:`harness.training.TRAINING_COLUMNS` (epochs run and budget, best epoch,
        updates, losses at the best epoch, still learning, time to accuracy), which the runner
        stores in experiments.csv. None (the default) for a model that does not train that way:
        its columns are NaN. :class:`harness.WindowForecaster` fills it from its training logs."""
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
        return [as_forecast(self.fit_predict_one(read_only(y)), self.horizon, self.levels) for y in panel.values]


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


#: How a model learns from a panel, the dimension claim (b) is split by: ``local`` fits one model per
#: series (auto-ARIMA, a WindowForecaster with ``training="local"``), ``global`` one on all series.
REGIMES = ("local", "global")


def regime_of(scope: str, params: Mapping[str, Any] | str | None = None) -> str:
    """The training regime of a model from its ``scope`` and parameters (a mapping or the JSON of
    experiments.csv's ``params`` column): its ``training`` parameter where it has one (a
    WindowForecaster: one network per series or one for all), else the scope (a
    ``LocalForecaster`` fits per series). Anything else is a ``ValueError``: a cost compared in the
    wrong regime would be a quiet error."""
    if isinstance(params, str):
        import json

        params = json.loads(params) if params.strip() else {}
    training = (params or {}).get("training")
    regime = training if isinstance(training, str) else scope
    if regime not in REGIMES:
        raise ValueError(f"unknown training regime {regime!r} (scope {scope!r}); expected one of {', '.join(REGIMES)}")
    return regime


def is_recurrent(family: str) -> bool:
    """True for the recurrent families (rnn, lstm, gru), the subject of the claims."""
    return family in RECURRENT_FAMILIES


def as_forecast(out: Any, horizon: int, levels: Sequence[float] = DEFAULT_LEVELS) -> Forecast:
    """Check a model's output for one series and return it in the harness's form: a
    :class:`Forecast` whose ``intervals`` hold the valid intervals at the run's ``levels``, and
    nothing in ``lower``/``upper``/``level``.

    Raises ``ValueError`` with a one-line reason for a mean or an interval of the wrong length,
    or a non-finite mean, so the runner can record the series as failed. An interval that cannot
    be scored (see :class:`Forecast`) is dropped, and the note says which and why.
    """
    fc = out if isinstance(out, Forecast) else Forecast(mean=out)
    mean = np.asarray(fc.mean, dtype=float).reshape(-1)
    if mean.shape != (horizon,):
        raise ValueError(f"forecast has {mean.size} values, expected horizon {horizon}")
    if not np.all(np.isfinite(mean)):
        raise ValueError("forecast has non-finite values")
    notes = [str(fc.note)] if fc.note else []
    run_levels = tuple(float(level) for level in levels)
    if (fc.lower is not None or fc.upper is not None) and fc.level is None:
        notes.append("interval dropped: lower/upper given without a level")
    intervals: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    for level, bounds in fc.intervals.items():
        lower, upper = (np.asarray(b, dtype=float).reshape(-1) for b in bounds)
        if lower.shape != (horizon,) or upper.shape != (horizon,):
            raise ValueError(f"prediction interval at level {level} has a length other than the horizon {horizon}")
        why = _interval_problem(level, mean, lower, upper, run_levels)
        if why:
            name = level_key(level) if isinstance(level, (int, float)) else repr(level)
            notes.append(f"interval {name} dropped: {why}")
        else:
            intervals[float(level)] = (lower, upper)
    ordered = {level: intervals[level] for level in run_levels if level in intervals}
    return Forecast(mean=mean, note="; ".join(notes), intervals=ordered)


def _interval_problem(
    level: Any, mean: np.ndarray, lower: np.ndarray, upper: np.ndarray, levels: tuple[float, ...]
) -> str:
    """Why an interval cannot be scored, or "" when it can."""
    try:
        value = float(level)
    except (TypeError, ValueError):
        return "its level is not a number"
    if not 0.0 < value < 100.0:
        return "its level is not strictly between 0 and 100"
    if value not in levels:
        return f"not one of the run's levels ({', '.join(level_key(v) for v in levels)})"
    if not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper))):
        return "non-finite bounds"
    tol = INTERVAL_TOLERANCE * np.maximum.reduce([np.abs(lower), np.abs(mean), np.abs(upper)])
    if np.any(lower > mean + tol) or np.any(upper < mean - tol):
        return "a bound on the wrong side of the point forecast"
    return ""
