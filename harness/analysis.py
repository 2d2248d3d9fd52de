"""From stored per-series results to the accuracy and speed tables.

Fairness rule: within a dataset, every model is scored on the same series. A series (and
window) that any model failed to forecast is left out of every model's means, and the tables
say how many were left out, so one model's failures cannot flatter or hurt another's numbers.

A model that failed on more than ``MAX_FAILED_SHARE`` of a dataset's series (and windows) is the
exception: it is *left out* of that dataset's comparison (:func:`left_out`) instead of taking
those series from every other model. Its accuracy row keeps its failures (``n_failed``) and gets
no comparable means (``n_series`` 0, ``left_out`` true); the common set is formed by the others.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from harness import metrics
from harness.significance import gmean_ci

#: The pooled pseudo-dataset of every table that has one: all series of all datasets.
OVERALL = "overall"

KEYS = ["unique_id", "window"]
#: The columns of the accuracy table of a run at the default levels; :func:`accuracy_columns`
#: gives them for the scores a run stored.
ACCURACY_HEAD = ["dataset", "model", "n_series", "n_excluded", "n_failed", "n_seeds"]
ACCURACY_TAIL = ["smape_sd", "left_out"]


def accuracy_columns(scores: list[str]) -> list[str]:
    """The accuracy table's columns for these stored score columns (:func:`metrics.scores_in`):
    counts, the point scores with OWA after MASE, the interval and quantile scores, then
    ``smape_sd`` and ``left_out``."""
    point = [c for c in ("smape", "mase", "owa", "rmse", "mae") if c in scores or c == "owa"]
    return [*ACCURACY_HEAD, *point, *[c for c in scores if c not in point], *ACCURACY_TAIL]


ACCURACY_COLUMNS = accuracy_columns(list(metrics.SCORE_NAMES))
SPEED_COLUMNS = [
    "dataset",
    "model",
    "device",
    "n_series",
    "fit_s",
    "predict_s",
    "cpu_s",
    "wall_s",
    "regime",
    "cpu_ms_per_series",
    "ms_per_series",
    "ref_ms",
    "cpu_per_ref",
    "tta_cpu_s",
    "tta_wall_s",
    "tune_cpu_s",
    "tune_wall_s",
    "peak_rss_mb",
    "peak_device_mb",
    "device_name",
    "workers",
    "threads",
]
REFERENCE_ACCURACY = "naive2"
#: The largest share of a dataset's (series, window) pairs a model may fail on and still take part
#: in that dataset's comparison. A model that fails more often is left out of the dataset's common
#: set instead of removing those series from every model. 10%: below it, the fairness rule costs
#: the others at most one series in ten per failing model and keeps the comparison paired on the
#: same series; above it, the failing model is broken on this dataset rather than unlucky, and
#: keeping it would let it decide which series everybody is scored on (at 100%, none: a plugin
#: that fails everywhere would blank every model's scores). The share counts (series, window)
#: pairs failed with any seed; a model exactly at 10% is kept (the old rule applies to it).
MAX_FAILED_SHARE = 0.10
FAILURE_SHARE_COLUMNS = ["dataset", "model", "n_pairs", "n_failed_pairs", "failed_share", "left_out"]
FAIRNESS_RULE = (
    "Within a dataset every model is scored on the same series: a series (and window) any model failed on "
    "is left out of every model's means (n_excluded in accuracy.csv), unless that model failed on more than "
    f"{MAX_FAILED_SHARE:.0%} of the dataset's series (and windows); such a model is left out of the dataset's comparison "
    "instead (its row keeps its failures, n_series 0 and no means; left_out in accuracy.csv), so its failures "
    "do not erase the other models' scores."
)


#: The baseline of the cross-dataset skill summary (:func:`skill_summary`), as in fev: seasonal naive.
SKILL_BASELINE = "snaive"
#: The error columns the report summarises by skill (those present in the accuracy table).
SKILL_METRICS = ("mase", "smape")
#: Relative errors are clipped to this range before the geometric mean, as fev's leaderboard does
#: (autogluon/fev ``analysis.leaderboard``: min 1e-3, max 5), so that one dataset where a model is
#: perfect (log 0) or broken cannot decide its summary alone; ``n_clipped`` counts the clipped ones.
SKILL_CLIP = (1e-3, 5.0)
#: The fewest datasets for a bootstrap interval over datasets. With fewer, the resamples are a
#: handful of distinct sets and the percentile interval is too narrow to mean anything (its
#: coverage falls well below 95%); fev bootstraps over ~100 tasks. Below it the interval is NaN
#: and the report says how many datasets there are.
SKILL_MIN_DATASETS_CI = 10
SKILL_COLUMNS = ["model", "n_datasets", "gmean_rel", "skill", "skill_lo", "skill_hi", "n_clipped"]


def failure_shares(series: pd.DataFrame) -> pd.DataFrame:
    """Per dataset x model: ``n_pairs`` (the dataset's (series, window) pairs), ``n_failed_pairs``
    (those the model failed on with any seed), ``failed_share`` and ``left_out`` (share above
    :data:`MAX_FAILED_SHARE`)."""
    if series.empty:
        return pd.DataFrame(columns=FAILURE_SHARE_COLUMNS)
    pairs = series.drop_duplicates(["dataset", *KEYS]).groupby("dataset").size()
    failed = series[series["status"].ne("ok")].drop_duplicates(["dataset", "model", *KEYS])
    n_failed = failed.groupby(["dataset", "model"]).size()
    out = series[["dataset", "model"]].drop_duplicates().reset_index(drop=True)
    out["n_pairs"] = out["dataset"].map(pairs).astype("int64")
    index = pd.MultiIndex.from_frame(out[["dataset", "model"]])
    out["n_failed_pairs"] = n_failed.reindex(index, fill_value=0).to_numpy().astype("int64")
    out["failed_share"] = out["n_failed_pairs"] / out["n_pairs"].clip(lower=1)
    out["left_out"] = out["failed_share"] > MAX_FAILED_SHARE
    return out[FAILURE_SHARE_COLUMNS]


def left_out(series: pd.DataFrame) -> pd.DataFrame:
    """The (dataset, model) pairs left out of their dataset's comparison: the rows of
    :func:`failure_shares` whose model failed on more than :data:`MAX_FAILED_SHARE` of the pairs."""
    shares = failure_shares(series)
    return shares[shares["left_out"]].reset_index(drop=True)


def without_left_out(rows: pd.DataFrame, left: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (any frame with dataset and model columns) without those of left-out models."""
    if left is None or left.empty or rows.empty:
        return rows
    out = pd.MultiIndex.from_frame(left[["dataset", "model"]])
    return rows[~pd.MultiIndex.from_frame(rows[["dataset", "model"]]).isin(out)]


def common_rows(series: pd.DataFrame, left: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows of the (series, window) pairs that every model and seed of the dataset forecast,
    among the models not left out (``left``: :func:`left_out` of ``series``, computed when None);
    no rows of left-out models are returned."""
    series = without_left_out(series, left_out(series) if left is None else left)
    ok = series["status"].eq("ok").groupby([series["dataset"], series["unique_id"], series["window"]]).all()
    keep = ok[ok].index.to_frame(index=False)
    return series.merge(keep, on=["dataset", *KEYS], how="inner")


def accuracy_table(series: pd.DataFrame) -> pd.DataFrame:
    """Per dataset x model: mean scores over the common series, averaged over seeds.

    sMAPE, MASE, RMSE and MAE are means over series (and windows) first, as in the M4
    competition; OWA divides those means by Naive2's on the same series. The interval and
    quantile scores (coverage and Winkler per level, MSIS, WQL, scaled CRPS; whichever the run
    stored) are means over the common series where the model gave that interval: NaN for a
    model without one, never a zero. ``smape_sd`` is the
    standard deviation of the per-seed mean sMAPE (NaN with one seed). A model left out of the
    dataset (:func:`left_out`) has ``left_out`` true, ``n_series`` 0, every pair counted in
    ``n_excluded``, its failures in ``n_failed`` and NaN scores.
    """
    scores = metrics.scores_in(list(series.columns))
    columns = accuracy_columns(scores)
    if series.empty:
        return pd.DataFrame(columns=columns)
    left = left_out(series)
    out = set(zip(left["dataset"], left["model"]))
    common = common_rows(series, left)
    rows = []
    for dataset, frame in series.groupby("dataset", sort=False):
        pairs = frame.groupby(KEYS).ngroups
        kept = common[common["dataset"] == dataset]
        n_kept = kept.groupby(KEYS).ngroups
        ref = kept[kept["model"] == REFERENCE_ACCURACY]
        ref_smape = ref["smape"].mean() if len(ref) else np.nan
        ref_mase = ref["mase"].mean() if len(ref) else np.nan
        for model, mframe in frame.groupby("model", sort=False):
            mk = kept[kept["model"] == model]
            per_seed = mk.groupby("seed")[scores].mean()
            mean = per_seed.mean()
            is_out = (dataset, model) in out
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "n_series": 0 if is_out else n_kept,
                    "n_excluded": pairs if is_out else pairs - n_kept,
                    "n_failed": int((mframe["status"] != "ok").sum()),
                    "n_seeds": mframe["seed"].nunique(),
                    **{k: mean.get(k, np.nan) for k in scores},
                    "owa": metrics.owa(mean.get("smape", np.nan), mean.get("mase", np.nan), ref_smape, ref_mase)
                    if len(mk)
                    else np.nan,
                    "smape_sd": per_seed["smape"].std(ddof=1) if len(per_seed) > 1 else np.nan,
                    "left_out": is_out,
                }
            )
    return pd.DataFrame(rows, columns=columns)


def speed_table(experiments: pd.DataFrame, ref_ms: float | None = None) -> pd.DataFrame:
    """Per dataset x model: times averaged over seeds, per series in CPU and wall milliseconds.

    ``cpu_ms_per_series`` is the unit every cross-model comparison uses (claim b): process CPU
    seconds of fit + predict per series, BLAS threads counted, for local models the CPU of the
    worker processes that fitted them (measured there), so a model that keeps 1.35 cores busy is
    charged 1.35 core-seconds per second. ``ms_per_series`` beside it is the wall compute time
    (fit + predict; for local models the sum of per-series times, independent of the number of
    workers). ``regime`` is local (one fit per series) or global (one fit on all series), from
    the model's scope and ``training`` parameter (:func:`harness.models.regime_of`).

    ``ref_ms`` is the run's reference workload (:func:`harness.timing.reference_ms`, measured at
    run start, in the manifest) and ``cpu_per_ref = cpu_ms_per_series / ref_ms`` the cost in units
    of it, which is how runs on different machines compare. It replaces ``rel_cost`` (ms per
    series relative to naive's): naive takes 0.02-0.06 ms per series, mostly timer and call
    overhead, so that denominator was noise (snaive came out at 0.39x naive for the same work).
    A run made before the reference has ``ref_ms`` NaN; its absolute columns stay comparable.

    ``tta_cpu_s``/``tta_wall_s``: time to accuracy, the seconds (all series) until a neural
    model's validation loss first came within 5% of its own best (experiments.csv columns of
    that name, from the training logs; NaN in a run made before them); for a model that does not
    train by epochs its fit and predict time, the comparable figure.

    ``tune_cpu_s``/``tune_wall_s``: a tuned model's (``BASE[tuned]``) search, seconds over all
    series; they are part of ``cpu_s`` and ``fit_s`` too (the cost includes tuning), shown apart
    so a reader sees both. NaN for a model that does not tune.
    """
    from harness.models import regime_of

    if experiments.empty:
        return pd.DataFrame(columns=SPEED_COLUMNS)
    df = experiments.copy()
    n = df["n_series"].clip(lower=1)
    df["ms_per_series"] = (df["fit_s"] + df["predict_s"]) * 1000.0 / n
    df["cpu_ms_per_series"] = df["cpu_s"] * 1000.0 / n
    if "scope" in df.columns:
        params = df["params"] if "params" in df.columns else pd.Series("", index=df.index)
        df["regime"] = [regime_of(s, p if isinstance(p, str) else "") for s, p in zip(df["scope"], params)]
    else:  # a run stored before experiments.csv had a scope
        df["regime"] = ""
    trains = _trains(df)
    for tta, own in (("tta_cpu_s", df["cpu_s"]), ("tta_wall_s", df["fit_s"] + df["predict_s"])):
        given = df[tta] if tta in df.columns else pd.Series(np.nan, index=df.index)
        df[tta] = given.where(trains, own).astype(float)
    for tune in ("tune_cpu_s", "tune_wall_s"):  # absent in runs made before tuned models
        df[tune] = df[tune].astype(float) if tune in df.columns else np.nan
    agg = (
        df.groupby(["dataset", "model"], sort=False)
        .agg(
            device=("device", "first"),
            device_name=("device_name", "first"),
            n_series=("n_series", "first"),
            fit_s=("fit_s", "mean"),
            predict_s=("predict_s", "mean"),
            cpu_s=("cpu_s", "mean"),
            wall_s=("wall_s", "mean"),
            regime=("regime", "first"),
            cpu_ms_per_series=("cpu_ms_per_series", "mean"),
            ms_per_series=("ms_per_series", "mean"),
            tta_cpu_s=("tta_cpu_s", "mean"),
            tta_wall_s=("tta_wall_s", "mean"),
            tune_cpu_s=("tune_cpu_s", "mean"),
            tune_wall_s=("tune_wall_s", "mean"),
            peak_rss_mb=("peak_rss_mb", "max"),
            peak_device_mb=("peak_device_mb", "max"),
            workers=("workers", "first"),
            threads=("threads", "first"),
        )
        .reset_index()
    )
    agg["ref_ms"] = float(ref_ms) if ref_ms is not None and np.isfinite(ref_ms) and ref_ms > 0 else np.nan
    agg["cpu_per_ref"] = agg["cpu_ms_per_series"] / agg["ref_ms"]
    return agg[SPEED_COLUMNS]


#: The training table's columns (:func:`training_table`).
TRAINING_SHOWN = [
    "dataset",
    "model",
    "epochs",
    "max_epochs",
    "best_epoch",
    "still_learning",
    "updates",
    "tta_wall_s",
    "tta_cpu_s",
]


def training_table(experiments: pd.DataFrame) -> pd.DataFrame:
    """Per dataset x model that trains by epochs (a training summary in experiments.csv, see
    :mod:`harness.training`): epochs run of the budget, best epoch, the share of networks still
    learning when the budget ran out, updates and time to accuracy, each the mean over seeds.
    Empty for a run without such models, or stored before the columns existed."""
    if experiments.empty or "epochs" not in experiments.columns:
        return pd.DataFrame(columns=TRAINING_SHOWN)
    trained = experiments[experiments["epochs"].notna()]
    values = [c for c in TRAINING_SHOWN[2:] if c in trained.columns]
    if trained.empty:
        return pd.DataFrame(columns=TRAINING_SHOWN)
    return trained.groupby(["dataset", "model"], sort=False)[values].mean().reset_index()


#: The columns of :func:`tuning_table` (tuning.csv).
TUNING_SHOWN = [
    "dataset",
    "model",
    "seed",
    "trials",
    "failed_trials",
    "n_series",
    "chosen_trial",
    "val_owa_default",
    "val_owa_chosen",
    "chosen",
    "tune_cpu_s",
    "cpu_s",
]


def tuning_table(experiments: pd.DataFrame) -> pd.DataFrame:
    """One row per fit of a tuned model (``BASE[tuned]``, its ``tuning`` record in
    experiments.csv): the trials run and failed, the series tuned on, the chosen trial, the
    validation OWA of the registered defaults (trial 0) and of the chosen values, the chosen values
    that differ from the defaults (``k=v; ...``), the CPU seconds of the trials and of the whole
    fit (trials + the final fit on all the data), so a reader sees what tuning chose and cost."""
    if experiments.empty or "tuning" not in experiments.columns:
        return pd.DataFrame(columns=TUNING_SHOWN)
    rows = []
    for _, exp in experiments[experiments["tuning"].fillna("").astype(str) != ""].iterrows():
        for record in json.loads(str(exp["tuning"])):
            trials = record.get("trials", [])
            default = next((t for t in trials if t.get("trial") == 0), {})
            base = default.get("params", {})
            changed = {k: v for k, v in record.get("chosen", {}).items() if base.get(k) != v}
            rows.append(
                {
                    "dataset": exp["dataset"],
                    "model": exp["model"],
                    "seed": exp["seed"],
                    "trials": len(trials),
                    "failed_trials": sum(t.get("owa") is None for t in trials),
                    "n_series": record.get("n_series"),
                    "chosen_trial": record.get("trial"),
                    "val_owa_default": default.get("owa"),
                    "val_owa_chosen": record.get("owa"),
                    "chosen": "; ".join(f"{k}={_short(v)}" for k, v in changed.items()) or "(the defaults)",
                    "tune_cpu_s": record.get("cpu_s"),
                    "cpu_s": exp.get("cpu_s"),
                }
            )
    return pd.DataFrame(rows, columns=TUNING_SHOWN)


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _trains(experiments: pd.DataFrame) -> pd.Series:
    """Which experiments trained a network by epochs: a recorded ``epochs`` (training log) or an
    ``epochs`` parameter (runs made before training logs)."""
    logged = experiments["epochs"].notna() if "epochs" in experiments.columns else False
    params = experiments["params"] if "params" in experiments.columns else pd.Series("", index=experiments.index)
    declared = params.map(lambda p: isinstance(p, str) and '"epochs"' in p)
    return declared | logged


def notes_table(series: pd.DataFrame) -> pd.DataFrame:
    """Series forecast with a note (status ok, a message: a fallback the model took), one row per
    dataset x model, so the report counts them instead of showing a bare "ok": ``n`` noted rows,
    their ``share`` of the model's rows, the most common ``note`` with an ``example`` series, and
    how many ``other_notes`` differ from it (notes often name the series' own model order; every
    note stays in metrics.parquet)."""
    columns = ["dataset", "model", "n", "share", "example", "note", "other_notes"]
    is_noted = (series["status"] == "ok") & (series["message"].fillna("") != "")
    if not is_noted.any():
        return pd.DataFrame(columns=columns)
    totals = series.groupby(["dataset", "model"], sort=False).size()
    rows = []
    for (dataset, model), group in series[is_noted].groupby(["dataset", "model"], sort=False):
        counts = group["message"].value_counts()
        top = counts.index[0]
        rows.append(
            {
                "dataset": dataset,
                "model": model,
                "n": len(group),
                "share": len(group) / totals[(dataset, model)],
                "example": group.loc[group["message"] == top, "unique_id"].iloc[0],
                "note": top,
                "other_notes": len(counts) - 1,
            }
        )
    return pd.DataFrame(rows, columns=columns)


def failures_table(series: pd.DataFrame) -> pd.DataFrame:
    """Failed series with their messages, one row per dataset x model x message."""
    failed = series[series["status"] != "ok"]
    if failed.empty:
        return pd.DataFrame(columns=["dataset", "model", "n", "example", "message"])
    return (
        failed.groupby(["dataset", "model", "message"], sort=False)
        .agg(n=("unique_id", "size"), example=("unique_id", "first"))
        .reset_index()[["dataset", "model", "n", "example", "message"]]
    )


def with_overall(frame: pd.DataFrame) -> pd.DataFrame:
    """Append the pooled "overall" pseudo-dataset: all series of all datasets, with ids made
    unique as ``dataset:unique_id``, restricted to models present on every dataset."""
    if frame.empty:
        return frame
    n_datasets = frame["dataset"].nunique()
    everywhere = frame.groupby("model")["dataset"].nunique()
    models = everywhere[everywhere == n_datasets].index
    pooled = frame[frame["model"].isin(models)].copy()
    if "unique_id" in pooled:
        pooled["unique_id"] = pooled["dataset"].astype(str) + ":" + pooled["unique_id"].astype(str)
    pooled["dataset"] = OVERALL
    return pd.concat([frame, pooled], ignore_index=True)


def skill_summary(accuracy: pd.DataFrame, metric: str = "mase", baseline: str = SKILL_BASELINE) -> pd.DataFrame:
    """Cross-dataset summary of :func:`accuracy_table` by skill against ``baseline``, as fev's
    leaderboard: per dataset, a model's mean ``metric`` over the dataset's common series divided
    by the baseline's on the same series (its relative error); per model, the geometric mean of
    those over the datasets (``gmean_rel``, each clipped to :data:`SKILL_CLIP`) and
    ``skill = 1 - gmean_rel`` (0: no better than the baseline; the baseline's own skill is 0).

    The geometric mean makes a model twice as good on one dataset and twice as bad on another
    come out even, whatever the datasets' error levels, which an arithmetic mean of errors (or of
    ratios) does not. Columns: :data:`SKILL_COLUMNS`, ``skill_lo``/``skill_hi`` the 95% bootstrap
    interval over datasets (NaN with fewer than :data:`SKILL_MIN_DATASETS_CI`), then one column per
    dataset with its relative error, unclipped. Only datasets where the baseline has a positive
    score take part. A model left out of a dataset for its failures (``left_out``) or not run on it
    has no relative error there (NaN) and so no summary: a mean over fewer datasets would not
    compare with the others', and filling the gap would be a guess. Sorted by skill, best first.
    """
    datasets = list(dict.fromkeys(accuracy["dataset"]))
    models = list(dict.fromkeys(accuracy["model"]))
    kept = accuracy[~accuracy["left_out"].astype(bool)] if len(accuracy) else accuracy
    err = kept.set_index(["model", "dataset"])[metric].unstack("dataset") if len(kept) else pd.DataFrame()
    err = err.reindex(index=models, columns=datasets).astype(float)
    if baseline not in err.index:
        return pd.DataFrame(columns=SKILL_COLUMNS)
    base = err.loc[baseline]
    usable = [d for d in datasets if np.isfinite(base[d]) and base[d] > 0]
    rel = err[usable].div(base[usable], axis=1)
    clipped = rel.clip(*SKILL_CLIP)
    complete = rel.notna().all(axis=1) & (len(usable) > 0)
    gmean = np.exp(np.log(clipped).mean(axis=1)).where(complete)
    out = pd.DataFrame(
        {
            "model": models,
            "n_datasets": rel.notna().sum(axis=1).to_numpy(),
            "gmean_rel": gmean.to_numpy(),
            "skill": 1.0 - gmean.to_numpy(),
            "skill_lo": np.nan,
            "skill_hi": np.nan,
            "n_clipped": ((rel < SKILL_CLIP[0]) | (rel > SKILL_CLIP[1])).sum(axis=1).to_numpy(),
        }
    )
    if len(usable) >= SKILL_MIN_DATASETS_CI:
        for i, model in enumerate(models):
            if complete[model]:
                lo, hi = gmean_ci(clipped.loc[model].to_numpy())
                out.loc[i, ["skill_lo", "skill_hi"]] = 1.0 - hi, 1.0 - lo
    out = pd.concat([out, rel.reset_index(drop=True)], axis=1)
    return out.sort_values("skill", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
