"""Executors (serial, processes, dask) give identical results; time limits and crash isolation:
a plugin that raises, returns the wrong shape or NaN, hangs, or kills its worker process
(os._exit, a segfault) costs only its own rows, the run finishes, exit code 1."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pandas as pd
import pytest

from harness.executors import Done, Lost, ProcessExecutor, SerialExecutor, Unit, UnitTimeout, alarm
from tests.conftest import invoke, plugin_folder, sorted_metrics

BROKEN_PLUGIN = textwrap.dedent(
    '''
    """Deliberately broken models: each misbehaves only on the series whose mean is above 35."""
    import ctypes
    import os
    import time

    import numpy as np

    import harness

    def _bad(y):
        return float(np.mean(y)) > 35

    class Broken(harness.LocalForecaster):
        name = "broken"
        how = harness.param("raise", "how to fail on the series with mean > 35")

        def fit_predict_one(self, y):
            if _bad(y):
                if self.how == "raise":
                    raise RuntimeError("deliberate failure")
                if self.how == "shape":
                    return np.zeros(self.horizon + 2)
                if self.how == "nan":
                    return np.full(self.horizon, np.nan)
                if self.how == "hang":
                    while True:
                        time.sleep(0.05)
                if self.how == "exit":
                    os._exit(7)
                if self.how == "exit-late":  # dies after the other series had time to be placed
                    time.sleep(1.0)
                    os._exit(7)
                if self.how == "segfault":
                    ctypes.string_at(0)
            return np.full(self.horizon, y[-1])

    class BrokenGlobal(harness.Forecaster):
        name = "broken-global"

        def fit(self, panel):
            os._exit(9)

        def predict(self, panel):
            return np.zeros((len(panel), self.horizon))

    class Slow(harness.LocalForecaster):
        name = "slow"
        seconds = harness.param(1.0, "sleep per series", ge=0)

        def fit_predict_one(self, y):
            time.sleep(self.seconds)
            return np.full(self.horizon, y[-1])

    @harness.hookimpl
    def register_models(register):
        for how in ("raise", "shape", "nan", "hang", "exit", "exit-late", "segfault"):
            register(Broken, name=f"broken-{how}", how=how)
        register(BrokenGlobal)
        register(Slow)
    '''
)


@pytest.fixture
def panel_csv(tmp_path):
    """Four series s0..s3 at levels 10, 20, 30, 40: only s3 (mean > 35) trips the broken models."""
    rows = []
    rng = np.random.default_rng(1)
    for k in range(4):
        y = 10.0 * (k + 1) + rng.normal(0, 0.5, 40)
        rows.append(
            pd.DataFrame({"unique_id": f"s{k}", "ds": pd.date_range("2020-01-01", periods=40, freq="MS"), "y": y})
        )
    path = tmp_path / "levels.csv"
    pd.concat(rows).to_csv(path, index=False)
    return path


@pytest.fixture
def broken_dir(tmp_path):
    return plugin_folder(tmp_path / "broken_plugins", BROKEN_PLUGIN, "broken.py")


@pytest.mark.parametrize("executor", ["processes", "serial"])
def test_broken_plugins_cost_only_their_own_rows(executor, panel_csv, broken_dir, tmp_path):
    models = ["naive"] + [f"broken-{how}" for how in ("raise", "shape", "nan", "hang", "exit", "segfault")]
    if executor == "serial":  # in-process: a plugin that kills the process would kill the run
        models = [m for m in models if m not in ("broken-exit", "broken-segfault")]
    else:
        models.append("broken-global")
    out = tmp_path / "run"
    result = invoke(
        [
            "--plugins-dir",
            str(broken_dir),
            "run",
            "--datasets",
            str(panel_csv),
            "--horizon",
            "4",
            "--models",
            ",".join(models),
            "--executor",
            executor,
            "--workers",
            "2",
            "--timeout-series",
            "2",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 1, result.stderr
    m = pd.read_parquet(out / "metrics.parquet")
    for model in models:
        rows = m[m["model"] == model].set_index("unique_id")
        if model in ("naive", "naive2"):
            assert (rows["status"] == "ok").all()
        elif model == "broken-global":
            assert (rows["status"] == "failed").all() and rows["message"].str.contains("worker process died").all()
        else:
            assert (rows.loc[["s0", "s1", "s2"], "status"] == "ok").all(), model
            assert rows.loc["s3", "status"] == ("timeout" if model == "broken-hang" else "failed"), model
    msg = m[m["unique_id"] == "s3"].set_index("model")["message"]
    assert "deliberate failure" in msg["broken-raise"]
    assert "expected horizon 4" in msg["broken-shape"]
    assert "non-finite" in msg["broken-nan"]
    assert "timed out after 2 s" in msg["broken-hang"]
    if executor == "processes":
        assert "worker process died (exit code 7)" in msg["broken-exit"]
        assert "worker process died (killed by SIGSEGV)" in msg["broken-segfault"]
    report = (out / "report.md").read_text()
    assert "## Failures" in report and "deliberate failure" in report
    assert "see the Failures section" in result.stderr


def test_experiment_time_limit_records_timeout_rows_and_the_run_goes_on(panel_csv, broken_dir, tmp_path):
    out = tmp_path / "run"
    result = invoke(
        [
            "--plugins-dir",
            str(broken_dir),
            "run",
            "--datasets",
            str(panel_csv),
            "--horizon",
            "4",
            "--models",
            "slow,naive",
            "-p",
            "slow.seconds=0.5",
            "--workers",
            "1",
            "--timeout-experiment",
            "1.6",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 1, result.stderr
    m = pd.read_parquet(out / "metrics.parquet")
    slow = m[m["model"] == "slow"]
    # the untimed warm-up fit counts against the experiment's wall-clock limit too
    assert (slow["status"] == "timeout").sum() >= 1 and (slow["status"] == "ok").sum() >= 1
    assert slow.loc[slow["status"] == "timeout", "message"].str.contains("timed out").all()
    assert (m.loc[m["model"] == "naive", "status"] == "ok").all()
    experiments = pd.read_csv(out / "experiments.csv").set_index("model")
    assert experiments.loc["slow", "status"] == "failed" and experiments.loc["naive", "status"] == "ok"


@pytest.mark.parametrize(
    "bad, message",
    [
        (["--timeout-series", "0"], "--timeout-series must be a positive number of seconds"),
        (["--timeout-experiment", "-1"], "--timeout-experiment must be a positive number of seconds"),
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler needs --executor dask"),
    ],
)
def test_execution_option_errors(bad, message, tmp_path, long_csv):
    out = tmp_path / "never"
    result = invoke(
        ["run", "--datasets", str(long_csv), "--horizon", "6", "--models", "naive", *bad, "--out", str(out)]
    )
    assert result.exit_code == 2 and message in result.stderr and not out.exists()


def _double(x):
    return 2 * x


def _in_thread(fn):
    """fn() in a thread that is not the main one (as in a dask worker); its result or exception."""
    out = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as exc:  # handed back to the test
            out["error"] = exc

    t = threading.Thread(target=target, daemon=True)  # a thread that never stops must not hold pytest
    t.start()
    t.join(30)
    return out


def test_alarm_off_the_main_thread_interrupts_python_code_and_leaves_nothing_behind():
    def hang():
        with alarm(0.3):
            while True:
                time.sleep(0.01)

    out = _in_thread(hang)
    assert isinstance(out.get("error"), UnitTimeout) and str(out["error"]) == "timed out after 0.3 s"

    def in_time():
        with alarm(0.2):
            time.sleep(0.05)
        time.sleep(0.4)  # past the limit, outside the block: nothing may be raised here
        return "done"

    assert _in_thread(in_time) == {"value": "done"}


def test_executors_run_units_and_report_lost_ones():
    with ProcessExecutor(2) as ex:
        outcomes = list(ex.run([Unit(_double, (k,), tag=k) for k in range(5)]))
    assert sorted(o.value for o in outcomes if isinstance(o, Done)) == [0, 2, 4, 6, 8]
    outcomes = list(SerialExecutor().run([Unit(_double, ("a",)), Unit(_double, (None,))]))
    assert isinstance(outcomes[0], Done) and outcomes[0].value == "aa"
    assert isinstance(outcomes[1], Lost) and "TypeError" in outcomes[1].message


RUN = [
    "--datasets",
    "synthetic-arma,synthetic-tar",
    "--limit",
    "8",
    "--models",
    "theta,arima,rnn-numpy,lstm-torch",
    "-p",
    "rnn-numpy.epochs=3",
    "-p",
    "lstm-torch.epochs=2",
    "--seeds",
    "0,1",
]


def test_results_are_identical_whichever_executor_runs_them(tmp_path):
    """serial, processes and dask (a LocalCluster of 2 workers) give the same numbers for the
    same seeds."""
    runs = {}
    for executor in ("serial", "processes", "dask"):
        out = tmp_path / executor
        result = invoke(["run", *RUN, "--executor", executor, "--workers", "2", "--out", str(out)])
        assert result.exit_code == 0, result.stderr
        runs[executor] = sorted_metrics(out)
        experiments = pd.read_csv(out / "experiments.csv")
        assert set(experiments["executor"]) == {executor}
    pd.testing.assert_frame_equal(runs["serial"], runs["processes"])
    pd.testing.assert_frame_equal(runs["serial"], runs["dask"])


@pytest.mark.parametrize("first", [False, True], ids=["culprit-last", "culprit-first"])
def test_dask_isolates_a_worker_that_dies(first, panel_csv, broken_dir, tmp_path):
    """A dying worker takes only its culprit's rows, also when the culprit runs first and slowly
    (the other series must not be waiting on that worker when it dies: they were, and failed with
    it, when every unit was submitted at once)."""
    data = panel_csv
    if first:  # the level-40 series becomes the first of the panel
        frame = pd.read_csv(panel_csv)
        frame["unique_id"] = frame["unique_id"].map({"s0": "s3", "s1": "s2", "s2": "s1", "s3": "s0"})
        data = tmp_path / "reversed.csv"
        frame.sort_values(["unique_id", "ds"]).to_csv(data, index=False)
    culprit, innocent = ("s0", ["s1", "s2", "s3"]) if first else ("s3", ["s0", "s1", "s2"])
    out = tmp_path / "run"
    result = invoke(
        [
            "--plugins-dir",
            str(broken_dir),
            "run",
            "--datasets",
            str(data),
            "--horizon",
            "4",
            "--models",
            "naive,broken-exit-late",
            "--executor",
            "dask",
            "--workers",
            "2",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 1, result.stderr
    m = pd.read_parquet(out / "metrics.parquet")
    rows = m[m["model"] == "broken-exit-late"].set_index("unique_id")
    assert (rows.loc[innocent, "status"] == "ok").all(), rows[["status", "message"]]
    assert rows.loc[culprit, "status"] == "failed" and "worker process died" in rows.loc[culprit, "message"]


def test_dask_executor_without_distributed_is_a_one_line_error(monkeypatch, tmp_path, long_csv):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    out = tmp_path / "never"
    result = invoke(
        [
            "run",
            "--datasets",
            str(long_csv),
            "--horizon",
            "6",
            "--models",
            "naive",
            "--executor",
            "dask",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 2 and not out.exists()
    assert (
        result.stderr.strip() == "rnnbench: error: --executor dask needs the dask extra: pip install 'rnnbench[dask]'"
    )


def test_runs_without_dask_never_import_distributed():
    """The dask executor lives in its own module: importing the harness to run costs no dask."""
    code = "import sys, harness.execute, harness.cli; print('distributed' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_dask_runs_on_an_existing_cluster_given_its_address(panel_csv, broken_dir, tmp_path):
    """`--scheduler ADDRESS`: the run connects to a cluster that is already running (here a
    LocalCluster of 2 nanny-managed workers started by the test, with dask's default
    allowed-failures), loads the --plugins-dir plugins into workers that started without them,
    gives the same numbers as the serial executor, and a plugin that kills its worker costs only
    its own rows after dask's retries on other workers."""
    from distributed import LocalCluster

    base = [
        "--plugins-dir",
        str(broken_dir),
        "run",
        "--datasets",
        str(panel_csv),
        "--horizon",
        "4",
        "--timeout-series",
        "2",
    ]
    serial = invoke(
        [
            *base,
            "--models",
            "naive,theta,broken-raise,broken-hang",
            "--executor",
            "serial",
            "--out",
            str(tmp_path / "serial"),
        ]
    )
    assert serial.exit_code == 1, serial.stderr
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        result = invoke(
            [
                *base,
                "--models",
                "naive,theta,broken-raise,broken-hang,broken-exit",
                "--executor",
                "dask",
                "--scheduler",
                cluster.scheduler_address,
                "--out",
                str(tmp_path / "remote"),
            ]
        )
    assert result.exit_code == 1, result.stderr
    remote = sorted_metrics(tmp_path / "remote")
    rows = remote[remote["model"] == "broken-exit"].set_index("unique_id")
    assert (rows.loc[["s0", "s1", "s2"], "status"] == "ok").all(), rows[["status", "message"]]
    assert rows.loc["s3", "status"] == "failed" and "worker process died" in rows.loc["s3", "message"]
    # the per-series limit holds inside a dask worker thread too (not only the unit's hard limit)
    hang = remote[remote["model"] == "broken-hang"].set_index("unique_id")
    assert hang.loc["s3", "status"] == "timeout" and hang.loc["s3", "message"] == "series timed out after 2 s"
    same = remote[remote["model"] != "broken-exit"].reset_index(drop=True)
    pd.testing.assert_frame_equal(same, sorted_metrics(tmp_path / "serial"))
    experiments = pd.read_csv(tmp_path / "remote" / "experiments.csv")
    assert set(experiments["executor"]) == {"dask"}


