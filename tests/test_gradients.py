"""The gradient-decay study (claim c): state Jacobians ∂h_T/∂h_{T-k} from the NumPy network's own
backward pass and from torch autograd, checked against finite differences and each other; the
decay-rate fit; a tiny end-to-end run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.studies import gradients as G
from plugins.numpy_rnn import PARAM_NAMES, ElmanRNN

torch = pytest.importorskip("torch")

T = 10
HIDDEN = 5
#: Recurrent gains that keep every Jacobian well away from 0 over T steps (a sigmoid's slope is
#: at most 1/4, so its W_h needs a larger gain), so relative errors are meaningful.
GAIN = {"tanh": 1.3, "relu": 1.0, "sigmoid": 4.0}
#: A relu net can lose every path through time (all units of the path dead: J_k = 0 exactly);
#: this seed's net keeps them alive over the whole window.
SEED = {"tanh": 0, "relu": 1, "sigmoid": 0}


def elman(activation: str) -> tuple[ElmanRNN, np.ndarray]:
    """A small float64 net with non-zero biases and a batch of 3 random windows (T, 1 input)."""
    seed = SEED[activation]
    net = ElmanRNN(1, HIDDEN, 2, activation=activation, seed=seed)
    rng = np.random.default_rng(seed + 10)
    for k in PARAM_NAMES:
        net.params[k][...] += 0.2 * rng.standard_normal(net.params[k].shape)
    net.params["W_h"] *= GAIN[activation]
    return net, rng.standard_normal((3, T, 1))


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-300))


def numpy_fd_jacobian(net: ElmanRNN, X: np.ndarray, k: int, eps: float = 1e-6) -> np.ndarray:
    """∂H_T/∂H_{T-k} by central differences: perturb H_{T-k} and rerun the forward pass from it
    over the remaining inputs X[:, T-k:]."""
    _, Hs = net.forward(X)
    h = np.zeros_like(Hs[:, 0]) if k == T else Hs[:, T - k - 1]
    J = np.zeros((len(X), HIDDEN, HIDDEN))
    for j in range(HIDDEN):
        hp, hm = h.copy(), h.copy()
        hp[:, j] += eps
        hm[:, j] -= eps
        yp = net.forward(X[:, T - k :], h0=hp)[1][:, -1]
        ym = net.forward(X[:, T - k :], h0=hm)[1][:, -1]
        J[:, :, j] = (yp - ym) / (2 * eps)
    return J


# ---------------------------------------------------------------------------------------------
# NumPy backward pass
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_numpy_state_jacobians_match_finite_differences(activation):
    net, X = elman(activation)
    J = net.state_jacobians(X)
    assert J.shape == (3, T + 1, HIDDEN, HIDDEN)
    np.testing.assert_array_equal(J[:, 0], np.broadcast_to(np.eye(HIDDEN), (3, HIDDEN, HIDDEN)))
    for k in (1, 2, 5, T - 1, T):
        fd = numpy_fd_jacobian(net, X, k)
        assert np.max(np.abs(J[:, k])) > 1e-3  # a meaningful comparison, not 0 == 0
        assert rel_err(J[:, k], fd) < 1e-6, (activation, k)


def test_numpy_state_jacobians_k_max_and_chain_rule():
    net, X = elman("tanh")
    J = net.state_jacobians(X)
    np.testing.assert_allclose(net.state_jacobians(X, k_max=3), J[:, :4], rtol=0, atol=1e-15)
    # One step back is diag(f'(A_T)) applied to W_h: M[i, j] = f'(A_T)[i] · W_h[j, i]
    _, H = net.forward(X)
    one = (1 - H[:, -1] ** 2)[:, :, None] * net.params["W_h"].T[None]
    np.testing.assert_allclose(J[:, 1], one, rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError):
        net.state_jacobians(X, k_max=T + 1)


def test_state_jacobians_leave_training_untouched():
    net, X = elman("tanh")
    Y = np.random.default_rng(1).standard_normal((3, 2))
    before = net.loss_and_grads(X, Y)
    net.state_jacobians(X)
    after = net.loss_and_grads(X, Y)
    assert before[0] == after[0]
    for k in PARAM_NAMES:
        np.testing.assert_array_equal(before[1][k], after[1][k])


# ---------------------------------------------------------------------------------------------
# torch autograd
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_torch_autograd_equals_the_numpy_backward_pass(activation):
    net, X = elman(activation)
    step, h0 = G.elman_step(net), G.zero_state(net, len(X))
    J_torch = G.torch_state_jacobians(step, h0, X, k_max=T)
    assert rel_err(J_torch, net.state_jacobians(X)) < 1e-12
    own = G.numpy_jacobian_norms(net, X, T - 1)
    auto = G.torch_jacobian_norms(step, h0, X[:, :, 0], T - 1)  # (n, T) windows work too
    assert own.shape == auto.shape == (T,)
    np.testing.assert_allclose(auto, own, rtol=1e-10)
    assert own[0] == pytest.approx(1.0)


def torch_net(cell: str):
    from plugins.torch_rnn import build_network

    torch.manual_seed(0)
    net = build_network(cell, HIDDEN, 2).double()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(3.0)  # stronger recurrence than the default init: Jacobians well above 0
    return net


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_torch_module_jacobians_match_finite_differences(cell):
    """For the LSTM, ∂h_T/∂h_{T-k} with c_{T-k} held fixed: perturb h only, keep c."""
    net = torch_net(cell)
    X = np.random.default_rng(2).standard_normal((3, T))
    step, h0 = G.module_step(net), G.zero_state(net, 3)
    assert len(h0) == (2 if cell == "lstm" else 1)
    J = G.torch_state_jacobians(step, h0, X, k_max=T)
    Xt = torch.as_tensor(X)
    with torch.no_grad():
        states = [h0]
        for t in range(T):
            states.append(step(Xt[:, t], states[-1]))
        # stepping one slice at a time computes what the network computes on the whole window
        torch.testing.assert_close(net.head(states[-1][0]), net(Xt), rtol=1e-12, atol=1e-12)
        eps = 1e-6
        for k in (1, 3, T - 1, T):
            start = states[T - k]
            fd = np.zeros((3, HIDDEN, HIDDEN))
            for j in range(HIDDEN):
                ends = []
                for sign in (1, -1):
                    h = start[0].clone()
                    h[:, j] += sign * eps
                    state = (h, *start[1:])
                    for t in range(T - k, T):
                        state = step(Xt[:, t], state)
                    ends.append(state[0].numpy())
                fd[:, :, j] = (ends[0] - ends[1]) / (2 * eps)
            assert np.max(np.abs(J[:, k])) > 1e-4
            assert rel_err(J[:, k], fd) < 1e-6, (cell, k)
    np.testing.assert_array_equal(J[:, 0], np.broadcast_to(np.eye(HIDDEN), (3, HIDDEN, HIDDEN)))


def test_module_step_leaves_the_callers_network_alone():
    from plugins.torch_rnn import build_network

    net = build_network("lstm", HIDDEN, 2)  # float32, as trained
    before = {k: v.clone() for k, v in net.state_dict().items()}
    G.module_step(net)
    for k, v in net.state_dict().items():
        assert v.dtype == torch.float32 and torch.equal(v, before[k])
    assert all(p.requires_grad for p in net.parameters())


# ---------------------------------------------------------------------------------------------
# The decay fit and aggregation
# ---------------------------------------------------------------------------------------------


def test_fit_decay_recovers_a_known_rate():
    k = np.arange(31)
    fit = G.fit_decay(0.7 * 0.8**k)
    assert fit["rho"] == pytest.approx(0.8, rel=1e-12)
    assert fit["half_life"] == pytest.approx(math.log(0.5) / math.log(0.8), rel=1e-12)
    assert fit["r2"] == pytest.approx(1.0, abs=1e-12)
    assert fit["k_fit"] == 30
    assert math.exp(fit["intercept"]) == pytest.approx(0.7, rel=1e-12)


def test_fit_decay_skips_zeros_and_non_finite_and_handles_explosion():
    norms = 0.9 ** np.arange(21, dtype=float)
    norms[[4, 9]] = 0.0
    norms[12] = np.inf
    norms[15] = np.nan
    fit = G.fit_decay(norms)
    assert fit["k_fit"] == 16 and fit["rho"] == pytest.approx(0.9, rel=1e-12)
    flat = G.fit_decay(np.ones(10))
    assert flat["rho"] == pytest.approx(1.0) and flat["half_life"] == math.inf and flat["r2"] == 1.0
    up = G.fit_decay(1.1 ** np.arange(10))
    assert up["rho"] == pytest.approx(1.1) and up["half_life"] == math.inf
    assert up["doubling"] == pytest.approx(math.log(2) / math.log(1.1))
    dead = G.fit_decay(np.array([1.0, 0.0, 0.0, 0.0]))
    assert dead["k_fit"] == 0 and math.isnan(dead["rho"])


def test_geometric_mean_of_norms_with_a_zero_is_zero():
    norms = np.array([[1.0, 0.5, 0.25], [1.0, 2.0, 0.0]])
    np.testing.assert_allclose(G.geometric_mean(norms), [1.0, 1.0, 0.0])
    assert G.spectral_norms(np.diag([3.0, -4.0])[None]) == pytest.approx([4.0])


# ---------------------------------------------------------------------------------------------
# End to end
# ---------------------------------------------------------------------------------------------
