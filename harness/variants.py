"""Model variants derived from any registered model by a suffix of its name: seed ensembles and
tuned models, each a model row of its own.

The grammar (:func:`parse_variant`), resolved by :meth:`harness.plugins.Registry.model`:

* ``BASE[ensK]`` (K >= 2), e.g. ``lstm-torch[ens5]``: a seed ensemble (:class:`SeedEnsemble`,
  :class:`LocalSeedEnsemble` for a local base). K copies of the base built with seeds
  ``seed + i``, i = 0..K-1, fit on the same data; the forecast is the element-wise median of
  their point forecasts. With a run's seeds 0..4, ``[ens5]`` at seed 0 has the very networks of
  the single-seed rows of seeds 0..4 (training is deterministic given the seed), so the
  ensemble's gain over them is measured on equal networks. It runs once per task, at the
  run's first seed (:attr:`Variant.one_seed`): more seeds would be other ensembles of mostly
  the same members. Its cost is all K fits (the runner times the whole fit).
* ``BASE[tuned]`` / ``BASE[tunedN]`` (N >= 2 trials, default :data:`harness.tuning.DEFAULT_TRIALS`),
  e.g. ``gru-torch[tuned]``: random search (:class:`Tuned`) over the base's declared search
  space on the last ``horizon`` values of the training series, then the base refit on all of
  it with the chosen parameters. Always a global model: one unit of work, checkpointed and
  resumed like any experiment; like an ensemble, it runs once per task, at the run's first seed.

Parameters are the base's: ``-p "lstm-torch[ens5].hidden=64"`` and a suite's
``[models."lstm-torch[ens5]"]`` table set every member's. A tuned model keeps the parameters a
suite sets to something other than their registered value fixed and searches the others.

Refused with one line (:class:`harness.ModelError`, exit 2): an unknown suffix, K < 2, a
variant of a variant, an ensemble of a deterministic base (every member would be the same
model), a tuned model of a base without a search space.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from harness.data import Panel
from harness.errors import ModelError, one_line
from harness.metrics import DEFAULT_LEVELS
from harness.models import Forecast, Forecaster, LocalForecaster, as_forecast, forecasts_by_series
from harness.params import same_value
from harness.timing import Timer
from harness.training import combine_fits
from harness.tuning import (
    DEFAULT_TRIALS,
    MAX_TUNING_SERIES,
    MIN_HISTORY,
    draw,
    search_space,
    validation_owa,
    validation_split,
)

_NAME = re.compile(r"^(?P<base>[^\[\]]+)\[(?P<suffix>[^\[\]]*)\]$")
_SUFFIX = re.compile(r"^(?:ens(?P<k>\d+)|tuned(?P<n>\d*))$")
GRAMMAR = "BASE[ensK] with K >= 2, BASE[tuned] or BASE[tunedN] with N >= 2"


class BaseSpec(Protocol):
    """What a variant needs of its base's registration (:class:`harness.plugins.ModelSpec`)."""

    name: str
    cls: type[Forecaster]
    params: dict[str, Any]

    def build(
        self, *, horizon: int, season_length: int, seed: int, params: dict[str, Any], levels: tuple[float, ...]
    ) -> Forecaster: ...


