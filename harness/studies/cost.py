"""Cost study (claim b, "RNNs are computationally slow"): how fit + predict cost grows with the work.

The benchmark's speed table measures cost at one size, where the answer to "is an RNN slower than
ARIMA?" depends on that size and on how the RNN is trained: ARIMA is a *local* model (one fit per
series, so its cost is n_series x per-series cost and grows with series length); an RNN trained
*global* fits one network on the windows of all series (its cost grows with the training
windows, the epochs and the hidden size), trained *local* one network per series, like ARIMA.
This study times both regimes, varies one thing at a time around a base point, gives each
recurrent model's cost ratio to arima an interval, and reports where the cost lines cross.

Design
------
Three axes, each varied alone while the other two stay at the base point:

- ``length``: observations per series (every series the same length);
- ``n_series``: series in the panel;
- ``hidden``: hidden size of the recurrent models.

Or, with ``CostStudyConfig.dataset`` (``rnnbench study cost --dataset m3-monthly --limit N``), one
point on real data: the dataset's series, its horizon, the base hidden size (axis ``dataset``).

Data at each synthetic point: :func:`workload`, ``n_series`` ARMA(2,1) series of ``length`` values
around 10, seeded (the same numbers as ``plugins.synthetic.arma(n_series, length, mean=10,
seed=seed, horizon=8)``, but generated here: the core does not import the built-in plugins).
Each point is timed by the harness's own machinery, exactly as a benchmark run times it:
``Task(dataset, ProtocolSpec("holdout"))``, ``Experiment(task, spec, params, seed)``,
``run_experiment(exp, executor, options)`` with the ``processes`` executor.

- Units: ``cost_s`` is the compared cost, the process CPU seconds of fit + predict (BLAS threads
  counted; for a local model the CPU of the worker process that fitted it, measured there) on CPU,
  the synchronised wall seconds on an accelerator. ``total_s`` (wall) and ``cpu_s`` stay beside
  it; ``series_cpu_ms`` holds a local model's CPU-ms per series (for the intervals).
- Regimes: every model with a ``training`` parameter is timed in each of ``regimes`` (``global``
  and ``local`` by default) at every point; the ``regime`` column says which.
- Repeats: 5 by default; ratios are of medians over repeats, with percentile bootstrap CIs
  (:mod:`harness.studies.cost_analysis`).
- Recurrent models train for a fixed ``epochs`` with early stopping disabled (``patience`` is set
  above ``epochs``; the validation loss is still computed every epoch, as in the benchmark), so
  the time reflects the work and not the epoch at which validation loss happened to stall.
- Every other model parameter is the registered default (the benchmark's), including
  ``max_windows_per_series=60``: a global RNN trains on at most 60 windows per series, so along
  the ``length`` axis its cost stops growing once series are longer than about 60 + input size +
  horizon. ``rnn_params`` overrides parameters of the recurrent models for a study without it.
- ``arima`` (and any model without a ``hidden`` parameter) does not depend on the hidden size:
  on the ``hidden`` axis it is timed once, at the base point.
- A model with a ``device`` parameter (the torch RNNs) runs once per entry of ``devices``
  (``cpu`` always, plus ``cuda`` when ``torch.cuda.is_available()``); the others run on CPU.
- A point shared by several axes (the base point lies on all three) is measured once per repeat
  and its row is reused on each axis.
- Before timing, each model/device/regime runs one untimed experiment at the smallest point, so
  imports, first-call allocations and CUDA start-up are not charged to whichever point comes first.

Outputs: :func:`run_cost_study` (one row per axis, value, model, device, regime, repeat), then
from :mod:`harness.studies.cost_analysis` (re-exported here): :func:`fit_exponents`,
:func:`crossover`, :func:`cost_ratios` and :func:`cost_verdicts` (claim b, per regime and device
at the base point); :func:`plot_cost` and :func:`write_cost_study`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.data import Dataset, Panel
from harness.models import REGIMES
from harness.studies import check_study_root, study_dir, write_study_manifest
from harness.studies.cost_analysis import (
    CROSSOVER_AXES,
    CROSSOVER_COLUMNS,
    EXPONENT_COLUMNS,
    MIN_REPEATS,
    RATIO_COLUMNS,
    REFERENCE_DEVICE,
    RULE,
    VERDICT_COLUMNS,
    contenders,
    cost_ratios,
    cost_verdict,
    cost_verdicts,
    crossover,
    fit_exponents,
    median_costs,
)
from harness.studies.cost_analysis import (
    label as model_label,
)

__all__ = [
    "AXES",
    "CROSSOVER_AXES",
    "CROSSOVER_COLUMNS",
    "DATASET_AXIS",
    "EXPONENT_COLUMNS",
    "MIN_REPEATS",
    "RATIO_COLUMNS",
    "REFERENCE_DEVICE",
    "ROW_COLUMNS",
    "RULE",
    "VERDICT_COLUMNS",
    "CostStudyConfig",
    "contenders",
    "cost_ratios",
    "cost_verdict",
    "cost_verdicts",
    "crossover",
    "fit_exponents",
    "plot_cost",
    "run_cost_study",
    "workload",
    "write_cost_study",
]

AXES: tuple[str, ...] = ("length", "n_series", "hidden")
#: The one "axis" of a study on a real dataset (``CostStudyConfig.dataset``): its value is the
#: number of series sampled.
DATASET_AXIS = "dataset"

ROW_COLUMNS = [
    "axis",
    "value",
    "model",
    "device",
    "regime",
    "device_name",
    "repeat",
    "length",
    "n_series",
    "hidden",
    "fit_s",
    "predict_s",
    "total_s",
    "cpu_s",
    "cost_s",
    "ms_per_series",
    "cpu_ms_per_series",
    "series_cpu_ms",
    "n_params",
    "family",
]


def _default_devices() -> tuple[str, ...]:
    try:
        import torch
    except ImportError:
        return ("cpu",)
    return ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)


@dataclass(frozen=True)
class CostStudyConfig:
    """What the cost study measures.

    ``lengths``, ``n_series`` and ``hidden`` are the values of the three axes; each axis is varied
    alone around the base point (``base_length``, ``base_n_series``, ``base_hidden``). Recurrent
    models train for exactly ``epochs`` epochs: early stopping is disabled (``patience`` is set to
    ``epochs + 1``), so the cost reflects the work and not when the validation loss stalled.
    ``regimes``: every model with a ``training`` parameter (the RNNs) is timed in each, ``global``
    (one network on all series) and ``local`` (one per series, as tutorials fit RNNs); arima is
    local by nature. ``rnn_params`` overrides further parameters of the recurrent models (e.g.
    ``{"max_windows_per_series": None}``; not ``training``, which ``regimes`` sets).
    ``workers``: processes for local models (1, so the per-series cost is not inflated by two
    workers competing for the cores). ``devices``: torch models run once per device.
    ``repeats``: timings per point (5 by default: a cost ratio needs at least
    :data:`~harness.studies.cost_analysis.MIN_REPEATS` per model for an interval).

    ``dataset`` (a registered dataset, e.g. ``m3-monthly``) replaces the synthetic axes by one
    point: the dataset's series (a deterministic sample of ``limit`` of them), its horizon, the
    base hidden size; the rows' axis is ``dataset`` and their value the number of series.

    Default budget (2 CPU cores): 3 values per axis around (200, 32, 32), 7 distinct points, five
    models, the four RNNs in both regimes, 5 repeats, 20 epochs: about 15 minutes, most of it the
    128-series point (measured: one repeat of the base point, all nine model/regime pairs, takes
    ~8 s of compute; each global fit also starts a fresh process).
    """

    models: tuple[str, ...] = ("arima", "rnn-numpy", "rnn-torch", "lstm-torch", "gru-torch")
    lengths: tuple[int, ...] = (100, 200, 400)
    n_series: tuple[int, ...] = (8, 32, 128)
    hidden: tuple[int, ...] = (16, 32, 64)
    base_length: int = 200
    base_n_series: int = 32
    base_hidden: int = 32
    horizon: int = 8
    epochs: int = 20
    seed: int = 0
    workers: int = 1
    devices: tuple[str, ...] = field(default_factory=_default_devices)
    repeats: int = 5
    regimes: tuple[str, ...] = REGIMES
    dataset: str | None = None
    limit: int | None = None
    rnn_params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("models", "lengths", "n_series", "hidden", "devices", "regimes"):
            value = tuple(getattr(self, name))
            if not value:
                raise ValueError(f"CostStudyConfig.{name} must not be empty")
            object.__setattr__(self, name, value)
        for name in ("lengths", "n_series", "hidden"):
            if any(int(v) < 1 for v in getattr(self, name)):
                raise ValueError(f"CostStudyConfig.{name} must be positive integers, got {getattr(self, name)}")
        if min(self.lengths + (self.base_length,)) < self.horizon + 3:
            raise ValueError(f"every length must be at least horizon + 3 = {self.horizon + 3}")
        if self.epochs < 1 or self.repeats < 1 or self.workers < 1:
            raise ValueError("epochs, repeats and workers must be at least 1")
        unknown = sorted(set(self.devices) - {"cpu", "cuda"})
        if unknown or "cpu" not in self.devices:
            raise ValueError(f"devices must include 'cpu' and may add 'cuda', got {self.devices}")
        bad = sorted(set(self.regimes) - set(REGIMES))
        if bad or len(set(self.regimes)) != len(self.regimes):
            raise ValueError(f"regimes must be distinct values of {', '.join(REGIMES)}, got {', '.join(self.regimes)}")
        if "training" in self.rnn_params:
            raise ValueError("rnn_params must not set 'training': the regimes option chooses it")
        if self.limit is not None and (self.dataset is None or int(self.limit) < 1):
            raise ValueError("limit must be a positive integer and needs a dataset")
        object.__setattr__(self, "rnn_params", dict(self.rnn_params))

    @classmethod
    def tiny(cls, **overrides: Any) -> CostStudyConfig:
        """A seconds-long configuration for CI: two values per axis, 2 epochs, three models, both
        regimes, 3 repeats (the fewest that give a ratio an interval)."""
        kwargs: dict[str, Any] = {
            "models": ("arima", "rnn-numpy", "lstm-torch"),
            "lengths": (60, 120),
            "n_series": (4, 8),
            "hidden": (4, 8),
            "base_length": 60,
            "base_n_series": 4,
            "base_hidden": 4,
            "epochs": 2,
            "repeats": MIN_REPEATS,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    def base(self) -> dict[str, int]:
        return {"length": self.base_length, "n_series": self.base_n_series, "hidden": self.base_hidden}

    def values(self, axis: str) -> tuple[int, ...]:
        return {"length": self.lengths, "n_series": self.n_series, "hidden": self.hidden}[axis]


# --------------------------------------------------------------------------- running


def _n_params(model: Any) -> float:
    """Trainable parameters of a recurrent model's network, NaN where not cheaply known."""
    if hasattr(model, "_new_network"):  # the torch RNNs
        try:
            return float(sum(p.numel() for p in model._new_network().parameters()))
        except Exception:  # a count is a nicety, not a result
            return math.nan
    network = getattr(type(model), "network", None)  # a NumPy network class (rnn-numpy's)
    if network is not None and hasattr(model, "n_out") and "hidden" in getattr(model, "params", {}):
        try:
            return float(network(1, int(model.hidden), int(model.n_out)).n_params)
        except Exception:
            return math.nan
    return math.nan


