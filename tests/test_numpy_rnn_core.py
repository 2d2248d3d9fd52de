"""The NumPy Elman RNN: gradients (finite differences, torch), learning, determinism, dtypes,
early stopping and clipping."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.numpy_rnn import PARAM_NAMES, ElmanRNN

SHAPES = dict(n_in=2, n_hidden=4, n_out=2)


def small_problem(activation: str, seed: int = 3):
    """A small net with perturbed (non-zero) biases and a random batch: batch 3, time 5."""
    net = ElmanRNN(**SHAPES, activation=activation, seed=seed)
    rng = np.random.default_rng(seed + 100)
    for k in PARAM_NAMES:
        net.params[k][...] += 0.2 * rng.standard_normal(net.params[k].shape)
    X = rng.standard_normal((3, 5, 2))
    Y = rng.standard_normal((3, 2))
    return net, X, Y


def pre_activations(net: ElmanRNN, X: np.ndarray) -> np.ndarray:
    """A_t = X_t W_x + H_{t-1} W_h + b, recomputed from the returned hidden states."""
    _, H = net.forward(X)
    Hprev = np.concatenate([np.zeros_like(H[:, :1]), H[:, :-1]], axis=1)
    return X @ net.params["W_x"] + Hprev @ net.params["W_h"] + net.params["b"]


def numeric_grads(net: ElmanRNN, X, Y, eps: float = 1e-6) -> dict[str, np.ndarray]:
    out = {}
    for k in PARAM_NAMES:
        p = net.params[k]
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            orig = p[i]
            p[i] = orig + eps
            lp = net.loss(X, Y)
            p[i] = orig - eps
            lm = net.loss(X, Y)
            p[i] = orig
            g[i] = (lp - lm) / (2 * eps)
        out[k] = g
    return out


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-12))


# ---------------------------------------------------------------------------------------------
# API basics
# ---------------------------------------------------------------------------------------------


def test_shapes_and_init_are_deterministic():
    net = ElmanRNN(3, 5, 2, seed=7)
    assert list(net.params) == list(PARAM_NAMES)
    assert {k: v.shape for k, v in net.params.items()} == {
        "W_x": (3, 5),
        "W_h": (5, 5),
        "b": (5,),
        "W_y": (5, 2),
        "b_y": (2,),
    }
    assert np.allclose(net.params["W_h"] @ net.params["W_h"].T, np.eye(5))  # orthogonal
    assert not net.params["b"].any() and not net.params["b_y"].any()
    again = ElmanRNN(3, 5, 2, seed=7)
    other = ElmanRNN(3, 5, 2, seed=8)
    assert all(np.array_equal(net.params[k], again.params[k]) for k in PARAM_NAMES)
    assert not np.array_equal(net.params["W_x"], other.params["W_x"])
    X = np.random.default_rng(0).standard_normal((4, 6, 3))
    Yall, H = net.forward(X)
    assert Yall.shape == (4, 6, 2) and H.shape == (4, 6, 5)
    assert np.allclose(net.predict(X), Yall[:, -1])
    with pytest.raises(ValueError):
        ElmanRNN(1, 2, 1, activation="gelu")


def test_forward_matches_the_recurrence_with_h0():
    net = ElmanRNN(2, 3, 1, activation="sigmoid", seed=1)
    rng = np.random.default_rng(1)
    X, h0 = rng.standard_normal((2, 4, 2)), rng.standard_normal((2, 3))
    p = net.params
    h, Hs = h0, []
    for t in range(4):
        h = 1 / (1 + np.exp(-(X[:, t] @ p["W_x"] + h @ p["W_h"] + p["b"])))
        Hs.append(h)
    Y, H = net.forward(X, h0=h0)
    assert np.allclose(H, np.stack(Hs, axis=1), atol=1e-14)
    assert np.allclose(Y, H @ p["W_y"] + p["b_y"], atol=1e-14)


def test_replacing_a_param_array_is_honoured():
    net, X, Y = small_problem("tanh")
    W = net.params["W_h"] * 0.5
    net.params["W_h"] = W  # replaced, not written into
    ref = ElmanRNN(**SHAPES, seed=3)
    for k in PARAM_NAMES:
        ref.params[k][...] = net.params[k]
    assert np.array_equal(net.predict(X), ref.predict(X))
    assert net.loss_and_grads(X, Y)[0] == ref.loss_and_grads(X, Y)[0]


# ---------------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_gradients_match_finite_differences(activation):
    net, X, Y = small_problem(activation)
    if activation == "relu":  # central differences are meaningless across the kink at 0
        assert np.min(np.abs(pre_activations(net, X))) > 1e-3
    loss, grads = net.loss_and_grads(X, Y)
    assert loss == pytest.approx(np.mean((net.predict(X) - Y) ** 2), rel=1e-12)
    assert set(grads) == set(PARAM_NAMES)
    num = numeric_grads(net, X, Y)
    for k in PARAM_NAMES:
        assert grads[k].shape == net.params[k].shape
        assert rel_err(grads[k], num[k]) < 1e-6, k


def test_truncated_bptt():
    net, X, Y = small_problem("tanh")
    _, full = net.loss_and_grads(X, Y)
    for k_steps in (5, 6, 100):  # bptt_steps >= time: identical to full BPTT
        _, g = net.loss_and_grads(X, Y, bptt_steps=k_steps)
        assert all(np.array_equal(g[k], full[k]) for k in PARAM_NAMES)
    _, g2 = net.loss_and_grads(X, Y, bptt_steps=2)
    # The output layer does not depend on the truncation; the recurrent weights do.
    assert np.array_equal(g2["W_y"], full["W_y"]) and np.array_equal(g2["b_y"], full["b_y"])
    for k in ("W_x", "W_h", "b"):
        assert not np.allclose(g2[k], full[k]), k
    # bptt_steps=1 keeps only the last step's contribution: dW_x = X_T^T δ_T.
    _, g1 = net.loss_and_grads(X, Y, bptt_steps=1)
    Yall, H = net.forward(X)
    dY = 2 * (Yall[:, -1] - Y) / Y.size
    delta = (dY @ net.params["W_y"].T) * (1 - H[:, -1] ** 2)
    assert np.allclose(g1["W_x"], X[:, -1].T @ delta, atol=1e-14)
    assert np.allclose(g1["W_h"], H[:, -2].T @ delta, atol=1e-14)


def test_returned_grads_are_not_overwritten_by_later_calls():
    net, X, Y = small_problem("tanh")
    _, g = net.loss_and_grads(X, Y)
    keep = {k: v.copy() for k, v in g.items()}
    net.loss_and_grads(X * 2, Y)
    assert all(np.array_equal(g[k], keep[k]) for k in PARAM_NAMES)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_forward_and_gradients_match_torch(activation):
    torch = pytest.importorskip("torch")
    net = ElmanRNN(3, 6, 2, activation=activation, seed=5)
    rng = np.random.default_rng(5)
    for k in PARAM_NAMES:
        net.params[k][...] += 0.2 * rng.standard_normal(net.params[k].shape)
    X, Y = rng.standard_normal((4, 7, 3)), rng.standard_normal((4, 2))
    p = net.params

    rnn = torch.nn.RNN(3, 6, nonlinearity=activation, batch_first=True).double()
    lin = torch.nn.Linear(6, 2).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(p["W_x"].T.copy()))
        rnn.weight_hh_l0.copy_(torch.from_numpy(p["W_h"].T.copy()))
        rnn.bias_ih_l0.copy_(torch.from_numpy(p["b"].copy()))
        rnn.bias_hh_l0.zero_()
        lin.weight.copy_(torch.from_numpy(p["W_y"].T.copy()))
        lin.bias.copy_(torch.from_numpy(p["b_y"].copy()))
    Ht, _ = rnn(torch.from_numpy(X))
    Yt = lin(Ht)
    loss_t = torch.mean((Yt[:, -1] - torch.from_numpy(Y)) ** 2)
    loss_t.backward()

    Yall, H = net.forward(X)
    assert np.allclose(H, Ht.detach().numpy(), rtol=0, atol=1e-10)
    assert np.allclose(Yall, Yt.detach().numpy(), rtol=0, atol=1e-10)
    loss, g = net.loss_and_grads(X, Y)
    assert loss == pytest.approx(loss_t.item(), abs=1e-10)
    expected = {
        "W_x": rnn.weight_ih_l0.grad.numpy().T,
        "W_h": rnn.weight_hh_l0.grad.numpy().T,
        "b": rnn.bias_ih_l0.grad.numpy(),
        "W_y": lin.weight.grad.numpy().T,
        "b_y": lin.bias.grad.numpy(),
    }
    for k in PARAM_NAMES:
        assert np.allclose(g[k], expected[k], rtol=0, atol=1e-10), k


# ---------------------------------------------------------------------------------------------
# Learning
# ---------------------------------------------------------------------------------------------


def windows(y: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(len(y) - T)[:, None] + np.arange(T)[None, :]
    return y[idx][:, :, None], y[T:][:, None]


def test_learns_a_noiseless_sine():
    y = np.sin(2 * np.pi * np.arange(1200) / 17.0)
    X, Y = windows(y, 20)
    Xtr, Ytr, Xte, Yte = X[:900], Y[:900], X[900:], Y[900:]
    net = ElmanRNN(1, 16, 1, seed=0)
    hist = net.fit(Xtr, Ytr, epochs=150, lr=1e-2, batch_size=32)
    assert hist["epochs_run"] == 150 and hist["train_loss"][-1] < hist["train_loss"][0]
    assert net.loss(Xte, Yte) < 1e-3


def test_learns_an_ar2_process():
    rng = np.random.default_rng(0)
    n, sigma2 = 5000, 1.0
    e = rng.standard_normal(n) * np.sqrt(sigma2)
    y = np.zeros(n)
    for t in range(2, n):
        y[t] = 0.6 * y[t - 1] - 0.3 * y[t - 2] + e[t]
    X, Y = windows(y, 10)
    Xtr, Ytr = X[:3500], Y[:3500]
    Xva, Yva = X[3500:4200], Y[3500:4200]
    Xte, Yte = X[4200:], Y[4200:]
    net = ElmanRNN(1, 8, 1, seed=0)
    hist = net.fit(Xtr, Ytr, epochs=40, lr=5e-3, X_val=Xva, Y_val=Yva, patience=8)
    mse = net.loss(Xte, Yte)
    # The best possible one-step MSE is the noise variance (sample value on the test part).
    noise = float(np.mean(e[4200 + 10 :] ** 2))
    assert hist["best_epoch"] is not None
    assert mse < 1.15 * noise, (mse, noise)


def test_sgd_with_momentum_and_truncated_bptt_learn():
    y = np.sin(2 * np.pi * np.arange(600) / 11.0)
    X, Y = windows(y, 12)
    net = ElmanRNN(1, 8, 1, seed=2)
    before = net.loss(X, Y)
    hist = net.fit(X, Y, epochs=30, lr=0.05, optimizer="sgd", momentum=0.9, bptt_steps=4)
    assert net.loss(X, Y) < 0.1 * before
    assert np.all(np.isfinite(hist["train_loss"]))


# ---------------------------------------------------------------------------------------------
# Determinism, dtype, early stopping, clipping
# ---------------------------------------------------------------------------------------------


def _fit(seed: int, dtype: str = "float64"):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((300, 8, 2)), rng.standard_normal((300, 1))
    net = ElmanRNN(2, 6, 1, seed=seed, dtype=dtype)
    net.fit(X, Y, epochs=3, lr=1e-2, batch_size=32)
    return net, X


def test_same_seed_same_fit_different_seed_different():
    a, X = _fit(1)
    b, _ = _fit(1)
    c, _ = _fit(2)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in PARAM_NAMES)
    assert np.array_equal(a.predict(X), b.predict(X))
    assert not np.array_equal(a.params["W_h"], c.params["W_h"])
    assert not np.array_equal(a.predict(X), c.predict(X))


def test_float32_mode():
    net, X = _fit(0, "float32")
    assert all(v.dtype == np.float32 for v in net.params.values())
    Y, H = net.forward(X)
    assert Y.dtype == H.dtype == net.predict(X).dtype == np.float32
    loss, g = net.loss_and_grads(X[:10], np.zeros((10, 1)))
    assert all(v.dtype == np.float32 for v in g.values())
    ref, _ = _fit(0, "float64")
    assert np.allclose(net.predict(X), ref.predict(X), atol=1e-3)


def test_early_stopping_restores_the_best_parameters():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((200, 6, 1)), rng.standard_normal((200, 1))  # pure noise:
    Xv, Yv = rng.standard_normal((100, 6, 1)), rng.standard_normal((100, 1))  # it overfits
    net = ElmanRNN(1, 16, 1, seed=0)
    hist = net.fit(X, Y, epochs=200, lr=2e-2, batch_size=16, X_val=Xv, Y_val=Yv, patience=5)
    best = hist["best_epoch"]
    assert hist["epochs_run"] < 200  # it stopped early
    assert hist["epochs_run"] == best + 1 + 5
    assert hist["val_loss"][best] == min(hist["val_loss"])
    assert net.loss(Xv, Yv) == pytest.approx(hist["val_loss"][best], rel=1e-12)
    assert net.loss(Xv, Yv) < hist["val_loss"][-1]


@pytest.mark.parametrize("clip", [0.01, None])
def test_clipping_bounds_the_applied_gradient(clip):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((50, 5, 2)), 10 * rng.standard_normal((50, 1))
    net = ElmanRNN(2, 4, 1, seed=0)
    _, g = net.loss_and_grads(X, Y)
    gnorm = np.sqrt(sum(np.sum(v**2) for v in g.values()))
    assert gnorm > 1.0
    before = net.get_flat()
    # One plain SGD step with lr=1 on the whole batch: the change IS the applied gradient.
    hist = net.fit(X, Y, epochs=1, batch_size=50, lr=1.0, optimizer="sgd", clip_norm=clip, shuffle=False)
    step = np.linalg.norm(before - net.get_flat())
    assert hist["grad_norm"][0] == pytest.approx(gnorm)
    if clip is None:
        assert step == pytest.approx(gnorm)
    else:
        assert step == pytest.approx(clip)
