"""The memory study (claim c): can a model use information from L steps back, as L grows?

A forecasting benchmark cannot isolate this claim: a model can be worse at step h for many
reasons. Here the series are built so that the predictable part of the next values is exactly
L steps back (the built-in ``plugins.longmemory``: lagged copy, adding, long seasonal), each with
a known best achievable error. A run of the ``memory`` suite forecasts them for L = 6 .. 192 with
every model; this module turns that run into:

* ``memory.csv``: per task x lag x model, the RMSE pooled over series and steps (mean over seeds,
  ``error_sd`` their sd), the best achievable RMSE (``optimum``, from the generating process) and
  the floor: the measured RMSE of the ``mean`` model on the same windows - the error of a model
  that learned nothing (``floor_theory`` is its expected value). ``skill = (floor - error) /
  (floor - optimum)``: 1 is optimal, 0 is nothing learned. ``family`` is what each model
  declared in the study run (experiments.csv), which tells the verdict its contenders.
* ``gradients.csv`` / ``decay.csv``: the norm of dh_T/dh_{T-k} against k for Elman networks
  (tanh, relu, sigmoid; NumPy backward pass and torch autograd) and LSTM/GRU trained on the
  lagged-copy task, and the fitted per-step decay rate (:mod:`harness.studies.gradients`).
* ``verdict.csv`` and figures, all under ``<run>/studies/memory/``, which the run's report (and
  any run it is attached to with ``rnnbench report RUN --study DIR``) reads for claim (c).

The study knows its datasets only through the registry, like any other part of the core. A
registered dataset takes part when its registration's ``info`` has ``study="memory"``, a
``task`` name and an integer ``lag`` L (:func:`memory_datasets`: the tasks and lags there are,
without loading anything); its loaded :class:`harness.Dataset`'s ``meta`` then holds ``task``,
``lag``, ``optimal_rmse`` (the best achievable RMSE over the horizon) and ``floor_rmse`` (the
expected RMSE of a model that learned nothing). The gradient diagnostic trains on the task
``GRADIENT_TASK`` (the lagged copy).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness import claims, figures
from harness import windows as W
from harness.errors import StudyError
from harness.families import declared_families
from harness.plugins import Registry
from harness.store import RunStore, atomic_write_frame, atomic_write_text
from harness.studies import study_dir

KIND = "memory"
SUITE = "memory"
FLOOR_MODEL = "mean"
#: The task whose datasets the gradient-decay networks are trained on.
GRADIENT_TASK = "copy"
MEMORY_COLUMNS = [
    "task",
    "lag",
    "model",
    "n_seeds",
    "n_series",
    "error",
    "error_sd",
    "optimum",
    "floor",
    "floor_theory",
    "error_over_floor",
    "family",
    "skill",
]


def memory_datasets(registry: Registry) -> dict[tuple[str, int], str]:
    """``(task, lag) -> dataset name`` of every registered memory-study dataset (registered with
    ``info`` ``study="memory"``, ``task`` and ``lag``), in registration order."""
    out: dict[tuple[str, int], str] = {}
    for name, spec in registry.datasets.items():
        info = spec.info
        if spec.load is not None and info.get("study") == KIND and "task" in info and "lag" in info:
            out.setdefault((str(info["task"]), int(info["lag"])), name)
    return out


def memory_tasks(registry: Registry) -> list[str]:
    """The memory tasks with a registered dataset, in registration order."""
    return list(dict.fromkeys(task for task, _ in memory_datasets(registry)))


def memory_lags(registry: Registry, task: str | None = None) -> list[int]:
    """The lags with a registered memory dataset (of ``task``, or of any task), ascending."""
    return sorted({lag for t, lag in memory_datasets(registry) if task is None or t == task})


def memory_dataset(registry: Registry, task: str, lag: int) -> str:
    """The registered dataset of ``task`` at ``lag``; :class:`StudyError` if there is none."""
    try:
        return memory_datasets(registry)[(task, int(lag))]
    except KeyError:
        lags = ", ".join(map(str, memory_lags(registry, task))) or "none"
        raise StudyError(f"memory task {task!r} has no registered dataset at lag {lag} (lags: {lags})") from None


def dataset_names(registry: Registry, tasks: list[str] | None, lags: list[int] | None) -> list[str] | None:
    """The registered datasets of these tasks and lags (None: the suite's own list); a task or
    lag without one is a :class:`StudyError`."""
    if tasks is None and lags is None:
        return None
    known_tasks, known_lags = memory_tasks(registry), memory_lags(registry)
    tasks = tasks or known_tasks
    lags = lags or known_lags
    bad = [t for t in tasks if t not in known_tasks]
    if bad:
        raise StudyError(f"unknown memory task {bad[0]!r}; choose from {', '.join(known_tasks) or 'none registered'}")
    bad_lags = [lag for lag in lags if lag not in known_lags]
    if bad_lags:
        raise StudyError(f"lag {bad_lags[0]} has no registered dataset; choose from {', '.join(map(str, known_lags))}")
    return [memory_dataset(registry, t, lag) for t in tasks for lag in lags]


def study_models(models: list[str] | None) -> list[str] | None:
    """The models chosen for the study plus the floor model: the floor of "learned nothing" is
    always measured, on the same windows (None: the suite's own list, which has it)."""
    if models is None or FLOOR_MODEL in models:
        return models
    return [*models, FLOOR_MODEL]


@dataclass(frozen=True)
class GradientConfig:
    """Networks trained for the gradient-decay diagnostic: on the lagged-copy task at ``lag``,
    windows of ``ceil(input_seasons x lag)`` values (as in the study's forecasts)."""

    lag: int = 24
    hidden: int = 32
    epochs: int = 30
    seeds: tuple[int, ...] = (0,)
    input_seasons: float = 2.25
    n_eval: int = 64


# --------------------------------------------------------------------------- error vs lag


def _metas(names: list[str], registry: Registry) -> dict[str, dict]:
    """Generating-process facts (task, lag, optimum, floor) of the memory datasets of a run:
    each one's ``meta``, with the ``task`` of its registration's ``info`` where ``meta`` has none."""
    members = {name: task for (task, _), name in memory_datasets(registry).items()}
    out = {}
    for name in names:
        if name not in members:  # a data file or another dataset in the same run
            continue
        meta = registry.dataset(name).load().meta
        if "optimal_rmse" in meta and "lag" in meta:
            out[name] = {"task": members[name], **meta}
    return out


def memory_tables(
    series: pd.DataFrame,
    forecasts: pd.DataFrame,
    metas: dict[str, dict],
    families: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per seed, per task x lag x model) error tables of a memory-suite run.

    Only the (series, window) pairs every model forecast count (the harness's fairness rule),
    so the floor and every model's error are measured on the same values. RMSE is pooled over
    series, windows and steps: sqrt(mean (y - yhat)^2). ``metas``: per dataset, its ``task``,
    ``lag``, ``optimal_rmse`` and ``floor_rmse``. ``families``: model -> declared family
    (:func:`harness.families.declared_families` of the run's experiments.csv), recorded in the
    ``family`` column so the verdict picks its contenders by declaration (None where unknown).
    """
    f = claims.common_forecasts(series[series["dataset"].isin(list(metas))], forecasts)
    f = f.assign(se=(f["y"] - f["yhat"]) ** 2)
    per_seed = (
        f.groupby(["dataset", "model", "seed"], sort=False)
        .agg(mse=("se", "mean"), n_series=("unique_id", "nunique"))
        .reset_index()
    )
    per_seed["error"] = np.sqrt(per_seed["mse"])
    per_seed["task"] = per_seed["dataset"].map(lambda d: str(metas[d]["task"]))
    per_seed["lag"] = per_seed["dataset"].map(lambda d: int(metas[d]["lag"]))
    per_seed = per_seed[["task", "lag", "dataset", "model", "seed", "n_series", "error"]]
    floors = per_seed[per_seed["model"] == FLOOR_MODEL].groupby("dataset")["error"].mean()
    rows = []
    for (dataset, model), g in per_seed.groupby(["dataset", "model"], sort=False):
        meta = metas[dataset]
        floor = float(floors[dataset]) if dataset in floors.index else float(meta["floor_rmse"])
        optimum = float(meta["optimal_rmse"])
        error = float(g["error"].mean())
        rows.append(
            {
                "task": g["task"].iloc[0],
                "lag": int(g["lag"].iloc[0]),
                "model": model,
                "n_seeds": len(g),
                "n_series": int(g["n_series"].max()),
                "error": error,
                "error_sd": float(g["error"].std(ddof=1)) if len(g) > 1 else np.nan,
                "optimum": optimum,
                "floor": floor,
                "floor_theory": float(meta["floor_rmse"]),
                "error_over_floor": error / floor if floor > 0 else np.nan,
                "family": (families or {}).get(model),
            }
        )
    table = pd.DataFrame(rows, columns=[c for c in MEMORY_COLUMNS if c != "skill"])
    table["skill"] = claims.memory_skill(table)  # the verdict's own definition
    table = table.sort_values(["task", "lag", "model"], ignore_index=True)
    return per_seed.sort_values(["task", "lag", "model", "seed"], ignore_index=True), table


# --------------------------------------------------------------------------- gradient decay


def copy_windows(registry: Registry, lag: int, input_seasons: float) -> tuple[np.ndarray, np.ndarray]:
    """Training windows (X: (n, T), Y: (n, h)) of the lagged-copy task (``GRADIENT_TASK``) at
    ``lag``, scaled as the study's neural models see them (raw values over their mean absolute value)."""
    ds = registry.dataset(memory_dataset(registry, GRADIENT_TASK, lag)).load()
    h = ds.panel.horizon
    T = int(np.ceil(input_seasons * lag))
    prep = W.Preprocessing(log=False, deseasonalize="none", normalize=False)
    zs = [t.z for t in W.fit_transforms(ds.panel.values, ds.panel.season_length, h, prep)]
    win = W.training_windows(zs, T, h, normalize=False, max_per_series=60)
    return win.X, win.Y


def gradient_tables(registry: Registry, config: GradientConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(norms, decay rates) of networks trained on the lagged-copy task (see GradientConfig)."""
    from harness.studies import gradients

    X, Y = copy_windows(registry, config.lag, config.input_seasons)
    norms, rates = gradients.gradient_decay(
        X, Y, hidden=config.hidden, seeds=config.seeds, epochs=config.epochs, n_eval=config.n_eval, registry=registry
    )
    norms.insert(0, "lag", config.lag)
    rates.insert(0, "lag", config.lag)
    return norms, rates


# --------------------------------------------------------------------------- the study


def write_memory_study(
    store: RunStore, registry: Registry, gradient: GradientConfig | None = GradientConfig()
) -> dict[str, pd.DataFrame]:
    """Compute the memory study's tables from a finished memory-suite run and write them (and
    figures) to ``<run>/studies/memory/``; returns the tables."""
    experiments, series = store.read_results()
    forecasts = pd.read_parquet(store.root / "forecasts.parquet")
    metas = _metas(list(series["dataset"].unique()), registry)
    if not metas:
        raise StudyError(f"{store.root} has no memory-study datasets (memory-copy-L6, ...)")
    per_seed, table = memory_tables(series, forecasts, metas, declared_families(experiments))
    tables = {"memory": table, "memory_seeds": per_seed}
    if gradient is not None:
        tables["gradients"], tables["decay"] = gradient_tables(registry, gradient)
    verdict = claims.memory_verdict(table)
    tables["verdict"] = pd.DataFrame(
        [
            {
                "claim": "c",
                "verdict": verdict["verdict"],
                "compared": verdict["compared"],
                "rule": claims.RULES["c_memory"],
                "evidence": verdict["evidence"],
            }
        ]
    )
    out = study_dir(store.root, KIND)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        atomic_write_frame(frame, out / f"{name}.csv")
    figures.memory_vs_lag(table, out / "figures" / "memory_error.png")
    if gradient is not None:
        from harness.studies import gradients

        gradients.plot_decay(tables["gradients"], out / "figures" / "gradient_decay.png")
    info: dict[str, Any] = {
        "kind": KIND,
        "run": store.root.name,
        "datasets": sorted(metas),
        "gradient": asdict(gradient) if gradient is not None else None,
        "created": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    }
    atomic_write_text(out / "study.json", json.dumps(info, indent=2) + "\n")
    return tables
