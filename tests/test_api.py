"""The Python API (issue 14, items 5 and 7): ``harness.run`` / ``harness.load_run`` return a
``harness.Run`` with the report's tables; the CLI and the API share one code path, so the same
options give the same tables; misuse is one ``harness.BadInput`` with the CLI's line and writes
nothing; and importing the command or loading the model registry leaves the heavy packages
(pandas, torch, scipy, statsmodels, matplotlib, pyarrow) unimported, so ``rnnbench --help`` and
``rnnbench models`` start fast (their times are measured by benchmarks/startup.py, not here).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import harness
from tests.conftest import invoke, tree

ROOT = Path(__file__).resolve().parent.parent
#: A tiny run: two quick models on one small dataset, in this process.
MODELS = ["naive", "theta"]
OPTIONS = dict(datasets="airline", executor="serial", params={"theta": {"theta": 3}})
CLI_ARGS = ["--datasets", "airline", "--executor", "serial", "-p", "theta.theta=3"]


@pytest.fixture(scope="module")
def api_run(tmp_path_factory):
    """``harness.run`` of the tiny run with ``quiet=True``, and what it printed (to check quiet)."""
    out = tmp_path_factory.mktemp("api") / "run"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        run = harness.run(MODELS, out=out, quiet=True, **OPTIONS)
    return run, printed.getvalue()


def test_run_returns_the_report_tables(api_run):
    run, printed = api_run
    assert printed == ""  # quiet: no progress, notes or summary
    assert isinstance(run, harness.Run)
    assert run.path.is_dir() and run.report_path == run.path / "report.html" and run.report_path.is_file()
    acc = run.accuracy
    assert {"dataset", "model", "n_series", "smape", "mase", "owa"} <= set(acc.columns)
    assert set(acc["model"]) == {*MODELS, "naive2"}  # naive2: the OWA reference, added by the harness
    assert set(acc["dataset"]) == {"airline"} and acc["smape"].notna().all()
    assert {"dataset", "model", "fit_s", "predict_s", "regime", "cpu_ms_per_series", "ms_per_series", "ref_ms"} <= set(
        run.speed.columns
    )
    assert set(run.speed["model"]) == set(acc["model"])
    assert {"claim", "dataset", "verdict", "rule", "evidence"} <= set(run.verdicts.columns)
    assert set(run.verdicts["claim"]) == {"a", "b", "c"}
    fc = run.forecasts
    assert {"unique_id", "step", "y", "yhat", "dataset", "model", "seed"} <= set(fc.columns)
    assert set(fc["model"]) == set(acc["model"]) and len(fc) == 3 * 18  # one airline series, h = 18
    # the tables are the report's files, not a second computation
    pd.testing.assert_frame_equal(acc, pd.read_csv(run.path / "accuracy.csv"))
    assert run.manifest["config"]["models"]["theta"] == {"theta": 3}  # params reached the config
    assert run.manifest["command"][0] == "harness.run"


def test_load_run_gives_equal_tables(api_run):
    run, _ = api_run
    again = harness.load_run(str(run.path))
    assert again.path == run.path and again.report_path == run.report_path
    for name in ("accuracy", "speed", "verdicts", "forecasts"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(run, name))


def test_the_cli_and_the_api_give_the_same_accuracy_table(api_run, tmp_path):
    run, _ = api_run
    out = tmp_path / "cli"
    result = invoke(["run", "--models", ",".join(MODELS), *CLI_ARGS, "--out", str(out)])
    assert result.exit_code == 0, result.output
    cli_run = harness.load_run(out)
    pd.testing.assert_frame_equal(cli_run.accuracy, run.accuracy)
    pd.testing.assert_frame_equal(cli_run.verdicts, run.verdicts)
    assert cli_run.manifest["config"] == run.manifest["config"]


def test_models_and_datasets_take_lists_or_comma_separated_strings(api_run, tmp_path):
    run, _ = api_run
    again = harness.run(
        ",".join(MODELS), ["airline"], executor="serial", params={"theta": {"theta": 3}}, out=tmp_path / "r", quiet=True
    )
    pd.testing.assert_frame_equal(again.accuracy, run.accuracy)


def test_levels_choose_the_intervals_and_their_scores(tmp_path):
    run = harness.run("theta", "airline", levels="50, 90", executor="serial", out=tmp_path / "r", quiet=True)
    assert {"lo_50", "hi_50", "lo_90", "hi_90"} <= set(run.forecasts.columns)
    assert not {"lo_80", "lo_95"} & set(run.forecasts.columns)
    fc = run.forecasts[run.forecasts["model"] == "theta"]  # naive2 (for OWA) gives no interval
    assert len(fc) and ((fc["lo_90"] <= fc["lo_50"]) & (fc["lo_50"] <= fc["yhat"]) & (fc["hi_50"] <= fc["hi_90"])).all()
    assert {"coverage_50", "coverage_90"} <= set(run.accuracy.columns)


def test_out_none_makes_a_fresh_folder_under_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = harness.run("naive", "airline", executor="serial", quiet=True)
    assert run.path.parent == Path("results") and run.path.name.endswith("-quick") and run.report_path.is_file()


MISUSE = [
    ({"seed": 1}, "run() got an unknown option 'seed'; did you mean seeds?"),
    ({"limit": "5"}, "limit must be an integer, got '5'"),
    ({"seeds": [0, "1"]}, "seeds must be an integer, a list of integers or a comma-separated string"),
    ({"protocol": "rolled"}, "protocol must be one of holdout, rolling, got 'rolled'"),
    ({"params": {"theta": 3}}, "params must be a dict of dicts such as {'arima': {'ic': 'bic'}}"),
    ({"params": {"theta": {"theta": object}}}, "params['theta']['theta'] must be a number, string"),
    ({"quiet": "yes"}, "quiet must be True or False, got 'yes'"),
    ({"models": 3}, "models must be a list of names or a comma-separated string, got 3"),
    ({"models": "naive,nope"}, "unknown model 'nope' (known: arima,"),
    ({"datasets": "airlines"}, "unknown dataset 'airlines'; did you mean airline? (known: airline,"),
    ({"params": {"naive": {"x": 1}}}, "model naive: unknown parameter 'x'"),
    ({"workers": 0}, "--workers must be a positive integer, got 0"),
    ({"levels": "80,high"}, "levels must be a number, a list of numbers or a comma-separated string"),
    ({"levels": [80, 100]}, "--levels: a level must be strictly between 0 and 100 (percent), got 100"),
    ({"protocol": "holdout", "windows": 2}, "--windows applies to the rolling protocol"),
]


@pytest.mark.parametrize("given, message", MISUSE, ids=[m[1].split(" ")[0] + str(i) for i, m in enumerate(MISUSE)])
def test_misuse_raises_one_bad_input_and_writes_nothing(given, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kwargs = {"models": "naive,theta", "datasets": "airline", "executor": "serial", "quiet": True} | given
    out = tmp_path / "out"
    before = tree(tmp_path)
    with pytest.raises(harness.BadInput) as info:
        harness.run(out=out, **kwargs)
    text = str(info.value)
    assert text.startswith(message) and "\n" not in text, text
    assert tree(tmp_path) == before  # no run folder, no results/


@pytest.mark.parametrize(
    "args",
    [
        ["--models", "naive,nope", "--datasets", "airline"],
        ["--models", "naive", "--datasets", "airline", "-p", "naive.x=1"],
        ["--models", "naive", "--datasets", "airline", "--protocol", "holdout", "--windows", "2"],
    ],
)
def test_bad_input_is_the_line_the_cli_prints(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(["run", *args])
    assert result.exit_code == 2
    i = args.index("--models")
    kwargs = {"models": args[i + 1], "datasets": "airline"}
    if "-p" in args:
        kwargs["params"] = {"naive": {"x": 1}}
    if "--windows" in args:
        kwargs |= {"protocol": "holdout", "windows": 2}
    with pytest.raises(harness.BadInput) as info:
        harness.run(**kwargs)
    assert result.stderr.strip() == f"rnnbench: error: {info.value}"


def test_load_run_of_what_is_not_a_finished_run_is_bad_input(api_run, tmp_path):
    with pytest.raises(harness.StoreError, match=r"is not a run directory \(no manifest.json\)$"):
        harness.load_run(tmp_path)
    with pytest.raises(harness.BadInput, match="load_run path must be a path"):
        harness.load_run(3)
    copy = tmp_path / "copy"
    shutil.copytree(api_run[0].path, copy)
    (copy / "accuracy.csv").unlink()
    with pytest.raises(
        harness.StoreError, match=f"has no report \\(accuracy.csv\\); build it with: rnnbench report {copy}"
    ):
        harness.load_run(copy)
    (copy / "metrics.parquet").unlink()
    with pytest.raises(harness.StoreError, match="has no finished results; finish it with: rnnbench run --resume"):
        harness.load_run(copy)


HEAVY = ("pandas", "torch", "scipy", "statsmodels", "matplotlib", "pyarrow")


def test_the_command_and_the_model_registry_import_no_heavy_package():
    """``import harness.cli``, ``rnnbench --help``, ``rnnbench models`` and the public face that
    plugins use leave pandas, torch, scipy, statsmodels, matplotlib and pyarrow unimported."""
    code = (
        "import sys\n"
        "import harness.cli\n"
        f"heavy = {HEAVY!r}\n"
        "def loaded():\n"
        "    return sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "seen = {'import harness.cli': loaded()}\n"
        "for args in (['--help'], ['models'], ['models', 'theta']):\n"
        "    try:\n"
        "        harness.cli.cli.main(args, prog_name='rnnbench')\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code in (0, None), (args, exc.code)\n"
        "    seen['rnnbench ' + ' '.join(args)] = loaded()\n"
        "import harness\n"
        "for name in ('LocalForecaster', 'Forecaster', 'WindowForecaster', 'Dataset', 'param', 'hookimpl'):\n"
        "    getattr(harness, name)\n"
        "seen['harness public face'] = loaded()\n"
        "print('RESULT', __import__('json').dumps(seen))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.rsplit("RESULT ", 1)[1])
    assert seen == {key: [] for key in seen}, seen
    assert "naive" in done.stdout and "theta:" in done.stdout  # the listing was really printed


def test_the_public_face_is_lazy_but_complete():
    assert {"run", "load_run", "Run"} <= set(harness.__all__)
    assert set(harness.__all__) <= set(dir(harness))
    assert harness.run.__module__ == "harness.api" and harness.Run.__name__ == "Run"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        harness.nope  # noqa: B018


@pytest.mark.parametrize("stop", [KeyboardInterrupt(), OSError(28, "No space left on device")])
def test_a_run_stopped_part_way_raises_what_stopped_it(stop, tmp_path, monkeypatch, capsys):
    """The command turns Ctrl-C or an OS error mid-run into an exit code (130, 74); the API
    raises it again, after the same cleanup and the line giving the resume command."""
    import harness.execute

    def stopped(*args, **kwargs):
        raise stop

    monkeypatch.setattr(harness.execute, "_run", stopped)
    out = tmp_path / "run"
    with pytest.raises(type(stop)):
        harness.run("naive", "airline", executor="serial", out=out)
    assert f"resume with: rnnbench run --resume {out}" in capsys.readouterr().err
    assert (out / "manifest.json").is_file()  # the run exists and can be resumed
