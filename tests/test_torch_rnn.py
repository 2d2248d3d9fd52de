"""rnn-torch, lstm-torch, gru-torch: registration, shapes, determinism, learning, equivalence with
rnn-numpy, devices. CPU tests are small and fast; GPU tests (marker ``gpu``) skip without CUDA."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import harness
from harness.plugins import load_registry
from plugins import torch_rnn
from plugins.numpy_rnn import ElmanRNN, RNNNumpy
from plugins.torch_rnn import TorchRNN, build_network
from tests.conftest import sine_panel, split, stacked

TINY = {"epochs": 2, "hidden": 8, "batch_size": 64}
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def smape(truth: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.mean(200 * np.abs(truth - forecast) / (np.abs(truth) + np.abs(forecast))))


def model(**params) -> TorchRNN:
    params.setdefault("horizon", 12)
    params.setdefault("season_length", 12)
    params.setdefault("device", "cpu")
    return TorchRNN(**params)


# --- registration -----------------------------------------------------------------------------


def test_three_names_register_one_class_with_scope_global():
    registry = load_registry()
    for name, cell in (("rnn-torch", "rnn"), ("lstm-torch", "lstm"), ("gru-torch", "gru")):
        spec = registry.model(name)
        assert spec.scope == "global" and spec.params["cell"] == cell and spec.params["strategy"] == "mimo"
        assert spec.cls.__name__ == "TorchRNN"


# --- shapes, determinism, parameters -----------------------------------------------------------


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("strategy", ["mimo", "recursive", "seq2seq"])
def test_forecast_shapes_for_every_cell_and_strategy(cell, strategy):
    train, _ = split(sine_panel(n_series=4))
    m = model(cell=cell, strategy=strategy, layers=2, dropout=0.1, **TINY)
    m.fit(train)
    forecast = stacked(m.predict(train), train)
    assert forecast.shape == (4, 12) and np.all(np.isfinite(forecast))
    assert m.device == "cpu" and m.device_name == "" and m.peak_device_memory_mb() is None
    assert m.history_[0]["epochs_run"] == 2 and len(m.history_[0]["val_loss"]) == 2


def test_local_training_fits_one_network_per_series():
    train, _ = split(sine_panel(n_series=3))
    m = model(cell="gru", training="local", **TINY)
    m.fit(train)
    assert len(m.nets_) == 3 and stacked(m.predict(train), train).shape == (3, 12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_same_seed_same_forecasts_other_seed_differs(cell):
    train, _ = split(sine_panel())
    runs = []
    for seed in (0, 0, 1):
        m = model(cell=cell, seed=seed, layers=2, dropout=0.2, epochs=3, hidden=8, batch_size=32)
        m.fit(train)
        runs.append(stacked(m.predict(train), train))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])


def test_threads_are_restored_after_fit_and_predict():
    before = torch.get_num_threads()
    m = model(threads=1, **TINY)
    train, _ = split(sine_panel(n_series=2))
    m.fit(train)
    stacked(m.predict(train), train)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(
    "params, message",
    [
        ({"cell": "transformer"}, "cell must be one of"),
        ({"strategy": "direct"}, "strategy must be one of"),
        ({"training": "both"}, "training must be one of"),
        ({"activation": "sigmoid"}, "activation must be one of"),
        ({"device": "tpu"}, "device must be one of"),
        ({"dtype": "float16"}, "dtype must be one of"),
        ({"deseasonalize": "x13"}, "deseasonalize must be one of"),
        ({"layers": 0}, "layers must be an integer >= 1, got 0"),
        ({"hidden": -4}, "hidden must be an integer >= 1, got -4"),
        ({"epochs": 2.5}, "epochs must be an integer >= 1, got 2.5"),
        ({"lr": 0}, "lr must be a number > 0, got 0"),
        ({"lr": float("nan")}, "lr must be finite, got nan"),
        ({"batch_size": True}, "batch_size must be an integer >= 1, got True"),
        ({"max_windows_per_series": 0}, r"max_windows_per_series must be an integer >= 1 or null, got 0"),
        ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\), got 1.0"),
        ({"bf16": "yes"}, "bf16 must be true or false, got 'yes'"),
        ({"nonsense": 1}, "unknown parameter"),
    ],
)
def test_bad_parameters_are_model_errors(params, message):
    with pytest.raises(harness.ModelError, match=message):
        model(**params)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_or_bf16_without_cuda_are_model_errors():
    with pytest.raises(harness.ModelError, match="device='cuda' but torch.cuda.is_available"):
        model(device="cuda")
    with pytest.raises(harness.ModelError, match="bf16=True needs a CUDA device"):
        model(device="auto", bf16=True)
    assert model(device="auto").device == "cpu"


# --- learning -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cell, strategy", [("lstm", "mimo"), ("gru", "recursive"), ("rnn", "seq2seq")])
def test_learns_a_noiseless_seasonal_panel(cell, strategy):
    train, truth = split(sine_panel())
    m = model(
        cell=cell, strategy=strategy, deseasonalize="none", epochs=60, hidden=16, patience=60, batch_size=32, lr=3e-3
    )
    m.fit(train)
    forecast = stacked(m.predict(train), train)
    assert smape(truth, forecast) < 3.0  # naive scores about 20 on this panel


def ar2_panel(n_series: int = 30, length: int = 160, seed: int = 0) -> tuple[harness.Panel, np.ndarray]:
    """Series ``10 + x_t`` with ``x_t = 0.6 x_{t-1} - 0.3 x_{t-2} + e_t``, ``e_t ~ N(0, 1)``."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n_series, length + 100))
    e = rng.standard_normal(x.shape)
    for t in range(2, x.shape[1]):
        x[:, t] = 0.6 * x[:, t - 1] - 0.3 * x[:, t - 2] + e[:, t]
    y = 10 + x[:, 100:]
    return harness.Panel(tuple(f"a{k}" for k in range(n_series)), tuple(y), "other", 1, 1), y