@dataclass(frozen=True)
class Variant:
    """A parsed variant name: its ``base`` model's registered name, ``kind`` (``ens`` or
    ``tuned``) and ``size`` (members K or trials N)."""

    base: str
    kind: str
    size: int

    @property
    def one_seed(self) -> bool:
        """True: a variant runs once per task, at the run's first seed. An ensemble's members
        already span ``seed .. seed + K - 1``; a tuned model's seed draws its trials and starts
        every network, and one search per task is what the literature's benchmarks run
        (Hewamalage et al. 2021 tune once per dataset) - a search per seed would multiply its
        cost by the seeds. Its row therefore has no spread over seeds: the bootstrap of claim
        (a) treats it as one seed, which understates its uncertainty by the seed variance."""
        return True

    def scope(self, base: BaseSpec) -> str:
        """An ensemble has its base's scope; a tuned model is global (one unit tunes on all series)."""
        return base.cls.scope if self.kind == "ens" else "global"

    def check(self, name: str, base: BaseSpec) -> None:
        """Refuse a base this variant cannot be made of, with one line naming the problem."""
        if self.kind == "ens" and base.cls.deterministic:
            raise ModelError(
                f"model {name!r}: {base.name} is deterministic (the same forecasts for every seed), "
                "so a seed ensemble of it would be copies of one model"
            )
        if self.kind == "tuned" and not search_space(base.cls.parameters, base.params):
            raise ModelError(
                f"model {name!r}: {base.name} declares no search space to tune "
                "(a parameter declared with harness.param(..., search=...))"
            )

    def build(
        self,
        name: str,
        base: BaseSpec,
        *,
        horizon: int,
        season_length: int,
        seed: int,
        params: dict[str, Any],
        levels: tuple[float, ...] = DEFAULT_LEVELS,
    ) -> Forecaster:
        """The variant's model named ``name`` on ``base`` with the base's ``params``."""
        common = dict(name=name, base=base, horizon=horizon, season_length=season_length, seed=seed, levels=levels)
        if self.kind == "ens":
            cls = LocalSeedEnsemble if base.cls.scope == "local" else SeedEnsemble
            return cls(size=self.size, params=params, **common)
        fixed = {k for k, v in params.items() if k in base.params and not same_value(v, base.params[k])}
        return Tuned(trials=self.size, params=params, fixed=fixed, **common)


def parse_variant(name: str) -> Variant | None:
    """The variant a model name asks for, None for a plain name (no ``[...]`` suffix); a
    malformed suffix is a one-line :class:`harness.ModelError` giving the grammar."""
    match = _NAME.match(name)
    if match is None:
        if "[" in name or "]" in name:
            raise ModelError(f"model {name!r}: a variant is written {GRAMMAR} (variants do not nest)")
        return None
    base, suffix = match["base"], match["suffix"]
    parsed = _SUFFIX.match(suffix)
    if parsed is None:
        raise ModelError(f"model {name!r}: unknown variant suffix [{suffix}] (known: {GRAMMAR})")
    if parsed["k"] is not None:
        size, kind = int(parsed["k"]), "ens"
    else:
        size, kind = (int(parsed["n"]) if parsed["n"] else DEFAULT_TRIALS), "tuned"
    if size < 2:
        what = "a seed ensemble needs at least 2 members" if kind == "ens" else "tuning needs at least 2 trials"
        raise ModelError(f"model {name!r}: {what}, got {size}")
    return Variant(base, kind, size)


def median_forecast(forecasts: Sequence[Forecast], levels: Sequence[float]) -> Forecast:
    """The element-wise median of the members' point forecasts (``np.median`` over members);
    at each of ``levels`` where every member has an interval, the median of the lower bounds and
    of the upper bounds. The median is monotone, so these bounds lie on their side of the median
    forecast; they are NOT a calibrated interval (no coverage guarantee follows from the
    members'). The members' notes, each once."""
    mean = np.median(np.vstack([f.mean for f in forecasts]), axis=0)
    intervals = {}
    for level in levels:
        if all(level in f.intervals for f in forecasts):
            intervals[level] = tuple(
                np.median(np.vstack([f.intervals[level][side] for f in forecasts]), axis=0) for side in (0, 1)
            )
    notes = list(dict.fromkeys(f.note for f in forecasts if f.note))
    return Forecast(mean=mean, note="; ".join(notes), intervals=intervals)


class _Wrapper:
    """What both variant kinds set up instead of :meth:`Forecaster.__init__`: their parameters
    are the base's (validated when the base is built), not declarations of their own."""

    def _setup(
        self, name: str, base: BaseSpec, horizon: int, season_length: int, seed: int, levels: Sequence[float]
    ) -> None:
        self.name = name
        self.base = base
        self.horizon = int(horizon)
        self.season_length = int(season_length)
        self.seed = int(seed)
        self.levels = tuple(float(level) for level in levels)

    def _member(self, seed: int, params: dict[str, Any], levels: Sequence[float] | None = None) -> Forecaster:
        return self.base.build(
            horizon=self.horizon,
            season_length=self.season_length,
            seed=seed,
            params=params,
            levels=self.levels if levels is None else tuple(levels),
        )

    # the hooks the runner calls, answered by the wrapped networks (an ensemble's members, a
    # tuned model's current fit): device of the first, all synchronised, one warm-up (one
    # process: one-off costs are paid once), the highest peak

    def _networks(self) -> list[Forecaster]:
        raise NotImplementedError

    @property
    def device(self) -> str:
        return self._networks()[0].device

    @property
    def device_name(self) -> str:
        return self._networks()[0].device_name

    def synchronize(self) -> None:
        for network in self._networks():
            network.synchronize()

    def warm_up(self, panel: Panel) -> None:
        self._networks()[0].warm_up(panel)

    def peak_device_memory_mb(self) -> float | None:
        peaks = [p for p in (n.peak_device_memory_mb() for n in self._networks()) if p is not None]
        return max(peaks) if peaks else None