def test_a_time_limit_cannot_be_caught_by_model_code():
    """issue 17: a catch-all in a model must not turn the limit into a fallback."""
    assert not issubclass(UnitTimeout, Exception)
    caught = []
    with pytest.raises(UnitTimeout):
        with alarm(0.05):
            try:
                while True:
                    time.sleep(0.001)
            except Exception as exc:  # what arima's catch-alls did
                caught.append(exc)
    assert caught == []


@pytest.mark.parametrize("limit", [float("inf"), 3e9, 1e7])
def test_an_infinite_or_huge_limit_is_no_limit(limit):
    from harness.executors import RunOptions, limit_or_none

    assert limit_or_none(limit) is None
    options = RunOptions(timeout_series=limit, timeout_experiment=limit)
    assert options.timeout_series is None and options.timeout_experiment is None
    with alarm(limit):  # no OverflowError from setitimer
        time.sleep(0.01)
    assert limit_or_none(2.5) == 2.5 and limit_or_none(None) is None


def test_timeout_series_inf_runs_every_series(tmp_path):
    out = tmp_path / "run"
    args = ["run", "--models", "naive", "--datasets", "airline", "--executor", "serial", "--out", str(out)]
    result = invoke([*args, "--timeout-series", "inf", "--timeout-experiment", "inf"])
    assert result.exit_code == 0, result.output
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert len(metrics) and set(metrics["status"]) == {"ok"}


def _raises_unit_timeout():
    raise UnitTimeout("timed out after 1 s")


def test_a_time_limit_raised_in_a_worker_is_a_timeout_not_a_crash():
    """UnitTimeout is a BaseException: an executor reports it as a timeout, never lets it escape."""
    with ProcessExecutor(1) as executor:
        (outcome,) = list(executor.run([Unit(_raises_unit_timeout, ())]))
    assert isinstance(outcome, Lost) and (outcome.kind, outcome.message) == ("timeout", "timed out after 1 s")
