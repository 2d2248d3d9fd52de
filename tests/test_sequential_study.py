"""The sequential study (claim b, the cost of backpropagation through time against its length T):
the tiny study end to end, the work it plans (the same windows and updates at every T), its
analysis on constructed timings with known exponents and ratios, bad input, and the order of
warm-up, synchronisation, clock reads and host-to-device transfers in a timed fit."""

from __future__ import annotations

import json
import math
import re
import time as _time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

import harness
from harness import timing
from harness.executors import RunOptions, make_executor
from harness.plugins import ModelSpec, Registry
from harness.runner import Experiment, run_experiment
from harness.significance import ratio_ci
from harness.studies import SEQUENTIAL_STUDY, attach_study, read_studies, sequential_rows
from harness.studies import sequential as S
from harness.studies.cost import workload
from harness.studies.sequential import SequentialConfig
from harness.tasks import ProtocolSpec, Task
from tests.conftest import invoke

torch = pytest.importorskip("torch")

# --------------------------------------------------------------------------- a recording network

SEEN: list[dict[str, Any]] = []


class _Recording(harness.WindowForecaster):
    """A window-trained network that records what it is asked to train on and how many updates
    it makes (one per mini-batch per epoch), and forecasts the window's last value; family tcn,
    so it can stand where the network parallel over time stands."""

    name: ClassVar[str] = "recording"
    family: ClassVar[str] = "tcn"
    epochs: int = harness.param(3, "epochs", ge=1)
    patience: int = harness.param(2, "patience", ge=1)
    batch_size: int = harness.param(8, "windows per update", ge=1)
    hidden: int = harness.param(4, "hidden units", ge=1)

    def train_network(self, train, val, seed):
        n = len(train.X)
        SEEN.append(
            {
                "shape": train.X.shape,
                "val": None if val is None else val.X.shape,
                "updates": int(self.epochs) * math.ceil(n / int(self.batch_size)),
                "hidden": int(self.hidden),
            }
        )
        return lambda x: np.zeros((x.shape[0], self.n_out))


def _with_recording(registry: Registry) -> Registry:
    spec = ModelSpec("recording", _Recording, dict(_Recording.defaults), "test")
    return Registry(models={**registry.models, "recording": spec})


def test_every_fit_trains_on_the_same_windows_and_updates_at_every_t(registry):
    config = SequentialConfig.tiny(models=("recording",), reference=None, lengths=(3, 9, 27), devices=("cpu",))
    SEEN.clear()
    rows = S.run_sequential_study(config, _with_recording(registry))
    # one untimed warm-up at the smallest T, then every T in every repeat
    assert [s["shape"][1] for s in SEEN] == [3] + [3, 9, 27] * config.repeats
    assert {s["shape"][0] for s in SEEN} == {config.n_series * config.windows} == {config.train_windows}
    assert {s["val"] for s in SEEN[1:4]} == {(config.n_series, t) for t in (3, 9, 27)}
    assert {s["updates"] for s in SEEN} == {config.updates} and set(rows["updates"]) == {config.updates}
    assert {s["hidden"] for s in SEEN} == {config.hidden}  # the study's hidden size, not the default
    assert config.updates == config.epochs * math.ceil(config.n_series * config.windows / config.batch_size)


def test_a_model_reporting_other_updates_is_an_error(registry, monkeypatch):
    """A model that reports its number of updates (a training log) must agree with the plan."""
    real = run_experiment

    def reporting(exp, *args, **kwargs):
        result = real(exp, *args, **kwargs)
        result.summary["updates"] = 1
        return result

    monkeypatch.setattr("harness.runner.run_experiment", reporting)
    config = SequentialConfig.tiny(models=("recording",), reference=None, devices=("cpu",))
    with pytest.raises(RuntimeError, match=r"recording on cpu at T=4: 1 updates, planned 4"):
        S.run_sequential_study(config, _with_recording(registry))


# --------------------------------------------------------------------------- end to end


