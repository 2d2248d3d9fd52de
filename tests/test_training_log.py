"""The training log of neural fits (harness.TrainingLog) and what the runner stores from it:
constructed logs with known answers (best epoch, still learning, time to accuracy, pooling),
the logs that rnn-numpy, the torch RNNs and tcn-torch keep (matching their loops' histories),
and the experiments.csv columns of a tiny run (NaN for models that do not train by epochs)."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pandas as pd
import pytest

import harness
from harness.analysis import training_table
from harness.training import (
    TRAINING_COLUMNS,
    TTA_TOLERANCE,
    TUNING_COLUMNS,
    TrainingLog,
    combine_fits,
    summarise,
    training_columns,
)
from plugins.numpy_rnn import RNNNumpy
from tests.conftest import invoke, sine_panel, split

has_torch = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not has_torch, reason="needs torch")


def constructed(val: list[float], max_epochs: int = 10, train: list[float] | None = None) -> TrainingLog:
    """A log of ``len(val)`` epochs of 3 updates and 0.5 s wall / 0.25 s CPU each."""
    n = len(val)
    return TrainingLog(
        max_epochs,
        updates=[3 * (e + 1) for e in range(n)],
        train_loss=train if train is not None else [2.0 * v for v in val],
        val_loss=list(val),
        wall_s=[0.5 * (e + 1) for e in range(n)],
        cpu_s=[0.25 * (e + 1) for e in range(n)],
    )


# --- constructed logs ------------------------------------------------------------------------


def test_best_epoch_is_the_first_argmin_of_the_validation_loss():
    log = constructed([1.0, 0.5, 0.3, 0.2, 0.2, 0.25, math.nan])
    assert log.best_epoch == 3 and log.epochs == 7 and log.validated
    summary = log.summary()
    assert summary["best_epoch"] == 3 and summary["val_loss"] == 0.2 and summary["train_loss"] == 0.4
    assert summary["updates"] == 21 and summary["epochs"] == 7 and summary["max_epochs"] == 10


def test_time_to_accuracy_is_the_first_epoch_within_the_tolerance_of_the_best():
    assert TTA_TOLERANCE == 0.05
    # best 0.20, so the target is 0.21: epoch 2 (0.215) misses it, epoch 3 (0.209) is the first in
    log = constructed([1.0, 0.5, 0.215, 0.209, 0.20, 0.22])
    assert log.time_to_accuracy() == (2.0, 1.0)  # the end of epoch 3: 4 x 0.5 s wall, 4 x 0.25 s CPU
    assert log.time_to_accuracy(tolerance=0.1) == (1.5, 0.75)  # 0.215 <= 0.22
    assert log.time_to_accuracy(tolerance=0.0) == (2.5, 1.25)  # the best itself
    summary = log.summary()
    assert (summary["tta_wall_s"], summary["tta_cpu_s"]) == (2.0, 1.0)


@pytest.mark.parametrize(
    "best, max_epochs, still",
    [(53, 60, False), (54, 60, True), (59, 60, True), (3, 5, False), (4, 5, True), (0, 1, True), (88, 100, False)],
)
def test_still_learning_when_the_best_epoch_is_in_the_last_tenth_of_the_budget(best, max_epochs, still):
    val = [1.0 - 0.001 * e for e in range(best + 1)] + [2.0] * (max_epochs - best - 1)
    log = constructed(val, max_epochs=max_epochs)
    assert log.best_epoch == best and log.still_learning is still
    assert log.summary()["still_learning"] == float(still)


def test_without_validation_the_kept_last_epoch_and_the_training_loss_decide():
    log = TrainingLog(8)
    for e, loss in enumerate([4.0, 2.0, 1.0, 1.02, 1.5]):
        log.epoch(10 * (e + 1), loss)
    assert not log.validated and log.best_epoch == 4  # the loops keep the final weights
    assert log.time_to_accuracy() == (log.wall_s[2], log.cpu_s[2])  # 1.0 is the best training loss
    assert math.isnan(log.summary()["val_loss"]) and log.summary()["train_loss"] == 1.5


def test_an_empty_or_diverged_log_has_nothing_to_go_by():
    empty = TrainingLog(5)
    assert empty.best_epoch is None and empty.still_learning is None
    assert all(math.isnan(v) for v in empty.time_to_accuracy())
    diverged = constructed([math.nan, math.nan], train=[1.0, math.inf])  # no finite validation loss
    assert diverged.best_epoch == 1  # the loops keep the last weights
    assert diverged.time_to_accuracy() == (0.5, 0.25)  # by the training loss, the only finite one


def test_recording_starts_the_clocks_and_keeps_cumulative_times():
    log = TrainingLog.start(4)
    for e in range(3):
        sum(i * i for i in range(20_000))  # some CPU work per epoch
        log.epoch(5 * (e + 1), 1.0 / (e + 1), 2.0 / (e + 1))
    assert log.updates == [5, 10, 15] and log.val_loss == [2.0, 1.0, 2.0 / 3]
    assert 0 < log.wall_s[0] <= log.wall_s[1] <= log.wall_s[2]
    assert 0 <= log.cpu_s[0] <= log.cpu_s[1] <= log.cpu_s[2] and log.cpu_s[2] > 0


def test_several_networks_sum_their_cost_and_average_the_rest():
    a = constructed([1.0, 0.5, 0.4], max_epochs=3)  # best 2 of 3: still learning
    b = constructed([1.0, 0.2, 0.3, 0.3, 0.3], max_epochs=10)  # best 1
    pooled = summarise([a, b])
    assert pooled["updates"] == 9 + 15 and pooled["epochs"] == 4.0 and pooled["best_epoch"] == 1.5
    assert pooled["still_learning"] == 0.5 and pooled["max_epochs"] == 6.5
    assert pooled["tta_wall_s"] == a.summary()["tta_wall_s"] + b.summary()["tta_wall_s"] == 1.5 + 1.0
    assert summarise([]) is None and summarise([a]) == {**a.summary(), "curve": a.curve()}
    assert pooled["curve"] == ""  # several networks: no one curve
    # refits: each fit's summary pooled by the same rule, the first fit's curve; a fit without a
    # summary adds nothing
    combined = combine_fits([None, summarise([a]), summarise([b])])
    assert {k: v for k, v in combined.items() if k != "curve"} == {k: v for k, v in pooled.items() if k != "curve"}
    assert combined["curve"] == a.curve()
    assert combine_fits([None]) is None
    empty = training_columns(None)
    assert all(math.isnan(empty[k]) for k in TRAINING_COLUMNS) and empty["curve"] == ""
    assert list(training_columns(pooled)) == [*TRAINING_COLUMNS, "curve", "tuning", *TUNING_COLUMNS]


def test_the_loss_curve_round_trips():
    from harness.training import read_curve

    log = constructed([1.0, 0.123456789, float("nan")], max_epochs=3)
    rows = read_curve(log.curve())
    assert [r["update"] for r in rows] == log.updates
    assert rows[1]["val_loss"] == 0.123457 and math.isnan(rows[2]["val_loss"])
    assert read_curve("") == [] and read_curve(float("nan")) == []


# --- the logs the models keep ------------------------------------------------------------------


def assert_log_matches(log: TrainingLog, history: dict, n_windows: int, batch_size: int, epochs: int) -> None:
    """A model's log against its loop's own history: same epochs, losses and best epoch; updates
    one per mini-batch; cumulative times that never decrease."""
    assert log.max_epochs == epochs and log.epochs == history["epochs_run"]
    np.testing.assert_allclose(log.train_loss, history["train_loss"], rtol=1e-12)
    np.testing.assert_allclose(log.val_loss, history["val_loss"], rtol=1e-12)
    assert log.best_epoch == history["best_epoch"]
    per_epoch = -(-n_windows // batch_size)
    assert log.updates == [per_epoch * (e + 1) for e in range(log.epochs)]
    assert np.all(np.diff(log.wall_s) >= 0) and np.all(np.diff(log.cpu_s) >= 0) and log.wall_s[0] > 0


def windows_of(model: harness.WindowForecaster, train: harness.Panel) -> int:
    """Training windows (without the validation tail) the model's fit gets from ``train``."""
    zs = [t.z for t in harness.windows.fit_transforms(train.values, 12, 12, model.prep)]
    built = harness.windows.training_windows(
        zs, model.window, model.n_out, normalize=model.normalize, max_per_series=model.max_windows_per_series
    )
    return len(built.split_last()[0].X)


