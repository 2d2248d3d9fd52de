"""Sequential study (claim b): the cost of backpropagation through time against its length T.

The mechanism behind "RNNs are computationally slow" is that a recurrence is sequential over
time steps: step t needs the state of step t-1, so neither the forward pass nor backpropagation
through time (BPTT) can be spread over the T steps of a window, while a convolutional network
computes every step of a window at once. The benchmark never probes it: on M3 the BPTT length
is the input window (8-23 steps), and the cost study's length axis leaves that window unchanged.
This study varies T itself and keeps everything else fixed.

Design
------
For each BPTT length T (``lengths``, 16 ... 1024 by default), each model and each device:

- Data: :func:`harness.studies.cost.workload` (seeded ARMA(2,1) series around 10), ``n_series``
  series of ``T + horizon + windows + horizon - 1`` values before the ``horizon`` held out for
  the holdout protocol, so every series gives exactly ``windows + horizon`` windows of ``T``
  inputs and ``horizon`` targets: the newest for the validation tail, the ``horizon - 1`` before
  it left out (their targets overlap the validation window's:
  :meth:`harness.windows.Windows.split_last`), and ``windows`` for training. The number of
  training windows (``n_series x windows``) is therefore the same at every T.
- Model: a global network (``training="global"``) with ``input_size=T``,
  ``max_windows_per_series=windows + horizon``, ``batch_size``, ``hidden`` (where the model has one),
  exactly ``epochs`` epochs (``patience`` above ``epochs``: no early stopping), so every fit makes
  the same number of updates, ``updates = epochs x ceil(n_series x windows / batch_size)``, at
  every T and for every model. Only the time of an update changes with T.
- Timing: the harness's own, as a benchmark run times a model: ``Task`` (holdout, no interval
  levels, so no conformal calibration pass is timed), ``Experiment``, ``run_experiment``, with
  the ``serial`` executor, so the untimed warm-up fit (one per model and device at the smallest
  T, before any timed one) warms the very process the timed fits run in: imports, allocators,
  BLAS and oneDNN start-up and CUDA initialisation are not charged to the first T. (The
  ``processes`` executor runs each global experiment in a fresh process, where every timed fit
  would pay them again: 0.3-0.8 s at T=16 against 0.01 s warmed, measured.) The model's own
  ``warm_up`` hook still runs before each timed fit (on CUDA: the context and cuDNN kernels at
  the training batch shape), and the timer synchronises the device before each clock read, so
  GPU time is the finished work, host-to-device copies of the training windows included (they
  happen inside ``fit``).
- ``s_per_update`` = fit wall seconds / updates, ``cpu_s_per_update`` = fit CPU seconds (all
  threads of the process) / updates; ``s_per_epoch`` and ``cpu_s_per_epoch`` likewise per epoch.
  A fit also windows the data and evaluates the validation tail once per epoch, both also
  growing with T, so these are the costs of training as a benchmark run trains, per update.
- Threads: every fit runs with ``threads`` CPU threads (1 by default): NumPy's BLAS pools under
  ``threadpoolctl.threadpool_limits`` and the ``threads`` parameter of models that have one (the
  torch plugins), so each network gets one core and the growth with T is the network's, not a
  thread pool's. With rnn-numpy's default two BLAS threads on the shared 2-core machine its time
  per update at T=128 ranged over 2-184 ms across five repeats (spin-waiting threads, CPU time
  inflated alike); the per-step products of a recurrence (batch 64 x hidden 32) are far too
  small to gain from a second thread.
- ``repeats`` timings per point (repeat-major: every T and model once, then again, so drift in
  the machine's load touches all of them alike); medians are compared.

Analysis: :func:`fit_exponents` (log-log slope of time per update against T per model and
device, over the whole grid and over its upper half, where fixed per-update overheads no longer
dominate), :func:`ratios` (each model's time per update over the ``reference``'s, the network
parallel over time, per T: ratio of medians with a bootstrap CI over repeats), and
:func:`sequential_verdicts` (claim b per device, :data:`RULE`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.models import is_recurrent
from harness.significance import DECISIVE_BAND, ratio_ci, ratio_decision
from harness.studies import check_study_root, study_dir, write_study_manifest
from harness.studies.cost import _default_devices, _n_params, workload
from harness.studies.cost_analysis import label as _label

KIND = "sequential"
MANIFEST_KIND = "sequential-study"
#: The network parallel over time every recurrent model is compared with (helper plugin ``tcn-torch``:
#: dilated causal convolutions on the same windows).
REFERENCE = "tcn-torch"
DEFAULT_MODELS: tuple[str, ...] = ("rnn-numpy", "rnn-torch", "lstm-torch", "gru-torch", REFERENCE)
#: Parameters every timed model must have: the study sets them (a window-trained network).
REQUIRED_PARAMS: tuple[str, ...] = ("input_size", "epochs", "patience", "max_windows_per_series", "batch_size")
#: Fewest repeats on each side for a bootstrap CI of a ratio (fewer: NaN, never decisive).
MIN_REPEATS_CI = 3
METRICS: tuple[str, ...] = ("s_per_update", "cpu_s_per_update")

ROW_COLUMNS = [
    "model",
    "device",
    "device_name",
    "family",
    "T",
    "repeat",
    "n_series",
    "windows",
    "epochs",
    "batch_size",
    "hidden",
    "updates",
    "n_params",
    "fit_s",
    "fit_cpu_s",
    "s_per_update",
    "cpu_s_per_update",
    "s_per_epoch",
    "cpu_s_per_epoch",
]
EXPONENT_COLUMNS = ["model", "device", "metric", "t_min", "t_max", "exponent", "exponent_se", "r2", "n_points"]
RATIO_COLUMNS = [
    "model",
    "reference",
    "device",
    "T",
    "metric",
    "ratio",
    "ratio_lo",
    "ratio_hi",
    "n",
    "n_ref",
    "decisive",
]
VERDICT_COLUMNS = ["claim", "device", "verdict", "compared", "rule", "evidence"]

RULE = (
    "sequential study: wall time per training update of each recurrent model vs a network parallel "
    "over time (the reference) on the same windows, at the largest BPTT length T on each device, median "
    f"over repeats with a 95% bootstrap CI of the ratio: supported if every recurrent model's CI lies above "
    f"{DECISIVE_BAND[1]:g} (decisively costlier), refuted if every one lies below {DECISIVE_BAND[0]:g}, else inconclusive; "
    "evidence quotes the log-log exponents of time per update against T over the upper half of the grid"
)


@dataclass(frozen=True)
class SequentialConfig:
    """What the sequential study measures (see the module docstring).

    ``lengths``: the BPTT lengths T (input window sizes). ``n_series`` series, each giving
    ``windows`` training windows (plus one validation window) at every T; ``batch_size``,
    ``epochs`` (exact: no early stopping) and ``hidden`` are set on every model that has them,
    so every fit makes the same number of updates. ``reference``: the model the others' times
    are divided by (``None``: no ratios, an inconclusive verdict). ``threads``: CPU threads of
    every fit (BLAS pools and the models' own ``threads`` parameter). ``devices``: models with a
    ``device`` parameter run once per entry (``cpu``, plus ``cuda`` when torch sees one).
    """

    models: tuple[str, ...] = DEFAULT_MODELS
    reference: str | None = REFERENCE
    lengths: tuple[int, ...] = (16, 32, 64, 128, 256, 512, 1024)
    n_series: int = 8
    windows: int = 32
    horizon: int = 8
    epochs: int = 10
    batch_size: int = 64
    hidden: int = 32
    repeats: int = 5
    threads: int = 1
    seed: int = 0
    devices: tuple[str, ...] = field(default_factory=_default_devices)

    def __post_init__(self) -> None:
        for name in ("models", "lengths", "devices"):
            value = tuple(getattr(self, name))
            if not value:
                raise ValueError(f"{name} must not be empty")
            object.__setattr__(self, name, value)
        if len(set(self.models)) != len(self.models):
            raise ValueError(f"models must be distinct, got {', '.join(self.models)}")
        if any(int(t) < 1 for t in self.lengths):
            raise ValueError(f"every BPTT length T must be a positive integer, got {list(self.lengths)}")
        object.__setattr__(self, "lengths", tuple(sorted({int(t) for t in self.lengths})))
        for name in ("n_series", "windows", "horizon", "epochs", "batch_size", "hidden", "repeats", "threads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.reference is not None and self.reference not in self.models:
            raise ValueError(
                f"reference {self.reference!r} is not among the models ({', '.join(self.models)}); "
                "add it, or give reference none for no ratios"
            )
        unknown = sorted(set(self.devices) - {"cpu", "cuda"})
        if unknown or "cpu" not in self.devices:
            raise ValueError(f"devices must include 'cpu' and may add 'cuda', got {list(self.devices)}")

    @classmethod
    def tiny(cls, **overrides: Any) -> SequentialConfig:
        """A seconds-long configuration for CI: three short T, 2 epochs, 3 repeats."""
        kwargs: dict[str, Any] = {
            "lengths": (4, 8, 16),
            "n_series": 2,
            "windows": 4,
            "horizon": 2,
            "epochs": 2,
            "batch_size": 4,
            "hidden": 4,
            "repeats": 3,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @property
    def train_windows(self) -> int:
        """Training windows of every fit (the validation tail not counted)."""
        return self.n_series * self.windows

    @property
    def updates_per_epoch(self) -> int:
        return math.ceil(self.train_windows / self.batch_size)

    @property
    def updates(self) -> int:
        """Parameter updates of every fit, the same at every T."""
        return self.epochs * self.updates_per_epoch

    def series_length(self, t: int) -> int:
        """Values per series at BPTT length ``t``: ``windows + horizon`` windows of ``t + horizon``
        values in the context (training, the left-out overlap, validation), then ``horizon`` held
        out."""
        return int(t) + self.horizon + self.windows + (self.horizon - 1) + self.horizon


# --------------------------------------------------------------------------- running


def check_models(config: SequentialConfig, registry: Any) -> dict[str, Any]:
    """The registry's spec of every model; one-line errors for an unknown model (``ModelError``)
    or one the study cannot set up (``ValueError``: not a window-trained network)."""
    specs = {name: registry.model(name) for name in config.models}
    for name, spec in specs.items():
        missing = [p for p in REQUIRED_PARAMS if p not in spec.params]
        if missing:
            raise ValueError(
                f"model {name} has no {', '.join(missing)} parameter: the sequential study times "
                "window-trained networks (harness.WindowForecaster) only"
            )
    return specs


def run_sequential_study(
    config: SequentialConfig, registry: Any, progress: Callable[[int, int, dict], None] | None = None
) -> pd.DataFrame:
    """Time every (T, model, device, repeat) of ``config``; one row each (``ROW_COLUMNS``).

    ``registry``: a :class:`harness.plugins.Registry`. ``progress(done, total, row)`` after each
    timed fit. Raises ``RuntimeError`` naming the model and T if a fit failed or reported a
    number of updates other than the planned one (a different amount of work is not a timing
    of the same work), ``ModelError``/``ValueError`` for a model the study cannot time.
    """
    from threadpoolctl import threadpool_limits

    from harness.executors import RunOptions, make_executor
    from harness.runner import Experiment, run_experiment
    from harness.tasks import ProtocolSpec, Task
    from harness.timing import hardware

    specs = check_models(config, registry)
    cpu_name = hardware()["cpu"]
    tasks: dict[int, Task] = {}

    def task_for(t: int) -> Task:
        if t not in tasks:
            ds = workload(
                config.n_series, config.series_length(t), seed=config.seed, horizon=config.horizon, name=f"bptt-T{t}"
            )
            tasks[t] = Task(ds, ProtocolSpec(kind="holdout"), levels=())
        return tasks[t]

    def params_for(name: str, t: int, device: str) -> dict[str, Any]:
        spec = specs[name]
        over: dict[str, Any] = {
            "input_size": int(t),
            "epochs": config.epochs,
            "patience": config.epochs + 1,
            "max_windows_per_series": config.windows + config.horizon,
            "batch_size": config.batch_size,
        }
        optional = {"hidden": config.hidden, "training": "global", "device": device, "threads": config.threads}
        over.update({k: v for k, v in optional.items() if k in spec.params})
        return spec.resolve_params(over)

    pairs = [(m, d) for m in config.models for d in (config.devices if "device" in specs[m].params else ("cpu",))]
    pool = make_executor("serial", 1)
    options = RunOptions(executor="serial", workers=1)

    def run(name: str, t: int, device: str) -> tuple[dict, Any]:
        params = params_for(name, t, device)
        task = task_for(t)
        s = run_experiment(Experiment(task, specs[name], params, config.seed), pool, options).summary
        where = f"sequential study: {name} on {device} at T={t}"
        if s["status"] != "ok" or s["n_failed"]:
            raise RuntimeError(f"{where}: {s['n_failed']} series failed ({s['message']})")
        reported = s.get("updates")  # a model that reports its updates (a training log) must agree
        if reported is not None and np.isfinite(float(reported)) and int(reported) != config.updates:
            raise RuntimeError(f"{where}: {int(reported)} updates, planned {config.updates}")
        model = specs[name].build(
            horizon=task.horizon, season_length=task.season_length, seed=config.seed, params=params
        )
        return s, model

    rows: list[dict] = []
    total = len(pairs) * len(config.lengths) * config.repeats
    try:
        with threadpool_limits(config.threads):  # NumPy's BLAS; torch models get their threads parameter
            for name, device in pairs:  # untimed: start-up costs are not charged to the smallest T
                run(name, config.lengths[0], device)
            for repeat in range(config.repeats):
                for t in config.lengths:
                    for name, device in pairs:
                        rows.append(_row(config, name, device, t, repeat, *run(name, t, device), cpu_name))
                        if progress is not None:
                            progress(len(rows), total, rows[-1])
    finally:
        pool.close()
    df = pd.DataFrame(rows, columns=ROW_COLUMNS)
    df["hidden"] = df["hidden"].astype("Int64")
    return df


def _row(config: SequentialConfig, name: str, device: str, t: int, repeat: int, s: dict, model: Any, cpu: str) -> dict:
    """One row of sequential.csv from a timed experiment's summary ``s`` and its model."""
    fit_s, fit_cpu = float(s["fit_s"]), float(s["fit_cpu_s"])
    return {
        "model": name,
        "device": device,
        "device_name": s.get("device_name") or (cpu if device == "cpu" else device),
        "family": model.family,
        "T": t,
        "repeat": repeat,
        "n_series": config.n_series,
        "windows": config.windows,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "hidden": model.params.get("hidden"),
        "updates": config.updates,
        "n_params": _n_params(model),
        "fit_s": fit_s,
        "fit_cpu_s": fit_cpu,
        "s_per_update": fit_s / config.updates,
        "cpu_s_per_update": fit_cpu / config.updates,
        "s_per_epoch": fit_s / config.epochs,
        "cpu_s_per_epoch": fit_cpu / config.epochs,
    }


# --------------------------------------------------------------------------- analysis


def upper_half(lengths: Any) -> list[int]:
    """The upper half of a T grid (at least its two largest values): where the per-update work
    that grows with T dominates the fixed per-update overhead, so the slope there is the growth."""
    ts = sorted({int(t) for t in lengths})
    return ts[min(len(ts) // 2, max(len(ts) - 2, 0)) :]


def fit_exponents(rows: pd.DataFrame) -> pd.DataFrame:
    """Per model, device and metric (wall and CPU seconds per update): the least-squares slope of
    log time on log T (:func:`harness.studies.cost.fit_exponents`, every repeat a point) over the
    whole grid and over its :func:`upper_half`; ``exponent`` 1 means time per update linear in T,
    0 flat (parallel over time, or dominated by overhead). A grid of two values has no standard
    error (NaN)."""
    from harness.studies import cost

    out = []
    ranges = [sorted(rows["T"].unique()), upper_half(rows["T"].unique())] if len(rows) else []
    for ts in ranges:
        sub = rows[rows["T"].isin(ts)]
        for metric in METRICS:
            df = sub.assign(axis=metric, value=sub["T"], total_s=sub[metric])
            ex = cost.fit_exponents(df).rename(columns={"axis": "metric"})
            out.append(ex.assign(t_min=min(ts), t_max=max(ts)))
    if not out:
        return pd.DataFrame(columns=EXPONENT_COLUMNS)
    return pd.concat(out, ignore_index=True).drop_duplicates(["model", "device", "metric", "t_min"])[EXPONENT_COLUMNS]


def ratios(rows: pd.DataFrame, reference: str | None) -> pd.DataFrame:
    """Each model's time per update over ``reference``'s on the same device and T, per metric:
    ratio of the medians over repeats and its 95% bootstrap CI
    (:func:`harness.significance.ratio_ci`; NaN with fewer than ``MIN_REPEATS_CI`` repeats
    on a side). ``decisive``: the CI lies outside :data:`harness.significance.DECISIVE_BAND`."""
    out = []
    if reference is None or reference not in set(rows["model"]):
        return pd.DataFrame(columns=RATIO_COLUMNS)
    for (device, t), g in rows.groupby(["device", "T"], sort=True):
        ref = g[g["model"] == reference]
        if ref.empty:
            continue
        for model in [m for m in dict.fromkeys(g["model"]) if m != reference]:
            mine = g[g["model"] == model]
            for metric in METRICS:
                a, b = mine[metric].to_numpy(float), ref[metric].to_numpy(float)
                ratio, lo, hi = ratio_ci(a, b)
                if min(len(a), len(b)) < MIN_REPEATS_CI:
                    lo = hi = math.nan
                decisive = ratio_decision(lo, hi) != "indecisive"
                out.append([model, reference, device, int(t), metric, ratio, lo, hi, len(a), len(b), decisive])
    return pd.DataFrame(out, columns=RATIO_COLUMNS)


def _fmt_exp(ex: pd.DataFrame, model: str, device: str, ts: list[int]) -> str:
    e = ex[(ex["model"] == model) & (ex["device"] == device) & (ex["metric"] == "s_per_update")]
    e = e[e["t_min"] == min(ts)] if ts else e
    if e.empty:
        return "T^?"
    b, se = float(e["exponent"].iloc[0]), float(e["exponent_se"].iloc[0])
    return f"T^{b:.2f}" + ("" if not np.isfinite(se) else f"±{se:.2f}")


def sequential_verdicts(rows: pd.DataFrame, reference: str | None) -> pd.DataFrame:
    """Claim (b) from the sequential study, one row per device (``VERDICT_COLUMNS``), by
    :data:`RULE`. The contenders are the models of a recurrent family (``family`` column); the
    evidence starts with the sentence the report quotes: "sequential cost: RNN time per update
    grows as T^k vs TCN T^m on <device>; at T=<max> an LSTM update costs x[CI] a TCN update"."""
    ex = fit_exponents(rows)
    rt = ratios(rows, reference)
    family = dict(zip(rows["model"].astype(str), rows["family"].astype(str)))
    out = []
    for device in dict.fromkeys(rows["device"]):
        sub = rows[rows["device"] == device]
        ts = upper_half(sub["T"].unique())
        rnns = [m for m in dict.fromkeys(sub["model"]) if m != reference and is_recurrent(family[m])]
        ref_label = "no reference" if reference is None else f"{reference} ({family.get(reference, '?')})"
        compared = f"{', '.join(f'{m} ({family[m]})' for m in rnns) or 'no recurrent model'} vs {ref_label} on {device}"
        base = {"claim": "b", "device": device, "rule": RULE, "compared": compared}
        grows = ", ".join(f"{m} {_fmt_exp(ex, m, device, ts)}" for m in rnns)
        scope = f"T {min(ts)}-{max(ts)}" if ts else "no T"
        if reference is None or reference not in set(sub["model"]) or not rnns:
            why = "no reference model timed" if reference not in set(sub["model"]) else "no recurrent model timed"
            evidence = f"sequential cost on {device}: RNN time per update grows as {grows or 'n/a'} ({scope}); {why}"
            out.append({**base, "verdict": "inconclusive", "evidence": evidence})
            continue
        t_max = int(sub["T"].max())
        at = rt[(rt["device"] == device) & (rt["T"] == t_max) & (rt["metric"] == "s_per_update")]
        at = at[at["model"].isin(rnns)].set_index("model")
        costs = []
        for m in rnns:
            r = at.loc[m] if m in at.index else None
            costs.append(
                f"{m} x? (not timed at T={t_max})"
                if r is None
                else f"{m} x{r['ratio']:.2f} [{r['ratio_lo']:.2f}, {r['ratio_hi']:.2f}]"
            )
        decisions = [ratio_decision(lo, hi) for lo, hi in zip(at["ratio_lo"], at["ratio_hi"])]
        above = len(at) == len(rnns) and all(d == "costlier" for d in decisions)
        below = len(at) == len(rnns) and all(d == "cheaper" for d in decisions)
        verdict = "supported" if above else "refuted" if below else "inconclusive"
        evidence = (
            f"sequential cost: RNN time per update grows as {grows} vs {reference} "
            f"{_fmt_exp(ex, reference, device, ts)} on {device} ({scope}); at T={t_max} an update costs, "
            f"relative to a {reference} update (median ratio [95% CI]): {'; '.join(costs)}"
        )
        out.append({**base, "verdict": verdict, "evidence": evidence})
    return pd.DataFrame(out, columns=VERDICT_COLUMNS)


# --------------------------------------------------------------------------- figure and files


def plot_sequential(rows: pd.DataFrame, exponents: pd.DataFrame, path: Path | str) -> Path:
    """``path``: wall seconds per update (median over repeats) against T, log-log, one line per
    model, one panel per device (cpu, then cuda when timed), the upper-half exponent in the
    legend. Styles follow :mod:`harness.figures`."""

    # harness.figures selects the headless Agg backend before pyplot is used
    from harness import figures

    plt, RC, save, model_styles = figures.plt, figures.RC, figures._save, figures.model_styles
    med = rows.groupby(["device", "model", "T"], as_index=False)["s_per_update"].median()
    devices = list(dict.fromkeys(sorted(med["device"], key=lambda d: (d != "cpu", d))))
    styles = model_styles(med["model"].unique())
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, len(devices), figsize=(6.2 * len(devices) + 1.6, 4.4), squeeze=False)
        for ax, device in zip(axes[0], devices):
            sub = med[med["device"] == device]
            ts = upper_half(sub["T"].unique())
            for model in sorted(sub["model"].unique()):
                line = sub[sub["model"] == model].sort_values("T")
                s = styles[model]
                label = f"{model} ({_fmt_exp(exponents, model, device, ts)})"
                ax.plot(
                    line["T"],
                    line["s_per_update"] * 1000.0,
                    color=s["color"],
                    marker=s["marker"],
                    linestyle=s["linestyle"],
                    markersize=5,
                    lw=1.5,
                    label=label,
                )
            figures.log_log(ax, sub["T"].unique())
            ax.set_xlabel("BPTT length T = input window (log scale)")
            ax.set_ylabel("ms per training update (log scale)")
            ax.set_title(f"{device}: time per update vs T (exponents over T {min(ts)}-{max(ts)})")
            ax.legend(fontsize=8, frameon=False, loc="upper left")
        fig.tight_layout()
    return save(fig, path)


def _table(df: pd.DataFrame) -> str:
    return df.to_markdown(index=False, floatfmt=".4g") if len(df) else "_(none)_"


def write_sequential_study(root: Path | str, config: SequentialConfig, rows: pd.DataFrame) -> pd.DataFrame:
    """Write the study under ``root``: ``studies/sequential/`` (sequential.csv, exponents.csv,
    ratios.csv, verdict.csv, sequential.png), ``manifest.json`` (kind "sequential-study") and
    ``report.md``. Refuses a ``root`` whose manifest belongs to something else. Returns the
    verdict rows (one per device)."""
    from harness.store import atomic_write_frame, atomic_write_text

    root = Path(root)
    check_study_root(root, MANIFEST_KIND)
    out_dir = study_dir(root, KIND)
    out_dir.mkdir(parents=True, exist_ok=True)
    exponents = fit_exponents(rows)
    rt = ratios(rows, config.reference)
    verdicts = sequential_verdicts(rows, config.reference)
    atomic_write_frame(rows, out_dir / "sequential.csv")
    atomic_write_frame(exponents, out_dir / "exponents.csv")
    atomic_write_frame(rt, out_dir / "ratios.csv")
    atomic_write_frame(verdicts, out_dir / "verdict.csv")
    figure = plot_sequential(rows, exponents, out_dir / "sequential.png")
    write_study_manifest(root, MANIFEST_KIND, config.as_dict(), out_dir)

    med = rows.groupby(["device", "T", "model"], as_index=False)["s_per_update"].median()
    med["model"] = [_label(m, d) for m, d in zip(med["model"], med["device"])]
    table = med.pivot(index="T", columns="model", values="s_per_update").mul(1000.0).reset_index()
    table.columns.name = None
    wall = rt[rt["metric"] == "s_per_update"].drop(columns=["metric"])
    lines = [
        '# Sequential study (claim b: "RNNs are computationally slow", the BPTT mechanism)',
        "",
        (
            f"Time per training update against the BPTT length T (the input window), {config.n_series} series x "
            f"{config.windows} training windows at every T, batch {config.batch_size} "
            f"({config.updates_per_epoch} updates per epoch), exactly {config.epochs} epochs = {config.updates} "
            f"updates per fit, hidden {config.hidden}, global training, synthetic ARMA data, horizon "
            f"{config.horizon}; {config.repeats} repeat(s), medians shown. Timed with the benchmark's runner "
            "(warm-up untimed; device synchronised before each clock read)."
        ),
        "",
        *[f"**{v['device']}: {v['verdict']}.** {v['evidence']}\n" for _, v in verdicts.iterrows()],
        f"Rule: {RULE}.",
        "",
        "## Milliseconds per update (median)",
        "",
        _table(table),
        "",
        f"![time per update vs T](studies/{KIND}/{figure.name})",
        "",
        "## Exponents (log-log slope of seconds per update on T)",
        "",
        _table(exponents.round(3)),
        "",
        f"## Ratio to {config.reference} per T (wall seconds per update)",
        "",
        _table(wall) if config.reference else "_(no reference model: --reference none)_",
        "",
    ]
    atomic_write_text(root / "report.md", "\n".join(lines))
    return verdicts
