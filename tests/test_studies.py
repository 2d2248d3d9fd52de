"""The memory and cost studies end to end through the CLI (tiny sizes), their tables, and how
they attach to a run's report."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import harness
from harness.studies import memory as M
from tests.conftest import invoke

TINY_MEMORY = [
    "study",
    "memory",
    "--tiny",
    "--models",
    "rnn-numpy,lstm-torch",
    "-p",
    "rnn-numpy.max_updates=40",
    "--workers",
    "1",
]


@pytest.fixture(scope="module")
def memory_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("studies") / "memory"
    result = invoke([*TINY_MEMORY, "--out", str(out)])
    assert result.exit_code == 0, result.output + result.stderr
    return out


@pytest.fixture(scope="module")
def cost_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("studies") / "cost"
    result = invoke(["study", "cost", "--tiny", "--models", "arima,rnn-numpy", "--out", str(out)])
    assert result.exit_code == 0, result.output + result.stderr
    assert f"report: {out / 'report.md'}" in result.output
    return out


def test_memory_study_writes_its_tables_and_the_floor_is_measured(memory_study):
    folder = memory_study / "studies" / "memory"
    for name in (
        "memory.csv",
        "memory_seeds.csv",
        "reach.csv",
        "memory_curves.csv",
        "sequence.csv",
        "sequence_curves.csv",
        "sequence_summary.csv",
        "gradients_training.csv",
        "decay_training.csv",
        "architectures.csv",
        "verdict.csv",
        "study.json",
        "figures/memory_error.png",
        "figures/sequence_loss.png",
        "figures/sequence_curves.png",
        "figures/gradient_training.png",
    ):
        assert (folder / name).exists(), name
    mem = pd.read_csv(folder / "memory.csv")
    assert list(mem.columns) == M.MEMORY_COLUMNS
    # the floor model was added to --models, and the floor is its measured error on the same windows
    floor_row = mem[mem["model"] == "mean"].iloc[0]
    assert floor_row["error"] == pytest.approx(floor_row["floor"]) and floor_row["skill"] == pytest.approx(0.0)
    assert set(mem["model"]) >= {"rnn-numpy", "lstm-torch", "mean"}
    copy6 = harness.plugins.load_registry().dataset("memory-copy-L6").load()
    assert mem["optimum_theory"].iloc[0] == pytest.approx(copy6.meta["optimal_rmse"])
    # the optimum is the oracle forecasts' RMSE on the scored values themselves
    f = pd.read_parquet(memory_study / "forecasts.parquet").query("model == 'mean'")
    oracle = np.array([copy6.meta["oracle"][u][s - 1] for u, s in zip(f["unique_id"], f["step"])])
    assert mem["optimum"].iloc[0] == pytest.approx(math.sqrt(((f["y"] - oracle) ** 2).mean()), rel=1e-5)
    # the training state of the fits: 40 updates in checks of 10, so the budget ended the fit
    t = mem.set_index("model")
    assert t.loc["rnn-numpy", "updates"] == 40 and 10 <= t.loc["rnn-numpy", "best_update"] <= 40
    assert t.loc["rnn-numpy", "still_learning"] in (0.0, 1.0) and np.isnan(t.loc["mean", "still_learning"])
    assert t.loc["rnn-numpy", "skill_lo"] <= t.loc["rnn-numpy", "skill"] <= t.loc["rnn-numpy", "skill_hi"]
    curves = pd.read_csv(folder / "memory_curves.csv")
    rnn = curves[(curves["model"] == "rnn-numpy") & (curves["seed"] == 0)]
    assert rnn["update"].tolist() == [10, 20, 30, 40] and rnn["val_loss"].notna().all()  # a check every 10
    assert set(curves["model"]) == {"rnn-numpy", "lstm-torch"}  # the networks; mean trains nothing
    reach = pd.read_csv(folder / "reach.csv")
    assert set(reach["model"]) >= {"rnn-numpy", "lstm-torch", "mean"}
    # the measured floor is near its expected value sigma / sqrt(1 - phi^2) = 3.2 (256 series x 6 steps)
    assert floor_row["floor"] == pytest.approx(floor_row["floor_theory"], rel=0.25)


def test_memory_study_error_is_the_pooled_rmse_of_the_stored_forecasts(memory_study):
    forecasts = pd.read_parquet(memory_study / "forecasts.parquet")
    mem = pd.read_csv(memory_study / "studies" / "memory" / "memory.csv").set_index("model")
    f = forecasts[forecasts["model"] == "rnn-numpy"]
    # CSVs keep 6 significant digits
    assert mem.loc["rnn-numpy", "error"] == pytest.approx(math.sqrt(((f["y"] - f["yhat"]) ** 2).mean()), rel=1e-5)


def test_sequence_part_of_the_tiny_study(memory_study):
    """--tiny: every architecture on both problems at T = 8, 16 with 2 seeds, 60 updates; the
    gradient norms of the first seed at T = 16 start at the identity at every stage."""
    from harness.studies.sequence_memory import ARCHITECTURES, CELL_COLUMNS, TINY

    folder = memory_study / "studies" / "memory"
    cells = pd.read_csv(folder / "sequence.csv")
    assert list(cells.columns) == CELL_COLUMNS
    assert len(cells) == len(TINY.tasks) * len(TINY.lengths) * len(ARCHITECTURES) * len(TINY.seeds)
    assert (cells["updates"] == TINY.updates).all() and (cells["device"] == "cpu").all()
    assert cells["trivial_loss"].round(4).isin([round(2 / 12, 4), round(math.log(8), 4)]).all()
    summary = pd.read_csv(folder / "sequence_summary.csv")
    assert set(summary["model"]) == set(ARCHITECTURES) and set(summary["task"]) == {"adding", "copy"}
    grads = pd.read_csv(folder / "gradients_training.csv")
    assert set(grads["stage"]) == {"init", "mid", "end"} and set(grads["model"]) == set(ARCHITECTURES)
    assert set(grads["T"]) == {16} and set(grads["seed"]) == {0}
    assert np.allclose(grads.loc[grads["k"] == 0, "norm"], 1.0)
    arch = pd.read_csv(folder / "architectures.csv").set_index("architecture")
    assert arch.loc["elman-numpy", "model"] == "rnn-numpy" and arch.loc["lstm", "role"] == "gated (the remedy)"
    verdict = pd.read_csv(folder / "verdict.csv")
    assert verdict["scope"].tolist() == ["sequence benchmark", "forecasting study", "overall"]
    assert (
        verdict["sentence"]
        .iloc[-1]
        .startswith(
            "With 60 updates of batch 64 (Adam, clip 1, no early stopping) on the sequence problems and 40 updates"
        )
    )


def test_sequence_cells_are_reused_when_the_study_runs_again(memory_study, tmp_path):
    """A cell on disk is not trained again: a study of the sequence part into a copy of the cells
    gives the same table without training (its files keep their timestamps)."""
    import shutil

    root = tmp_path / "again"
    cells = root / "studies" / "memory" / "cells"
    shutil.copytree(memory_study / "studies" / "memory" / "cells", cells)
    stamps = {p.name: p.stat().st_mtime_ns for p in cells.iterdir()}
    result = invoke(["study", "memory", "--part", "sequence", "--tiny", "--workers", "1", "--resume", str(root)])
    assert result.exit_code == 0, result.stderr
    assert {p.name: p.stat().st_mtime_ns for p in cells.iterdir()} == stamps
    before = pd.read_csv(memory_study / "studies" / "memory" / "sequence.csv")
    pd.testing.assert_frame_equal(pd.read_csv(root / "studies" / "memory" / "sequence.csv"), before)
    assert (root / "manifest.json").exists() and f"study: {root / 'studies' / 'memory'}" in result.output


def test_memory_study_report_carries_claim_c_from_the_study(memory_study):
    verdicts = pd.read_csv(memory_study / "claims" / "verdicts.csv")
    c = verdicts[(verdicts["claim"] == "c") & (verdicts["dataset"] == "overall")].iloc[0]
    assert c["rule"].startswith("per architecture under a stated budget")
    assert c["verdict"] in {"supported", "refuted", "inconclusive"}
    assert c["evidence"].startswith("With 60 updates of batch 64")
    study_rows = verdicts[(verdicts["claim"] == "c") & (verdicts["dataset"] == "memory-study")]
    assert study_rows["scope"].tolist() == ["sequence benchmark", "forecasting study"]
    report = (memory_study / "report.md").read_text()
    for shown in ("Forecasting memory study: skill", "Sequence-memory benchmark", "sequence_loss", "gradient_training"):
        assert shown in report, shown


def test_cost_study_tables(cost_study):
    folder = cost_study / "studies" / "cost"
    cost = pd.read_csv(folder / "cost.csv")
    assert set(cost["axis"]) == {"length", "n_series", "hidden"}
    assert (cost["total_s"] > 0).all() and set(cost["device"]) >= {"cpu"}
    # local and global rows in a tiny study: rnn-numpy in both regimes, each with its ratio to arima
    assert set(cost.loc[cost["model"] == "rnn-numpy", "regime"]) == {"local", "global"}
    ratios = pd.read_csv(folder / "ratios.csv")
    assert set(ratios["regime"]) == {"local", "global"} and ratios["ratio_lo"].notna().all()
    verdicts = pd.read_csv(folder / "verdict.csv")
    assert [s.split(",")[0] for s in verdicts["scope"]] == ["global", "local", "all regimes and devices"]
    verdict = pd.read_csv(folder / "verdict.csv").iloc[0]
    assert verdict["claim"] == "b" and verdict["verdict"] in {"supported", "refuted", "inconclusive"}


def test_report_attaches_studies_and_keeps_them(memory_study, cost_study, tmp_path, long_csv):
    run = tmp_path / "run"
    assert (
        invoke(
            [
                "run",
                "--datasets",
                str(long_csv),
                "--models",
                "naive,arima,rnn-numpy",
                "-p",
                "rnn-numpy.epochs=2",
                "--horizon",
                "6",
                "--out",
                str(run),
                "--workers",
                "1",
            ]
        ).exit_code
        == 0
    )
    result = invoke(["report", str(run), "--study", str(memory_study), "--study", str(cost_study)])
    assert result.exit_code == 0, result.stderr
    assert (run / "studies" / "memory" / "memory.csv").exists() and (run / "studies" / "cost" / "verdict.csv").exists()
    verdicts = pd.read_csv(run / "claims" / "verdicts.csv")
    assert "cost-study" in set(verdicts.loc[verdicts["claim"] == "b", "dataset"])
    c = verdicts[(verdicts["claim"] == "c") & (verdicts["dataset"] == "overall")].iloc[0]
    assert c["rule"].startswith("per architecture under a stated budget")
    first = (run / "report.md").read_text()
    assert "Cost study" in first and "Forecasting memory study: skill" in first
    # a rebuild without --study keeps what was attached: the report is reproducible from the run dir
    assert invoke(["report", str(run)]).exit_code == 0
    assert (run / "report.md").read_text() == first


@pytest.mark.parametrize(
    "args, message",
    [
        (["study", "memory", "--lags", "7"], "lag 7 has no registered dataset"),
        (["study", "memory", "--tasks", "copy,juggling"], "unknown memory task 'juggling'"),
        (["study", "memory", "--lengths", "0"], "sequence length T must be an integer >= 2, got 0"),
        (["study", "memory", "--lengths", "-5,25"], "sequence length T must be an integer >= 2, got -5"),
        (["study", "memory", "--sequence-tasks", "adding,mult"], "unknown sequence task 'mult'"),
        (["study", "memory", "--architectures", "lstm,transformer"], "unknown architecture 'transformer'"),
        (["study", "memory", "--updates", "0"], "--updates must be a positive integer, got 0"),
        (["study", "memory", "--part", "sequence", "--updates", "0"], "--updates must be a positive integer"),
        (["study", "memory", "--models", "nosuchmodel"], "unknown model"),
        (["study", "cost", "--lengths", "0,100"], "cost study: CostStudyConfig.lengths must be positive"),
        (["study", "cost", "--models", "nosuchmodel"], "unknown model"),
        (["study", "cost", "--repeats", "0"], "cost study:"),
        (["study", "cost", "--regimes", "local,batch"], "cost study: regimes must be distinct values of local, global"),
        (["study", "cost", "--regimes", ","], "Invalid value: expected a comma-separated list"),
        (["study", "cost", "--dataset", "m3-montly"], "unknown dataset 'm3-montly'"),
        (["study", "cost", "--dataset", "m3-monthly", "--limit", "0"], "cost study: limit must be a positive integer"),
        (["study", "cost", "--limit", "5"], "cost study: limit must be a positive integer and needs a dataset"),
    ],
)
def test_study_bad_input_is_one_line_and_exit_2(args, message, tmp_path):
    out = tmp_path / "never"
    result = invoke([*args, "--out", str(out)])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_report_study_bad_input(tmp_path, memory_study):
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, message in [
        (["report", str(memory_study), "--study", str(tmp_path / "missing")], "does not exist"),
        (["report", str(memory_study), "--study", str(empty)], "holds no study"),
        (["report", str(empty), "--study", str(memory_study)], "is not a run directory"),
    ]:
        result = invoke(args)
        assert result.exit_code == 2 and message in result.stderr, (args, result.stderr)
    assert not (empty / "studies").exists()


def test_memory_tables_on_known_forecasts():
    # two series of a copy task, one window, 2 steps; model "good" is off by 1, "mean" (floor) by 3
    series = pd.DataFrame(
        {
            "dataset": "d",
            "unique_id": ["a", "b"] * 2,
            "window": 0,
            "status": "ok",
            "model": ["good", "good", "mean", "mean"],
            "seed": 0,
        }
    )
    rows = []
    for model, err in (("good", 1.0), ("mean", 3.0)):
        for uid in ("a", "b"):
            for step in (1, 2):
                rows.append(
                    {
                        "dataset": "d",
                        "unique_id": uid,
                        "window": 0,
                        "model": model,
                        "seed": 0,
                        "step": step,
                        "y": 0.0,
                        "yhat": err,
                    }
                )
    metas = {"d": {"task": "copy", "generator": "lagged_copy", "lag": 6, "optimal_rmse": 1.0, "floor_rmse": 3.2}}
    per_seed, table = M.memory_tables(series, pd.DataFrame(rows), metas)
    t = table.set_index("model")
    assert t.loc["good", "error"] == pytest.approx(1.0) and t.loc["good", "floor"] == pytest.approx(3.0)
    assert t.loc["good", "skill"] == pytest.approx(1.0) and t.loc["mean", "skill"] == pytest.approx(0.0)
    assert t.loc["good", "task"] == "copy" and t.loc["good", "floor_theory"] == pytest.approx(3.2)
    assert len(per_seed) == 2


def test_memory_study_takes_its_datasets_from_the_registry(tmp_path):
    """Any plugin's dataset registered with info study/task/lag takes part; nothing is imported."""
    from harness.plugins import load_registry
    from tests.conftest import plugin_folder

    folder = plugin_folder(
        tmp_path / "p",
        "import numpy as np\nimport harness\n"
        "def load():\n"
        "    panel = harness.Panel(('a',), (np.arange(30.0),), 'other', 3, 2)\n"
        "    return harness.Dataset('echo-L3', panel, meta={'lag': 3, 'optimal_rmse': 1.0, 'floor_rmse': 2.0})\n"
        "@harness.hookimpl\ndef register_datasets(register):\n"
        "    register('echo-L3', load, info={'study': 'memory', 'task': 'echo', 'lag': 3})\n",
    )
    registry = load_registry(folder)
    assert M.memory_datasets(registry)[("echo", 3)] == "echo-L3"
    assert M.memory_tasks(registry)[-1] == "echo" and 3 in M.memory_lags(registry)
    assert M.dataset_names(registry, ["echo"], [3]) == ["echo-L3"]
    assert M.dataset_names(registry, ["copy"], [6, 12]) == ["memory-copy-L6", "memory-copy-L12"]
    assert M.dataset_names(registry, None, None) is None
    with pytest.raises(M.StudyError, match="memory task 'echo' has no registered dataset at lag 6"):
        M.dataset_names(registry, ["echo"], [6])
    # the task comes from the registration where the dataset's meta has none
    assert M._metas(["echo-L3", "memory-copy-L6", "not-registered"], registry)["echo-L3"]["task"] == "echo"