def test_rnn_numpy_logs_every_network_of_a_global_and_a_local_fit():
    train, _ = split(sine_panel(n_series=3))
    m = RNNNumpy(horizon=12, season_length=12, epochs=4, hidden=4, batch_size=16)
    m.fit(train)
    assert len(m.training_logs_) == 1
    log = m.training_logs_[0]
    assert log.epochs == 4 and log.best_epoch == int(np.argmin(log.val_loss))
    assert log.updates == [-(-windows_of(m, train) // 16) * (e + 1) for e in range(4)]
    assert m.training_summary() == {**log.summary(), "curve": log.curve()}
    local = RNNNumpy(horizon=12, season_length=12, epochs=3, hidden=4, batch_size=16, training="local")
    local.fit(train)
    assert len(local.training_logs_) == 3
    assert local.training_summary()["updates"] == sum(g.updates[-1] for g in local.training_logs_)
    local.fit(train)  # a refit starts the logs again
    assert len(local.training_logs_) == 3


def test_rnn_numpy_log_is_the_loops_history():
    from plugins.numpy_rnn import ElmanRNN

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((50, 6, 1)), rng.standard_normal((50, 2))
    log = TrainingLog.start(12)
    history = ElmanRNN(1, 4, 2, seed=0).fit(
        X[:40], Y[:40], X_val=X[40:], Y_val=Y[40:], epochs=12, batch_size=16, patience=3, on_epoch=log.epoch
    )
    assert_log_matches(log, history, 40, 16, 12)


@needs_torch
@pytest.mark.parametrize("name", ["lstm-torch", "tcn-torch"])
def test_torch_logs_are_their_loops_history(name):
    from harness.plugins import load_registry

    spec = load_registry().model(name)
    small = {"lstm-torch": {"hidden": 4}, "tcn-torch": {"channels": 4}}[name]
    params = spec.resolve_params({"device": "cpu", "epochs": 5, "batch_size": 32, "patience": 2, **small})
    m = spec.build(horizon=12, season_length=12, seed=0, params=params)
    train, _ = split(sine_panel(n_series=3))
    m.fit(train)
    assert len(m.training_logs_) == 1 == len(m.history_)
    assert_log_matches(m.training_logs_[0], m.history_[0], windows_of(m, train), 32, 5)
    assert m.training_summary()["tta_cpu_s"] <= m.training_logs_[0].cpu_s[-1]


# --- what the runner stores ----------------------------------------------------------------------


@needs_torch
def test_experiments_csv_has_the_training_columns_nan_for_models_that_do_not_train(tmp_path, long_csv):
    out = tmp_path / "run"
    # 42 in-sample values, horizon 18: a training window (6 inputs + 18 targets) must end before the
    # validation window's 18 targets, so the input window is short enough for both
    settings = ["-p", "rnn-numpy.epochs=3", "-p", "tcn-torch.epochs=3", "-p", "tcn-torch.channels=4"]
    settings += ["-p", "rnn-numpy.input_size=6", "-p", "tcn-torch.input_size=6"]
    args = ["run", "--models", "rnn-numpy,tcn-torch,arima", "--datasets", str(long_csv), *settings]
    result = invoke([*args, "--workers", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    experiments = pd.read_csv(out / "experiments.csv").set_index("model")
    assert set(TRAINING_COLUMNS) <= set(experiments.columns)
    for model in ("rnn-numpy", "tcn-torch"):
        row = experiments.loc[model]
        assert row["max_epochs"] == 3 and 1 <= row["epochs"] <= 3 and 0 <= row["best_epoch"] < row["epochs"]
        assert row["updates"] >= row["epochs"] and row["still_learning"] in (0.0, 1.0)
        assert 0 < row["tta_wall_s"] <= row["fit_s"] and 0 <= row["tta_cpu_s"] <= row["cpu_s"]
        assert row["val_loss"] > 0 and row["train_loss"] > 0
    for model in ("arima", "naive", "naive2"):
        assert experiments.loc[model, list(TRAINING_COLUMNS)].isna().all(), model
    table = training_table(experiments.reset_index())
    assert sorted(table["model"]) == ["rnn-numpy", "tcn-torch"]
    assert "Training of the neural models" in (out / "report.md").read_text(encoding="utf-8")


def test_a_run_stored_before_the_columns_has_no_training_table():
    old = pd.DataFrame({"dataset": ["d"], "model": ["rnn-numpy"], "fit_s": [1.0]})
    assert training_table(old).empty and list(training_table(old).columns)[:2] == ["dataset", "model"]
