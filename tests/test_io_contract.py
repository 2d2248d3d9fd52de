"""Nothing a plugin does can silently change a score (issue 16, items 1, 2 and 6).

* Inputs are read-only: a model that writes into ``y`` or ``panel.values`` fails loudly, under
  every executor, and no other model's score moves; the test values never reach a model.
* Outputs are unambiguous: a global model's forecasts are matched to series by ``unique_id``; a
  square array (as many series as horizon steps) is refused, a missing, unknown or repeated id
  is a failure naming it.
* Tracebacks are kept: every failure the runner caught is a record of ``failures.jsonl`` (with
  the plugin's file and line), under any executor, and a resumed run keeps the earlier ones.
"""

from __future__ import annotations

import json
import shutil
import textwrap

import numpy as np
import pandas as pd
import pytest

import harness
from harness import runner
from harness.experiments import FAILURE_FIELDS
from harness.models import Forecast, forecasts_by_series, read_only
from tests.conftest import THROWAWAY_PLUGIN, invoke, plugin_folder, sorted_metrics

#: Four series, horizon 4: the square case of a global model's output, on purpose.
H = 4

MUTATING_PLUGIN = textwrap.dedent(
    '''
    """Models that write into their inputs, or peek behind them; each, left alone, is naive."""
    import numpy as np
    import harness

    def _behind(a):
        """Values in the buffer behind an array (the root of its chain of bases)."""
        while isinstance(a.base, np.ndarray):
            a = a.base
        return a.size

    class Centering(harness.LocalForecaster):
        """The last value, computed after centring y in place."""
        name = "centering"

        def fit_predict_one(self, y):
            m = y.mean()
            y -= m
            return np.full(self.horizon, y[-1] + m)

    class CopyCentering(harness.LocalForecaster):
        """The same, on a copy it made: allowed, and exactly naive."""
        name = "copy-centering"

        def fit_predict_one(self, y):
            y = np.array(y)
            m = y.mean()
            y -= m
            return np.full(self.horizon, y[-1] + m)

    class PeekLocal(harness.LocalForecaster):
        """Naive, after checking that y is read-only and hides nothing behind it."""
        name = "peek-local"

        def fit_predict_one(self, y):
            if y.flags.writeable or _behind(y) != y.size:
                raise RuntimeError(f"y is writeable or has {_behind(y)} values behind its {y.size}")
            return np.full(self.horizon, y[-1])

    class Zeroing(harness.Forecaster):
        """A global last-value model that zeroes the panel it was given in fit."""
        name = "zeroing"

        def fit(self, panel):
            for v in panel.values:
                v[:] = 0.0

        def predict(self, panel):
            return {uid: np.full(self.horizon, v[-1]) for uid, v in zip(panel.ids, panel.values)}

    class CopyZeroing(harness.Forecaster):
        """The same on copies it made: allowed, and exactly naive."""
        name = "copy-zeroing"

        def fit(self, panel):
            self.copies_ = [np.array(v) for v in panel.values]
            for v in self.copies_:
                v[:] = 0.0

        def predict(self, panel):
            return {uid: np.full(self.horizon, v[-1]) for uid, v in zip(panel.ids, panel.values)}

    class PeekGlobal(harness.Forecaster):
        """Naive, after checking panel.values in warm_up, fit and predict."""
        name = "peek-global"

        def _check(self, panel):
            for v in panel.values:
                if v.flags.writeable or _behind(v) != v.size:
                    raise RuntimeError(f"a series is writeable or has {_behind(v)} values behind its {v.size}")

        def warm_up(self, panel):
            self._check(panel)
            self.warmed_ = True

        def fit(self, panel):
            if not getattr(self, "warmed_", False):
                raise RuntimeError("warm_up did not pass")
            self._check(panel)

        def predict(self, panel):
            self._check(panel)
            return {uid: np.full(self.horizon, v[-1]) for uid, v in zip(panel.ids, panel.values)}

    @harness.hookimpl
    def register_models(register):
        for cls in (Centering, CopyCentering, PeekLocal, Zeroing, CopyZeroing, PeekGlobal):
            register(cls)
    '''
)