def test_one_step_error_of_an_ar2_panel_is_near_the_optimum():
    """Fit on all but the last 30 points, forecast one step from 30 later origins. The best
    possible forecast (the true AR(2) recursion) has RMSE about 1 (the noise) and naive about 1.3;
    the model must come within 15% of that oracle on the same points (it reaches about 8%: the
    estimation error of a few thousand weights from 1800 windows) and clearly beat naive."""
    panel, y = ar2_panel()
    n_test = 30
    train = panel.with_values([v[:-n_test] for v in panel.values])
    m = TorchRNN(
        horizon=1,
        season_length=1,
        seed=0,
        device="cpu",
        cell="lstm",
        strategy="recursive",
        input_size=6,
        epochs=60,
        patience=10,
        batch_size=64,
        lr=3e-3,
        log=False,
    )
    m.fit(train)
    errors, oracle, naive = [], [], []
    n = y.shape[1]
    for origin in range(n - n_test, n):
        context = panel.with_values([v[:origin] for v in panel.values])
        forecast = stacked(m.predict(context), context)[:, 0]
        truth = y[:, origin]
        errors.append(truth - forecast)
        oracle.append(truth - (10 + 0.6 * (y[:, origin - 1] - 10) - 0.3 * (y[:, origin - 2] - 10)))
        naive.append(truth - y[:, origin - 1])
    rmse = {
        k: float(np.sqrt(np.mean(np.square(v)))) for k, v in (("model", errors), ("oracle", oracle), ("naive", naive))
    }
    assert rmse["model"] < 1.15 * rmse["oracle"], rmse
    assert rmse["model"] < 0.92 * rmse["naive"], rmse


# --- the same network as rnn-numpy -------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_rnn_cell_with_elman_weights_computes_the_same_outputs(activation):
    rng = np.random.default_rng(1)
    elman = ElmanRNN(1, 8, 3, activation=activation, seed=2, dtype="float64")
    elman.params["b"][...] = rng.normal(0, 0.3, 8)  # non-zero biases, so their mapping is tested too
    elman.params["b_y"][...] = rng.normal(0, 0.3, 3)
    X = rng.normal(0, 1, (50, 11))
    m = model(cell="rnn", activation=activation, dtype="float64", horizon=3, season_length=1, hidden=8)
    m.load_elman(elman.params)
    with torch.no_grad():
        out = m.nets_[0](torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(out, elman.predict(X[:, :, None]), rtol=0, atol=1e-10)


@pytest.mark.parametrize("strategy", ["mimo", "recursive"])
def test_rnn_torch_with_rnn_numpy_weights_gives_rnn_numpy_forecasts(strategy):
    train, _ = split(sine_panel())
    reference = RNNNumpy(horizon=12, season_length=12, seed=0, strategy=strategy, epochs=3, hidden=8)
    reference.fit(train)
    m = model(cell="rnn", strategy=strategy, dtype="float64", hidden=8)
    m.load_elman(reference.nets_[0].params)
    np.testing.assert_allclose(
        stacked(m.predict(train), train), stacked(reference.predict(train), train), rtol=1e-10, atol=0
    )


def test_load_elman_refuses_other_networks():
    with pytest.raises(harness.ModelError, match="load_elman needs"):
        model(cell="lstm").load_elman({})


def test_build_network_shapes():
    net = build_network("gru", 5, 4, layers=2, strategy="seq2seq")
    assert net(torch.zeros(3, 7)).shape == (3, 4)
    assert torch_rnn.CELLS == ("rnn", "lstm", "gru")


# --- GPU -----------------------------------------------------------------------------------------


@pytest.mark.gpu
@needs_cuda
def test_auto_picks_cuda_and_reports_device_sync_and_memory():
    train, _ = split(sine_panel())
    m = TorchRNN(horizon=12, season_length=12, device="auto", cell="lstm", **TINY)
    assert m.device.startswith("cuda:") and m.device_name == torch.cuda.get_device_name()
    m.warm_up(train)
    m.fit(train)
    m.synchronize()
    forecast = stacked(m.predict(train), train)
    assert forecast.shape == (6, 12) and np.all(np.isfinite(forecast))
    assert m.peak_device_memory_mb() > 0


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("strategy", ["mimo", "seq2seq"])
def test_bf16_autocast_runs_on_cuda(strategy):
    train, _ = split(sine_panel())
    m = TorchRNN(horizon=12, season_length=12, device="cuda", cell="gru", strategy=strategy, bf16=True, **TINY)
    m.fit(train)
    assert np.all(np.isfinite(stacked(m.predict(train), train)))


@pytest.mark.gpu
@needs_cuda
def test_cuda_runs_from_the_cpu_weights_agree_closely():
    """GPU results are not bit-reproducible (cuDNN), but the same weights give close forecasts."""
    train, _ = split(sine_panel())
    elman = ElmanRNN(1, 8, 12, seed=0)
    forecasts = []
    for device in ("cpu", "cuda"):
        m = TorchRNN(horizon=12, season_length=12, device=device, cell="rnn", dtype="float64", hidden=8)
        m.load_elman(elman.params)
        forecasts.append(stacked(m.predict(train), train))
    np.testing.assert_allclose(forecasts[0], forecasts[1], rtol=1e-6)


def test_no_warning_at_import():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch_rnn.register_models(register=lambda *a, **k: None)