class _Members(_Wrapper):
    """The K members of a seed ensemble and the hooks they answer together."""

    members: list[Forecaster]

    def _build_members(self, size: int, params: dict[str, Any]) -> None:
        self.params = dict(params)
        self.members = [self._member(self.seed + i, self.params) for i in range(size)]
        self.family = self.members[0].family

    def _networks(self) -> list[Forecaster]:
        return self.members

    def training_summary(self) -> dict[str, float | str] | None:
        """The members' summaries combined as refits are (:func:`harness.training.combine_fits`):
        updates and times summed (what the ensemble cost), epochs averaged."""
        return combine_fits([m.training_summary() for m in self.members])


class SeedEnsemble(_Members, Forecaster):
    """``BASE[ensK]`` of a global base: K members fit on the panel, the median of their forecasts
    (:func:`median_forecast`). A series some member cannot forecast gets no forecast (the
    runner records it as failed)."""

    def __init__(self, *, name: str, base: BaseSpec, size: int, params: dict[str, Any], **task: Any) -> None:
        self._setup(name, base, **task)
        self._build_members(size, params)

    def fit(self, panel: Panel) -> None:
        for member in self.members:
            member.fit(panel)

    def predict(self, panel: Panel) -> dict[str, Forecast]:
        per_member = []
        for member in self.members:
            raws, _, _ = forecasts_by_series(member.predict(panel), panel, self.horizon, self.base.name)
            per_member.append(raws)
        out = {}
        for i, uid in enumerate(panel.ids):
            try:
                forecasts = [as_forecast(raws[i], self.horizon, self.levels) for raws in per_member]
            except (KeyError, ValueError):  # a member failed this series: so does the ensemble
                continue
            out[uid] = median_forecast(forecasts, self.levels)
        return out


class LocalSeedEnsemble(_Members, LocalForecaster):
    """``BASE[ensK]`` of a local base: per series, the median of the K members' forecasts."""

    def __init__(self, *, name: str, base: BaseSpec, size: int, params: dict[str, Any], **task: Any) -> None:
        self._setup(name, base, **task)
        self._build_members(size, params)

    def fit_predict_one(self, y: np.ndarray) -> Forecast:
        forecasts = [as_forecast(m.fit_predict_one(y), self.horizon, self.levels) for m in self.members]
        return median_forecast(forecasts, self.levels)


