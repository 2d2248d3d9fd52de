"""speed.csv in honest units (issue 13): CPU-ms per series, the regime of every row, the run's
reference workload instead of rel_cost, and time to accuracy where experiments.csv records it;
all on constructed experiments frames, so each number is known."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

import harness
from harness import analysis, claims
from harness.models import regime_of
from harness.timing import reference_ms

RNN = {"hidden": 32, "epochs": 60, "patience": 8}


def experiments(rows: list[dict]) -> pd.DataFrame:
    """experiments.csv rows on d1 (20 series): each dict gives model, scope, params and times."""
    base = {
        "dataset": "d1",
        "seed": 0,
        "n_series": 20,
        "device": "cpu",
        "device_name": "",
        "predict_s": 0.0,
        "wall_s": 1.0,
        "peak_rss_mb": 100.0,
        "peak_device_mb": np.nan,
        "workers": 1,
        "threads": 1,
    }
    out = [{**base, **r, "params": json.dumps(r.get("params", {}))} for r in rows]
    return pd.DataFrame(out)


def test_regime_from_scope_and_training():
    assert regime_of("local", {}) == "local"  # a LocalForecaster (arima) fits per series
    assert regime_of("global", {}) == "global"
    assert regime_of("global", {"training": "local"}) == "local"  # a WindowForecaster, one net per series
    assert regime_of("global", json.dumps({**RNN, "training": "global"})) == "global"
    assert regime_of("local", "") == "local"
    with pytest.raises(ValueError, match="unknown training regime 'batch'"):
        regime_of("global", {"training": "batch"})
    with pytest.raises(ValueError, match="unknown training regime 'elsewhere'"):
        regime_of("elsewhere", {})


def test_speed_table_in_cpu_ms_with_regime_and_reference_workload():
    exp = experiments(
        [
            {"model": "naive", "scope": "local", "fit_s": 0.001, "cpu_s": 0.001},
            {"model": "arima", "scope": "local", "fit_s": 1.7, "cpu_s": 1.6},
            # rnn-numpy keeps 1.35 cores busy: its CPU seconds exceed its wall seconds
            {"model": "rnn", "scope": "global", "params": {**RNN, "training": "global"}, "fit_s": 0.4, "cpu_s": 0.54},
            {"model": "lstm", "scope": "global", "params": {**RNN, "training": "local"}, "fit_s": 2.5, "cpu_s": 2.8},
        ]
    )
    sp = analysis.speed_table(exp, ref_ms=25.0).set_index("model")
    assert list(analysis.speed_table(exp, 25.0).columns) == analysis.SPEED_COLUMNS
    assert "rel_cost" not in analysis.SPEED_COLUMNS
    assert sp["regime"].to_dict() == {"naive": "local", "arima": "local", "rnn": "global", "lstm": "local"}
    assert sp.loc["rnn", "cpu_ms_per_series"] == pytest.approx(27.0)  # 0.54 s / 20 series
    assert sp.loc["rnn", "ms_per_series"] == pytest.approx(20.0)  # wall, beside it
    assert sp.loc["arima", "cpu_ms_per_series"] == pytest.approx(80.0)
    assert (sp["ref_ms"] == 25.0).all()
    assert sp.loc["arima", "cpu_per_ref"] == pytest.approx(80.0 / 25.0)
    # a run made before the reference workload: NaN, never a guess
    old = analysis.speed_table(exp)
    assert old["ref_ms"].isna().all() and old["cpu_per_ref"].isna().all()
    assert analysis.speed_table(exp, ref_ms=float("nan"))["ref_ms"].isna().all()


def test_time_to_accuracy_from_the_training_logs_and_fit_time_for_the_rest():
    rows = [
        {"model": "arima", "scope": "local", "fit_s": 1.7, "cpu_s": 1.6},
        {"model": "rnn", "scope": "global", "params": RNN, "fit_s": 0.4, "cpu_s": 0.54},
    ]
    # without helper A's columns (a run before training logs): arima's is its fit, the RNN's unknown
    sp = analysis.speed_table(experiments(rows)).set_index("model")
    assert sp.loc["arima", "tta_cpu_s"] == pytest.approx(1.6) and sp.loc["arima", "tta_wall_s"] == pytest.approx(1.7)
    assert np.isnan(sp.loc["rnn", "tta_cpu_s"]) and np.isnan(sp.loc["rnn", "tta_wall_s"])
    # with them: the RNN's recorded seconds, arima (NaN there: it does not train) still its fit
    logged = experiments(
        [
            {**rows[0], "epochs": np.nan, "tta_cpu_s": np.nan, "tta_wall_s": np.nan},
            {**rows[1], "epochs": 31, "tta_cpu_s": 0.2, "tta_wall_s": 0.15},
        ]
    )
    sp = analysis.speed_table(logged).set_index("model")
    assert sp.loc["rnn", "tta_cpu_s"] == pytest.approx(0.2) and sp.loc["rnn", "tta_wall_s"] == pytest.approx(0.15)
    assert sp.loc["arima", "tta_cpu_s"] == pytest.approx(1.6)
    # the claim (b) evidence quotes it per series beside the full cost
    series = pd.DataFrame(
        [
            {"dataset": "d1", "unique_id": f"s{i}", "window": 0, "model": m, "seed": 0, "status": "ok"}
            | {"message": "", "smape": 10.0 + i + (m == "rnn"), "mase": 1.0}
            for i in range(20)
            for m in ("arima", "rnn")
        ]
    )
    speed = analysis.speed_table(logged)
    v = claims.claims_tables(series, None, speed, families={"rnn": "rnn", "arima": "arima"})["verdicts"]
    b = v[(v["claim"] == "b") & (v["dataset"] == "d1")].iloc[0]
    assert b["scope"] == "global, CPU" and b["verdict"] == "refuted"
    assert "rnn 27.0 CPU-ms (x0.34 arima; to accuracy 10.0, x0.12)" in b["evidence"]


def test_reference_workload_is_a_positive_cpu_time():
    """The yardstick is the median CPU time of fixed work (not naive's 0.02-0.06 ms, mostly timer
    overhead); its size is machine-dependent, so only its sign and unit are checked here."""
    ms = reference_ms(repeats=1)
    assert np.isfinite(ms) and 1.0 < ms < 10_000.0


class _Burn(harness.LocalForecaster):
    """Spends 40 ms of CPU per series, then forecasts the last value."""

    name = "burn"

    def fit_predict_one(self, y):
        start = time.process_time()
        while time.process_time() - start < 0.04:
            pass
        return np.full(self.horizon, y[-1])


def test_a_local_models_cpu_is_the_worker_processes_cpu():
    """Local models run in worker processes; their cpu_s must be the workers' CPU (measured there),
    not the parent's, which only waits and scores."""
    from harness.data import Dataset, Panel
    from harness.executors import RunOptions, make_executor
    from harness.plugins import ModelSpec
    from harness.runner import Experiment, run_experiment
    from harness.tasks import ProtocolSpec, Task

    values = tuple(np.arange(30.0) + i for i in range(8))
    panel = Panel(ids=tuple(f"s{i}" for i in range(8)), values=values, freq="other", season_length=1, horizon=3)
    task = Task(Dataset(name="burn", panel=panel), ProtocolSpec(kind="holdout"))
    exp = Experiment(task, ModelSpec("burn", _Burn, {}, "test"), {}, 0)
    pool = make_executor("processes", 2)
    try:
        parent0 = time.process_time()
        summary = run_experiment(exp, pool, RunOptions(executor="processes", workers=2)).summary
        parent = time.process_time() - parent0
    finally:
        pool.close()
    assert summary["status"] == "ok" and summary["workers"] == 2
    assert summary["cpu_s"] >= 8 * 0.04  # every series' burn counted, in the workers
    assert parent < 0.5 * summary["cpu_s"]  # ...and not the parent's own time