OUTPUT_PLUGIN = textwrap.dedent(
    '''
    """Global last-value models that return their forecasts in right and wrong ways."""
    import numpy as np
    import pandas as pd
    import harness

    class Returns(harness.Forecaster):
        name = "returns"
        how = harness.param("keyed", "how predict returns the last values")

        def fit(self, panel):
            pass

        def predict(self, panel):
            rows = [np.full(self.horizon, v[-1]) for v in panel.values]
            if self.how == "keyed":
                return dict(zip(panel.ids, rows, strict=True))
            if self.how == "keyed-reversed":  # order does not matter, ids do
                return dict(reversed(list(zip(panel.ids, rows))))
            if self.how == "series":  # a pandas Series indexed by unique_id
                return pd.Series(rows, index=list(panel.ids))
            if self.how == "forecasts":  # one Forecast per series, in panel order
                return [harness.Forecast(mean=r) for r in rows]
            if self.how == "array":  # the old contract
                return np.vstack(rows)
            if self.how == "transposed":  # (horizon, n_series)
                return np.vstack(rows).T
            if self.how == "missing":
                return dict(zip(panel.ids[:-1], rows[:-1]))
            if self.how == "extra":
                return {**dict(zip(panel.ids, rows)), "nope": rows[0]}
            if self.how == "duplicate":
                return pd.Series(rows, index=[panel.ids[0], *panel.ids[:-1]])
            raise ValueError(self.how)

    @harness.hookimpl
    def register_models(register):
        for how in ("keyed", "keyed-reversed", "series", "forecasts", "array", "transposed", "missing",
                    "extra", "duplicate"):
            register(Returns, name=f"returns-{how}", how=how)
    '''
)

FAILING_PLUGIN = textwrap.dedent(
    '''
    """Models that raise, on one series or in fit."""
    import numpy as np
    import harness

    def _deep(y):
        raise RuntimeError("deliberate failure at level %.0f" % y[0])

    class Fails(harness.LocalForecaster):
        name = "fails"

        def fit_predict_one(self, y):
            if y.mean() > 35:
                _deep(y)
            return np.full(self.horizon, y[-1])

    class FailsGlobal(harness.Forecaster):
        name = "fails-global"

        def fit(self, panel):
            raise ValueError("global fit exploded")

        def predict(self, panel):
            return {}

    @harness.hookimpl
    def register_models(register):
        register(Fails)
        register(FailsGlobal)
    '''
)


@pytest.fixture
def levels_csv(tmp_path):
    """Four series s0..s3 at levels 10, 20, 30, 40 (no official test: the holdout is their tail)."""
    rng = np.random.default_rng(3)
    rows = []
    for k in range(4):
        y = 10.0 * (k + 1) + rng.normal(0, 0.5, 40)
        ds = pd.date_range("2020-01-01", periods=40, freq="MS")
        rows.append(pd.DataFrame({"unique_id": f"s{k}", "ds": ds, "y": y}))
    path = tmp_path / "levels.csv"
    pd.concat(rows).to_csv(path, index=False)
    return path


def _run(plugins, data, models, out, *extra, executor="serial", debug=False):
    args = ["--plugins-dir", str(plugins)] + (["--debug"] if debug else [])
    return invoke(
        [
            *args,
            "run",
            "--datasets",
            str(data),
            "--horizon",
            str(H),
            "--models",
            models,
            "--executor",
            executor,
            "--workers",
            "2",
            *extra,
            "--out",
            str(out),
        ]
    )


def _rows(run, model):
    m = pd.read_parquet(run / "metrics.parquet")
    return m[m["model"] == model].set_index("unique_id").sort_index()


def _failures(run):
    return [json.loads(line) for line in (run / "failures.jsonl").read_text().splitlines()]


# --- read-only inputs ---------------------------------------------------------------------------


def test_read_only_hands_out_a_view_of_a_read_only_copy():
    data = np.arange(6.0)
    y = read_only(data[:4])
    assert not y.flags.writeable and not np.shares_memory(y, data) and y.base.size == 4
    with pytest.raises(ValueError, match="read-only"):
        y -= 1
    with pytest.raises(ValueError, match="WRITEABLE"):
        y.setflags(write=True)  # a view of a read-only array cannot be made writeable again
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(y)[0] = 1
    assert data.tolist() == [0, 1, 2, 3, 4, 5]


MUTATING = "naive,centering,copy-centering,peek-local,zeroing,copy-zeroing,peek-global"


