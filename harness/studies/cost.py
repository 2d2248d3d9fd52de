"""Cost study (claim b, "RNNs are computationally slow"): how fit + predict time grows with the work.

The benchmark's speed table measures cost at one size, where the answer to "is an RNN slower than
ARIMA?" depends on that size: ARIMA is a *local* model (one fit per series, so its total cost is
n_series x per-series cost and grows with series length), an RNN is a *global* model (one fit on
windows of all series, so its cost grows with the number of training windows, the epochs and the
hidden size). This study varies one thing at a time around a base point and reports where the
fitted cost lines cross.

Design
------
Three axes, each varied alone while the other two stay at the base point:

- ``length``: observations per series (every series the same length);
- ``n_series``: series in the panel;
- ``hidden``: hidden size of the recurrent models.

Data at each point: :func:`workload`, ``n_series`` ARMA(2,1) series of ``length`` values around
10, seeded (the same numbers as ``plugins.synthetic.arma(n_series, length, mean=10, seed=seed,
horizon=8)``, but generated here: the core does not import the built-in plugins).
Each point is timed by the harness's own machinery, exactly as a benchmark run times it:
``Task(dataset, ProtocolSpec("holdout"))``, ``Experiment(task, spec, params, seed)``,
``run_experiment(exp, executor, options)`` with the ``processes`` executor. So ``fit_s``, ``predict_s`` and ``ms_per_series``
mean what they mean in speed.csv: model compute (for local models the sum of per-series times,
independent of the number of workers; for global models the synchronised wall time of fit and
predict), excluding data loading, windowing outside the model and scoring.

- Recurrent models train for a fixed ``epochs`` with early stopping disabled (``patience`` is set
  above ``epochs``; the validation loss is still computed every epoch, as in the benchmark), so
  the time reflects the work and not the epoch at which validation loss happened to stall.
- Every other model parameter is the registered default (the benchmark's), including
  ``max_windows_per_series=60``: a global RNN trains on at most 60 windows per series, so along
  the ``length`` axis its cost stops growing once series are longer than about 60 + input size +
  horizon. That is the benchmark's RNN, and the cap is what makes it cheap on long series;
  ``rnn_params`` overrides parameters of the recurrent models for a study without it.
- ``arima`` (and any model without a ``hidden`` parameter) does not depend on the hidden size:
  on the ``hidden`` axis it is timed once, at the base point, and that row (value = base hidden)
  is the reference every hidden size is compared with.
- A model with a ``device`` parameter (the torch RNNs) runs once per entry of ``devices``
  (``cpu`` always, plus ``cuda`` when ``torch.cuda.is_available()``); the others run on CPU.
- A point shared by several axes (the base point lies on all three) is measured once per repeat
  and its row is reused on each axis.
- Before timing, each model/device runs one untimed experiment at the smallest point, so imports,
  first-call allocations and CUDA start-up are not charged to whichever point comes first.

Outputs: :func:`run_cost_study` (one row per axis, value, model, device, repeat),
:func:`fit_exponents` (log-log slopes), :func:`crossover` (where the cost lines cross),
:func:`cost_verdict` (claim b), :func:`plot_cost` and :func:`write_cost_study`.
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

from harness.claims import REFERENCE
from harness.data import Dataset, Panel
from harness.models import is_recurrent
from harness.studies import check_study_root, study_dir, write_study_manifest

AXES: tuple[str, ...] = ("length", "n_series", "hidden")
#: The device the local reference model of claim (b) is timed on. The contenders are the models
#: whose declared family is recurrent (rnn, lstm, gru; the ``family`` column of cost.csv);
#: other models are timed and shown but not compared (:func:`contenders`).
REFERENCE_DEVICE = "cpu"
#: Axes along which the local reference and the global RNNs scale differently (crossover).
CROSSOVER_AXES: tuple[str, ...] = ("n_series", "length", "hidden")

ROW_COLUMNS = [
    "axis",
    "value",
    "model",
    "device",
    "device_name",
    "repeat",
    "length",
    "n_series",
    "hidden",
    "fit_s",
    "predict_s",
    "total_s",
    "cpu_s",
    "ms_per_series",
    "n_params",
    "family",
]
EXPONENT_COLUMNS = ["axis", "model", "device", "exponent", "exponent_se", "intercept", "r2", "n_points"]
CROSSOVER_COLUMNS = ["axis", "model", "device", "crossover_value", "within_range", "cheaper_below", "note"]
VERDICT_COLUMNS = ["claim", "verdict", "compared", "rule", "evidence"]

RULE = (
    "cost study: total fit+predict time of every neural model (each device) vs arima (cpu) at every "
    "measured point of every axis (length, n_series, hidden; arima timed at the base point on the hidden "
    "axis): supported if every neural model costs more at every point, refuted if every neural model "
    "costs less at every point, else inconclusive; evidence quotes the log-log cost exponents and the "
    "crossovers of the fitted cost lines"
)


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
    ``rnn_params`` overrides further parameters of the recurrent models (e.g.
    ``{"max_windows_per_series": None}``). ``workers``: processes for local models (1, so the
    per-series cost is not inflated by two workers competing for the cores). ``devices``: torch
    models run once per device. ``repeats``: timings per point (the tables keep each one).
    """

    models: tuple[str, ...] = ("arima", "rnn-numpy", "rnn-torch", "lstm-torch", "gru-torch")
    lengths: tuple[int, ...] = (100, 200, 400, 800, 1600)
    n_series: tuple[int, ...] = (8, 32, 128, 512)
    hidden: tuple[int, ...] = (8, 16, 32, 64, 128)
    base_length: int = 200
    base_n_series: int = 32
    base_hidden: int = 32
    horizon: int = 8
    epochs: int = 20
    seed: int = 0
    workers: int = 1
    devices: tuple[str, ...] = field(default_factory=_default_devices)
    repeats: int = 1
    rnn_params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("models", "lengths", "n_series", "hidden", "devices"):
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
        object.__setattr__(self, "rnn_params", dict(self.rnn_params))

    @classmethod
    def tiny(cls, **overrides: Any) -> CostStudyConfig:
        """A seconds-long configuration for CI: two values per axis, 2 epochs, three models."""
        kwargs: dict[str, Any] = {
            "models": ("arima", "rnn-numpy", "lstm-torch"),
            "lengths": (60, 120),
            "n_series": (4, 8),
            "hidden": (4, 8),
            "base_length": 60,
            "base_n_series": 4,
            "base_hidden": 4,
            "epochs": 2,
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


def _label(model: str, device: str) -> str:
    return model if device == "cpu" else f"{model} [{device}]"


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


def run_cost_study(
    config: CostStudyConfig, registry: Any, progress: Callable[[int, int, dict], None] | None = None
) -> pd.DataFrame:
    """Time every (axis, value, model, device, repeat) of ``config``; one row each (``ROW_COLUMNS``).

    ``registry`` is a :class:`harness.plugins.Registry` (``load_registry()``); ``progress(done,
    total, row)`` is called after each measured point. Raises ``RuntimeError`` naming the model and
    point if any series failed (a failed series would make the time mean less work), and
    ``ModelError`` for an unknown model.
    """
    from harness.executors import RunOptions, make_executor
    from harness.runner import Experiment, run_experiment
    from harness.tasks import ProtocolSpec, Task
    from harness.timing import hardware

    specs = {name: registry.model(name) for name in config.models}
    cpu_name = hardware()["cpu"]
    base = config.base()

    def params_for(name: str, hidden: int | None, device: str) -> dict[str, Any]:
        spec = specs[name]
        over: dict[str, Any] = {}
        if "hidden" in spec.params:
            over.update({"hidden": int(hidden), "epochs": config.epochs, "patience": config.epochs + 1})
            over.update({k: v for k, v in config.rnn_params.items() if k in spec.params})
        if "device" in spec.params:
            over["device"] = device
        return spec.resolve_params(over)

    datasets: dict[tuple[int, int], Any] = {}

    def task_for(length: int, n: int) -> Task:
        if (length, n) not in datasets:
            ds = workload(n, int(length), seed=config.seed, horizon=config.horizon, name=f"cost-L{length}-N{n}")
            datasets[(length, n)] = Task(ds, ProtocolSpec(kind="holdout"))
        return datasets[(length, n)]

    # plan: (axis, value, model, device, point) with the point's key shared across axes
    runs = []
    for axis in AXES:
        for value in config.values(axis):
            point = {**base, axis: int(value)}
            for name in config.models:
                has_hidden = "hidden" in specs[name].params
                if axis == "hidden" and not has_hidden and int(value) != config.base_hidden:
                    continue
                devices = config.devices if "device" in specs[name].params else ("cpu",)
                for device in devices:
                    runs.append((axis, int(value), name, device, point, has_hidden))
    for name in config.models:  # models without a hidden size: one row at the base point
        if "hidden" not in specs[name].params and config.base_hidden not in config.hidden:
            runs.append(("hidden", config.base_hidden, name, "cpu", dict(base), False))

    pool = make_executor("processes", config.workers)
    run_options = RunOptions(executor="processes", workers=config.workers)
    cache: dict[tuple, dict] = {}
    rows: list[dict] = []
    total = len(runs) * config.repeats
    try:
        smallest = (min(config.lengths), min(config.n_series), min(config.hidden))
        warmed = set()
        for _, _, name, device, _, _ in runs:
            if (name, device) in warmed:
                continue
            warmed.add((name, device))
            exp = Experiment(
                task_for(smallest[0], smallest[1]), specs[name], params_for(name, smallest[2], device), config.seed
            )
            run_experiment(exp, pool, run_options)  # untimed warm-up
        for repeat in range(config.repeats):
            for axis, value, name, device, point, has_hidden in runs:
                hidden = point["hidden"] if has_hidden else None
                key = (name, device, point["length"], point["n_series"], hidden, repeat)
                if key not in cache:
                    task = task_for(point["length"], point["n_series"])
                    params = params_for(name, hidden, device)
                    exp = Experiment(task, specs[name], params, config.seed)
                    result = run_experiment(exp, pool, run_options)
                    s = result.summary
                    if s["status"] != "ok" or s["n_failed"]:
                        raise RuntimeError(
                            f"cost study: {name} on {device} at length={point['length']}, n_series={point['n_series']}"
                            f"{'' if hidden is None else f', hidden={hidden}'}: {s['n_failed']} series failed "
                            f"({s['message']})"
                        )
                    model = specs[name].build(
                        horizon=task.horizon, season_length=task.season_length, seed=config.seed, params=params
                    )
                    fit_s, predict_s = float(s["fit_s"]), float(s["predict_s"])
                    cache[key] = {
                        "device_name": s.get("device_name") or (cpu_name if device == "cpu" else device),
                        "fit_s": fit_s,
                        "predict_s": predict_s,
                        "total_s": fit_s + predict_s,
                        "cpu_s": float(s["cpu_s"]),
                        "ms_per_series": (fit_s + predict_s) * 1000.0 / max(1, point["n_series"]),
                        "n_params": _n_params(model),
                        "family": model.family,
                    }
                row = {
                    "axis": axis,
                    "value": value,
                    "model": name,
                    "device": device,
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


# --------------------------------------------------------------------------- analysis


def _positive(rows: pd.DataFrame) -> pd.DataFrame:
    df = rows[["axis", "value", "model", "device", "total_s"]].copy()
    df["value"] = df["value"].astype(float)
    df["total_s"] = df["total_s"].astype(float)
    return df[(df["value"] > 0) & (df["total_s"] > 0) & np.isfinite(df["total_s"])]


def fit_exponents(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (axis, model, device): least-squares line of log(total_s) on log(value).

    ``exponent`` is the slope b of ``total_s ~ a * value**b`` (1: linear in the work, 0: flat),
    ``exponent_se`` its standard error, ``intercept`` is log(a) (natural log), ``r2`` the squared
    correlation, ``n_points`` the rows used (every repeat is a point). Groups with fewer than two
    distinct values (arima on the hidden axis) are left out; rows with total_s <= 0 are dropped.
    """
    from scipy.stats import linregress

    out = []
    df = _positive(rows)
    for (axis, model, device), g in df.groupby(["axis", "model", "device"], sort=False):
        if g["value"].nunique() < 2:
            continue
        fit = linregress(np.log(g["value"]), np.log(g["total_s"]))
        se = float(fit.stderr) if len(g) > 2 else math.nan
        out.append(
            {
                "axis": axis,
                "model": model,
                "device": device,
                "exponent": float(fit.slope),
                "exponent_se": se,
                "intercept": float(fit.intercept),
                "r2": float(fit.rvalue**2),
                "n_points": len(g),
            }
        )
    return pd.DataFrame(out, columns=EXPONENT_COLUMNS)


def contenders(rows: pd.DataFrame) -> list[str]:
    """The models of the cost study that claim (b) is about: those whose recorded family is
    recurrent (rnn, lstm, gru). A study stored before models declared a family (cost.csv without
    a ``family`` column) keeps its rule then: every model other than arima."""
    models = list(dict.fromkeys(rows["model"].astype(str)))
    if "family" not in rows.columns or rows["family"].isna().any():
        return [m for m in models if m != REFERENCE]
    family = dict(zip(rows["model"].astype(str), rows["family"].astype(str)))
    return [m for m in models if m != REFERENCE and is_recurrent(family[m])]


def _median_costs(rows: pd.DataFrame) -> pd.DataFrame:
    return _positive(rows).groupby(["axis", "value", "model", "device"], as_index=False)["total_s"].median()


def _cheaper_everywhere(comparisons: pd.DataFrame, axis: str, model: str, device: str) -> str:
    """'rnn' / 'arima' / 'mixed' / '' from the measured medians along one axis."""
    c = comparisons
    both = c[(c["axis"] == axis) & (c["model"] == model) & (c["device"] == device)]
    if both.empty:
        return ""
    less = both["total_s"] < both["total_s_ref"]
    return "rnn" if less.all() else REFERENCE if (~less).all() else "mixed"


def crossover(rows: pd.DataFrame) -> pd.DataFrame:
    """Where the fitted cost lines of each neural model/device and arima (cpu) cross.

    Rule, along ``n_series``, ``length`` and ``hidden`` (where arima, which has no hidden size,
    is the flat line of its base-point cost): fit ``log total = log a + b log value`` for both
    (:func:`fit_exponents`). arima is local, so its total is n_series x per-series cost and its
    exponent along n_series is about 1; a global RNN's can be below 1 (it trains on more windows
    per epoch, not more models). If ``|b_arima - b_rnn| <= 2 * sqrt(se_arima**2 + se_rnn**2)`` the
    slopes are equal within 2 standard errors and no crossover is reported (with two points per
    line there is no standard error and any difference counts). Otherwise the lines cross at
    ``value* = exp((log a_rnn - log a_arima) / (b_arima - b_rnn))``; below value* the model with
    the larger exponent is cheaper (``cheaper_below``: "rnn" or "arima"). ``within_range`` says
    whether value* lies inside the measured values; the ``note`` adds what the measurements show
    (e.g. "rnn cheaper everywhere tested").
    """
    ex = fit_exponents(rows).set_index(["axis", "model", "device"])
    med = _median_costs(rows)
    comparisons = _comparisons(rows)
    compared = set(contenders(rows))
    out = []
    for axis in CROSSOVER_AXES:
        ref_key = (axis, REFERENCE, REFERENCE_DEVICE)
        base = med[(med["axis"] == axis) & (med["model"] == REFERENCE) & (med["device"] == REFERENCE_DEVICE)]
        if ref_key in ex.index:
            ref = ex.loc[ref_key]
        elif len(base) == 1:  # hidden axis: arima has no hidden size, its cost is a flat line
            ref = pd.Series(
                {"exponent": 0.0, "exponent_se": 0.0, "intercept": math.log(float(base["total_s"].iloc[0]))}
            )
        else:
            continue
        vals = med.loc[med["axis"] == axis, "value"]
        lo, hi = float(vals.min()), float(vals.max())
        for (ax, model, device), fit in ex.iterrows():
            if ax != axis or model not in compared:
                continue
            label = _label(model, device)
            measured = _cheaper_everywhere(comparisons, axis, model, device)
            tested = {
                "rnn": f"{label} cheaper everywhere tested",
                REFERENCE: f"{REFERENCE} cheaper everywhere tested",
                "mixed": "cheaper model changes within the tested range",
                "": "",
            }[measured]
            diff = float(ref["exponent"] - fit["exponent"])
            se = math.sqrt(np.nansum([ref["exponent_se"] ** 2, fit["exponent_se"] ** 2]))
            row = {
                "axis": axis,
                "model": model,
                "device": device,
                "crossover_value": math.nan,
                "within_range": False,
                "cheaper_below": "",
            }
            if abs(diff) <= max(2 * se, 1e-9):  # the floor absorbs rounding in exact (synthetic) fits
                row["note"] = "; ".join(filter(None, ["no crossover: slopes equal within 2 se", tested]))
            else:
                x_star = math.exp((float(fit["intercept"]) - float(ref["intercept"])) / diff)
                cheaper_below = "rnn" if fit["exponent"] > ref["exponent"] else REFERENCE
                inside = lo <= x_star <= hi
                other = REFERENCE if cheaper_below == "rnn" else label
                below = label if cheaper_below == "rnn" else REFERENCE
                where = f"lines cross at {axis}={x_star:.3g}"
                note = (
                    f"{where}: {below} cheaper below, {other} above"
                    if inside
                    else f"{where}, outside the tested range {lo:g}-{hi:g}"
                )
                row.update(
                    crossover_value=x_star,
                    within_range=inside,
                    cheaper_below=cheaper_below,
                    note="; ".join(filter(None, [note, tested])),
                )
            out.append(row)
    return pd.DataFrame(out, columns=CROSSOVER_COLUMNS)


def _comparisons(rows: pd.DataFrame) -> pd.DataFrame:
    """Each contender's (:func:`contenders`) median cost per device beside arima's at the same
    axis value (arima's base-point cost on the hidden axis, where it has no hidden size)."""
    med = _median_costs(rows)
    ref = med[(med["model"] == REFERENCE) & (med["device"] == REFERENCE_DEVICE)]
    nn = med[med["model"].isin(contenders(rows))]
    parts = []
    for axis, g in nn.groupby("axis", sort=False):
        r = ref[ref["axis"] == axis]
        if r.empty:
            continue
        if r["value"].nunique() == 1 and g["value"].nunique() > 1:  # arima timed once (hidden axis)
            parts.append(g.assign(total_s_ref=float(r["total_s"].iloc[0])))
        else:
            parts.append(g.merge(r[["value", "total_s"]], on="value", suffixes=("", "_ref")))
    if not parts:
        return pd.DataFrame(columns=["axis", "value", "model", "device", "total_s", "total_s_ref"])
    return pd.concat(parts, ignore_index=True)


def cost_verdict(rows: pd.DataFrame) -> dict[str, str]:
    """Claim (b) from the cost study (see :data:`RULE`): ``{claim, verdict, compared, rule, evidence}``.

    The contenders are the models of a recurrent family (:func:`contenders`; ``compared`` lists
    them). Costs are medians over repeats; a point where a model has no arima counterpart is not
    compared. Without arima or without a neural model the verdict is inconclusive.
    """
    cmp = _comparisons(rows)
    family = dict(zip(rows["model"].astype(str), rows["family"])) if "family" in rows.columns else {}
    names = [f"{m} ({family[m]})" if isinstance(family.get(m), str) else m for m in contenders(rows)]
    out = {"claim": "b", "rule": RULE, "compared": f"{', '.join(names) or 'no recurrent model'} vs {REFERENCE}"}
    if cmp.empty:
        return {**out, "verdict": "inconclusive", "evidence": "no point has both arima and a neural model"}
    more = cmp["total_s"] > cmp["total_s_ref"]
    less = cmp["total_s"] < cmp["total_s_ref"]
    verdict = "supported" if more.all() else "refuted" if less.all() else "inconclusive"
    parts = [f"neural costlier than arima at {int(more.sum())}/{len(cmp)} model-points"]
    ex = fit_exponents(rows)
    for axis in AXES:
        sub = ex[ex["axis"] == axis]
        if sub.empty:
            continue
        fits = ", ".join(
            f"{_label(m, d)} {b:.2f}" + ("" if not np.isfinite(se) else f"±{se:.2f}")
            for m, d, b, se in zip(sub["model"], sub["device"], sub["exponent"], sub["exponent_se"])
        )
        parts.append(f"exponent along {axis}: {fits}")
    cx = crossover(rows)
    notes = [
        f"{_label(m, d)} vs arima along {a}: {n}"
        for a, m, d, n in zip(cx["axis"], cx["model"], cx["device"], cx["note"])
    ]
    if notes:
        parts.append("crossovers: " + "; ".join(notes))
    return {**out, "verdict": verdict, "evidence": ". ".join(parts)}


# --------------------------------------------------------------------------- figures and files


def plot_cost(rows: pd.DataFrame, exponents: pd.DataFrame, path_dir: Path | str) -> dict[str, Path]:
    """One log-log figure per axis, ``cost_<axis>.png`` in ``path_dir``: total fit+predict seconds
    (median over repeats) against the axis value, one line per model/device, with the fitted
    exponent in the legend. A model measured at a single value of the axis (arima on the hidden
    axis) is drawn as a horizontal dashed line: its cost does not depend on that axis. Styles
    follow :mod:`harness.figures` (same colours per model label in every figure, mathtext off)."""
    import matplotlib.ticker as mticker

    # harness.figures selects the headless Agg backend before pyplot is used
    from harness import figures

    plt, RC, _save, model_styles = figures.plt, figures.RC, figures._save, figures.model_styles

    med = _median_costs(rows)
    med["label"] = [_label(m, d) for m, d in zip(med["model"], med["device"])]
    styles = model_styles(med["label"].unique())
    ex = {
        (a, _label(m, d)): (b, se)
        for a, m, d, b, se in zip(
            exponents["axis"], exponents["model"], exponents["device"], exponents["exponent"], exponents["exponent_se"]
        )
    }
    names = {"length": "series length (observations)", "n_series": "number of series", "hidden": "hidden size"}
    out: dict[str, Path] = {}
    for axis in [a for a in AXES if a in set(med["axis"])]:
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
                        float(line["total_s"].iloc[0]),
                        color=s["color"],
                        linestyle="--",
                        lw=1.2,
                        label=f"{label} (base point; no {axis} parameter)",
                    )
                    continue
                ax.plot(
                    line["value"],
                    line["total_s"],
                    color=s["color"],
                    marker=s["marker"],
                    linestyle=s["linestyle"],
                    markersize=5,
                    lw=1.5,
                    label=text,
                )
            ax.set_xscale("log")
            ax.set_yscale("log")
            fmt = mticker.FuncFormatter(lambda v, _: f"{v:g}")
            for a in (ax.xaxis, ax.yaxis):
                a.set_major_formatter(fmt)
                a.set_minor_formatter(mticker.NullFormatter())
            ax.set_xticks(sorted(sub["value"].unique()))
            ax.set_xlabel(f"{names.get(axis, axis)} (log scale)")
            ax.set_ylabel("fit + predict seconds (log scale)")
            ax.set_title(f"Cost vs {names.get(axis, axis)} (b = log-log slope)")
            ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # off the data
            fig.tight_layout()
        out[axis] = _save(fig, Path(path_dir) / f"cost_{axis}.png")
    return out


def _table(df: pd.DataFrame) -> str:
    return df.to_markdown(index=False, floatfmt=".4g") if len(df) else "_(none)_"


def write_cost_study(root: Path, config: CostStudyConfig, rows: pd.DataFrame) -> dict[str, str]:
    """Write the study under ``root``: ``studies/cost/`` (cost.csv, exponents.csv, crossover.csv,
    verdict.csv, cost_<axis>.png), ``manifest.json`` (kind "cost-study", config, hardware,
    versions, git commit, created) and ``report.md``. Refuses a ``root`` whose manifest belongs
    to something else (a benchmark run), so a study never overwrites a run's manifest. Returns
    the verdict row (claim, verdict, rule, evidence)."""
    from harness.store import atomic_write_frame, atomic_write_text

    root = Path(root)
    check_study_root(root, "cost-study")
    out_dir = study_dir(root, "cost")
    out_dir.mkdir(parents=True, exist_ok=True)
    exponents = fit_exponents(rows)
    cross = crossover(rows)
    verdict = cost_verdict(rows)
    atomic_write_frame(rows, out_dir / "cost.csv")
    atomic_write_frame(exponents, out_dir / "exponents.csv")
    atomic_write_frame(cross, out_dir / "crossover.csv")
    atomic_write_frame(pd.DataFrame([verdict], columns=VERDICT_COLUMNS), out_dir / "verdict.csv")
    figures = plot_cost(rows, exponents, out_dir)
    write_study_manifest(root, "cost-study", config.as_dict(), out_dir)

    med = _median_costs(rows)
    med["model"] = [_label(m, d) for m, d in zip(med["model"], med["device"])]
    lines = [
        '# Cost study (claim b: "RNNs are computationally slow")',
        "",
        (
            f"Fit + predict seconds of each model as one thing varies around the base point "
            f"(length {config.base_length}, {config.base_n_series} series, hidden {config.base_hidden}); "
            f"recurrent models train exactly {config.epochs} epochs (no early stopping); synthetic ARMA data, "
            f"horizon {config.horizon}; {config.repeats} repeat(s), medians shown. Timed with the benchmark's "
            "runner, so the numbers mean what speed.csv's mean."
        ),
        "",
        f"**Verdict: {verdict['verdict']}.** {verdict['evidence']}",
        "",
        f"Compared: {verdict['compared']}.",
        "",
        f"Rule: {RULE}.",
        "",
    ]
    for axis in AXES:
        sub = med[med["axis"] == axis]
        if sub.empty:
            continue
        table = sub.pivot(index="value", columns="model", values="total_s")
        for col in list(table.columns):  # a model timed once on this axis (arima on hidden): its base cost
            if table[col].notna().sum() == 1 and len(table) > 1:
                table[col] = table[col].ffill().bfill()
                table = table.rename(columns={col: f"{col} (base point)"})
        table = table.reset_index().rename(columns={"value": axis})
        lines += [f"## Total seconds vs {axis}", "", _table(table), ""]
        if axis in figures:
            lines += [f"![cost vs {axis}](studies/cost/{figures[axis].name})", ""]
    lines += [
        "## Exponents (log-log slope of total seconds)",
        "",
        _table(exponents.drop(columns=["intercept"]).round(3)),
        "",
        "## Crossovers with arima",
        "",
        _table(cross),
        "",
    ]
    atomic_write_text(root / "report.md", "\n".join(lines))
    return verdict
