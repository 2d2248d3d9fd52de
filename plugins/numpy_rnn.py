"""An Elman recurrent network in NumPy alone, trained by backpropagation through time.

This is the reference implementation: every line of the forward and backward pass maps onto one
line of the math below, and it is also the fast CPU implementation (see
``benchmarks/rnn_numpy_vs_torch.py``).

The model
---------
For an input sequence ``X_1 .. X_T`` (each a row vector of ``n_in`` features) and a batch of ``B``
sequences, with the same weights at every step::

    A_t = X_t · W_x + H_{t-1} · W_h + b          pre-activation      (B, n_hidden)
    H_t = f(A_t)                                  hidden state        (B, n_hidden)
    Y_t = H_t · W_y + b_y                         output              (B, n_out)

with ``H_0 = 0`` (or a given ``h0``) and ``f`` one of tanh, relu, sigmoid.

The training loss is the mean squared error of the LAST step's output (a many-to-one network, as
used for windowed forecasting: a window of ``T`` past values in, the next value(s) out)::

    L = 1/(B·n_out) · Σ_{i,j} (Y_T[i,j] - Y[i,j])²

i.e. the mean over the batch AND over the outputs of the squared error.

Backpropagation through time
----------------------------
Write ``δ_t = ∂L/∂A_t`` (the "error" at step t). From the last step backwards::

    ∂L/∂Y_T   = 2/(B·n_out) · (Y_T - Y)
    ∂L/∂W_y   = H_T^T · ∂L/∂Y_T         ∂L/∂b_y = Σ_batch ∂L/∂Y_T
    ∂L/∂H_T   = ∂L/∂Y_T · W_y^T
    δ_t       = ∂L/∂H_t ⊙ f'(A_t)                        (elementwise)
    ∂L/∂H_t-1 = δ_t · W_h^T                               (only the recurrence; no output at t-1)

and, because the weights are shared over time, their gradients are sums over the steps::

    ∂L/∂W_h = Σ_t H_{t-1}^T · δ_t      ∂L/∂W_x = Σ_t X_t^T · δ_t      ∂L/∂b = Σ_t Σ_batch δ_t

Truncated BPTT with ``k`` steps runs the backward recursion only over the last ``k`` steps (the
sums above then run over ``t = T-k+1 .. T``), which bounds its cost and the gradients' reach into
the past.

Why it is fast
--------------
* Time-major buffers ``(T, B, ·)``: the slice for one step is a contiguous ``(B, ·)`` matrix, so
  every per-step product is one BLAS GEMM over the whole batch (never a loop over samples).
* The input projection ``X_t · W_x + b`` for ALL steps is one GEMM before the time loop; the loop
  only adds the recurrence ``H_{t-1} · W_h`` and applies ``f`` in place (3 NumPy calls per step).
* No pre-activations are kept: ``f'`` is computed from the cached OUTPUTS ``H_t`` (tanh: 1-H²,
  sigmoid: H(1-H), relu: H>0), for all steps at once in one vectorised call after the forward pass.
  The backward loop is then 2 NumPy calls per step (an elementwise product and a GEMM).
* The weight gradients are not accumulated step by step: ``δ_t`` is stored for every step in a
  ``(T, B, H)`` buffer, and ``∂L/∂W_h = [H_0;..;H_{T-1}]^T · [δ_1;..;δ_T]`` is ONE big GEMM of inner
  dimension ``T·B`` after the loop (likewise ``W_x`` and ``b``).
* Buffers are allocated once per (T, B) shape and reused across mini-batches; the parameters,
  gradients and optimiser moments each live in ONE flat vector (the arrays in ``params`` are views
  into it), so clipping by global norm and the Adam update are a handful of vectorised calls per
  step instead of a handful per parameter.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

import harness

__all__ = ["ElmanRNN", "RNNNumpy", "ACTIVATIONS", "PARAM_NAMES"]

#: The parameter names, in the order they are laid out in the flat parameter vector.
PARAM_NAMES: tuple[str, ...] = ("W_x", "W_h", "b", "W_y", "b_y")
ACTIVATIONS: tuple[str, ...] = ("tanh", "relu", "sigmoid")


# --------------------------------------------------------------------------------------------
# Activations, in place, and their derivatives from the activation's OUTPUT h = f(a).
# --------------------------------------------------------------------------------------------


def _tanh_(a: np.ndarray) -> None:
    np.tanh(a, out=a)


def _relu_(a: np.ndarray) -> None:
    np.maximum(a, 0, out=a)


def _sigmoid_(a: np.ndarray) -> None:
    # s(a) = (1 + tanh(a/2)) / 2: the same function as 1/(1+exp(-a)) but never overflows.
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5


def _dtanh(h: np.ndarray, out: np.ndarray) -> None:
    np.multiply(h, h, out=out)  # f'(a) = 1 - tanh(a)² = 1 - h²
    np.subtract(1, out, out=out)


def _drelu(h: np.ndarray, out: np.ndarray) -> None:
    np.greater(h, 0, out=out)  # f'(a) = 1 where a > 0, i.e. where h > 0 (0 at the kink)


def _dsigmoid(h: np.ndarray, out: np.ndarray) -> None:
    np.subtract(1, h, out=out)  # f'(a) = s(a)(1 - s(a)) = h(1 - h)
    out *= h


_ACT = {"tanh": (_tanh_, _dtanh), "relu": (_relu_, _drelu), "sigmoid": (_sigmoid_, _dsigmoid)}


class _Workspace:
    """Buffers for one (T, B) shape, reused by every mini-batch of that shape.

    ``Hs[0]`` is ``H_0``; ``Hs[t]`` is ``H_t`` for t = 1..T (so ``Hs[t-1]`` is the state entering
    step t). ``D`` first holds ``f'(A_t)`` and is overwritten in place by ``δ_t`` in the backward
    loop (``D[t-1]`` belongs to step t).
    """

    def __init__(self, T: int, B: int, n_hidden: int, n_out: int, dtype: np.dtype) -> None:
        self.Hs = np.empty((T + 1, B, n_hidden), dtype)
        self.D = np.empty((T, B, n_hidden), dtype)
        self.tmp = np.empty((B, n_hidden), dtype)
        self.dH = np.empty((B, n_hidden), dtype)
        self.Yhat = np.empty((B, n_out), dtype)


class _AdamState:
    """Adam's moments over a flat parameter vector, updated in place (no allocation per step)."""

    def __init__(self, theta: np.ndarray) -> None:
        self.theta = theta
        self.m, self.v, self.tmp = np.zeros_like(theta), np.zeros_like(theta), np.empty_like(theta)
        self.t = 0

    def update(self, grad: np.ndarray, lr: float, b1: float, b2: float, eps: float) -> None:
        """m <- β1 m + (1-β1) g ;  v <- β2 v + (1-β2) g² ;
        θ <- θ - lr/(1-β1^t) · m / (sqrt(v/(1-β2^t)) + ε)"""
        self.t += 1
        m, v, tmp = self.m, self.v, self.tmp
        m *= b1
        np.multiply(grad, 1.0 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(grad, grad, out=tmp)
        tmp *= 1.0 - b2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp *= 1.0 / math.sqrt(1.0 - b2**self.t)
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= lr / (1.0 - b1**self.t)
        self.theta -= tmp


class ElmanRNN:
    """A single-layer Elman RNN with a linear read-out, many-to-one, trained by (truncated) BPTT.

    Parameters
    ----------
    n_in, n_hidden, n_out:
        Sizes of the input features, the hidden state and the outputs.
    activation:
        ``"tanh"`` (default), ``"relu"`` or ``"sigmoid"``.
    seed:
        Seeds the initial weights and, in :meth:`fit`, the mini-batch shuffling; the same seed
        gives the same network and the same fit.
    dtype:
        ``"float64"`` (default, used for gradient checks) or ``"float32"`` (every array and every
        computation in single precision).

    Initialisation: ``W_x`` and ``W_y`` Glorot/Xavier uniform (keeps the variance of activations
    and gradients about constant through the layer); ``W_h`` a random orthogonal matrix (all its
    singular values are 1, so the recurrence neither explodes nor vanishes at the start); biases 0.
    """

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        n_out: int,
        activation: str = "tanh",
        seed: int = 0,
        dtype: str | np.dtype = "float64",
    ) -> None:
        if activation not in _ACT:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype("float32"), np.dtype("float64")):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype}")
        self.n_in, self.n_hidden, self.n_out = int(n_in), int(n_hidden), int(n_out)
        self.activation = activation
        self.seed = int(seed)
        self._act, self._dact = _ACT[activation]
        self.shapes: dict[str, tuple[int, ...]] = {
            "W_x": (self.n_in, self.n_hidden),
            "W_h": (self.n_hidden, self.n_hidden),
            "b": (self.n_hidden,),
            "W_y": (self.n_hidden, self.n_out),
            "b_y": (self.n_out,),
        }
        self.n_params = sum(math.prod(s) for s in self.shapes.values())

        rng = np.random.default_rng(self.seed)
        H = self.n_hidden
        lim_x = math.sqrt(6.0 / (self.n_in + H))
        lim_y = math.sqrt(6.0 / (H + self.n_out))
        q, r = np.linalg.qr(rng.standard_normal((H, H)))
        q *= np.sign(np.diag(r))  # makes the orthogonal matrix uniformly (Haar) distributed
        init = {
            "W_x": rng.uniform(-lim_x, lim_x, self.shapes["W_x"]),
            "W_h": q,
            "b": np.zeros(H),
            "W_y": rng.uniform(-lim_y, lim_y, self.shapes["W_y"]),
            "b_y": np.zeros(self.n_out),
        }
        self._flat, self.params = self._flat_views()
        for k in PARAM_NAMES:
            self.params[k][...] = init[k]
        self._gflat, self._grads = self._flat_views()
        self._workspaces: dict[tuple[int, int], _Workspace] = {}

    # ----------------------------------------------------------------------------------------
    # Bookkeeping: flat parameter / gradient vectors with per-parameter views.
    # ----------------------------------------------------------------------------------------

    def _flat_views(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        flat = np.zeros(self.n_params, self.dtype)
        views, i = {}, 0
        for k in PARAM_NAMES:
            n = math.prod(self.shapes[k])
            views[k] = flat[i : i + n].reshape(self.shapes[k])
            i += n
        return flat, views

    def _sync_params(self) -> None:
        """Re-pack ``params`` into the flat vector if a caller replaced an array in the dict
        (``net.params["W_h"] = M``) instead of writing into it (``net.params["W_h"][...] = M``)."""
        if set(self.params) != set(PARAM_NAMES):
            raise ValueError(f"params must have exactly the keys {PARAM_NAMES}")
        stale = any(self.params[k].base is not self._flat or self.params[k].dtype != self.dtype for k in PARAM_NAMES)
        if not stale:
            return
        old = {}
        for k in PARAM_NAMES:
            old[k] = np.asarray(self.params[k], dtype=self.dtype)
            if old[k].shape != self.shapes[k]:
                raise ValueError(f"params[{k!r}] has shape {old[k].shape}, expected {self.shapes[k]}")
        self._flat, self.params = self._flat_views()
        for k in PARAM_NAMES:
            self.params[k][...] = old[k]

    def get_flat(self) -> np.ndarray:
        """A copy of all parameters as one vector (order ``PARAM_NAMES``)."""
        self._sync_params()
        return self._flat.copy()

    def set_flat(self, flat: np.ndarray) -> None:
        """Set all parameters from one vector made by :meth:`get_flat`."""
        self._sync_params()
        self._flat[...] = flat

    def _workspace(self, T: int, B: int) -> _Workspace:
        ws = self._workspaces.get((T, B))
        if ws is None:
            if len(self._workspaces) >= 4:  # training uses 2 shapes (full + last partial batch)
                self._workspaces.clear()
            ws = self._workspaces[(T, B)] = _Workspace(T, B, self.n_hidden, self.n_out, self.dtype)
        return ws

    def _as_input(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim != 3 or X.shape[2] != self.n_in:
            raise ValueError(f"X must have shape (batch, time, {self.n_in}), got {X.shape}")
        return X

    @staticmethod
    def _time_major(X: np.ndarray) -> np.ndarray:
        """(B, T, n_in) -> contiguous (T, B, n_in): one step's inputs are a contiguous matrix."""
        return np.ascontiguousarray(X.transpose(1, 0, 2))

    # ----------------------------------------------------------------------------------------
    # Forward pass
    # ----------------------------------------------------------------------------------------

    def _forward_states(self, Xtm: np.ndarray, ws: _Workspace, h0: np.ndarray | None = None) -> None:
        """Run the recurrence on time-major ``Xtm`` (T, B, n_in); fills ``ws.Hs`` with H_0..H_T.

        Only the hidden states are cached, not the pre-activations A_t: the backward pass needs
        f'(A_t), and for tanh, sigmoid and relu that is a function of H_t = f(A_t) alone.
        """
        T, B, _ = Xtm.shape
        W_x, W_h, b = self.params["W_x"], self.params["W_h"], self.params["b"]
        Hs, tmp, act = ws.Hs, ws.tmp, self._act
        # H_0: zeros or the given initial state.
        if h0 is None:
            Hs[0] = 0
        else:
            Hs[0] = h0
        # Input projection for every step in one GEMM:  Hs[t] <- X_t · W_x + b   (t = 1..T)
        A = Hs[1:].reshape(T * B, self.n_hidden)
        np.matmul(Xtm.reshape(T * B, self.n_in), W_x, out=A)
        A += b
        # The recurrence, one GEMM over the whole batch per step:
        #   A_t = (X_t · W_x + b) + H_{t-1} · W_h ;   H_t = f(A_t)   (in place, in Hs[t])
        start = 0
        if h0 is None:  # H_0 = 0, so A_1 = X_1 · W_x + b: skip the product with zeros
            act(Hs[1])
            start = 1
        for t in range(start + 1, T + 1):
            np.matmul(Hs[t - 1], W_h, out=tmp)
            a = Hs[t]
            a += tmp
            act(a)

    def forward(self, X: np.ndarray, h0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Outputs and hidden states at every step.

        ``X`` has shape ``(batch, time, n_in)``; ``h0`` (optional) ``(batch, n_hidden)``.
        Returns ``(Y, H)``: ``Y`` of shape ``(batch, time, n_out)`` with ``Y[:, t] = H[:, t] · W_y
        + b_y`` and ``H`` of shape ``(batch, time, n_hidden)`` (H_1..H_T; H_0 is not included).
        """
        self._sync_params()
        X = self._as_input(X)
        B, T, _ = X.shape
        ws = _Workspace(T, B, self.n_hidden, 0, self.dtype)
        self._forward_states(self._time_major(X), ws, None if h0 is None else np.asarray(h0, self.dtype))
        H = np.ascontiguousarray(ws.Hs[1:].transpose(1, 0, 2))  # back to (B, T, n_hidden)
        Y = H @ self.params["W_y"]
        Y += self.params["b_y"]
        return Y, H

    def predict(self, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Last-step outputs ``Y_T`` of shape ``(batch, n_out)`` for ``X`` of shape
        ``(batch, time, n_in)`` (in chunks of ``batch_size`` sequences to bound memory)."""
        self._sync_params()
        X = self._as_input(X)
        N, T, _ = X.shape
        out = np.empty((N, self.n_out), self.dtype)
        for s in range(0, N, batch_size):
            Xb = X[s : s + batch_size]
            ws = _Workspace(T, Xb.shape[0], self.n_hidden, 0, self.dtype)
            self._forward_states(self._time_major(Xb), ws)
            np.matmul(ws.Hs[T], self.params["W_y"], out=out[s : s + batch_size])
        out += self.params["b_y"]
        return out

    def loss(self, X: np.ndarray, Y: np.ndarray) -> float:
        """Mean squared error of the last step (mean over batch and outputs), no gradients."""
        Y = np.asarray(Y, dtype=self.dtype).reshape(-1, self.n_out)
        err = self.predict(X) - Y
        return float(np.mean(err * err))

    # ----------------------------------------------------------------------------------------
    # Backward pass (BPTT)
    # ----------------------------------------------------------------------------------------

    def _backward_recursion(
        self, D: np.ndarray, dH: np.ndarray, T: int, t0: int, trace: np.ndarray | None = None
    ) -> None:
        """The BPTT recursion from step ``T`` back to step ``t0 + 1``, shared by training
        (:meth:`_loss_and_grads_tm`) and :meth:`state_jacobians`::

            δ_t = ∂/∂H_t ⊙ f'(A_t)          ∂/∂H_{t-1} = δ_t · W_h^T

        On entry ``dH`` (B, n_hidden) holds the derivative of whatever is being differentiated
        with respect to ``H_T`` (∂L/∂H_T in training; rows of the identity for Jacobians) and
        ``D[t-1]`` holds ``f'(A_t)`` for t = t0+1..T; on exit ``D[t-1]`` holds ``δ_t``. Without
        ``trace`` ``dH`` is overwritten step by step and ∂/∂H_{t0} is not computed (training
        does not need it). With ``trace`` (shape ``(T - t0 + 1, B, n_hidden)``, ``trace[0]``
        being ``dH`` or equal to it) every ∂/∂H_{T-j} is kept in ``trace[j]``, j = 1..T-t0, and
        ``dH`` is left untouched.
        """
        W_hT = self.params["W_h"].T
        for t in range(T, t0, -1):
            delta = D[t - 1]
            np.multiply(dH, delta, out=delta)
            if trace is not None:
                dH = trace[T - t + 1]
                np.matmul(delta, W_hT, out=dH)
            elif t > t0 + 1:  # ∂L/∂H_{t0} is not needed: the recursion stops there
                np.matmul(delta, W_hT, out=dH)

    def state_jacobians(self, X: np.ndarray, k_max: int | None = None) -> np.ndarray:
        """Jacobians of the last hidden state with respect to earlier ones, from this network's
        own backward pass: ``J[b, k] = ∂H_T/∂H_{T-k}`` for window ``b`` and k = 0..k_max.

        ``X`` has shape ``(batch, time, n_in)``; ``k_max`` defaults to ``T`` (k = T is the
        initial state H_0). Returns an array ``(batch, k_max + 1, n_hidden, n_hidden)`` with
        ``J[b, k][i, j] = ∂H_T[i] / ∂H_{T-k}[j]`` (row vectors, ``H_t = f(X_t W_x + H_{t-1} W_h
        + b)``) and ``J[:, 0]`` the identity. This is the quantity behind vanishing and
        exploding gradients: ∂L/∂H_{T-k} = ∂L/∂H_T · J[k], so the norm of J[k] bounds how much
        the loss can hear of step T-k.

        Why this way: it runs the training code itself, :meth:`_forward_states` and
        :meth:`_backward_recursion` with ``f'`` from ``self._dact``, seeded with the identity
        instead of ∂L/∂H_T, so what is measured is the gradient flow of the implementation
        that trains, not of a re-derivation. Each window's ``f'(A_t)`` is repeated ``n_hidden``
        times along the batch (one row per unit i of H_T), so one backward pass gives every
        row of every Jacobian.
        """
        self._sync_params()
        X = self._as_input(X)
        B, T, _ = X.shape
        K = T if k_max is None else int(k_max)
        if not 0 <= K <= T:
            raise ValueError(f"k_max must be in 0..{T} (the window length), got {k_max}")
        H = self.n_hidden
        ws = _Workspace(T, B, H, 0, self.dtype)
        self._forward_states(self._time_major(X), ws)
        t0 = T - K
        fprime = np.empty((K, B, H), self.dtype)
        self._dact(ws.Hs[t0 + 1 :], fprime)
        # Row b*H + i of the big batch is unit i of window b: f'(A_t) of window b, seed e_i.
        D = np.repeat(fprime, H, axis=1)  # (K, B*H, H)
        trace = np.empty((K + 1, B * H, H), self.dtype)
        trace[0] = np.tile(np.eye(H, dtype=self.dtype), (B, 1))
        # The last K steps, renumbered 1..K (the recursion only needs f' and W_h of those steps).
        self._backward_recursion(D, trace[0], K, 0, trace=trace)
        # trace[k][b*H + i, j] = ∂H_T[i]/∂H_{T-k}[j]  ->  (B, K+1, H, H)
        return np.ascontiguousarray(trace.reshape(K + 1, B, H, H).transpose(1, 0, 2, 3))

    def _loss_and_grads_tm(self, Xtm: np.ndarray, Y: np.ndarray, bptt_steps: int | None) -> float:
        """Forward + backward on time-major ``Xtm`` (T, B, n_in); gradients into ``self._grads``
        (views of the reused flat vector ``self._gflat``). Returns the loss."""
        T, B, _ = Xtm.shape
        H = self.n_hidden
        p, g = self.params, self._grads
        ws = self._workspace(T, B)
        self._forward_states(Xtm, ws)
        Hs, D, dH = ws.Hs, ws.D, ws.dH

        # Loss of the last step:  Ŷ = H_T · W_y + b_y,  L = mean((Ŷ - Y)²)
        Yhat = ws.Yhat
        np.matmul(Hs[T], p["W_y"], out=Yhat)
        Yhat += p["b_y"]
        err = np.subtract(Yhat, Y, out=Yhat)  # Ŷ - Y  (reuses Ŷ's buffer)
        e = err.reshape(-1)
        loss = float(e @ e) / e.size
        dY = err
        dY *= 2.0 / e.size  # ∂L/∂Ŷ = 2(Ŷ - Y) / (B·n_out)

        # Output layer:  ∂L/∂W_y = H_T^T · ∂L/∂Ŷ,  ∂L/∂b_y = Σ_batch ∂L/∂Ŷ,  ∂L/∂H_T = ∂L/∂Ŷ · W_y^T
        np.matmul(Hs[T].T, dY, out=g["W_y"])
        np.sum(dY, axis=0, out=g["b_y"])
        np.matmul(dY, p["W_y"].T, out=dH)

        # Steps that get a backward pass: t = t0+1 .. T  (all of them for full BPTT).
        k = T if bptt_steps is None else max(1, min(int(bptt_steps), T))
        t0 = T - k
        # f'(A_t) for those steps from the cached outputs, one vectorised call: D[t-1] = f'(A_t).
        self._dact(Hs[t0 + 1 :], D[t0:])

        # The backward recursion; D[t-1] is overwritten by δ_t.
        self._backward_recursion(D, dH, T, t0)

        # Shared weights: sum over steps, as ONE GEMM each over the stacked (k·B) rows.
        #   ∂L/∂W_h = Σ_t H_{t-1}^T · δ_t = [H_t0; ..; H_{T-1}]^T · [δ_t0+1; ..; δ_T]
        #   ∂L/∂W_x = Σ_t X_t^T · δ_t        ∂L/∂b = Σ_t Σ_batch δ_t
        deltas = D[t0:].reshape(k * B, H)
        np.matmul(Hs[t0:T].reshape(k * B, H).T, deltas, out=g["W_h"])
        np.matmul(Xtm[t0:].reshape(k * B, self.n_in).T, deltas, out=g["W_x"])
        np.sum(deltas, axis=0, out=g["b"])
        return loss

    def loss_and_grads(
        self, X: np.ndarray, Y: np.ndarray, bptt_steps: int | None = None
    ) -> tuple[float, dict[str, np.ndarray]]:
        """Loss and its gradients for one batch.

        ``X``: ``(batch, time, n_in)``; ``Y``: ``(batch, n_out)``, the targets of the LAST step.
        The loss is ``L = mean over batch and outputs of (Y_T - Y)²``. Returns ``(L, grads)``
        with ``grads`` a dict of fresh arrays with the same keys and shapes as ``params``. Full
        BPTT by default; ``bptt_steps=k`` backpropagates only through the last ``k`` steps.
        """
        self._sync_params()
        X = self._as_input(X)
        Y = np.asarray(Y, dtype=self.dtype).reshape(X.shape[0], self.n_out)
        loss = self._loss_and_grads_tm(self._time_major(X), Y, bptt_steps)
        return loss, {k: v.copy() for k, v in self._grads.items()}

    def sequence_loss_and_grads(
        self, X: np.ndarray, k: int, loss: Callable[[np.ndarray], tuple[float, np.ndarray]]
    ) -> float:
        """Loss and gradients of a read-out at each of the last ``k`` steps, by full BPTT.

        For sequence tasks scored at several steps (the copy-memory problem reads the last 10)
        or with their own loss (cross-entropy): ``X`` is ``(batch, time, n_in)``; the outputs
        ``Y[:, j] = H_{T-k+1+j} · W_y + b_y`` (shape ``(batch, k, n_out)``) go to ``loss``, which
        returns the loss value and ∂L/∂Y of the same shape. The gradients land in the network's
        gradient buffer (:attr:`grads`, what :meth:`adam` steps with); returns the loss. The
        recursion is that of training, with ∂L/∂Y_t · W_y^T added to ∂L/∂H_t at each read step::

            ∂/∂H_t = [∂L/∂Y_t · W_y^T]  +  δ_{t+1} · W_h^T,     δ_t = ∂/∂H_t ⊙ f'(A_t)
        """
        self._sync_params()
        X = self._as_input(X)
        B, T, _ = X.shape
        k = int(k)
        if not 1 <= k <= T:
            raise ValueError(f"k must be in 1..{T} (the sequence length), got {k}")
        p, g, H = self.params, self._grads, self.n_hidden
        Xtm = self._time_major(X)
        ws = _Workspace(T, B, H, 0, self.dtype)
        self._forward_states(Xtm, ws)
        Hs, D = ws.Hs, ws.D
        Hk = Hs[T - k + 1 :]  # (k, B, H): the states that are read
        Y = np.ascontiguousarray((Hk @ p["W_y"] + p["b_y"]).transpose(1, 0, 2))  # (B, k, n_out)
        value, dY = loss(Y)
        dYtm = np.ascontiguousarray(np.asarray(dY, dtype=self.dtype).transpose(1, 0, 2))  # (k, B, n_out)
        if dYtm.shape != (k, B, self.n_out):
            raise ValueError(f"loss must return dL/dY of shape {(B, k, self.n_out)}, got {np.shape(dY)}")
        g["W_y"][...] = np.einsum("kbh,kbo->ho", Hk, dYtm)
        g["b_y"][...] = dYtm.sum(axis=(0, 1))
        self._dact(Hs[1:], D)  # D[t-1] = f'(A_t)
        W_hT, W_yT = p["W_h"].T, p["W_y"].T
        dH = np.zeros((B, H), self.dtype)
        for t in range(T, T - k, -1):  # the read steps: inject ∂L/∂Y_t
            dH += dYtm[t - (T - k + 1)] @ W_yT
            delta = D[t - 1]
            np.multiply(dH, delta, out=delta)
            if t > 1:
                dH = delta @ W_hT
        if T - k > 0:  # the steps before: the plain recursion, from ∂L/∂H_{T-k}
            self._backward_recursion(D, dH, T - k, 0)
        deltas = D.reshape(T * B, H)
        np.matmul(Hs[:T].reshape(T * B, H).T, deltas, out=g["W_h"])
        np.matmul(Xtm.reshape(T * B, self.n_in).T, deltas, out=g["W_x"])
        np.sum(deltas, axis=0, out=g["b"])
        return float(value)

    @property
    def grads(self) -> dict[str, np.ndarray]:
        """The gradient buffer (views, same keys and shapes as ``params``) that
        :meth:`sequence_loss_and_grads` fills and :meth:`adam` reads."""
        return self._grads

    def adam(
        self, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, clip_norm: float | None = None
    ) -> Callable[[], float]:
        """An Adam optimiser over this network's parameters (Kingma & Ba, bias-corrected, as
        ``torch.optim.Adam``): each call of the returned ``step()`` clips the gradients in
        :attr:`grads` to global norm ``clip_norm`` (None: no clipping), updates the parameters in
        place and returns the gradient norm before clipping. :meth:`fit` steps the same way."""
        self._sync_params()
        theta, grad = self._flat, self._gflat
        state = _AdamState(theta)
        b1, b2 = betas

        def step() -> float:
            gnorm = math.sqrt(float(grad @ grad))
            if clip_norm is not None and gnorm > clip_norm:
                np.multiply(grad, clip_norm / gnorm, out=grad)
            state.update(grad, lr, b1, b2, eps)
            return gnorm

        return step

    # ----------------------------------------------------------------------------------------
    # Training
    # ----------------------------------------------------------------------------------------

    def fit(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        *,
        epochs: int = 100,
        batch_size: int = 64,
        lr: float = 1e-3,
        optimizer: str = "adam",
        momentum: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        clip_norm: float | None = 1.0,
        bptt_steps: int | None = None,
        X_val: np.ndarray | None = None,
        Y_val: np.ndarray | None = None,
        patience: int | None = 10,
        max_updates: int | None = None,
        check_every: int | None = None,
        shuffle: bool = True,
        on_epoch: Callable[[int, float, float | None], None] | None = None,
    ) -> dict[str, Any]:
        """Train by mini-batch gradient descent on the last-step MSE.

        ``optimizer="adam"`` (Kingma & Ba, with bias correction, as ``torch.optim.Adam``) or
        ``"sgd"`` (with optional heavy-ball ``momentum``: ``v = μ v + g; θ -= lr v``).
        ``clip_norm``: if the global L2 norm of all gradients exceeds it, they are scaled down to
        it before the update (``None`` disables). ``bptt_steps``: truncated BPTT.

        The budget and the checks follow :class:`harness.UpdateBudget` (the schedule the torch
        loop shares): ``epochs`` full epochs by default, or exactly ``max_updates`` parameter
        updates when given (epochs re-shuffle as needed; ``epochs`` is then no limit); a *check*
        at the end of every epoch by default, or after every ``check_every`` updates and after
        the last one. With a validation set (``X_val``, ``Y_val``) the validation loss is
        computed at every check; training stops after ``patience`` checks without improvement
        (``None``: never) and the parameters of the best check are restored. Without one, the
        final parameters are kept.

        Mini-batches are shuffled each epoch by an rng seeded from ``seed``, so a fit is
        deterministic for a given seed and data. Returns a history dict, one entry per check:
        ``train_loss`` (mean loss over the mini-batches since the previous check),
        ``val_loss`` (empty without validation), ``best_epoch`` (the best check, 0-based,
        ``None`` without validation), ``epochs_run`` (checks made), ``grad_norm`` (mean
        pre-clipping global gradient norm since the previous check).

        ``on_epoch(updates, train_loss, val_loss)`` is called at every check with the parameter
        updates so far and those losses (``val_loss`` None without validation or when a
        non-finite training loss stops training before validating): what
        :meth:`harness.TrainingLog.epoch` records.
        """
        if optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
        self._sync_params()
        X = self._as_input(X)
        N, T, _ = X.shape
        Y = np.asarray(Y, dtype=self.dtype).reshape(N, self.n_out)
        has_val = X_val is not None and Y_val is not None
        if has_val:
            X_val = self._as_input(X_val)
            Y_val = np.asarray(Y_val, dtype=self.dtype).reshape(X_val.shape[0], self.n_out)

        Xtm = self._time_major(X)  # (T, N, n_in); a mini-batch is a gather along axis 1
        rng = np.random.default_rng([self.seed, 1])  # a stream independent of the init's
        theta, grad = self._flat, self._gflat
        # Optimiser state, flat like the parameters: Adam's moments, or SGD's velocity.
        adam = _AdamState(theta)
        m, tmp = np.zeros_like(theta), np.empty_like(theta)
        b1, b2 = betas
        step = 0
        budget = harness.UpdateBudget.of(N, batch_size, epochs, max_updates, check_every)

        history: dict[str, Any] = {"train_loss": [], "val_loss": [], "grad_norm": [], "best_epoch": None}
        best_val, best_theta, bad_epochs = math.inf, None, 0
        loss_sum, norm_sum, n_batches, seen, check = 0.0, 0.0, 0, 0, 0
        stop = False
        while not stop:  # epochs, each a fresh shuffle, until the budget is spent or patience runs out
            order = rng.permutation(N) if shuffle else np.arange(N)
            for s in range(0, N, batch_size):
                idx = order[s : s + batch_size]
                loss = self._loss_and_grads_tm(Xtm[:, idx], Y[idx], bptt_steps)
                loss_sum += loss * len(idx)
                seen += len(idx)
                # Clip by global norm: g <- g · min(1, c / ||g||)
                gnorm = math.sqrt(float(grad @ grad))
                norm_sum += gnorm
                n_batches += 1
                if clip_norm is not None and gnorm > clip_norm:
                    grad *= clip_norm / gnorm
                step += 1
                if optimizer == "adam":
                    adam.update(grad, lr, b1, b2, eps)
                else:
                    if momentum:
                        m *= momentum  # v <- μ v + g ; θ <- θ - lr v
                        m += grad
                        np.multiply(m, lr, out=tmp)
                    else:
                        np.multiply(grad, lr, out=tmp)
                    theta -= tmp
                if not budget.is_check(step):
                    continue
                # a check: the mean loss of the windows since the last one, validation, patience
                history["train_loss"].append(loss_sum / seen)
                history["grad_norm"].append(norm_sum / max(n_batches, 1))
                if not math.isfinite(loss_sum):
                    if on_epoch is not None:
                        on_epoch(step, loss_sum / seen, None)
                    stop = True
                    break
                if has_val:
                    val = self.loss(X_val, Y_val)
                    history["val_loss"].append(val)
                if on_epoch is not None:
                    on_epoch(step, loss_sum / seen, val if has_val else None)
                loss_sum, norm_sum, n_batches, seen = 0.0, 0.0, 0, 0
                if has_val:
                    if val < best_val:
                        best_val, best_theta, bad_epochs = val, theta.copy(), 0
                        history["best_epoch"] = check
                    else:
                        bad_epochs += 1
                        if patience is not None and bad_epochs >= patience:
                            stop = True
                check += 1
                if stop or budget.done(step):
                    stop = True
                    break
        history["epochs_run"] = len(history["train_loss"])
        if best_theta is not None:
            theta[...] = best_theta
        return history


# --- the forecasting plugin -------------------------------------------------------------------


class RNNNumpy(harness.WindowForecaster):
    """``rnn-numpy``: the NumPy Elman network (ElmanRNN) as a forecaster, one global model over all series.
    ``threads`` limits NumPy's BLAS during fit and predict (1 by default, see :meth:`_blas_threads`).

    Everything but the network (preprocessing, windows, the ``mimo``/``recursive`` strategies,
    global or local training, the validation tail) is :class:`harness.WindowForecaster`'s. The
    network reads a window one value per time step; its last output is the forecast.
    """

    #: The network class this forecaster trains, for tools that train and inspect such networks
    #: directly: the gradient-decay study (:mod:`harness.studies.gradients`) finds it here, through
    #: the registry (``registry.model("rnn-numpy").cls.network``), not by importing this module.
    network: ClassVar[type[ElmanRNN]] = ElmanRNN

    name: ClassVar[str] = "rnn-numpy"
    family: ClassVar[str] = "rnn"
    hidden: int = harness.param(32, "hidden units of the Elman layer", ge=1, search=(8, 64, "log"))
    activation: str = harness.param("tanh", "hidden-layer activation", choices=ACTIVATIONS)
    epochs: int = harness.param(
        60, "maximum training epochs (no limit when max_updates is set)", ge=1, search=(20, 60, "log")
    )
    batch_size: int = harness.param(64, "training windows per mini-batch", ge=1, search=[32, 64, 128, 256])
    lr: float = harness.param(3e-3, "learning rate", gt=0, search=(3e-4, 3e-2, "log"))
    optimizer: str = harness.param(
        "adam", "gradient-descent optimiser (adam, or sgd without momentum)", choices=("adam", "sgd")
    )
    clip_norm: float | None = harness.param(
        1.0, "clip gradients to this global norm (null: no clipping)", gt=0, nullable=True
    )
    bptt_steps: int | None = harness.param(
        None, "truncate backpropagation through time to this many steps (null: the whole window)", type=int, ge=1
    )
    patience: int | None = harness.param(
        8,
        "early stopping after this many checks (epochs, or check_every updates) without a better validation loss "
        "(null: never)",
        ge=1,
        nullable=True,
        search=(4, 12, "log"),
    )
    dtype: str = harness.param("float64", "floating-point precision of the network", choices=("float32", "float64"))
    threads: int | None = harness.param(
        1,
        "BLAS threads during fit and predict (null: leave NumPy's setting)",
        ge=1,
        nullable=True,
        id_at_default=False,
    )

    def train_network(self, train: Any, val: Any, seed: int) -> Any:
        budget = self.update_budget(len(train.X), int(self.batch_size), int(self.epochs))
        log = self.training_log(budget.checks)
        net = ElmanRNN(1, int(self.hidden), self.n_out, activation=self.activation, seed=seed, dtype=self.dtype)
        net.fit(
            train.X[:, :, None],
            train.Y,
            X_val=None if val is None else val.X[:, :, None],
            Y_val=None if val is None else val.Y,
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            lr=float(self.lr),
            optimizer=self.optimizer,
            clip_norm=self.clip_norm,
            bptt_steps=self.bptt_steps,
            patience=None if self.patience is None else int(self.patience),
            max_updates=budget.updates,
            check_every=budget.check_every,
            on_epoch=log.epoch,
        )
        self.nets_.append(net)
        return lambda x: net.predict(x[:, :, None].astype(net.dtype, copy=False)).astype(float)

    def fit(self, panel: harness.Panel) -> None:
        self.nets_: list[ElmanRNN] = []  # the trained networks, for inspection and the tests
        with self._blas_threads():
            super().fit(panel)

    def predict(self, panel: harness.Panel) -> dict[str, Any]:
        with self._blas_threads():
            return super().predict(panel)

    def _blas_threads(self) -> Any:
        """NumPy's BLAS limited to ``threads`` for the duration (a no-op context with null). One by
        default, as torch's ``threads``: the network's matrices are small, and a global model's
        fit runs beside other workers, where a multithreaded BLAS spin-waits for cores that are
        busy. Measured on the 2-core development machine beside a torch fit: 119 ms an update
        with NumPy's default threads against 3.4 ms with one (memory study, L=24, hidden 64)."""
        if self.threads is None:
            return contextlib.nullcontext()
        from threadpoolctl import threadpool_limits  # a harness dependency; loaded only to fit

        return threadpool_limits(limits=int(self.threads), user_api="blas")


@harness.hookimpl
def register_models(register: Any) -> None:
    register(RNNNumpy)