class Tuned(_Wrapper, Forecaster):
    """``BASE[tunedN]``: N trials of random search on a validation tail, then the base refit.

    ``fit(panel)``: the last ``horizon`` values of each series are held out
    (:func:`harness.tuning.validation_split`; series with fewer than
    :data:`harness.tuning.MIN_HISTORY` values before them take no part in tuning, and of a dataset
    of more than :data:`harness.tuning.MAX_TUNING_SERIES` series a seeded sample of that many is
    tuned on; the chosen values are refit on every series). Trial 0 is the
    base with this model's parameters; trials 1..N-1 draw the searched parameters
    (:func:`harness.tuning.search_space`) from a generator seeded with the experiment's seed.
    Each trial fits the base (same seed) on the truncated panel and forecasts the tails; its
    criterion is the OWA against Naive2 on them (:func:`harness.tuning.validation_owa`). A trial
    whose base refuses the values, fails, or misses a series scores NaN and is recorded with its
    message. The lowest OWA wins (ties: the earlier trial); the base is then refit on the whole
    panel with it, and forecasts. Every fit of the model tunes again (a protocol that refits at
    each origin tunes at each).

    Only the training panel is seen (the runner never gives a model the test values), so the
    test set cannot influence the choice. A local base works too, series after series in this
    one unit (no parallelism across series).

    The record (:meth:`training_summary`'s ``tuning``, stored in experiments.csv): the searched
    parameters, the chosen values and trial, each trial's values, validation OWA and message,
    and the tuning's wall and CPU seconds (``tune_wall_s``, ``tune_cpu_s``: the trials, not the
    final refit), which are part of the fit's time as well."""

    def __init__(
        self,
        *,
        name: str,
        base: BaseSpec,
        trials: int,
        params: dict[str, Any],
        fixed: set[str] | frozenset[str] = frozenset(),
        **task: Any,
    ) -> None:
        self._setup(name, base, **task)
        self.trials = int(trials)
        self.params = dict(params)
        self.space = search_space(base.cls.parameters, self.params, fixed)
        self.model_ = self._member(self.seed, self.params)  # the defaults, built: their values checked
        self.family = self.model_.family
        self.record_: dict[str, Any] | None = None

    def _networks(self) -> list[Forecaster]:
        return [self.model_]

    def candidates(self) -> list[dict[str, Any]]:
        """The N trials' parameters: trial 0 this model's, then N-1 draws (seeded by ``seed``)."""
        rng = np.random.default_rng(self.seed)
        draws = [draw(self.space, rng, self.horizon, self.season_length) for _ in range(self.trials - 1)]
        return [dict(self.params), *({**self.params, **d} for d in draws)]

    def _trial(self, params: dict[str, Any], cut: Panel, tails: list[np.ndarray]) -> tuple[float, str]:
        """(validation OWA, "" or why it failed) of the base with ``params``."""
        try:
            model = self._member(self.seed, params, levels=())  # no intervals: only points are scored
            model.fit(cut)
            raws, missing, _ = forecasts_by_series(model.predict(cut), cut, self.horizon, self.base.name)
            if missing:
                return math.nan, f"no forecast for {len(missing)} of {len(cut)} series"
            means = [as_forecast(raws[i], self.horizon, ()).mean for i in range(len(cut))]
        except Exception as exc:  # a trial the base refuses or fails is a recorded, losing trial
            return math.nan, one_line(exc, limit=300, with_type=True)
        owa = validation_owa(means, tails, cut.values, self.season_length)
        return owa, "" if math.isfinite(owa) else "no series could be scored"

    def fit(self, panel: Panel) -> None:
        timer = Timer(self.model_.synchronize)
        with timer:
            cut, tails, kept = validation_split(panel, self.horizon, MAX_TUNING_SERIES, self.seed)
            if not kept:
                raise ValueError(
                    f"model {self.name}: no series has {MIN_HISTORY} values before its last {self.horizon}, "
                    "so there is no validation tail to tune on"
                )
            trials = []
            for number, params in enumerate(self.candidates()):
                owa, message = self._trial(params, cut, tails)
                drawn = {k: params[k] for k in self.space}
                trials.append(
                    {"trial": number, "params": drawn, "owa": owa if math.isfinite(owa) else None, "message": message}
                )
        scored = [t for t in trials if t["owa"] is not None]
        if not scored:
            raise RuntimeError(
                f"model {self.name}: all {len(trials)} tuning trials failed on the validation tail "
                f"(trial 0: {trials[0]['message']})"
            )
        best = min(scored, key=lambda t: (t["owa"], t["trial"]))
        chosen = {**self.params, **best["params"]}
        self.record_ = {
            "space": list(self.space),
            "chosen": best["params"],
            "trial": best["trial"],
            "owa": best["owa"],
            "n_series": len(kept),
            "wall_s": timer.wall_s,
            "cpu_s": timer.cpu_s,
            "trials": trials,
        }
        self.model_ = self._member(self.seed, chosen)
        self.model_.fit(panel)

    def predict(self, panel: Panel) -> Mapping[str, np.ndarray | Forecast] | list[Forecast]:
        return self.model_.predict(panel)

    def training_summary(self) -> dict[str, float | str] | None:
        """The refit base's training summary with the tuning record (``tuning``: a JSON list with
        this fit's record, ``tune_wall_s``, ``tune_cpu_s``)."""
        if self.record_ is None:
            return None
        tuning = {
            "tuning": json.dumps([self.record_], default=_plain),
            "tune_wall_s": self.record_["wall_s"],
            "tune_cpu_s": self.record_["cpu_s"],
        }
        return {**(self.model_.training_summary() or {}), **tuning}


def _plain(value: Any) -> Any:
    """numpy scalars in a tuning record as plain numbers."""
    return value.item() if isinstance(value, np.generic) else str(value)
