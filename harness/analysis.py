"""From stored per-series results to the accuracy and speed tables.

Fairness rule: within a dataset, every model is scored on the same series. A series (and
window) that any model failed to forecast is left out of every model's means, and the tables
say how many were left out, so one model's failures cannot flatter or hurt another's numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness import metrics

KEYS = ["unique_id", "window"]
ACCURACY_COLUMNS = [
    "dataset",
    "model",
    "n_series",
    "n_excluded",
    "n_failed",
    "n_seeds",
    "smape",
    "mase",
    "owa",
    "rmse",
    "mae",
    "coverage",
    "msis",
    "smape_sd",
]
SPEED_COLUMNS = [
    "dataset",
    "model",
    "device",
    "n_series",
    "fit_s",
    "predict_s",
    "cpu_s",
    "wall_s",
    "ms_per_series",
    "rel_cost",
    "peak_rss_mb",
    "peak_device_mb",
    "device_name",
    "workers",
    "threads",
]
REFERENCE_ACCURACY = "naive2"
REFERENCE_COST = "naive"


def common_rows(series: pd.DataFrame) -> pd.DataFrame:
    """Rows of the (series, window) pairs that every model and seed of the dataset forecast."""
    ok = series["status"].eq("ok").groupby([series["dataset"], series["unique_id"], series["window"]]).all()
    keep = ok[ok].index.to_frame(index=False)
    return series.merge(keep, on=["dataset", *KEYS], how="inner")


def accuracy_table(series: pd.DataFrame) -> pd.DataFrame:
    """Per dataset x model: mean scores over the common series, averaged over seeds.

    sMAPE, MASE, RMSE and MAE are means over series (and windows) first, as in the M4
    competition; OWA divides those means by Naive2's on the same series. ``smape_sd`` is the
    standard deviation of the per-seed mean sMAPE (NaN with one seed).
    """
    if series.empty:
        return pd.DataFrame(columns=ACCURACY_COLUMNS)
    common = common_rows(series)
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
            per_seed = mk.groupby("seed")[list(metrics.SCORE_NAMES)].mean()
            mean = per_seed.mean()
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "n_series": n_kept,
                    "n_excluded": pairs - n_kept,
                    "n_failed": int((mframe["status"] != "ok").sum()),
                    "n_seeds": mframe["seed"].nunique(),
                    **{k: mean.get(k, np.nan) for k in metrics.SCORE_NAMES},
                    "owa": metrics.owa(mean.get("smape", np.nan), mean.get("mase", np.nan), ref_smape, ref_mase)
                    if len(mk)
                    else np.nan,
                    "smape_sd": per_seed["smape"].std(ddof=1) if len(per_seed) > 1 else np.nan,
                }
            )
    return pd.DataFrame(rows, columns=ACCURACY_COLUMNS)


def speed_table(experiments: pd.DataFrame) -> pd.DataFrame:
    """Per dataset x model: times averaged over seeds; cost per series and relative to naive.

    ``ms_per_series`` is model compute time (fit + predict) per series: for local models the sum
    of per-series times, so it does not depend on how many workers ran them; ``wall_s`` is the
    elapsed time of the experiment. ``rel_cost`` divides ms_per_series by naive's on the same
    dataset (the "computational complexity" ratio of Makridakis et al. 2018).
    """
    if experiments.empty:
        return pd.DataFrame(columns=SPEED_COLUMNS)
    df = experiments.copy()
    df["ms_per_series"] = (df["fit_s"] + df["predict_s"]) * 1000.0 / df["n_series"].clip(lower=1)
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
            ms_per_series=("ms_per_series", "mean"),
            peak_rss_mb=("peak_rss_mb", "max"),
            peak_device_mb=("peak_device_mb", "max"),
            workers=("workers", "first"),
            threads=("threads", "first"),
        )
        .reset_index()
    )
    ref = agg[agg["model"] == REFERENCE_COST].set_index("dataset")["ms_per_series"]
    agg["rel_cost"] = agg["ms_per_series"] / agg["dataset"].map(ref)
    return agg[SPEED_COLUMNS]


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