def test_input_seasons_sets_the_window_in_seasons():
    from plugins.numpy_rnn import RNNNumpy

    assert RNNNumpy(horizon=6, season_length=24, input_seasons=2.25).window == 54
    assert RNNNumpy(horizon=6, season_length=24, input_seasons=2.25, input_size=10).window == 10
    assert RNNNumpy(horizon=6, season_length=24).window == 30
    with pytest.raises(harness.ModelError, match="input_seasons must be a number > 0 or null, got 0"):
        RNNNumpy(horizon=6, season_length=24, input_seasons=0)


@pytest.mark.slow
def test_full_memory_study(tmp_path):
    """The default memory study (at most about 31 minutes on 2 cores, less with early stopping):
    every network at the CPU lags with its training state, and no model beats the optimum (the
    oracle on the same windows) by more than sampling noise."""
    out = tmp_path / "memory"
    result = invoke(["study", "memory", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    mem = pd.read_csv(out / "studies" / "memory" / "memory.csv")
    for model in ("rnn-numpy", "lstm-torch", "gru-torch"):
        rows = mem[mem["model"] == model]
        assert sorted(set(rows["lag"])) == M.default_lags(gpu=False) and (rows["n_seeds"] == 3).all()
        assert rows["updates"].between(1, 5000).all() and rows["still_learning"].between(0, 1).all()
    assert (mem["error"] > 0.8 * mem["optimum"]).all()
    assert (mem.loc[mem["model"] == "mean", "skill"].abs() < 1e-9).all()


@pytest.mark.slow
def test_seasonal_arima_given_the_period_reaches_the_optimum_of_the_copy_task(tmp_path):
    """The known-truth check of the tasks themselves: seasonal ARIMA given the period is within
    15% of the optimum on the lagged-copy task (not in the default study: see memory.toml)."""
    out = tmp_path / "memory"
    args = ["study", "memory", "--out", str(out), "--tasks", "copy", "--lags", "12,24", "--seeds", "0"]
    result = invoke([*args, "--models", "arima", "-p", "arima.method=css", "--gradient-epochs", "1"])
    assert result.exit_code == 0, result.stderr
    mem = pd.read_csv(out / "studies" / "memory" / "memory.csv")
    arima_copy = mem[(mem["model"] == "arima") & (mem["task"] == "copy")]
    assert sorted(arima_copy["lag"]) == [12, 24]
    assert (arima_copy["error"] < 1.15 * arima_copy["optimum"]).all()


@pytest.mark.slow
def test_full_cost_study(tmp_path):
    """The default cost study (a few minutes): arima is a local model, so its cost grows about
    linearly with the number of series."""
    out = tmp_path / "cost"
    assert invoke(["study", "cost", "--out", str(out)]).exit_code == 0
    exps = pd.read_csv(out / "studies" / "cost" / "exponents.csv")
    arima = exps[(exps["axis"] == "n_series") & (exps["model"] == "arima")].iloc[0]
    assert 0.8 < arima["exponent"] < 1.2
