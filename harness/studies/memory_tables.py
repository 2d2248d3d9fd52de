"""The memory study's numbers per task x lag x model (claim c): skill with a hierarchical
bootstrap CI, the optimum scored on the very windows the models are, and the training state of
the fits.

Skill is ``(floor - error) / (floor - optimum)`` on RMSEs (:func:`harness.claims.memory_skill`):
1 is the optimum, 0 is the floor of a model that learned nothing. The three RMSEs of a cell are
measured on the same (series, step) values: ``error`` the model's forecasts, ``floor`` the
``mean`` model's, ``optimum`` the oracle forecasts of the generating process (the dataset's
``meta["oracle"]``: ``{unique_id: array(h)}`` for the holdout test window). So the optimum has
the sampling noise of the errors it is compared with; ``optimum_theory`` keeps the process's
value (``meta["optimal_rmse"]``), used as the optimum of a dataset without oracle forecasts.

The CI (:func:`skill_ci`) resamples what varies between repeats of the study: seeds (the
network's initialisation and batch order), then series within each drawn seed (the data). In
each of :data:`RESAMPLES` resamples the floor and the optimum are recomputed on the same drawn
series as the model, so the skill's ratio keeps its pairing. Percentile interval at 95%,
from a seeded generator (the same table gives the same CI).

Training state (experiments.csv, :mod:`harness.training`): ``still_learning`` is the share of
the cell's seed fits whose best check fell in the last 10% of the budget, ``updates`` and
``best_update`` their means. A still-learning cell never counts as a failure
(:func:`harness.claim_c.forecast_reach`, which reads these columns): its network was stopped,
not beaten.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from harness.errors import StudyError
from harness.significance import hierarchical_means, named_rng

#: Bootstrap resamples of each cell's skill CI, their generator's seed, and the central level (%).
RESAMPLES = 2000
BOOTSTRAP_SEED = 11
CI_LEVEL = 95.0
#: The model whose error is the floor of "learned nothing" (forecasts the series mean).
FLOOR_MODEL = "mean"
#: What a cell's training columns come from: experiments.csv's training summary.
TRAINING = ("still_learning", "updates", "best_update")


def per_series_mse(forecasts: pd.DataFrame, metas: Mapping[str, Mapping]) -> pd.DataFrame:
    """Mean squared error per dataset x model x seed x series over the forecast steps, from the
    common forecast rows of a memory run (columns dataset, model, seed, unique_id, window, step,
    y, yhat), and ``oracle_mse``: the oracle forecast's MSE on the same series and steps (NaN
    for a dataset without ``meta["oracle"]``). A memory dataset forecast at more than one
    window per series is a :class:`StudyError`: its oracle is that of the holdout window."""
    f = forecasts.assign(se=(forecasts["y"] - forecasts["yhat"]) ** 2)
    windows = f.groupby(["dataset", "unique_id"])["window"].nunique()
    if (windows > 1).any():
        dataset = windows[windows > 1].index[0][0]
        raise StudyError(
            f"memory dataset {dataset} was forecast at several windows; the study needs the holdout protocol"
        )
    f["oracle_se"] = np.nan
    for dataset, rows in f.groupby("dataset", sort=False):
        oracle = metas[dataset].get("oracle")
        if oracle is None:
            continue
        try:
            hat = np.array([oracle[u][s - 1] for u, s in zip(rows["unique_id"], rows["step"], strict=True)], float)
        except (KeyError, IndexError):
            raise StudyError(
                f"memory dataset {dataset}: meta['oracle'] has no forecast for a scored series or step"
            ) from None
        f.loc[rows.index, "oracle_se"] = (rows["y"].to_numpy() - hat) ** 2
    return (
        f.groupby(["dataset", "model", "seed", "unique_id"], sort=False)
        .agg(mse=("se", "mean"), oracle_mse=("oracle_se", "mean"))
        .reset_index()
    )


def _rmse_skill(error_mse: np.ndarray, floor_mse: np.ndarray, optimum_mse: np.ndarray) -> np.ndarray:
    """Skill from mean squared errors (any matching shapes): RMSE-based, as the verdict's."""
    floor, optimum = np.sqrt(floor_mse), np.sqrt(optimum_mse)
    gap = floor - optimum
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(gap > 0, (floor - np.sqrt(error_mse)) / gap, np.nan)