#: The process of the timed panels: ARMA(2,1) ``y_t - 10 = 0.6 (y_{t-1} - 10) - 0.2 (y_{t-2} - 10)
#: + e_t + 0.3 e_{t-1}``, ``e_t ~ N(0, 1)``, after a burn-in of 200 steps (``synthetic-arma``'s).
WORKLOAD_AR: tuple[float, ...] = (0.6, -0.2)
WORKLOAD_MA: tuple[float, ...] = (0.3,)
WORKLOAD_MEAN = 10.0
WORKLOAD_BURN_IN = 200


def workload(n_series: int, length: int, *, seed: int, horizon: int, name: str) -> Dataset:
    """The panel timed at one point: ``n_series`` independent series of ``length`` values of the
    ARMA(2,1) process above (mean 10, so sMAPE is meaningful), seeded by ``seed``.

    The random draws are those of ``plugins.synthetic.arma(n_series, length, mean=10, seed=seed,
    horizon=horizon)`` (one length drawn per series, then each series' noise), so the panels are
    the ones earlier cost studies timed; it lives here because the core never imports plugins."""
    from scipy.signal import lfilter

    if n_series <= 0 or length <= 0:
        raise ValueError(f"n_series and length must be positive, got {n_series} and {length}")
    rng = np.random.default_rng(seed)
    lengths = rng.integers(int(length), int(length) + 1, size=int(n_series))  # arma's per-series draw
    ar_poly = np.r_[1.0, -np.asarray(WORKLOAD_AR)]
    ma_poly = np.r_[1.0, np.asarray(WORKLOAD_MA)]
    values = []
    for n in lengths:
        e = rng.normal(0.0, 1.0, size=int(n) + WORKLOAD_BURN_IN)
        values.append(WORKLOAD_MEAN + lfilter(ma_poly, ar_poly, e)[WORKLOAD_BURN_IN:])
    width = max(3, len(str(n_series)))
    ids = tuple(f"arma-{i + 1:0{width}d}" for i in range(int(n_series)))
    panel = Panel(ids=ids, values=tuple(values), freq="other", season_length=1, horizon=int(horizon))
    meta = {
        "generator": "arma",
        "ar": list(WORKLOAD_AR),
        "ma": list(WORKLOAD_MA),
        "sigma": 1.0,
        "mean": WORKLOAD_MEAN,
        "seed": seed,
        "burn_in": WORKLOAD_BURN_IN,
    }
    description = f"cost-study workload: ARMA(2,1) around {WORKLOAD_MEAN:g}, {n_series} series of {length}, seed {seed}"
    return Dataset(name=name, panel=panel, description=description, source="synthetic", meta=meta)


