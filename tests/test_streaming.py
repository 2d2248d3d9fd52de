"""Results stream to Parquet: a local experiment's chunks are scored and appended to its checkpoint
as they finish, the result files are the checkpoints' row groups copied into one file each, and a
report over forecasts too large to load computes step errors row group by row group."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from harness import claims, experiments, runner, steps, store
from tests.conftest import invoke, plan_of


def _dtypes(frame: pd.DataFrame) -> dict[str, str]:
    """Column -> dtype name, with text columns as "object" whether pandas reads them as object
    (pandas 2) or as its string dtype "str" (pandas 3)."""
    return {c: "object" if pd.api.types.is_string_dtype(t) else str(t) for c, t in frame.dtypes.items()}


SERIES_DTYPES = {
    "unique_id": "object",
    "category": "object",
    "window": "int64",
    "origin": "int64",
    "series_s": "float64",
    "status": "object",
    "message": "object",
    "smape": "float64",
    "mase": "float64",
    "rmse": "float64",
    "mae": "float64",
    "coverage_80": "float64",
    "coverage_95": "float64",
    "winkler_80": "float64",
    "winkler_95": "float64",
    "msis": "float64",
    "wql": "float64",
    "scrps": "float64",
    "dataset": "object",
    "model": "object",
    "seed": "int64",
}
FORECAST_DTYPES = {
    "unique_id": "object",
    "window": "int64",
    "origin": "int64",
    "step": "int64",
    "y": "float64",
    "yhat": "float64",
    "lo_80": "float64",
    "hi_80": "float64",
    "lo_95": "float64",
    "hi_95": "float64",
    "dataset": "object",
    "model": "object",
    "seed": "int64",
}
MODELS = ["naive", "theta", "arima", "rnn-numpy", "naive2"]


@pytest.fixture(scope="module")
def streamed_run(tmp_path_factory):
    """A small suite run through the CLI, with result files cut into row groups of 100 rows."""
    out = tmp_path_factory.mktemp("stream") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(store, "RESULT_ROW_GROUP", 100)
        result = invoke(
            [
                "run",
                "--datasets",
                "synthetic-arma",
                "--limit",
                "20",
                "--models",
                "naive,theta,arima,rnn-numpy",
                "-p",
                "rnn-numpy.epochs=2",
                "--workers",
                "2",
                "--out",
                str(out),
            ]
        )
    assert result.exit_code == 0, result.output
    return out


def test_result_files_have_every_row_with_fixed_columns_and_dtypes(streamed_run):
    m = pd.read_parquet(streamed_run / "metrics.parquet")
    f = pd.read_parquet(streamed_run / "forecasts.parquet")
    assert _dtypes(m) == SERIES_DTYPES  # same columns, same order, same dtypes
    assert _dtypes(f) == FORECAST_DTYPES
    assert len(m) == 20 * len(MODELS) and (m["status"] == "ok").all()
    assert set(m["model"]) == set(MODELS)
    assert len(f) == 20 * len(MODELS) * 8  # h = 8
    # rows keep series order within each experiment, whatever order the chunks finished in
    ids = list(m.loc[m["model"] == "naive", "unique_id"])
    assert ids == list(m.loc[m["model"] == "arima", "unique_id"]) == list(m.loc[m["model"] == "rnn-numpy", "unique_id"])
    assert f.groupby(["model", "unique_id"]).size().eq(8).all()
    # the copy coalesced the parts' row groups (to RESULT_ROW_GROUP = 100 rows here)
    assert pq.ParquetFile(streamed_run / "forecasts.parquet").num_row_groups > 1
    assert pq.read_schema(streamed_run / "metrics.parquet").names == list(SERIES_DTYPES)


def test_a_local_experiment_is_written_in_chunks(streamed_run):
    parts = {json.loads((p / "summary.json").read_text())["model"]: p for p in (streamed_run / "parts").iterdir()}
    assert set(parts) == set(MODELS)
    for model in ("naive", "arima", "theta"):
        series = pq.ParquetFile(parts[model] / "series.parquet")
        forecasts = pq.ParquetFile(parts[model] / "forecasts.parquet")
        assert series.num_row_groups > 1 and forecasts.num_row_groups == series.num_row_groups
        assert series.metadata.num_rows == 20 and forecasts.metadata.num_rows == 20 * 8
        assert series.schema_arrow.equals(store.SERIES_SCHEMA)
        assert forecasts.schema_arrow.equals(store.FORECAST_SCHEMA)
    assert pq.ParquetFile(parts["rnn-numpy"] / "series.parquet").num_row_groups == 1  # a global model: one batch
    summaries = pd.read_csv(streamed_run / "experiments.csv")
    assert (summaries["status"] == "ok").all() and (summaries["n_failed"] == 0).all()


def test_streamed_rows_equal_the_in_memory_result(streamed_run):
    """run_experiment without a sink (gathered in memory, as before streaming) gives the same rows."""
    experiments = plan_of(streamed_run)
    m = pd.read_parquet(streamed_run / "metrics.parquet")
    f = pd.read_parquet(streamed_run / "forecasts.parquet")
    for exp in [e for e in experiments if e.model.name in ("naive", "theta")]:
        result = runner.run_experiment(exp)
        assert result.summary["config_id"] == exp.config_id and result.summary["n_failed"] == 0
        got = m[m["model"] == exp.model.name].reset_index(drop=True)
        pd.testing.assert_frame_equal(got.drop(columns="series_s"), result.series.drop(columns="series_s"))
        pd.testing.assert_frame_equal(f[f["model"] == exp.model.name].reset_index(drop=True), result.forecasts)
    streamed = runner.run_experiment(experiments[0], sink=runner.MemorySink())
    assert streamed.series is None and streamed.forecasts is None and streamed.summary["n_failed"] == 0


def test_a_report_over_too_many_forecasts_streams_step_errors(streamed_run, tmp_path, monkeypatch):
    import shutil

    from harness.report import build_report

    run = tmp_path / "run"
    shutil.copytree(streamed_run, run)
    before = pd.read_csv(run / "claims" / "step_errors.csv")
    assert (run / "figures" / "forecasts_synthetic-arma.png").exists()
    assert pd.read_csv(run / "claims" / "versus.csv")["dm_p"].notna().all()
    shutil.rmtree(run / "figures")
    monkeypatch.setattr(steps, "FORECAST_ROWS_IN_MEMORY", 500)
    text = build_report(store.RunStore.open(run))
    assert "more than the 500 a report loads at once" in text and "example-forecast figures were skipped" in text
    after = pd.read_csv(run / "claims" / "step_errors.csv")
    merged = before.merge(after, on=["dataset", "model", "step"], suffixes=("", "_streamed"))
    assert len(merged) == len(before) == len(after)
    assert np.allclose(merged["smape"], merged["smape_streamed"], rtol=1e-12)
    assert (merged["n_series"] == merged["n_series_streamed"]).all()
    # the Diebold-Mariano test needs only metrics.parquet (per-series MASE differences): kept
    assert pd.read_csv(run / "claims" / "versus.csv")["dm_p"].notna().all()
    assert not (run / "figures" / "forecasts_synthetic-arma.png").exists()
    assert (run / "figures" / "smape_by_step.png").exists()


def test_step_errors_by_row_group_match_step_errors(tmp_path):
    """Two datasets, two seeds, a failed forecast that drops its (series, window) pair for all models."""
    rng = np.random.default_rng(0)
    h = 4
    series_rows, fc_rows = [], []
    for dataset, n in (("d1", 7), ("d2", 5)):
        for model, seeds in (("arima", [0]), ("lstm", [0, 1]), ("naive", [0])):
            for seed in seeds:
                for i in range(n):
                    for window in (0, 1):
                        failed = dataset == "d1" and model == "lstm" and seed == 1 and i == 3 and window == 1
                        series_rows.append(
                            {
                                "dataset": dataset,
                                "unique_id": f"s{i}",
                                "window": window,
                                "model": model,
                                "seed": seed,
                                "status": "failed" if failed else "ok",
                            }
                        )
                        if failed:
                            continue
                        y = rng.uniform(5, 15, h)
                        fc_rows += [
                            {
                                "unique_id": f"s{i}",
                                "window": window,
                                "origin": 20 + window,
                                "step": t + 1,
                                "y": y[t],
                                "yhat": y[t] + rng.normal(0, 1 + (model == "naive")),
                                "lo_95": np.nan,
                                "hi_95": np.nan,
                                "dataset": dataset,
                                "model": model,
                                "seed": seed,
                            }
                            for t in range(h)
                        ]
    series, forecasts = pd.DataFrame(series_rows), pd.DataFrame(fc_rows)
    forecasts.to_parquet(tmp_path / "f.parquet", index=False, row_group_size=13)
    assert pq.ParquetFile(tmp_path / "f.parquet").num_row_groups > 10
    want = steps.step_errors(forecasts)
    got = steps.step_errors_by_row_group(tmp_path / "f.parquet", series)
    merged = want.merge(got, on=["dataset", "model", "step"], suffixes=("", "_rg"))
    assert len(merged) == len(want) == len(got) and set(want["dataset"]) == {"d1", "d2", claims.OVERALL}
    assert np.allclose(merged["smape"], merged["smape_rg"], rtol=1e-12)
    assert (merged["n_series"] == merged["n_series_rg"]).all()


def test_chunks_are_consecutive_and_bounded():
    items = list(range(1000))
    chunks = runner._chunks(items, workers=2)
    assert [x for c in chunks for x in c] == items
    assert max(map(len, chunks)) <= runner.CHUNK_SERIES and len(chunks) >= 16
    small = [len(c) for c in runner._chunks(list(range(20)), workers=2)]
    assert len(small) == 16 and sum(small) == 20 and set(small) == {1, 2}
    assert runner._chunks([0], workers=4) == [[0]]


def test_part_writer_commits_whole_or_leaves_nothing(tmp_path):
    final = tmp_path / "parts" / "exp"
    series = pd.DataFrame(
        {
            k: pd.Series([1] if v == "int64" else [1.0] if v == "float64" else ["x"], dtype=v)
            for k, v in experiments.SERIES_COLUMNS.items()
        }
    )
    with store.PartWriter(final) as writer:
        writer.append(series, runner._empty(experiments.FORECAST_COLUMNS))  # a chunk that failed everywhere
        writer.append(series, runner._empty(experiments.FORECAST_COLUMNS))
        assert not final.exists()
    assert not final.exists() and not list((tmp_path / "parts").iterdir())  # not committed: aborted
    with store.PartWriter(final) as writer:
        writer.append(series, runner._empty(experiments.FORECAST_COLUMNS))
        writer.commit({"config_id": "c"})
    assert sorted(p.name for p in final.iterdir()) == [
        "failures.jsonl",
        "forecasts.parquet",
        "series.parquet",
        "summary.json",
    ]
    assert (final / "failures.jsonl").read_text() == ""  # nothing failed: an empty log
    assert pq.read_metadata(final / "forecasts.parquet").num_rows == 0
    assert pq.read_schema(final / "forecasts.parquet").equals(store.FORECAST_SCHEMA)