def test_tiny_study_end_to_end(tmp_path, registry):
    config = SequentialConfig.tiny(models=("lstm-torch", "recording"), reference="recording", devices=("cpu",))
    seen = []
    rows = S.run_sequential_study(
        config, _with_recording(registry), progress=lambda done, total, row: seen.append((done, total))
    )
    assert list(rows.columns) == S.ROW_COLUMNS
    assert len(rows) == 2 * len(config.lengths) * config.repeats == seen[-1][0] == seen[-1][1]
    assert (rows["fit_s"] > 0).all() and (rows["fit_cpu_s"] > 0).all()
    assert np.allclose(rows["s_per_update"] * rows["updates"], rows["fit_s"])
    assert np.allclose(rows["cpu_s_per_epoch"] * config.epochs, rows["fit_cpu_s"])
    assert dict(zip(rows["model"], rows["family"])) == {"lstm-torch": "lstm", "recording": "tcn"}
    assert (rows.loc[rows["model"] == "lstm-torch", "n_params"] > 0).all()

    verdicts = S.write_sequential_study(tmp_path, config, rows)
    out = tmp_path / "studies" / "sequential"
    assert list(pd.read_csv(out / "sequential.csv").columns) == S.ROW_COLUMNS
    ex = pd.read_csv(out / "exponents.csv")
    assert list(ex.columns) == S.EXPONENT_COLUMNS
    assert set(ex["metric"]) == set(S.METRICS) and set(ex["t_min"]) == {4, 8} and set(ex["t_max"]) == {16}
    rt = pd.read_csv(out / "ratios.csv")
    assert list(rt.columns) == S.RATIO_COLUMNS
    assert len(rt) == len(config.lengths) * len(S.METRICS) and set(rt["model"]) == {"lstm-torch"}
    assert (rt["ratio_lo"] <= rt["ratio"]).all() and (rt["ratio"] <= rt["ratio_hi"]).all()
    stored = pd.read_csv(out / "verdict.csv")
    assert list(stored.columns) == S.VERDICT_COLUMNS and list(stored["device"]) == ["cpu"]
    assert stored["evidence"].iloc[0].startswith("sequential cost: RNN time per update grows as lstm-torch T^")
    assert "at T=16 an update costs" in stored["evidence"].iloc[0]
    assert verdicts["verdict"].iloc[0] in ("supported", "refuted", "inconclusive")
    assert (out / "sequential.png").stat().st_size > 1000
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["kind"] == "sequential-study" and manifest["config"]["lengths"] == [4, 8, 16]
    assert "studies/sequential/verdict.csv" in manifest["files"]
    assert "studies/sequential/sequential.png" in (tmp_path / "report.md").read_text()

    # attached to a run directory, its rows join claim (b), one per device
    run = tmp_path / "run"
    run.mkdir()
    assert attach_study(run, tmp_path) == ["sequential"]
    rows_b = sequential_rows(read_studies(run)["sequential"].tables["verdict"])
    assert [(r["claim"], r["dataset"]) for r in rows_b] == [("b", SEQUENTIAL_STUDY)]
    assert rows_b[0]["compared"].endswith("vs recording (tcn) on cpu")


