"""Gradient decay through time in trained recurrent networks (claim c: "RNNs have difficulty
accessing a very old time frame").

The gradient of a loss at the last step T with respect to the hidden state k steps earlier is

    ∂L/∂h_{T-k} = ∂L/∂h_T · J_k,        J_k = ∂h_T/∂h_{T-k} = Π_{t=T-k+1..T} ∂h_t/∂h_{t-1},

so the spectral norm ||J_k|| (largest singular value) bounds how much of the error signal at T
reaches step T-k, and therefore how much training can learn to use information that old. If
||J_k|| ≈ a·ρ^k with ρ < 1 the gradient vanishes exponentially: its half-life is ln 0.5 / ln ρ
steps. This module measures ||J_k|| for any network the studies train:

* NumPy Elman networks (``rnn-numpy``'s ``network`` class, ``plugins.numpy_rnn.ElmanRNN``) with
  the implementation's OWN backward pass (its ``state_jacobians``: the training code seeded with
  the identity), :func:`numpy_jacobian_norms`; torch autograd on the same weights
  (:func:`elman_step`) must agree to rounding, which the tests check, so the curves are also a
  test of the hand-written BPTT.
* torch ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` networks (the torch forecasters' own
  :func:`plugins.torch_rnn.build_network`) by autograd, :func:`torch_jacobian_norms` with
  :func:`module_step`.

The sequence-memory benchmark (:mod:`harness.studies.sequence_memory`) records them at
initialisation, midway and at the end of training on the adding problem.

For the LSTM the state is (h, c). ``J_k`` is defined as ∂h_T/∂h_{T-k} with c_{T-k} held fixed:
the derivative through every path that leaves step T-k through h_{T-k} (the gates of step
T-k+1 and what follows), not through the cell c_{T-k}. That is what autograd returns for the
gradient of h_T with respect to the tensor h_{T-k} when (h, c) are carried as separate tensors.
The cell's own path (the "constant error carousel") is therefore NOT in this number; for the LSTM
the curve measures how well the hidden-state path carries information, a lower bound on the
gradient's reach. GRU and Elman networks have only h, so there J_k is the full Jacobian.

Norms are aggregated over evaluation windows by the geometric mean (the mean of log norms, as
decay is multiplicative); one window with a zero Jacobian (a dead relu network) makes the
aggregate 0, which is then what is reported. :func:`fit_decay` fits log ||J_k|| = a + k·ln ρ by
least squares over k ≥ 1.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from threadpoolctl import threadpool_limits

if TYPE_CHECKING:  # torch is optional for the rest of the package; imported where used
    import torch

__all__ = [
    "ElmanNetwork",
    "State",
    "Step",
    "elman_step",
    "fit_decay",
    "limited_threads",
    "geometric_mean",
    "module_step",
    "numpy_jacobian_norms",
    "spectral_norms",
    "torch_jacobian_norms",
    "torch_state_jacobians",
    "zero_state",
]

#: A recurrent state as a tuple of ``(batch, hidden)`` tensors; ``state[0]`` is the hidden
#: output h (the LSTM carries ``(h, c)``, the others ``(h,)``).
State = tuple["torch.Tensor", ...]
#: One step of a recurrence: ``step(x_t, state) -> next state``, ``x_t`` of shape ``(batch, n_in)``
#: (or ``(batch,)`` for one input).
Step = Callable[["torch.Tensor", State], State]


#: numpy backward pass and torch autograd on the same float64 weights must agree this closely
#: (relative, per k); they differ only in the order of floating-point operations.
AGREEMENT_RTOL = 1e-6


@runtime_checkable
class ElmanNetwork(Protocol):
    """What this module needs of a NumPy Elman network (``rnn-numpy``'s ``network`` class):
    ``h_t = f(x_t W_x + h_{t-1} W_h + b)`` with ``params`` ``W_x``, ``W_h``, ``b`` (and a read-out),
    ``activation`` tanh/relu/sigmoid, and its own backward pass ``state_jacobians(X, k_max)``
    returning ``J[b, k] = ∂h_T/∂h_{T-k}`` of shape ``(batch, k_max + 1, n_hidden, n_hidden)``.
    The class is constructed as ``network(n_in, n_hidden, n_out, activation=, seed=, dtype=)``
    and trained by its ``fit`` (the arguments of ``rnn-numpy``'s own training)."""

    n_hidden: int
    activation: str
    params: dict[str, np.ndarray]

    def state_jacobians(self, X: np.ndarray, k_max: int | None = None) -> np.ndarray: ...


# ---------------------------------------------------------------------------------------------
# Norms and their aggregation
# ---------------------------------------------------------------------------------------------


def spectral_norms(J: np.ndarray) -> np.ndarray:
    """Largest singular value of each Jacobian in ``J`` (``(..., H, H)`` -> ``(...)``).

    The spectral norm is the largest factor by which J can stretch any gradient vector, so it is
    the tightest bound on how much error signal passes; Frobenius would mix in all directions.
    """
    J = np.asarray(J, dtype=float)
    if J.shape[-1] == 0:
        return np.zeros(J.shape[:-2])
    return np.linalg.svd(J, compute_uv=False)[..., 0]


def geometric_mean(norms: np.ndarray, axis: int = 0) -> np.ndarray:
    """Geometric mean along ``axis`` (mean of the logs): the right average for quantities that
    decay multiplicatively. A zero anywhere makes the result 0 (log 0 = -inf), not an error."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.asarray(norms, dtype=float))
        return np.exp(np.mean(logs, axis=axis))


def _as_windows(X: Any) -> np.ndarray:
    """(n, T) windows of a univariate series or (n, T, n_in) -> float (n, T, n_in)."""
    X = np.asarray(X, dtype=float)
    if X.ndim == 2:
        X = X[:, :, None]
    if X.ndim != 3:
        raise ValueError(f"X must have shape (n, T) or (n, T, n_in), got {X.shape}")
    return X


def _check_k(k_max: int | None, T: int) -> int:
    K = T - 1 if k_max is None else int(k_max)
    if not 0 <= K <= T:
        raise ValueError(f"k_max must be in 0..{T} (the window length), got {k_max}")
    return K


def numpy_jacobian_norms(net: ElmanNetwork, X: np.ndarray, k_max: int, *, chunk: int = 64) -> np.ndarray:
    """||∂H_T/∂H_{T-k}|| for k = 0..k_max from the NumPy network's own backward pass.

    ``X``: windows ``(n, T)`` (univariate) or ``(n, T, n_in)``. Returns shape ``(k_max + 1,)``:
    the spectral norm per window, aggregated over windows by the geometric mean. Windows are
    processed ``chunk`` at a time, which bounds memory (the Jacobians of one chunk take
    ``chunk · (k_max+1) · H²`` floats).
    """
    X = _as_windows(X)
    K = _check_k(k_max, X.shape[1])
    per_window = [spectral_norms(net.state_jacobians(X[s : s + chunk], K)) for s in range(0, len(X), chunk)]
    return geometric_mean(np.concatenate(per_window, axis=0), axis=0)


# ---------------------------------------------------------------------------------------------
# torch autograd
# ---------------------------------------------------------------------------------------------


def _torch() -> Any:
    import torch

    return torch


@contextlib.contextmanager
def _torch_threads(n: int | None = 1) -> Iterator[None]:
    """torch intra-op threads set to ``n`` for the duration (``None``, or torch not installed:
    unchanged). Small recurrent matrices gain nothing from threads and a shared machine loses a
    lot; see plugins/torch_rnn.py."""
    if n is None or importlib.util.find_spec("torch") is None:
        yield
        return
    torch = _torch()
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def limited_threads(n: int | None) -> Iterator[None]:
    """BLAS (NumPy's OpenBLAS) and torch threads limited to ``n`` for the duration (``None``:
    unchanged): what the studies' workers train in, side by side. Measured on the 2-core
    development machine under load from other processes: fitting one 32-unit Elman net on 900
    windows of 60 took 9-16 s with OpenBLAS's default threads and 0.65 s with one, as
    spin-waiting threads fight for the cores."""
    if n is None:
        yield
        return
    with threadpool_limits(int(n)), _torch_threads(n):
        yield


def elman_step(net: ElmanNetwork) -> Step:
    """The NumPy network's recurrence ``h_t = f(x_t W_x + h_{t-1} W_h + b)`` in torch float64
    ops, with the weights copied from ``net``: the independent (autograd) side of the check."""
    torch = _torch()
    p = {k: torch.as_tensor(np.array(v, dtype=float)) for k, v in net.params.items()}
    f = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[net.activation]

    def step(x: torch.Tensor, state: State) -> State:
        if x.dim() == 1:  # (batch,) values of a univariate series
            x = x[:, None]
        return (f(x @ p["W_x"] + state[0] @ p["W_h"] + p["b"]),)

    return step


def _encoder(net: Any) -> Any:
    """The recurrent layer of a :func:`build_network` network, or ``net`` itself if it is one."""
    torch = _torch()
    enc = getattr(net, "encoder", net)
    if not isinstance(enc, torch.nn.RNNBase):
        raise TypeError(f"expected a torch RNN/LSTM/GRU or a build_network network, got {type(net).__name__}")
    if enc.num_layers != 1 or enc.bidirectional or getattr(enc, "proj_size", 0):
        raise ValueError("only single-layer, unidirectional recurrences without projection are supported")
    return enc


def module_step(net: Any) -> Step:
    """One step of a trained torch ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (or the ``encoder`` of a
    :func:`build_network` network), run in float64 on a copy (the caller's network is left as
    it is). The module is called on ``(batch, 1, n_in)`` slices with the state passed in, so
    each step's output h is a separate tensor that autograd can differentiate with respect to;
    the LSTM's state is ``(h, c)``, the others' ``(h,)``."""
    torch = _torch()
    enc = copy.deepcopy(_encoder(net)).to(torch.float64).eval()
    for param in enc.parameters():
        param.requires_grad_(False)  # only the state path is differentiated
    lstm = isinstance(enc, torch.nn.LSTM)
    seq_dim = 1 if enc.batch_first else 0

    def step(x: torch.Tensor, state: State) -> State:
        if x.dim() == 1:  # (batch,) values of a univariate series
            x = x[:, None]
        x = x.unsqueeze(seq_dim)
        if lstm:
            _, (h, c) = enc(x, (state[0].unsqueeze(0), state[1].unsqueeze(0)))
            return (h[0], c[0])
        _, h = enc(x, state[0].unsqueeze(0))
        return (h[0],)

    return step


def zero_state(net: Any, batch: int) -> State:
    """The zero initial state (what training starts from) for an :class:`ElmanNetwork` or a torch
    network: ``(h,)``, or ``(h, c)`` for an LSTM, each ``(batch, hidden)`` float64."""
    torch = _torch()
    if isinstance(net, ElmanNetwork):
        return (torch.zeros(batch, net.n_hidden, dtype=torch.float64),)
    enc = _encoder(net)
    n = 2 if isinstance(enc, torch.nn.LSTM) else 1
    return tuple(torch.zeros(batch, enc.hidden_size, dtype=torch.float64) for _ in range(n))


def torch_state_jacobians(step: Step, h_init: State, X: Any, k_max: int | None = None) -> np.ndarray:
    """``J[b, k] = ∂h_T/∂h_{T-k}`` (k = 0..k_max) by torch autograd, float64.

    The recurrence is unrolled step by step from ``h_init`` over the windows ``X`` (``(n, T)``
    or ``(n, T, n_in)``); every h_t is kept. Then one backward pass per hidden unit i of h_T,
    summed over the batch (windows are independent, so the sum separates), gives row i of
    ∂h_T/∂h_t for every t at once. For an LSTM the gradient with respect to the tensor h_t is
    the partial with c_t held fixed (see the module docstring). ``k_max`` defaults to T-1 and
    may be T (the initial state). Returns ``(n, k_max + 1, H, H)`` with ``J[b, k][i, j] =
    ∂h_T[i]/∂h_{T-k}[j]``, the convention of :meth:`ElmanNetwork.state_jacobians`.
    """
    torch = _torch()
    Xt = torch.as_tensor(_as_windows(X), dtype=torch.float64)
    B, T, _ = Xt.shape
    K = _check_k(k_max, T)
    state = tuple(torch.as_tensor(s, dtype=torch.float64).detach().clone() for s in h_init)
    state[0].requires_grad_(True)  # so that k = T (the initial state) has a gradient too
    hs = [state[0]]
    for t in range(T):
        state = step(Xt[:, t], state)
        hs.append(state[0])
    h_T = hs[T]
    H = h_T.shape[1]
    earlier = [hs[T - k] for k in range(1, K + 1)]
    J = np.zeros((B, K + 1, H, H))
    J[:, 0] = np.eye(H)
    if K == 0:
        return J
    for i in range(H):
        rows = torch.autograd.grad(h_T[:, i].sum(), earlier, retain_graph=i < H - 1, allow_unused=True)
        for k, g in enumerate(rows, start=1):
            if g is not None:  # None: h_T does not depend on h_{T-k} at all (a zero row)
                J[:, k, i, :] = g.numpy()
    return J


def torch_jacobian_norms(step: Step, h_init: State, X: Any, k_max: int | None = None) -> np.ndarray:
    """||∂h_T/∂h_{T-k}|| for k = 0..k_max by torch autograd: spectral norm per window,
    geometric mean over windows, shape ``(k_max + 1,)`` (the same as
    :func:`numpy_jacobian_norms`). ``step`` from :func:`elman_step` or :func:`module_step`,
    ``h_init`` usually :func:`zero_state`."""
    return geometric_mean(spectral_norms(torch_state_jacobians(step, h_init, X, k_max)), axis=0)


# ---------------------------------------------------------------------------------------------
# The decay rate
# ---------------------------------------------------------------------------------------------


def fit_decay(norms: np.ndarray) -> dict[str, float]:
    """Fit ``log ||J_k|| = a + k · ln ρ`` by least squares over k = 1..K (``norms[k]``; k = 0 is
    the identity and carries no information), using only the k with a positive, finite norm.

    Returns ``rho`` (the per-step factor: < 1 vanishing, > 1 exploding), ``half_life``
    (ln 0.5 / ln ρ steps for ρ < 1, the lag at which the gradient has halved; ``inf`` for ρ ≥ 1,
    where it never halves — for an exploding network read ``rho``, or ``doubling`` = ln 2 / ln ρ
    steps), ``doubling`` (``inf`` for ρ ≤ 1), ``intercept`` (a), ``r2`` (how exponential the
    decay is; 1.0 for a perfect fit, also when the norms are constant) and ``k_fit`` (how many
    k were used). With fewer than 2 usable k everything but ``k_fit`` is NaN.
    """
    norms = np.asarray(norms, dtype=float).reshape(-1)
    k = np.arange(norms.size, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (k >= 1) & np.isfinite(norms) & (norms > 0)
    n = int(ok.sum())
    nan = float("nan")
    if n < 2:
        return {"rho": nan, "half_life": nan, "doubling": nan, "intercept": nan, "r2": nan, "k_fit": n}
    x, y = k[ok], np.log(norms[ok])
    xm, ym = x.mean(), y.mean()
    slope = float(np.sum((x - xm) * (y - ym)) / np.sum((x - xm) ** 2))
    intercept = float(ym - slope * xm)
    resid = y - (intercept + slope * x)
    ss_res, ss_tot = float(resid @ resid), float(np.sum((y - ym) ** 2))
    scale = max(float(np.max(np.abs(y))), 1.0)
    if ss_tot <= (1e-12 * scale) ** 2 * n:  # constant log norms: a flat line fits exactly
        r2 = 1.0
    else:
        r2 = 1.0 - ss_res / ss_tot
    rho = math.exp(slope)
    half_life = math.log(0.5) / slope if slope < 0 else math.inf
    doubling = math.log(2.0) / slope if slope > 0 else math.inf
    return {"rho": rho, "half_life": half_life, "doubling": doubling, "intercept": intercept, "r2": r2, "k_fit": n}
