"""Errors by forecast step: sMAPE at step 1 ... h per dataset (+ overall) x model, from a run's
forecasts, in memory or, for a forecasts.parquet too large to load, row group by row group. How
fast the error grows with the step is the evidence stored runs give on claim (c)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness import analysis
from harness.analysis import OVERALL, with_overall

STEP_COLUMNS = ["dataset", "model", "step", "smape", "n_series"]
#: A forecasts.parquet with more rows than this is not loaded whole: sMAPE by step is computed
#: from it row group by row group (:func:`step_errors_by_row_group`), and what needs every
#: forecast at once - the example-forecast figures - is skipped with a note in the report. metrics.parquet (one row per series x window x model x seed) is
#: always read whole.
FORECAST_ROWS_IN_MEMORY = 5_000_000
#: The columns of forecasts.parquet the claims and figures use (``lo``/``hi`` are not read).
FORECAST_COLUMNS_USED = ["unique_id", "window", "origin", "step", "y", "yhat", "dataset", "model", "seed"]


def step_errors(forecasts: pd.DataFrame) -> pd.DataFrame:
    """sMAPE by forecast step per dataset (+ overall) x model, averaged over seeds.

    Only (series, window) pairs forecast by every model of the dataset are used (leave out the
    rows of models left out of a dataset first: :func:`harness.analysis.without_left_out`). Columns:
    dataset, model, step, smape, n_series. How fast error grows with the step is the evidence
    from stored runs that bears on claim (c).
    """
    if forecasts is None or forecasts.empty:
        return pd.DataFrame(columns=STEP_COLUMNS)
    f = forecasts.merge(_complete_pairs(forecasts), on=["dataset", *analysis.KEYS], how="inner")
    f = f.assign(smape=_smape_rows(f))
    f = with_overall(f[["dataset", "unique_id", "window", "model", "seed", "step", "smape"]])
    per_seed = f.groupby(["dataset", "model", "seed", "step"], sort=False).agg(
        smape=("smape", "mean"), n_series=("unique_id", "nunique")
    )
    return _mean_over_seeds(per_seed)


def _mean_over_seeds(per_seed: pd.DataFrame) -> pd.DataFrame:
    """sMAPE per dataset x model x step from one row per seed (its sMAPE and n_series there)."""
    out = (
        per_seed.groupby(["dataset", "model", "step"], sort=False)
        .agg(smape=("smape", "mean"), n_series=("n_series", "max"))
        .reset_index()
    )
    return out[STEP_COLUMNS]


def _complete_pairs(rows: pd.DataFrame) -> pd.DataFrame:
    """The (dataset, unique_id, window) pairs that every model of their dataset has a row for."""
    keys = ["dataset", *analysis.KEYS]
    n_models = rows.groupby("dataset")["model"].nunique()
    have = rows.groupby(keys)["model"].nunique()
    full = have[have.to_numpy() == n_models.reindex(have.index.get_level_values("dataset")).to_numpy()]
    return full.index.to_frame(index=False)


def _smape_rows(f: pd.DataFrame) -> np.ndarray:
    denom = f["y"].abs() + f["yhat"].abs()
    return np.where(denom > 0, 200.0 * (f["y"] - f["yhat"]).abs() / denom.where(denom > 0, 1.0), 0.0)


def step_errors_by_row_group(path: Path | str, series: pd.DataFrame) -> pd.DataFrame:
    """:func:`step_errors` of a forecasts.parquet too large to load, one row group at a time.

    Which (series, window) pairs every model forecast, and how many series each model and seed
    has there, come from ``series`` (metrics.parquet: a forecast is stored exactly for the rows
    with status ok); the forecasts only add sums and counts of sMAPE per dataset x model x seed
    x step. Same values as :func:`step_errors` up to the order of floating-point sums. Models left
    out of a dataset (:func:`harness.analysis.left_out`) are left out here too.
    """
    import pyarrow.parquet as pq

    keys = ["dataset", *analysis.KEYS]
    left = analysis.left_out(series)
    series = analysis.without_left_out(series, left)
    ok = series.loc[series["status"].eq("ok"), [*keys, "model", "seed"]]
    if ok.empty:
        return pd.DataFrame(columns=STEP_COLUMNS)
    full = _complete_pairs(ok)
    n_series = ok.merge(full, on=keys, how="inner").groupby(["dataset", "model", "seed"])["unique_id"].nunique()
    groups = ["dataset", "model", "seed", "step"]
    sums: pd.DataFrame | None = None
    with pq.ParquetFile(path) as pf:
        for i in range(pf.num_row_groups):
            f = pf.read_row_group(i, columns=[*keys, "model", "seed", "step", "y", "yhat"]).to_pandas()
            f = analysis.without_left_out(f, left).merge(full, on=keys, how="inner")
            part = f.assign(smape=_smape_rows(f)).groupby(groups)["smape"].agg(["sum", "count"])
            sums = part if sums is None else sums.add(part, fill_value=0)
    if sums is None or sums.empty:
        return pd.DataFrame(columns=STEP_COLUMNS)
    sums = sums.reset_index()
    sums["n_series"] = n_series.reindex(pd.MultiIndex.from_frame(sums[["dataset", "model", "seed"]])).to_numpy()
    # the pooled "overall" dataset: models present on every dataset, their series all counted
    everywhere = sums.groupby("model")["dataset"].nunique()
    pooled = sums[sums["model"].isin(everywhere[everywhere == sums["dataset"].nunique()].index)]
    pooled = pooled.groupby(["model", "seed", "step"], as_index=False)[["sum", "count", "n_series"]].sum()
    sums = pd.concat([sums, pooled.assign(dataset=OVERALL)], ignore_index=True)
    per_seed = sums.assign(smape=sums["sum"] / sums["count"])
    return _mean_over_seeds(per_seed)


def load_forecasts(
    path: Path | str,
    series: pd.DataFrame,
    max_rows: int | None = None,
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, str]:
    """What the claims and figures get of a run's forecasts.parquet: ``(forecasts, steps, note)``.

    Up to ``max_rows`` rows (default :data:`FORECAST_ROWS_IN_MEMORY`) the file is read whole,
    only the columns :data:`FORECAST_COLUMNS_USED`: ``(frame, None, "")``. Above it, sMAPE by
    step is computed row group by row group (:func:`step_errors_by_row_group`) and ``(None,
    steps, note)`` returned, the note saying what was skipped. No file: ``(None, None, "")``.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        return None, None, ""
    max_rows = FORECAST_ROWS_IN_MEMORY if max_rows is None else max_rows
    meta = pq.read_metadata(path)
    if meta.num_rows <= max_rows:
        names = set(meta.schema.names)
        return pd.read_parquet(path, columns=[c for c in FORECAST_COLUMNS_USED if c in names]), None, ""
    note = (
        f"forecasts.parquet holds {meta.num_rows:,} rows, more than the {max_rows:,} a report loads at once "
        f"(steps.FORECAST_ROWS_IN_MEMORY): sMAPE by step was computed from it row group by row group, and the "
        f"example-forecast figures were skipped."
    )
    return None, step_errors_by_row_group(path, series), note