def _series_cpu_ms(result: Any, cpu_s: float) -> str:
    """A local model's CPU milliseconds per series, space-separated in series order: its measured
    CPU (``cpu_s``, the worker's) shared out in proportion to each series' timed fit
    (``series_s``; one worker with one BLAS thread, so wall and CPU of a fit go together). The
    ratio intervals resample these series (:func:`harness.significance.ratio_ci`)."""
    walls = result.series["series_s"].to_numpy(dtype=float)
    if not len(walls) or not np.all(np.isfinite(walls)) or walls.sum() <= 0:
        return ""
    return " ".join(f"{v:.4g}" for v in cpu_s * 1000.0 * walls / walls.sum())


def run_cost_study(
    config: CostStudyConfig, registry: Any, progress: Callable[[int, int, dict], None] | None = None
) -> pd.DataFrame:
    """Time every (axis, value, model, device, regime, repeat) of ``config``; one row each
    (``ROW_COLUMNS``).

    ``registry`` is a :class:`harness.plugins.Registry` (``load_registry()``); ``progress(done,
    total, row)`` is called after each measured point. Raises ``RuntimeError`` naming the model and
    point if any series failed (a failed series would make the time mean less work), and
    ``ModelError`` / ``DataError`` for an unknown model or dataset.
    """
    from harness.executors import RunOptions, make_executor
    from harness.models import regime_of
    from harness.runner import Experiment, run_experiment
    from harness.tasks import ProtocolSpec, Task
    from harness.timing import hardware

    specs = {name: registry.model(name) for name in config.models}
    cpu_name = hardware()["cpu"]
    base = config.base()
    real = None
    if config.dataset is not None:
        real = Task(registry.dataset(config.dataset).load().sample(config.limit), ProtocolSpec(kind="holdout"))
        lengths = [len(v) for v in real.dataset.panel.values]
        base = {"length": int(np.median(lengths)), "n_series": len(lengths), "hidden": config.base_hidden}

    def params_for(name: str, hidden: int | None, device: str, regime: str) -> dict[str, Any]:
        spec = specs[name]
        over: dict[str, Any] = {}
        if "hidden" in spec.params:
            over.update({"hidden": int(hidden), "epochs": config.epochs, "patience": config.epochs + 1})
            over.update({k: v for k, v in config.rnn_params.items() if k in spec.params})
        if "training" in spec.params:
            over["training"] = regime
        if "device" in spec.params:
            over["device"] = device
        return spec.resolve_params(over)

    def regimes_of(name: str) -> tuple[str, ...]:
        spec = specs[name]
        if "training" in spec.params:
            return config.regimes
        return (regime_of(spec.cls.scope, spec.resolve_params({})),)

    datasets: dict[tuple[int, int], Any] = {}

    def task_for(length: int, n: int) -> Task:
        if real is not None:
            return real
        if (length, n) not in datasets:
            ds = workload(n, int(length), seed=config.seed, horizon=config.horizon, name=f"cost-L{length}-N{n}")
            datasets[(length, n)] = Task(ds, ProtocolSpec(kind="holdout"))
        return datasets[(length, n)]

    # plan: (axis, value, model, device, regime, point) with the point's key shared across axes
    axes = [(DATASET_AXIS, (base["n_series"],))] if real is not None else [(a, config.values(a)) for a in AXES]
    runs = []
    for axis, values in axes:
        for value in values:
            point = dict(base) if real is not None else {**base, axis: int(value)}
            for name in config.models:
                has_hidden = "hidden" in specs[name].params
                if axis == "hidden" and not has_hidden and int(value) != config.base_hidden:
                    continue
                devices = config.devices if "device" in specs[name].params else ("cpu",)
                for device in devices:
                    for regime in regimes_of(name):
                        runs.append((axis, int(value), name, device, regime, point, has_hidden))
    for name in config.models:  # models without a hidden size: one row at the base point
        if real is None and "hidden" not in specs[name].params and config.base_hidden not in config.hidden:
            for regime in regimes_of(name):
                runs.append(("hidden", config.base_hidden, name, "cpu", regime, dict(base), False))

    pool = make_executor("processes", config.workers)
    run_options = RunOptions(executor="processes", workers=config.workers)
    cache: dict[tuple, dict] = {}
    rows: list[dict] = []
    total = len(runs) * config.repeats
    try:
        smallest = (
            (base["length"], base["n_series"], base["hidden"])
            if real is not None
            else (min(config.lengths), min(config.n_series), min(config.hidden))
        )
        warmed = set()
        for _, _, name, device, regime, _, _ in runs:
            if (name, device, regime) in warmed:
                continue
            warmed.add((name, device, regime))
            params = params_for(name, smallest[2], device, regime)
            run_experiment(Experiment(task_for(*smallest[:2]), specs[name], params, config.seed), pool, run_options)
        for repeat in range(config.repeats):
            for axis, value, name, device, regime, point, has_hidden in runs:
                hidden = point["hidden"] if has_hidden else None
                key = (name, device, regime, point["length"], point["n_series"], hidden, repeat)
                if key not in cache:
                    trained = f", {regime} training" if "training" in specs[name].params else ""
                    where = (
                        f"{name} on {device} at length={point['length']}, n_series={point['n_series']}"
                        f"{'' if hidden is None else f', hidden={hidden}'}{trained}"
                    )
                    task = task_for(point["length"], point["n_series"])
                    params = params_for(name, hidden, device, regime)
                    cache[key] = _time_point(specs[name], task, params, config.seed, pool, run_options, where)
                    cache[key]["device_name"] = cache[key]["device_name"] or (cpu_name if device == "cpu" else device)
                row = {
                    "axis": axis,
                    "value": value,
                    "model": name,
                    "device": device,
                    "regime": regime,
                    "repeat": repeat,
                    "length": point["length"],
                    "n_series": point["n_series"],
                    "hidden": hidden,
                    **cache[key],
                }
                rows.append(row)
                if progress is not None:
                    progress(len(rows), total, row)
    finally:
        pool.close()
    df = pd.DataFrame(rows, columns=ROW_COLUMNS)
    df["hidden"] = df["hidden"].astype("Int64")
    return df


