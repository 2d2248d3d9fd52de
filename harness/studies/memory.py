"""The forecasting part of the memory study (claim c): can a model use information from L steps
back, as L grows? (The other part, the sequence-memory benchmark, is
:mod:`harness.studies.sequence_memory`; :mod:`harness.studies.memory_verdict` joins the two.)

A forecasting benchmark cannot isolate this claim: a model can be worse at step h for many
reasons. Here the series are built so that the predictable part of the next values is exactly
L steps back (the built-in ``plugins.longmemory``: lagged copy, adding, long seasonal), each with
a known best achievable error. A run of the ``memory`` suite forecasts them (256 series each)
for L = 12 .. 96 by default (192 too with a GPU: :func:`default_lags`; 6 .. 192 are registered) with every model, each
network on a budget of 5,000 updates; this module turns that run into:

* ``memory.csv``: per task x lag x model, the RMSE pooled over series, steps and seeds
  (``error_sd``: the sd of the seeds' RMSEs), the optimum (the RMSE of the generating process's
  oracle forecasts on the same windows; ``optimum_theory`` its expected value) and the floor:
  the measured RMSE of the ``mean`` model on the same windows, the error of a model that
  learned nothing (``floor_theory`` its expected value). ``skill = (floor - error) / (floor -
  optimum)``: 1 is optimal, 0 is nothing learned; ``skill_lo``/``skill_hi`` its 95% CI from a
  bootstrap over seeds, then series (:mod:`harness.studies.memory_tables`). ``still_learning``
  (the share of the cell's fits whose best check lay in the last 10% of the budget),
  ``updates`` and ``best_update`` say whether the budget, not the network, ended the fits.
  ``family`` is what each model declared in the study run (experiments.csv), which tells the
  verdict its contenders.
* ``reach.csv``: per model x task, the largest lag reached with every smaller one (skill CI
  above 0.5), the smallest failed lag (CI below 0.5, not still learning) and the lags still
  learning (:func:`harness.claim_c.forecast_reach`).
* the skill figure, all under ``<run>/studies/memory/``, which the run's report (and any run it
  is attached to with ``rnnbench report RUN --study DIR``) reads for claim (c).

The study knows its datasets only through the registry, like any other part of the core. A
registered dataset takes part when its registration's ``info`` has ``study="memory"``, a
``task`` name and an integer ``lag`` L (:func:`memory_datasets`: the tasks and lags there are,
without loading anything); its loaded :class:`harness.Dataset`'s ``meta`` then holds ``task``,
``lag``, ``optimal_rmse`` (the best achievable RMSE over the horizon), ``floor_rmse`` (the
expected RMSE of a model that learned nothing) and, optionally, ``oracle`` (per unique_id the
optimal forecast of its holdout window; without it the optimum is ``optimal_rmse``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from harness import claim_c, claims, figures
from harness.errors import StudyError
from harness.families import declared_families
from harness.plugins import Registry
from harness.store import RunStore, atomic_write_frame, atomic_write_text
from harness.studies import memory_tables as T
from harness.studies import study_dir

KIND = "memory"
SUITE = "memory"
FLOOR_MODEL = T.FLOOR_MODEL
MEMORY_COLUMNS = [
    "task",
    "lag",
    "model",
    "n_seeds",
    "n_series",
    "error",
    "error_sd",
    "optimum",
    "optimum_theory",
    "floor",
    "floor_theory",
    "error_over_floor",
    "family",
    "skill",
    "skill_lo",
    "skill_hi",
    "still_learning",
    "updates",
    "best_update",
]
#: The study's lags on a CPU, and with a GPU (:func:`default_lags`); every registered lag
#: (6 ... 192) can still be asked for.
CPU_LAGS: tuple[int, ...] = (12, 24, 48, 96)
GPU_LAGS: tuple[int, ...] = (*CPU_LAGS, 192)


def memory_datasets(registry: Registry) -> dict[tuple[str, int], str]:
    """``(task, lag) -> dataset name`` of every registered memory-study dataset (registered with
    ``info`` ``study="memory"``, ``task`` and ``lag``), in registration order."""
    out: dict[tuple[str, int], str] = {}
    for name, spec in registry.datasets.items():
        info = spec.info
        if spec.load is not None and info.get("study") == KIND and "task" in info and "lag" in info:
            out.setdefault((str(info["task"]), int(info["lag"])), name)
    return out


def default_lags(gpu: bool | None = None) -> list[int]:
    """The study's lags when none are asked for: 12, 24, 48, 96, and 192 with a GPU (a network
    at L=192 reads windows of 432 steps: about twice L=96's cost per update, which a 2-core CPU
    cannot afford for 256 series x 3 seeds). ``gpu`` None: whether torch sees a CUDA device."""
    if gpu is None:
        from harness.studies.cost import _default_devices  # imports torch: only when asked

        gpu = "cuda" in _default_devices()
    return list(GPU_LAGS if gpu else CPU_LAGS)


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
    experiments: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per seed, per task x lag x model) error tables of a memory-suite run.

    Only the (series, window) pairs every model forecast count (the harness's fairness rule),
    so the floor, the optimum and every model's error are measured on the same values. RMSE is
    pooled over series, steps and seeds: sqrt(mean (y - yhat)^2). ``metas``: per dataset, its
    ``task``, ``lag``, ``optimal_rmse``, ``floor_rmse`` and, for the optimum on the scored
    windows, ``oracle``. Skill, its hierarchical bootstrap CI and the training columns are
    :mod:`harness.studies.memory_tables`'s. ``families``: model -> declared family
    (:func:`harness.families.declared_families` of the run's experiments.csv), recorded in the
    ``family`` column so the verdict picks its contenders by declaration (None where unknown).
    ``experiments``: the run's experiments.csv, for ``still_learning``, ``updates`` and
    ``best_update`` (NaN without).
    """
    f = claims.common_forecasts(series[series["dataset"].isin(list(metas))], forecasts)
    mse = T.per_series_mse(f, metas)
    per_seed = (
        mse.groupby(["dataset", "model", "seed"], sort=False)
        .agg(mse=("mse", "mean"), n_series=("unique_id", "nunique"))
        .reset_index()
    )
    per_seed["error"] = np.sqrt(per_seed["mse"])
    per_seed["task"] = per_seed["dataset"].map(lambda d: str(metas[d]["task"]))
    per_seed["lag"] = per_seed["dataset"].map(lambda d: int(metas[d]["lag"]))
    per_seed = per_seed[["task", "lag", "dataset", "model", "seed", "n_series", "error"]]
    table = T.cell_skills(mse, metas)
    table["task"] = table["dataset"].map(lambda d: str(metas[d]["task"]))
    table["lag"] = table["dataset"].map(lambda d: int(metas[d]["lag"]))
    table["optimum_theory"] = table["dataset"].map(lambda d: float(metas[d]["optimal_rmse"]))
    table["floor_theory"] = table["dataset"].map(lambda d: float(metas[d]["floor_rmse"]))
    table["error_over_floor"] = table["error"] / table["floor"].where(table["floor"] > 0)
    table["family"] = table["model"].map(lambda m: (families or {}).get(m))
    table = table.merge(T.training_state(experiments), on=["dataset", "model"], how="left")
    table = table.reindex(columns=MEMORY_COLUMNS).sort_values(["task", "lag", "model"], ignore_index=True)
    return per_seed.sort_values(["task", "lag", "model", "seed"], ignore_index=True), table