@pytest.fixture(scope="module")
def cli_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("sequential") / "seq"
    result = invoke(
        ["study", "sequential", "--tiny", "--models", "rnn-torch,lstm-torch", "--reference", "rnn-torch"]
        + ["--out", str(out)]
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert "rnnbench: sequential study: claim (b) on cpu" in result.stderr
    return out


def test_cli_tiny_writes_the_study_and_refuses_another_manifest(cli_study, tmp_path):
    assert (cli_study / "studies" / "sequential" / "verdict.csv").is_file()
    (tmp_path / "manifest.json").write_text(json.dumps({"rnnbench_run": 1}))
    rows = pd.read_csv(cli_study / "studies" / "sequential" / "sequential.csv")
    with pytest.raises(ValueError, match="another manifest"):
        S.write_sequential_study(tmp_path, SequentialConfig.tiny(), rows)


def test_attached_to_a_run_its_verdict_joins_claim_b(cli_study, tmp_path):
    run = tmp_path / "run"
    tsf = Path(__file__).resolve().parent.parent / "datasets" / "tiny_monthly.tsf"
    assert invoke(["run", "--datasets", str(tsf), "--models", "naive", "--out", str(run)]).exit_code == 0
    result = invoke(["report", str(run), "--study", str(cli_study)])
    assert result.exit_code == 0, result.stderr
    verdicts = pd.read_csv(run / "claims" / "verdicts.csv")
    mine = verdicts[verdicts["dataset"] == SEQUENTIAL_STUDY]
    stored = pd.read_csv(cli_study / "studies" / "sequential" / "verdict.csv")
    assert list(mine["claim"]) == ["b"] and list(mine["verdict"]) == list(stored["verdict"])
    assert list(mine["evidence"]) == list(stored["evidence"])
    report = (run / "report.md").read_text()
    assert "Sequential study: time per training update" in report
    assert "studies/sequential/sequential.png" in report
    assert f"sequential study (RNN vs a network parallel over time): {stored['verdict'].iloc[0]} (cpu)" in report
    assert "by dataset" not in report.split("**(b)")[1].split("\n")[0]  # the study is no dataset of the tally


@pytest.mark.parametrize(
    "args, message",
    [
        (["--bptt", "0,16"], "every BPTT length T must be a positive integer, got [0, 16]"),
        (["--bptt", "-4"], "every BPTT length T must be a positive integer, got [-4]"),
        (["--models", "rnn-torch,nosuch", "--reference", "none"], "unknown model 'nosuch'"),
        (["--models", ","], "expected a comma-separated list"),
        (["--repeats", "0"], "repeats must be at least 1, got 0"),
        (["--models", "rnn-torch,lstm-torch"], "reference 'tcn-torch' is not among the models"),
        (["--models", "arima,rnn-torch", "--reference", "none"], "model arima has no input_size"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "seq"
    result = invoke(["study", "sequential", "--tiny", *args, "--out", str(out)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnbench: error: ") and message in lines[0]
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_default_model_that_is_not_registered_fails_naming_it():
    from harness.plugins import load_registry

    registry = load_registry()  # a fresh one: this test removes a model from it
    assert "tcn-torch" in S.DEFAULT_MODELS
    del registry.models["tcn-torch"]  # as in an install whose TCN plugin failed to load
    with pytest.raises(harness.ModelError, match="unknown model 'tcn-torch'"):
        S.check_models(SequentialConfig(devices=("cpu",)), registry)


# --------------------------------------------------------------------------- analysis on constructed timings


def _rows(curves: dict[str, tuple[float, float, str]], lengths=(16, 32, 64, 128, 256), noise=(1.0,)) -> pd.DataFrame:
    """s_per_update = a * T**b * factor for each repeat's factor; cpu twice the wall."""
    out = []
    for model, (a, b, family) in curves.items():
        for t in lengths:
            for repeat, factor in enumerate(noise):
                wall = a * t**b * factor
                out.append(
                    {"model": model, "device": "cpu", "family": family, "T": t, "repeat": repeat}
                    | {"s_per_update": wall, "cpu_s_per_update": 2 * wall}
                )
    return pd.DataFrame(out)


def test_exponents_recover_a_known_slope():
    rows = _rows({"lstm-torch": (1e-5, 1.0, "lstm"), "tcn": (3e-4, 0.25, "tcn")}, noise=(1.0, 1.0, 1.0))
    ex = S.fit_exponents(rows).set_index(["model", "metric", "t_min"])
    assert list(S.fit_exponents(rows).columns) == S.EXPONENT_COLUMNS
    for metric in S.METRICS:
        for t_min in (16, 64):  # the whole grid, and its upper half (64, 128, 256)
            assert ex.loc[("lstm-torch", metric, t_min), "exponent"] == pytest.approx(1.0, abs=1e-9)
            assert ex.loc[("tcn", metric, t_min), "exponent"] == pytest.approx(0.25, abs=1e-9)
            assert ex.loc[("tcn", metric, t_min), "exponent_se"] == pytest.approx(0.0, abs=1e-6)
    assert ex.loc[("lstm-torch", "s_per_update", 16), "n_points"] == 15
    assert ex.loc[("lstm-torch", "s_per_update", 64), "n_points"] == 9
    assert set(ex.reset_index()["t_max"]) == {256}


def test_upper_half_of_the_grid():
    assert S.upper_half([16, 32, 64, 128, 256, 512, 1024]) == [128, 256, 512, 1024]
    assert S.upper_half([4, 8, 16]) == [8, 16]
    assert S.upper_half([4, 8]) == [4, 8]
    assert S.upper_half([8]) == [8]


def test_a_fixed_overhead_flattens_the_whole_grid_slope_but_not_the_upper_half():
    lengths = (16, 32, 64, 128, 256, 512, 1024)
    rows = _rows({"lstm-torch": (1e-5, 1.0, "lstm")}, lengths=lengths)
    rows["s_per_update"] += 2e-3  # a per-update overhead, independent of T
    ex = S.fit_exponents(rows)
    ex = ex[ex["metric"] == "s_per_update"].set_index("t_min")["exponent"]
    assert ex.loc[16] < 0.6 < ex.loc[128] < 1.0


def test_ratio_ci_on_constructed_timings():
    noise = (1.0, 1.05, 0.95, 1.02, 0.98)
    rows = _rows({"lstm-torch": (3e-3, 1.0, "lstm"), "tcn": (1e-3, 1.0, "tcn")}, noise=noise)
    rt = S.ratios(rows, "tcn")
    wall = rt[rt["metric"] == "s_per_update"]
    assert list(rt.columns) == S.RATIO_COLUMNS and len(wall) == 5
    assert np.allclose(wall["ratio"], 3.0)
    assert (wall["ratio_lo"] < 3.0).all() and (wall["ratio_hi"] > 3.0).all()
    assert (wall["ratio_lo"] > 2.5).all() and (wall["ratio_hi"] < 3.5).all() and wall["decisive"].all()
    assert (wall["n"] == 5).all() and (wall["n_ref"] == 5).all()


def test_ratio_ci_of_repeats_is_a_ratio_of_medians_with_a_bootstrap_interval():
    ratio, lo, hi = ratio_ci(np.array([10.0, 11.0, 9.0, 100.0, 10.0]), np.array([5.0, 5.0, 5.0]))
    assert ratio == pytest.approx(2.0)  # one slow repeat does not move it
    assert lo <= ratio <= hi and lo >= 9.0 / 5 and hi <= 100.0 / 5
    assert ratio_ci(np.array([1.0, 1.0]), np.array([2.0, 2.0])) == (0.5, 0.5, 0.5)
    assert all(math.isnan(v) for v in ratio_ci(np.array([]), np.array([1.0])))
    assert ratio_ci(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.1, 0.9]), seed=3) == ratio_ci(
        np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.1, 0.9]), seed=3
    )


@pytest.mark.parametrize(
    "lstm, gru, verdict",
    [
        ((3e-3, 1.0), (5e-3, 1.0), "supported"),
        ((3e-3, 1.0), (6.25e-5, 1.0), "inconclusive"),
        ((2e-5, 1.0), (1e-5, 1.0), "refuted"),
    ],
)
def test_verdict_by_the_ratio_ci_at_the_largest_t(lstm, gru, verdict):
    noise = (1.0, 1.05, 0.95, 1.02, 0.98)
    curves = {"lstm-torch": (*lstm, "lstm"), "gru-torch": (*gru, "gru"), "tcn": (1e-3, 0.5, "tcn")}
    rows = _rows(curves, noise=noise)
    v = S.sequential_verdicts(rows, "tcn")
    assert list(v.columns) == S.VERDICT_COLUMNS and len(v) == 1
    # decided at T=256, where the reference takes 1e-3 * 256**0.5 = 0.016 s per update, so a model
    # with a * T takes a * 16000 times as long: 48 and 80 (supported), 48 and 1 (inconclusive),
    # 0.32 and 0.16 (refuted); every CI is about +-10% wide
    row = v.iloc[0]
    assert row["verdict"] == verdict, row["evidence"]
    assert row["compared"] == "lstm-torch (lstm), gru-torch (gru) vs tcn (tcn) on cpu"
    assert re.match(
        r"sequential cost: RNN time per update grows as lstm-torch T\^1\.00±0\.0\d, gru-torch T\^1\.00±0\.0\d "
        r"vs tcn T\^0\.50±0\.0\d on cpu \(T 64-256\); at T=256 an update costs, relative to a tcn update",
        row["evidence"],
    ), row["evidence"]


def test_too_few_repeats_give_no_interval_and_no_decision():
    rows = _rows({"lstm-torch": (3e-3, 1.0, "lstm"), "tcn": (1e-4, 1.0, "tcn")}, noise=(1.0, 1.1))
    rt = S.ratios(rows, "tcn")
    assert rt["ratio_lo"].isna().all() and not rt["decisive"].any()
    assert S.sequential_verdicts(rows, "tcn")["verdict"].iloc[0] == "inconclusive"


def test_without_a_reference_the_verdict_is_inconclusive_and_says_why():
    rows = _rows({"lstm-torch": (3e-3, 1.0, "lstm")})
    assert S.ratios(rows, None).empty
    v = S.sequential_verdicts(rows, None).iloc[0]
    assert v["verdict"] == "inconclusive" and v["evidence"].endswith("no reference model timed")
    assert "lstm-torch T^1.00" in v["evidence"]


def test_the_series_give_exactly_the_planned_windows():
    config = SequentialConfig.tiny()
    for t in config.lengths:
        ds = workload(config.n_series, config.series_length(t), seed=0, horizon=config.horizon, name="x")
        context = len(ds.panel.values[0]) - config.horizon  # the holdout keeps the last horizon values
        # training windows, the horizon - 1 whose targets overlap the validation window's, and it
        assert context - (t + config.horizon) + 1 == config.windows + (config.horizon - 1) + 1


# --------------------------------------------------------------------------- what a timed fit includes


class _Clock:
    """Stands for the ``time`` module inside harness.timing: records each clock read."""

    def __init__(self, events: list[str]):
        self.events = events

    def perf_counter(self) -> float:
        self.events.append("wall")
        return _time.perf_counter()

    def process_time(self) -> float:
        self.events.append("cpu")
        return _time.process_time()


EVENTS: list[str] = []


class _FakeDevice(harness.Forecaster):
    """A global model on a pretend accelerator: records its warm-up, each synchronisation, the
    host-to-device copy of its inputs (inside fit and predict, as the torch plugin's
    ``train_network`` and predictor do) and its training."""

    name: ClassVar[str] = "fake-device"

    def warm_up(self, panel):
        EVENTS.append("warm_up")

    def synchronize(self):
        EVENTS.append("sync")

    def fit(self, panel):
        EVENTS.append("transfer")
        EVENTS.append("train")

    def predict(self, panel):
        EVENTS.append("transfer")
        return {uid: np.full(self.horizon, float(y[-1])) for uid, y in zip(panel.ids, panel.values)}


def _timed_events(spec: ModelSpec, params: dict, monkeypatch) -> list[str]:
    EVENTS.clear()
    monkeypatch.setattr(timing, "time", _Clock(EVENTS))
    task = Task(workload(3, 40, seed=0, horizon=4, name="w"), ProtocolSpec(kind="holdout"), levels=())
    s = run_experiment(Experiment(task, spec, params, 0), make_executor("serial", 1), RunOptions(executor="serial"))
    assert s.summary["status"] == "ok"
    return list(EVENTS)


def test_gpu_timing_warms_up_first_synchronises_before_each_clock_read_and_times_the_transfer(monkeypatch):
    """The order of calls in a timed global experiment (harness.runner._global_unit with
    harness.timing.Timer): warm-up before any clock read, a synchronisation right before each
    one, and the host-to-device copy of the inputs between the fit's start and stop reads."""
    spec = ModelSpec("fake-device", _FakeDevice, {}, "test")
    events = _timed_events(spec, {}, monkeypatch)
    assert events == [
        "warm_up",
        *("sync", "wall", "cpu", "transfer", "train", "sync", "wall", "cpu"),  # the timed fit
        *("sync", "wall", "cpu", "transfer", "sync", "wall", "cpu"),  # the timed predict
    ]


def test_the_torch_plugin_copies_its_training_data_inside_the_timed_fit(registry, monkeypatch):
    """The same order with the real torch RNN on CPU: its warm_up and synchronize hooks are
    called where a GPU needs them, and its tensors move to the device inside the timed fit."""
    base = registry.model("lstm-torch")

    class Recording(base.cls):
        def warm_up(self, panel):
            EVENTS.append("warm_up")
            super().warm_up(panel)

        def synchronize(self):
            EVENTS.append("sync")
            super().synchronize()

    real_to = torch.Tensor.to

    def to(self, *args, **kwargs):
        EVENTS.append("transfer")
        return real_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", to)
    spec = ModelSpec("rec-lstm", Recording, dict(base.params), "test")
    params = spec.resolve_params({"device": "cpu", "epochs": 1, "hidden": 4, "input_size": 8})
    events = _timed_events(spec, params, monkeypatch)
    assert events[0] == "warm_up" and events.index("warm_up") < events.index("wall")
    for i, e in enumerate(events):
        if e == "wall":
            assert events[i - 1] == "sync"
    fit_start = events.index("wall")
    fit_stop = fit_start + 2 + events[fit_start + 2 :].index("wall")
    assert "transfer" in events[fit_start:fit_stop]  # the training windows go to the device inside fit
    assert "transfer" not in events[: fit_start - 1]  # nothing was moved before the clock started