def _time_point(spec: Any, task: Any, params: dict, seed: int, pool: Any, options: Any, where: str) -> dict:
    """One timed experiment of the harness's runner: the row's measured columns."""
    from harness.runner import Experiment, run_experiment

    result = run_experiment(Experiment(task, spec, params, seed), pool, options)
    s = result.summary
    if s["status"] != "ok" or s["n_failed"]:
        raise RuntimeError(f"cost study: {where}: {s['n_failed']} series failed ({s['message']})")
    model = spec.build(horizon=task.horizon, season_length=task.season_length, seed=seed, params=params)
    fit_s, predict_s, cpu_s = float(s["fit_s"]), float(s["predict_s"]), float(s["cpu_s"])
    n = max(1, len(task.dataset.panel))
    on_cpu = s["device"] == "cpu"
    return {
        "device_name": s.get("device_name") or "",
        "fit_s": fit_s,
        "predict_s": predict_s,
        "total_s": fit_s + predict_s,
        "cpu_s": cpu_s,
        # the unit compared: process CPU on CPU; synchronised wall time on an accelerator
        "cost_s": cpu_s if on_cpu else fit_s + predict_s,
        "ms_per_series": (fit_s + predict_s) * 1000.0 / n,
        "cpu_ms_per_series": cpu_s * 1000.0 / n,
        "series_cpu_ms": _series_cpu_ms(result, cpu_s) if model.scope == "local" else "",
        "n_params": _n_params(model),
        "family": model.family,
    }


