"""End-to-end runs through the CLI: result files, failure isolation, resume, report rebuild,
rolling origins, and bad input (one line, exit code 2, nothing written)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import html, metrics
from tests.conftest import invoke

BASELINES = "naive,snaive,naive2"

FLAKY_PLUGIN = textwrap.dedent(
    '''
    import numpy as np
    import harness

    class Flaky(harness.LocalForecaster):
        """Fails in a different way on each of three series, forecasts the others."""
        name = "flaky"

        def fit_predict_one(self, y):
            kind = int(round(y[0])) % 4
            if kind == 1:
                raise RuntimeError("cannot fit this one")
            if kind == 2:
                return np.full(self.horizon, np.nan)
            if kind == 3:
                return np.zeros(self.horizon + 1)
            return np.repeat(y[-1], self.horizon)

    class GlobalBoom(harness.Forecaster):
        name = "global-boom"

        def fit(self, panel):
            raise ValueError("fit exploded")

        def predict(self, panel):
            raise AssertionError("not reached")

    @harness.hookimpl
    def register_models(register):
        register(Flaky)
        register(GlobalBoom)
    '''
)


def _run(tmp_path: Path, *args: str, name: str = "run"):
    out = tmp_path / name
    return invoke(["run", *args, "--out", str(out)]), out


def test_run_writes_all_result_files(long_csv, tmp_path):
    result, out = _run(tmp_path, "--models", BASELINES, "--datasets", str(long_csv), "--workers", "2")
    assert result.exit_code == 0, result.output
    assert f"report: {out / 'report.md'}" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"config", "versions", "hardware", "git_commit", "seeds", "datasets"} <= set(manifest)
    assert manifest["datasets"]["panel"] and manifest["versions"]["numpy"]
    accuracy = pd.read_csv(out / "accuracy.csv")
    assert {"dataset", "model", "n_series", "smape", "mase", "owa", "rmse", "mae"} <= set(accuracy.columns)
    assert set(accuracy["model"]) == {"naive", "snaive", "naive2"}
    assert accuracy.set_index("model").loc["naive2", "owa"] == pytest.approx(1.0)
    speed = pd.read_csv(out / "speed.csv")
    assert {"dataset", "model", "device", "fit_s", "predict_s", "cpu_s", "ms_per_series"} <= set(speed.columns)
    # rel_cost (ratio to naive's noise-level time) is gone: CPU-ms per series and the run's yardstick
    assert "rel_cost" not in speed.columns
    assert manifest["ref_ms"] > 0 and np.allclose(speed["ref_ms"], manifest["ref_ms"])
    assert np.allclose(speed["cpu_ms_per_series"], speed["cpu_s"] * 1000 / speed["n_series"])
    assert np.allclose(speed["cpu_per_ref"], speed["cpu_ms_per_series"] / manifest["ref_ms"])
    assert (speed["regime"] == "local").all()  # the baselines fit each series alone
    assert np.allclose(speed["tta_cpu_s"], speed["cpu_s"])  # no training: time to accuracy is the fit
    assert (speed["device"] == "cpu").all()
    metrics_df = pd.read_parquet(out / "metrics.parquet")
    assert len(metrics_df) == 3 * 4 and (metrics_df["status"] == "ok").all()
    forecasts = pd.read_parquet(out / "forecasts.parquet")
    assert {"unique_id", "model", "seed", "origin", "step", "y", "yhat"} <= set(forecasts.columns)
    assert len(forecasts) == 3 * 4 * 18


def test_metrics_in_results_match_the_definitions(long_csv, tmp_path):
    """The stored sMAPE/MASE of naive equal the metric functions applied to the raw data."""
    result, out = _run(tmp_path, "--models", "naive", "--datasets", str(long_csv), "--workers", "1")
    assert result.exit_code == 0
    data = pd.read_csv(long_csv)
    y = data[data["unique_id"] == "s2"]["y"].to_numpy()
    train, test = y[:-18], y[-18:]
    row = pd.read_parquet(out / "metrics.parquet").query("model == 'naive' and unique_id == 's2'").iloc[0]
    assert row["smape"] == pytest.approx(metrics.smape(test, np.repeat(train[-1], 18)))
    assert row["mase"] == pytest.approx(metrics.mase(test, np.repeat(train[-1], 18), train, 12))


def test_failures_are_rows_and_the_run_goes_on(long_csv, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "flaky.py").write_text(FLAKY_PLUGIN)
    data = pd.read_csv(long_csv)
    # each series' first value selects a behaviour of Flaky: s0 ok, s1 raises, s2 NaN, s3 wrong shape
    for k in range(4):
        first = data.index[data["unique_id"] == f"s{k}"][0]
        data.loc[first, "y"] = 100.0 + k
    path = tmp_path / "flaky.csv"
    data.to_csv(path, index=False)
    out = tmp_path / "run"
    result = invoke(
        [
            "--plugins-dir",
            str(plugins),
            "run",
            "--models",
            "naive,flaky,global-boom",
            "--datasets",
            str(path),
            "--workers",
            "2",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 1, result.output
    m = pd.read_parquet(out / "metrics.parquet").set_index(["model", "unique_id"])
    assert m.loc[("flaky", "s0"), "status"] == "ok"
    assert "cannot fit this one" in m.loc[("flaky", "s1"), "message"]
    assert "non-finite" in m.loc[("flaky", "s2"), "message"]
    assert "expected horizon 18" in m.loc[("flaky", "s3"), "message"]
    assert (m.loc["global-boom", "message"].str.contains("fit exploded")).all()
    assert (m.loc["naive", "status"] == "ok").all()
    report = (out / "report.md").read_text()
    assert "## Failures" in report and "fit exploded" in report


def test_resume_skips_finished_and_redoes_missing_or_torn(long_csv, tmp_path):
    result, out = _run(tmp_path, "--models", BASELINES, "--datasets", str(long_csv), "--workers", "1")
    assert result.exit_code == 0
    parts = sorted((out / "parts").iterdir())
    assert len(parts) == 3
    before = pd.read_csv(out / "accuracy.csv")
    stamps = {p.name: (p / "summary.json").stat().st_mtime_ns for p in parts}
    import shutil

    shutil.rmtree(parts[0])  # never finished
    (parts[1] / "series.parquet").unlink()  # torn checkpoint
    resumed = invoke(["run", "--resume", str(out), "--workers", "1"])
    assert resumed.exit_code == 0, resumed.output
    assert "3 experiments (1 already done)" in resumed.output
    after = {p.name: (p / "summary.json").stat().st_mtime_ns for p in sorted((out / "parts").iterdir())}
    assert set(after) == set(stamps)
    assert after[parts[2].name] == stamps[parts[2].name]  # untouched
    pd.testing.assert_frame_equal(before, pd.read_csv(out / "accuracy.csv"))


def test_resume_with_another_config_is_refused(long_csv, tmp_path):
    result, out = _run(tmp_path, "--models", "naive", "--datasets", str(long_csv), "--workers", "1")
    assert result.exit_code == 0
    manifest = (out / "manifest.json").read_text()
    again = invoke(["run", "--resume", str(out), "--models", "naive,snaive"])
    assert again.exit_code == 2
    assert "another config" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    assert (out / "manifest.json").read_text() == manifest


def test_report_rebuilds_from_stored_results(long_csv, tmp_path):
    result, out = _run(tmp_path, "--models", BASELINES, "--datasets", str(long_csv), "--workers", "1")
    assert result.exit_code == 0
    report = (out / "report.md").read_text()
    accuracy = (out / "accuracy.csv").read_text()
    for name in ("report.md", "accuracy.csv", "speed.csv"):
        (out / name).unlink()
    rebuilt = invoke(["report", str(out)])
    assert rebuilt.exit_code == 0
    assert (out / "report.md").read_text() == report
    assert (out / "accuracy.csv").read_text() == accuracy


def test_rolling_origin_scores_every_window(long_csv, tmp_path):
    result, out = _run(
        tmp_path,
        "--models",
        "naive",
        "--datasets",
        str(long_csv),
        "--protocol",
        "rolling",
        "--windows",
        "3",
        "--step",
        "6",
        "--workers",
        "1",
    )
    assert result.exit_code == 0, result.output
    m = pd.read_parquet(out / "metrics.parquet").query("model == 'naive' and unique_id == 's0'")
    assert list(m["window"]) == [0, 1, 2]
    assert list(m["origin"]) == [30, 36, 42]  # 60 points, h=18, step 6
    fc = pd.read_parquet(out / "forecasts.parquet").query("model == 'naive' and unique_id == 's0' and window == 0")
    y = pd.read_csv(long_csv).query("unique_id == 's0'")["y"].to_numpy()
    assert np.allclose(fc["yhat"], y[29]) and np.allclose(fc["y"], y[30:48])


def test_model_parameter_from_command_line_is_recorded(long_csv, tmp_path, plugins_dir):
    out = tmp_path / "run"
    result = invoke(
        [
            "--plugins-dir",
            str(plugins_dir),
            "run",
            "--models",
            "drift",
            "-p",
            "drift.damping=0.25",
            "--datasets",
            str(long_csv),
            "--workers",
            "1",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0
    exp = pd.read_csv(out / "experiments.csv").set_index("model")
    assert json.loads(exp.loc["drift", "params"]) == {"damping": 0.25}


def test_suite_file_sets_models_params_and_limit(tmp_path, plugins_dir):
    suite = tmp_path / "mine.toml"
    suite.write_text('datasets = ["m3-monthly"]\nlimit = 6\nseeds = [0]\n[models.drift]\ndamping = 0.5\n')
    out = tmp_path / "run"
    result = invoke(
        ["--plugins-dir", str(plugins_dir), "run", "--suite", str(suite), "--workers", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    acc = pd.read_csv(out / "accuracy.csv")
    assert set(acc["model"]) == {"drift", "naive", "naive2"} and (acc["n_series"] == 6).all()
    exp = pd.read_csv(out / "experiments.csv").set_index("model")
    assert json.loads(exp.loc["drift", "params"]) == {"damping": 0.5}


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--models", "nosuchmodel"], "unknown model 'nosuchmodel'"),
        (["--datasets", "nosuchdata"], "unknown dataset 'nosuchdata'"),
        (["--models", "naive", "-p", "naive.bogus=1"], "unknown parameter 'bogus'"),
        (["--horizon", "0"], "--horizon must be a positive integer"),
        (["--limit", "-3"], "--limit must be a positive integer"),
        (["--suite", "nosuchsuite"], "suite 'nosuchsuite' not found"),
        (["--datasets", "m3-monthly", "--horizon", "6"], "official test set"),
    ],
)
def test_bad_options_exit_2_with_one_line_and_write_nothing(tmp_path, args, expected):
    result, out = _run(tmp_path, *args)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "content, expected",
    [
        ("", "empty"),
        ("unique_id,ds,y\n", "no rows"),
        ('unique_id,ds,y\na,2020-01-01,1\na,"2020-02-01,2\n', "malformed"),
        ("id,ds,value\na,2020-01-01,1\n", "missing required column"),
        ("unique_id,ds,y\n" + "".join(f"a,2020-{m:02d}-01,{'nan' if m == 5 else m}\n" for m in range(1, 13)), "NaN"),
        ("unique_id,ds,y\n" + "".join(f"a,2020-{m:02d}-01,{'inf' if m == 7 else m}\n" for m in range(1, 13)), "inf"),
        ("unique_id,ds,y\n" + "".join(f"a,2020-{m:02d}-01,{m}\n" for m in range(1, 5)), "too short"),
    ],
)
def test_bad_csv_exit_2_with_one_line_and_write_nothing(tmp_path, content, expected):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result, out = _run(tmp_path, "--models", "naive", "--datasets", str(path))
    assert result.exit_code == 2, result.output
    assert expected.lower() in result.stderr.lower()
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_unreadable_suite_file_exit_2(tmp_path):
    suite = tmp_path / "broken.toml"
    suite.write_text("datasets = [m3-monthly\n")
    result, out = _run(tmp_path, "--suite", str(suite))
    assert result.exit_code == 2 and "not valid TOML" in result.stderr
    assert not out.exists()


def test_out_dir_holding_a_run_is_not_overwritten(long_csv, tmp_path):
    result, out = _run(tmp_path, "--models", "naive", "--datasets", str(long_csv), "--workers", "1")
    assert result.exit_code == 0
    again = invoke(["run", "--models", "naive", "--datasets", str(long_csv), "--out", str(out)])
    assert again.exit_code == 2 and "already holds a run" in again.stderr


def test_builtin_suites_are_valid_and_plan():
    """Every built-in suite parses, names registered datasets and models, and plans."""
    from harness.execute import build_config
    from harness.plugins import load_registry
    from harness.runner import plan, resolve_datasets
    from harness.suite import available_suites

    registry = load_registry()
    assert "quick" in available_suites()
    for name in available_suites():
        config = build_config({"suite": name, "limit": 2})
        experiments = plan(config, registry, resolve_datasets(config, registry))
        assert {"naive", "naive2"} <= {e.model.name for e in experiments}


def test_suite_name_is_not_confused_with_a_folder(tmp_path, monkeypatch):
    (tmp_path / "quick").mkdir()
    monkeypatch.chdir(tmp_path)
    from harness.suite import load_suite

    assert load_suite("quick").suite == "quick"


@pytest.mark.slow
def test_default_run_with_no_arguments(tmp_path, monkeypatch):
    """`rnnbench run` with no arguments runs the quick suite into a new folder under results/."""
    monkeypatch.chdir(tmp_path)
    result = invoke(["run"])
    assert result.exit_code == 0, result.output
    runs = list((tmp_path / "results").iterdir())
    assert len(runs) == 1 and (runs[0] / "report.md").is_file()
    accuracy = pd.read_csv(runs[0] / "accuracy.csv")
    assert {"arima", "theta", "naive2"} <= set(accuracy["model"])


def test_report_has_the_three_claim_sections_in_markdown_and_html(long_csv, tmp_path, plugins_dir):
    out = tmp_path / "run"
    result = invoke(
        [
            "--plugins-dir",
            str(plugins_dir),
            "run",
            "--models",
            "arima,rnn-numpy,drift",
            "-p",
            "rnn-numpy.epochs=3",
            "--datasets",
            str(long_csv),
            "--workers",
            "1",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    md = (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    for title in ("(a) Accuracy", "(b) Cost", "(c) Memory"):
        assert f"## {title}" in md and title in page
    assert "data:image/png;base64," in page
    # one script, the page's own (table sorting), and a policy that lets run nothing else
    assert page.count("<script") == 1 and f"<script>{html.SCRIPT}</script>" in page and html.CSP in page
    assert md.startswith(f"# rnnbench run {out.name}\n\n- **(a) Accuracy: ")
    verdicts = pd.read_csv(out / "claims" / "verdicts.csv")
    assert set(verdicts["claim"]) == {"a", "b", "c"}
    assert set(verdicts["verdict"]) <= {"supported", "refuted", "mixed", "inconclusive"}
    assert (out / "figures" / "accuracy_vs_cost.png").is_file()