def skill_ci(
    model: np.ndarray,
    floor: np.ndarray,
    optimum: np.ndarray,
    rng: np.random.Generator,
    n: int = RESAMPLES,
    level: float = CI_LEVEL,
) -> tuple[float, float]:
    """Percentile CI of the skill by a two-level bootstrap: ``model`` is the MSE per seed x series
    ``(S, N)``, ``floor`` and ``optimum`` per series ``(N,)`` (seed-free: the floor model is
    deterministic, the oracle knows the truth). Each resample draws S seeds with replacement,
    then N series with replacement within each drawn seed; the model's MSE is the mean over the
    drawn (seed, series) pairs, the floor's and the optimum's over the same drawn series
    (:func:`harness.significance.hierarchical_means`, the floor and optimum as one-seed panels)."""
    model = np.asarray(model, dtype=float)
    means = hierarchical_means([model, np.asarray(floor, float)[None], np.asarray(optimum, float)[None]], rng, n)
    skills = _rmse_skill(means[:, 0], means[:, 1], means[:, 2])
    if np.isnan(skills).all():
        return np.nan, np.nan
    tail = (100.0 - level) / 2
    lo, hi = np.nanpercentile(skills, [tail, 100.0 - tail])
    return float(lo), float(hi)


def _rng(dataset: str, model: str) -> np.random.Generator:
    """A generator per cell, seeded by its names: a table's CIs do not depend on its row order."""
    return named_rng(BOOTSTRAP_SEED, dataset, model)


def cell_skills(mse: pd.DataFrame, metas: Mapping[str, Mapping]) -> pd.DataFrame:
    """Per dataset x model: ``error``, ``floor``, ``optimum`` (pooled RMSEs on the common
    series), ``skill`` and its CI ``skill_lo``/``skill_hi`` (:func:`skill_ci`), from
    :func:`per_series_mse`. The floor is the ``mean`` model's MSE per series (averaged over its
    seeds), or ``meta["floor_rmse"]`` squared where the run has no floor model; the optimum the
    oracle's, or ``meta["optimal_rmse"]`` squared without oracle forecasts."""
    rows = []
    for dataset, d in mse.groupby("dataset", sort=False):
        meta = metas[dataset]
        ids = list(dict.fromkeys(d["unique_id"]))
        floors = d[d["model"] == FLOOR_MODEL].groupby("unique_id")["mse"].mean()
        floor = floors.reindex(ids).to_numpy() if len(floors) else np.full(len(ids), float(meta["floor_rmse"]) ** 2)
        oracle = d.groupby("unique_id")["oracle_mse"].first().reindex(ids).to_numpy()
        optimum = oracle if np.isfinite(oracle).all() else np.full(len(ids), float(meta["optimal_rmse"]) ** 2)
        for model, g in d.groupby("model", sort=False):
            wide = g.pivot_table(index="seed", columns="unique_id", values="mse").reindex(columns=ids)
            per_seed = wide.to_numpy()
            if np.isnan(per_seed).any():
                raise StudyError(f"memory dataset {dataset}: {model} lacks a common series in some seed")
            lo, hi = skill_ci(per_seed, floor, optimum, _rng(dataset, str(model)))
            error, flo, opt = per_seed.mean(), floor.mean(), optimum.mean()
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "n_seeds": per_seed.shape[0],
                    "n_series": per_seed.shape[1],
                    "error": float(np.sqrt(error)),
                    "error_sd": float(np.sqrt(per_seed.mean(axis=1)).std(ddof=1)) if len(per_seed) > 1 else np.nan,
                    "optimum": float(np.sqrt(opt)),
                    "floor": float(np.sqrt(flo)),
                    "skill": float(_rmse_skill(error, flo, opt)),
                    "skill_lo": lo,
                    "skill_hi": hi,
                }
            )
    return pd.DataFrame(rows)


def training_state(experiments: pd.DataFrame | None) -> pd.DataFrame:
    """Per dataset x model, from experiments.csv: ``still_learning`` (the share of the seed fits
    still learning when the budget ended), ``updates`` (mean) and ``best_update`` (mean updates
    at the best check: ``updates x (best_epoch + 1) / epochs``, exact when checks are evenly
    spaced, as every epoch of one fit is and as ``check_every`` dividing ``max_updates`` makes
    them). NaN for models that do not train, and for runs stored without the columns."""
    columns = ["dataset", "model", *TRAINING]
    needed = {"dataset", "model", "still_learning", "updates", "best_epoch", "epochs"}
    if experiments is None or experiments.empty or not needed <= set(experiments.columns):
        return pd.DataFrame(columns=columns)
    e = experiments[experiments["epochs"].notna()]
    if e.empty:
        return pd.DataFrame(columns=columns)
    e = e.assign(best_update=e["updates"] * (e["best_epoch"] + 1) / e["epochs"])
    return e.groupby(["dataset", "model"], sort=False)[list(TRAINING)].mean().reset_index()
