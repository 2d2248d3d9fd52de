"""The rnn-numpy forecaster: registration, strategies, global/local training, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import harness
from harness.plugins import load_registry
from plugins.numpy_rnn import RNNNumpy
from tests.conftest import invoke, sine_panel, split, stacked

FAST = {"epochs": 40, "hidden": 16, "patience": 40}


def test_registered_as_a_global_model():
    spec = load_registry().model("rnn-numpy")
    assert spec.scope == "global" and spec.params["strategy"] == "mimo"


@pytest.mark.parametrize("strategy", ["mimo", "recursive"])
def test_forecasts_a_noiseless_seasonal_panel(strategy):
    train, truth = split(sine_panel())
    model = RNNNumpy(horizon=12, season_length=12, seed=0, strategy=strategy, deseasonalize="none", **FAST)
    model.fit(train)
    forecast = stacked(model.predict(train), train)
    assert forecast.shape == (6, 12) and np.all(np.isfinite(forecast))
    smape = np.mean(200 * np.abs(truth - forecast) / (np.abs(truth) + np.abs(forecast)))
    assert smape < 3.0  # naive scores about 20 on this panel


def test_local_training_fits_one_network_per_series():
    train, truth = split(sine_panel(n_series=3))
    model = RNNNumpy(horizon=12, season_length=12, seed=0, training="local", **FAST)
    model.fit(train)
    assert len(model.nets_) == 3
    assert stacked(model.predict(train), train).shape == (3, 12)


def test_same_seed_same_forecasts_other_seed_differs():
    train, _ = split(sine_panel())
    runs = []
    for seed in (0, 0, 1):
        model = RNNNumpy(horizon=12, season_length=12, seed=seed, epochs=3)
        model.fit(train)
        runs.append(stacked(model.predict(train), train))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])


@pytest.mark.parametrize(
    "params, message",
    [
        ({"strategy": "seq2seq"}, "strategy must be one of"),
        ({"training": "both"}, "training must be one of"),
        ({"activation": "gelu"}, "activation must be one of"),
        ({"deseasonalize": "x13"}, "deseasonalize must be one of"),
        ({"optimizer": "rmsprop"}, "optimizer must be one of adam, sgd, got 'rmsprop'"),
        ({"hidden": 0}, "hidden must be an integer >= 1, got 0"),
        ({"bptt_steps": -1}, "bptt_steps must be an integer >= 1 or null, got -1"),
        ({"clip_norm": "big"}, "clip_norm must be a number > 0 or null, got 'big'"),
    ],
)
def test_bad_parameters_are_model_errors(params, message):
    with pytest.raises(harness.ModelError, match=message):
        RNNNumpy(horizon=6, season_length=1, **params)


def test_optional_training_limits_accept_null():
    """null turns clipping, truncation and early stopping off; numpy integers count as integers."""
    model = RNNNumpy(horizon=6, season_length=1, clip_norm=None, bptt_steps=None, patience=None, hidden=np.int64(4))
    assert model.patience is None and model.hidden == 4


def test_runs_from_the_cli_with_seeds(tmp_path):
    out = tmp_path / "run"
    result = invoke(
        [
            "run",
            "--models",
            "rnn-numpy",
            "--datasets",
            "synthetic-seasonal",
            "--limit",
            "8",
            "--seeds",
            "0,1",
            "-p",
            "rnn-numpy.epochs=3",
            "--workers",
            "1",
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    metrics = pd.read_parquet(out / "metrics.parquet").query("model == 'rnn-numpy'")
    assert sorted(metrics["seed"].unique()) == [0, 1] and (metrics["status"] == "ok").all()
    accuracy = pd.read_csv(out / "accuracy.csv").set_index("model")
    assert accuracy.loc["rnn-numpy", "n_seeds"] == 2 and np.isfinite(accuracy.loc["rnn-numpy", "smape_sd"])


def test_blas_threads_change_the_speed_not_the_fit():
    """``threads`` (1 by default) limits NumPy's BLAS during fit and predict and restores it;
    the fit is the one of an unlimited BLAS, and the default stays out of config ids."""
    from threadpoolctl import threadpool_info

    from harness.params import keyed_params

    train, _ = split(sine_panel(n_series=3))
    before = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    one, free = (RNNNumpy(horizon=12, season_length=12, hidden=8, epochs=2, threads=t) for t in (1, None))
    one.fit(train)
    free.fit(train)
    np.testing.assert_array_equal(one.nets_[0].get_flat(), free.nets_[0].get_flat())
    assert [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"] == before
    assert "threads" not in keyed_params(RNNNumpy.parameters, dict(RNNNumpy.defaults))