@pytest.fixture
def reference(levels_csv, tmp_path):
    """The reference models, run without any mutating plugin."""
    out = tmp_path / "reference"
    result = invoke(
        ["run", "--datasets", str(levels_csv), "--horizon", str(H), "--models", "naive"]
        + ["--executor", "serial", "--out", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    return sorted_metrics(out)


def _check_mutating_run(out, result, reference):
    assert result.exit_code == 1, result.stderr
    centering = _rows(out, "centering")
    assert (centering["status"] == "failed").all()
    assert (
        centering["message"]
        == "model centering: inputs are read-only (copy y before changing it): output array is read-only"
    ).all()
    zeroing = _rows(out, "zeroing")
    assert (zeroing["status"] == "failed").all()
    assert (
        zeroing["message"]
        == "model zeroing: inputs are read-only (copy panel.values before changing it): assignment destination is read-only"
    ).all()
    naive = _rows(out, "naive")
    for model in ("copy-centering", "peek-local", "copy-zeroing", "peek-global"):
        rows = _rows(out, model)
        assert (rows["status"] == "ok").all(), rows["message"]
        pd.testing.assert_frame_equal(rows[["smape", "mase", "rmse"]], naive[["smape", "mase", "rmse"]])
    metrics = sorted_metrics(out)
    untouched = metrics[metrics["model"].isin(["naive", "naive2"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(untouched, reference)
    log = _failures(out)
    assert {r["model"] for r in log} == {"centering", "zeroing"}
    assert all("ValueError" in r["traceback"] and "read-only" in r["traceback"] for r in log)
    return metrics


@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_a_model_that_writes_into_its_inputs_fails_loudly_and_changes_no_other_score(
    executor, levels_csv, reference, tmp_path
):
    plugins = plugin_folder(tmp_path / "plugins", MUTATING_PLUGIN, "mutating.py")
    out = tmp_path / executor
    result = _run(plugins, levels_csv, MUTATING, out, executor=executor)
    _check_mutating_run(out, result, reference)


def test_every_executor_gives_the_same_metrics_with_mutating_models(levels_csv, reference, tmp_path):
    plugins = plugin_folder(tmp_path / "plugins", MUTATING_PLUGIN, "mutating.py")
    runs = {}
    for executor in ("serial", "processes", "dask"):
        out = tmp_path / executor
        runs[executor] = _check_mutating_run(
            out, _run(plugins, levels_csv, MUTATING, out, executor=executor), reference
        )
    pd.testing.assert_frame_equal(runs["serial"], runs["processes"])
    pd.testing.assert_frame_equal(runs["serial"], runs["dask"])


def test_a_global_unit_carries_the_contexts_only(levels_csv):
    """The worker of a global model gets each window's context panel, never the truth after it."""
    from harness.files import load_long_file
    from harness.plugins import load_registry
    from harness.tasks import ProtocolSpec, Task

    task = Task(load_long_file(str(levels_csv), horizon=H), ProtocolSpec("rolling", windows=2))
    units = []

    class Spy(runner.SerialExecutor):
        def run(self, todo):
            units.extend(todo)
            return super().run(todo)

    exp = runner.Experiment(task, load_registry().model("rnn-numpy"), {"epochs": 1}, 0)
    result = runner.run_experiment(exp, Spy())
    assert result.summary["status"] == "ok"
    (unit,) = units
    windows = task.windows()
    contexts = unit.args[6]
    assert [i for i, _ in contexts] == [w.index for w in windows]
    assert [tuple(len(v) for v in p.values) for _, p in contexts] == [w.cutoffs for w in windows]
    assert not any(isinstance(x, runner.Window) for arg in unit.args if isinstance(arg, list) for x in arg)


# --- unambiguous outputs ------------------------------------------------------------------------


def _panel(n=3, h=3):
    return harness.Panel(tuple(f"s{k}" for k in range(n)), tuple(np.arange(5.0) + k for k in range(n)), "other", 1, h)


def test_forecasts_by_series_matches_ids_and_refuses_what_is_ambiguous():
    panel = _panel()
    rows = {"s2": np.full(3, 2.0), "s0": np.zeros(3), "s1": np.ones(3)}
    got, missing, note = forecasts_by_series(rows, panel, 3, "m")
    assert [float(got[i][0]) for i in range(3)] == [0.0, 1.0, 2.0] and not missing and note is None
    got, missing, _ = forecasts_by_series({"s0": np.zeros(3)}, panel, 3, "m")
    assert missing == {
        1: "model m: predict returned no forecast for series 's1'",
        2: "model m: predict returned no forecast for series 's2'",
    }
    with pytest.raises(ValueError, match="model m: predict returned a forecast for 'zz', which is not a unique_id"):
        forecasts_by_series({**rows, "zz": np.zeros(3)}, panel, 3, "m")
    with pytest.raises(ValueError, match="for 0, which is not a unique_id"):
        forecasts_by_series({0: np.zeros(3)}, panel, 3, "m")  # positions are not ids
    duplicated = pd.Series([np.zeros(3)] * 3, index=["s0", "s0", "s1"])
    with pytest.raises(ValueError, match="model m: predict returned two forecasts for series 's0'"):
        forecasts_by_series(duplicated, panel, 3, "m")
    with pytest.raises(ValueError, match=r"\(3, 3\) array for 3 series and horizon 3: ambiguous"):
        forecasts_by_series(np.zeros((3, 3)), panel, 3, "m")
    with pytest.raises(ValueError, match=r"shape \(4, 3\), expected \(3, horizon\)"):
        forecasts_by_series(np.zeros((4, 3)), panel, 4, "m")
    got, _, note = forecasts_by_series(np.zeros((3, 4)), panel, 4, "m")
    assert len(got) == 3 and note.startswith("model m: predict returned a plain array, which is deprecated")
    got, _, note = forecasts_by_series([Forecast(np.zeros(3))] * 3, panel, 3, "m")
    assert len(got) == 3 and note is None
    with pytest.raises(ValueError, match="2 forecasts for 3 series"):
        forecasts_by_series([Forecast(np.zeros(3))] * 2, panel, 3, "m")


def test_a_dataset_with_a_repeated_series_id_is_bad_input():
    panel = harness.Panel(("a", "b", "a"), (np.arange(5.0),) * 3, "other", 1, 2)
    with pytest.raises(harness.DataError, match="dataset d: series id 'a' appears twice"):
        harness.Dataset("d", panel)


def test_global_outputs_in_the_square_case(levels_csv, tmp_path):
    """4 series, horizon 4: keyed forms score exactly as naive, a transposed array is refused, and
    a missing, unknown or repeated id is a failure naming it."""
    plugins = plugin_folder(tmp_path / "plugins", OUTPUT_PLUGIN, "outputs.py")
    hows = ("keyed", "keyed-reversed", "series", "forecasts", "array", "transposed", "missing", "extra", "duplicate")
    out = tmp_path / "run"
    models = ",".join(["naive", "panel-mean", *(f"returns-{h}" for h in hows)])
    (plugins / "throwaway.py").write_text(THROWAWAY_PLUGIN)
    result = _run(plugins, levels_csv, models, out, executor="processes")
    assert result.exit_code == 1, result.stderr
    naive = _rows(out, "naive")
    for how in ("keyed", "keyed-reversed", "series", "forecasts"):
        rows = _rows(out, f"returns-{how}")
        assert (rows["status"] == "ok").all(), rows["message"]
        pd.testing.assert_frame_equal(rows[["smape", "mase"]], naive[["smape", "mase"]])
    assert (_rows(out, "panel-mean")["status"] == "ok").all()  # the throwaway plugin, migrated
    expected = {
        "array": "ambiguous (series and steps cannot be told apart): return forecasts keyed by unique_id",
        "transposed": "ambiguous (series and steps cannot be told apart): return forecasts keyed by unique_id",
        "extra": "model returns-extra: predict returned a forecast for 'nope', which is not a unique_id of the panel",
        "duplicate": "model returns-duplicate: predict returned two forecasts for series 's0'",
    }
    for how, message in expected.items():
        rows = _rows(out, f"returns-{how}")
        assert (rows["status"] == "failed").all() and rows["message"].str.contains(message, regex=False).all(), how
    missing = _rows(out, "returns-missing")
    assert (missing.loc[["s0", "s1", "s2"], "status"] == "ok").all()
    assert missing.loc["s3", "status"] == "failed"
    assert missing.loc["s3", "message"] == "model returns-missing: predict returned no forecast for series 's3'"
    log = {(r["model"], r["unique_id"]): r for r in _failures(out)}
    assert log[("returns-missing", "s3")]["stage"] == "output"
    assert log[("returns-transposed", None)]["n_series"] == 4


def test_neural_models_forecast_the_square_case(levels_csv, tmp_path):
    plugins = plugin_folder(tmp_path / "plugins", OUTPUT_PLUGIN, "outputs.py")
    out = tmp_path / "run"
    result = _run(plugins, levels_csv, "naive,rnn-numpy", out, "-p", "rnn-numpy.epochs=2")
    assert result.exit_code == 0, result.stderr
    assert (_rows(out, "rnn-numpy")["status"] == "ok").all()


def test_a_plain_array_still_works_with_a_warning_naming_the_model(levels_csv, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "_WARNED", set())
    plugins = plugin_folder(tmp_path / "plugins", OUTPUT_PLUGIN, "outputs.py")
    out = tmp_path / "run"
    result = _run(plugins, levels_csv, "naive,returns-array", out, "--horizon", "5", executor="processes")
    assert result.exit_code == 0, result.stderr
    assert (_rows(out, "returns-array")["status"] == "ok").all()
    warning = "rnnbench: warning: model returns-array: predict returned a plain array, which is deprecated"
    assert result.stderr.count(warning) == 1


# --- tracebacks -------------------------------------------------------------------------------


@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_every_failure_is_logged_with_its_traceback(executor, levels_csv, tmp_path):
    plugins = plugin_folder(tmp_path / "plugins", FAILING_PLUGIN, "failing.py")
    plugin_file = str(plugins / "failing.py")
    out = tmp_path / "run"
    result = _run(plugins, levels_csv, "naive,fails,fails-global", out, executor=executor)
    assert result.exit_code == 1, result.stderr
    log = _failures(out)
    assert all(list(r) == list(FAILURE_FIELDS) for r in log)
    local, glob = [r for r in log if r["model"] == "fails"], [r for r in log if r["model"] == "fails-global"]
    (record,) = local
    assert record["unique_id"] == "s3" and record["window"] == 0 and record["seed"] == 0
    assert record["dataset"] == "levels" and record["stage"] == "fit_predict_one" and record["status"] == "failed"
    assert (
        record["message"]
        == _rows(out, "fails").loc["s3", "message"]
        == ("RuntimeError: deliberate failure at level 40")
    )
    trace = record["traceback"]
    lines = FAILING_PLUGIN.splitlines()
    for code, function in (('raise RuntimeError("deliberate', "_deep"), ("_deep(y)", "fit_predict_one")):
        line = next(k for k, text in enumerate(lines, 1) if text.strip().startswith(code))
        assert f'File "{plugin_file}", line {line}, in {function}' in trace, trace
    assert trace.rstrip().endswith("RuntimeError: deliberate failure at level 40")
    (record,) = glob
    assert record["unique_id"] is None and record["n_series"] == 4 and record["stage"] == "fit"
    assert f'File "{plugin_file}"' in record["traceback"] and "global fit exploded" in record["traceback"]
    assert "failures.jsonl" in (out / "report.md").read_text()


def test_debug_prints_tracebacks_and_a_clean_run_has_an_empty_log(levels_csv, tmp_path):
    plugins = plugin_folder(tmp_path / "plugins", FAILING_PLUGIN, "failing.py")
    result = _run(plugins, levels_csv, "naive,fails", tmp_path / "debug", debug=True)
    assert result.exit_code == 1
    assert "rnnbench: failed: fails on levels, series s3, window 0, seed 0 (fit_predict_one)" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr and "failing.py" in result.stderr
    quiet = _run(plugins, levels_csv, "naive,fails", tmp_path / "quiet")
    assert "Traceback" not in quiet.stderr
    clean = tmp_path / "clean"
    assert _run(plugins, levels_csv, "naive", clean).exit_code == 0
    assert (clean / "failures.jsonl").read_text() == ""


def test_a_resumed_run_keeps_the_tracebacks_of_earlier_failures(levels_csv, tmp_path):
    plugins = plugin_folder(tmp_path / "plugins", FAILING_PLUGIN, "failing.py")
    out = tmp_path / "run"
    assert _run(plugins, levels_csv, "naive,fails,fails-global", out).exit_code == 1
    before = (out / "failures.jsonl").read_text()
    assert before.count('"traceback": "Traceback') == 2
    # the naive experiment was lost: the resume redoes it and keeps the failed ones' checkpoints
    (naive,) = [p for p in (out / "parts").iterdir() if "__naive__" in p.name]
    shutil.rmtree(naive)
    (out / "failures.jsonl").unlink()
    result = invoke(["--plugins-dir", str(plugins), "run", "--resume", str(out)])
    assert result.exit_code == 1 and "(3 already done)" in result.stderr
    assert (out / "failures.jsonl").read_text() == before