# --------------------------------------------------------------------------- the study


def budget_text(models: Mapping[str, Mapping[str, Any]]) -> str:
    """The forecasting networks' training budget in words, from the run's model parameters
    (the first network with ``max_updates``; "" if none has one)."""
    for params in models.values():
        if params.get("max_updates"):
            every, patience = params.get("check_every"), params.get("patience")
            stop = f", early stopping after {patience} checks of {every} updates" if every and patience else ""
            return (
                f"{int(params['max_updates']):,} updates of batch {params.get('batch_size', '?')}"
                f"{stop}, validation on the newest {params.get('val_windows', 1)} windows per series"
            )
    return ""


CURVE_COLUMNS = ["task", "lag", "model", "seed", "update", "train_loss", "val_loss"]


def loss_curves(experiments: pd.DataFrame, metas: Mapping[str, Mapping]) -> pd.DataFrame:
    """Every network's training and validation loss at each check, from experiments.csv's
    ``curve`` column (:func:`harness.training.read_curve`; a run stored before it has none)."""
    from harness.training import read_curve

    rows = []
    if "curve" in experiments.columns:
        for e in experiments[experiments["dataset"].isin(list(metas))].itertuples():
            meta = metas[e.dataset]
            for point in read_curve(e.curve):
                rows.append({"task": meta["task"], "lag": int(meta["lag"]), "model": e.model, "seed": e.seed, **point})
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def write_forecast_study(store: RunStore, registry: Registry) -> dict[str, pd.DataFrame]:
    """The forecasting part of the memory study from a finished memory-suite run, written to
    ``<run>/studies/memory/``: ``memory.csv``, ``memory_seeds.csv``, ``reach.csv`` and the skill
    figure, and ``memory_curves.csv`` (each network's losses at every check); returns the tables."""
    experiments, series = store.read_results()
    forecasts = pd.read_parquet(store.root / "forecasts.parquet")
    metas = _metas(list(series["dataset"].unique()), registry)
    if not metas:
        raise StudyError(f"{store.root} has no memory-study datasets (memory-copy-L12, ...)")
    per_seed, table = memory_tables(series, forecasts, metas, declared_families(experiments), experiments)
    tables = {
        "memory": table,
        "memory_seeds": per_seed,
        "reach": claim_c.forecast_reach(table),
        "memory_curves": loss_curves(experiments, metas),
    }
    out = study_dir(store.root, KIND)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        atomic_write_frame(frame, out / f"{name}.csv")
    figures.memory_vs_lag(table, out / "figures" / "memory_error.png", ok_skill=claim_c.OK_SKILL)
    return tables


def write_study_info(out: Any, info: Mapping[str, Any]) -> None:
    """``study.json``: what the memory study ran (its parts, their budgets, the run it read)."""
    body = {"kind": KIND, **info, "created": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")}
    atomic_write_text(out / "study.json", json.dumps(body, indent=2, default=str) + "\n")