# --------------------------------------------------------------------------- figures and files


def plot_cost(rows: pd.DataFrame, exponents: pd.DataFrame, path_dir: Path | str) -> dict[str, Path]:
    """One log-log figure per axis, ``cost_<axis>.png`` in ``path_dir``: the compared cost (CPU
    seconds of fit + predict on CPU, wall seconds on an accelerator; median over repeats) against
    the axis value, one line per model/device/regime, with the fitted
    exponent in the legend. A model measured at a single value of the axis (arima on the hidden
    axis) is drawn as a horizontal dashed line: its cost does not depend on that axis. Styles
    follow :mod:`harness.figures` (same colours per model label in every figure, mathtext off)."""

    # harness.figures selects the headless Agg backend before pyplot is used
    from harness import figures

    plt, RC, _save, model_styles = figures.plt, figures.RC, figures._save, figures.model_styles

    med = median_costs(rows)
    med["label"] = [model_label(m, d, r) for m, d, r in zip(med["model"], med["device"], med["regime"])]
    styles = model_styles(med["label"].unique())
    regimes = exponents["regime"] if "regime" in exponents.columns else [""] * len(exponents)
    ex = {
        (a, model_label(m, d, r)): (b, se)
        for a, m, d, r, b, se in zip(
            exponents["axis"],
            exponents["model"],
            exponents["device"],
            regimes,
            exponents["exponent"],
            exponents["exponent_se"],
        )
    }
    names = {"length": "series length (observations)", "n_series": "number of series", "hidden": "hidden size"}
    out: dict[str, Path] = {}
    for axis in [a for a in AXES if a in set(med["axis"]) and med.loc[med["axis"] == a, "value"].nunique() > 1]:
        sub = med[med["axis"] == axis]
        with plt.rc_context(RC):
            fig, ax = plt.subplots(figsize=(7.6, 4.2))
            for label in sorted(sub["label"].unique()):
                line = sub[sub["label"] == label].sort_values("value")
                s = styles[label]
                fit = ex.get((axis, label))
                text = label + ("" if fit is None else f" (b={fit[0]:.2f})")
                if len(line) == 1:
                    ax.axhline(
                        float(line["cost"].iloc[0]),
                        color=s["color"],
                        linestyle="--",
                        lw=1.2,
                        label=f"{label} (base point; no {axis} parameter)",
                    )
                    continue
                ax.plot(
                    line["value"],
                    line["cost"],
                    color=s["color"],
                    marker=s["marker"],
                    linestyle=s["linestyle"],
                    markersize=5,
                    lw=1.5,
                    label=text,
                )
            figures.log_log(ax, sub["value"].unique())
            ax.set_xlabel(f"{names.get(axis, axis)} (log scale)")
            ax.set_ylabel("fit + predict CPU seconds (log scale)")
            ax.set_title(f"Cost vs {names.get(axis, axis)} (b = log-log slope)")
            ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # off the data
            fig.tight_layout()
        out[axis] = _save(fig, Path(path_dir) / f"cost_{axis}.png")
    return out


def _table(df: pd.DataFrame) -> str:
    return df.to_markdown(index=False, floatfmt=".4g") if len(df) else "_(none)_"


def _where() -> str:
    """The CPU a study ran on, for the verdicts' scope: "2-core CPU"."""
    from harness.timing import hardware

    return f"{hardware().get('cores') or '?'}-core CPU"


def write_cost_study(root: Path, config: CostStudyConfig, rows: pd.DataFrame) -> dict[str, str]:
    """Write the study under ``root``: ``studies/cost/`` (cost.csv, exponents.csv, crossover.csv,
    ratios.csv, verdict.csv, cost_<axis>.png), ``manifest.json`` (kind "cost-study", config,
    hardware, the reference workload's ``ref_ms``, versions, git commit, created) and
    ``report.md``. Refuses a ``root`` whose manifest belongs to something else (a benchmark run),
    so a study never overwrites a run's manifest. Returns the overall verdict row (claim, scope,
    verdict, compared, rule, evidence); verdict.csv holds one row per regime and device before it."""
    from harness.store import atomic_write_frame, atomic_write_text

    root = Path(root)
    check_study_root(root, "cost-study")
    out_dir = study_dir(root, "cost")
    out_dir.mkdir(parents=True, exist_ok=True)
    exponents = fit_exponents(rows)
    cross = crossover(rows)
    ratios = cost_ratios(rows)
    base = config.base() if config.dataset is None else None
    data = "" if config.dataset is None or rows.empty else f"{rows['n_series'].iloc[0]} {config.dataset} series"
    verdicts = cost_verdicts(rows, base, where=_where(), data=data)
    verdict = verdicts.iloc[-1].to_dict()
    atomic_write_frame(rows, out_dir / "cost.csv")
    atomic_write_frame(exponents, out_dir / "exponents.csv")
    atomic_write_frame(cross, out_dir / "crossover.csv")
    atomic_write_frame(ratios, out_dir / "ratios.csv")
    atomic_write_frame(verdicts, out_dir / "verdict.csv")
    figures = plot_cost(rows, exponents, out_dir)
    manifest = write_study_manifest(root, "cost-study", config.as_dict(), out_dir)

    med = median_costs(rows)
    med["model"] = [model_label(m, d, r) for m, d, r in zip(med["model"], med["device"], med["regime"])]
    data = (
        f"{rows['n_series'].iloc[0]} series of {config.dataset}"
        + (f" (a deterministic sample of {config.limit})" if config.limit else "")
        if config.dataset is not None and len(rows)
        else f"synthetic ARMA data, horizon {config.horizon}"
    )
    around = (
        "at one point"
        if config.dataset is not None
        else f"as one thing varies around the base point (length {config.base_length}, "
        f"{config.base_n_series} series, hidden {config.base_hidden})"
    )
    lines = [
        '# Cost study (claim b: "RNNs are computationally slow")',
        "",
        (
            f"Fit + predict cost of each model {around}, each recurrent model trained {' and '.join(config.regimes)} "
            f"(one network on all series / one per series); recurrent models train exactly {config.epochs} epochs "
            f"(no early stopping); {data}; {config.repeats} repeat(s), medians shown. Costs are process CPU "
            "seconds (BLAS threads counted; for local models the worker's CPU), wall seconds on an accelerator. "
            f"Reference workload: {manifest['ref_ms']:.1f} CPU-ms on this machine ({manifest['hardware'].get('cpu')}). "
            "Timed with the benchmark's runner, so the numbers mean what speed.csv's mean."
        ),
        "",
        f"**Verdict: {verdict['verdict']}.** {verdict['evidence']}",
        "",
        "| scope | verdict | evidence |",
        "| --- | --- | --- |",
        *[f"| {r.scope} | {r.verdict} | {r.evidence} |" for r in verdicts.iloc[:-1].itertuples()],
        "",
        f"Compared: {verdict['compared']}.",
        "",
        f"Rule: {RULE}.",
        "",
        "## Cost ratios to arima with 95% bootstrap CIs (every point)",
        "",
        _table(ratios.round(4)),
        "",
    ]
    for axis in AXES:
        sub = med[med["axis"] == axis]
        if sub.empty:
            continue
        table = sub.pivot(index="value", columns="model", values="cost")
        for col in list(table.columns):  # a model timed once on this axis (arima on hidden): its base cost
            if table[col].notna().sum() == 1 and len(table) > 1:
                table[col] = table[col].ffill().bfill()
                table = table.rename(columns={col: f"{col} (base point)"})
        table = table.reset_index().rename(columns={"value": axis})
        lines += [f"## CPU seconds vs {axis}", "", _table(table), ""]
        if axis in figures:
            lines += [f"![cost vs {axis}](studies/cost/{figures[axis].name})", ""]
    lines += [
        "## Exponents (log-log slope of CPU seconds)",
        "",
        _table(exponents.drop(columns=["intercept"]).round(3)),
        "",
        "## Crossovers with arima (beside the verdict, not in it)",
        "",
        _table(cross),
        "",
    ]
    atomic_write_text(root / "report.md", "\n".join(lines))
    return verdict
