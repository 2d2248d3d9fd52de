"""Training throughput of the NumPy ``ElmanRNN`` against ``torch.nn.RNN`` + ``Linear`` on CPU.

Both train the same model (one tanh RNN layer + linear read-out of the last step, same initial
weights) on the same windows with the same schedule: a fixed number of epochs (no early
stopping), batch 64, Adam (lr 1e-3), gradient clipping by global norm 1.0, full BPTT, shuffled
mini-batches, one thread each. They are timed in the same run, interleaved (numpy, torch, numpy,
torch, ...), best of ``--repeats``; the table gives training windows per second (windows x epochs /
seconds) and the ratio numpy/torch.

It also reports the achieved GFLOP/s of the NumPy training (the FLOPs of its matrix products,
forward + backward) against this CPU's GEMM rate at the SAME shapes: the same sequence of
``np.matmul`` calls (per-step (B,H)x(H,H) in both directions, the stacked (H,T*B)x(T*B,H) weight
gradient, the input and output projections) timed alone in a loop, so "% of GEMM" says how much
of the time goes to anything but the matrix products (Python overhead, elementwise ops, Adam).

    python benchmarks/rnn_numpy_vs_torch.py [--quick] [--dtype float32|float64] [--epochs 5]

torch is an optional extra; without it only the NumPy columns are filled.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread each, before numpy (and torch) are imported

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plugins.numpy_rnn import ElmanRNN

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - optional
    torch = None

BATCH, LR, CLIP = 64, 1e-3, 1.0


def make_data(n: int, T: int, n_out: int, dtype: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Windows of a noisy seasonal series: inputs (n, T, 1), targets the next n_out values."""
    rng = np.random.default_rng(seed)
    L = n + T + n_out
    t = np.arange(L)
    y = np.sin(2 * np.pi * t / 12) + 0.3 * np.sin(2 * np.pi * t / 50) + 0.1 * rng.standard_normal(L)
    idx = np.arange(n)[:, None] + np.arange(T + n_out)[None, :]
    w = y[idx].astype(dtype)
    return np.ascontiguousarray(w[:, :T, None]), np.ascontiguousarray(w[:, T:])


def train_numpy(net0: ElmanRNN, X: np.ndarray, Y: np.ndarray, epochs: int) -> float:
    net = ElmanRNN(net0.n_in, net0.n_hidden, net0.n_out, seed=net0.seed, dtype=net0.dtype)
    t0 = time.perf_counter()
    net.fit(X, Y, epochs=epochs, batch_size=BATCH, lr=LR, optimizer="adam", clip_norm=CLIP, patience=None)
    return time.perf_counter() - t0


class TorchRNN(torch.nn.Module if torch else object):  # type: ignore[misc]
    def __init__(self, net: ElmanRNN) -> None:
        super().__init__()
        H = net.n_hidden
        dt = torch.float64 if net.dtype == np.float64 else torch.float32
        self.rnn = torch.nn.RNN(net.n_in, H, nonlinearity="tanh", batch_first=True).to(dt)
        self.out = torch.nn.Linear(H, net.n_out).to(dt)
        p = net.params
        with torch.no_grad():
            self.rnn.weight_ih_l0.copy_(torch.from_numpy(p["W_x"].T.copy()))
            self.rnn.weight_hh_l0.copy_(torch.from_numpy(p["W_h"].T.copy()))
            self.rnn.bias_ih_l0.copy_(torch.from_numpy(p["b"].copy()))
            self.rnn.bias_hh_l0.zero_()
            self.out.weight.copy_(torch.from_numpy(p["W_y"].T.copy()))
            self.out.bias.copy_(torch.from_numpy(p["b_y"].copy()))

    def forward(self, x):
        h, _ = self.rnn(x)
        return self.out(h[:, -1])


def train_torch(net0: ElmanRNN, X: np.ndarray, Y: np.ndarray, epochs: int) -> float:
    model = TorchRNN(net0)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(0)
    loss_fn = torch.nn.MSELoss()
    n = len(Xt)
    t0 = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for s in range(0, n, BATCH):
            idx = order[s : s + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xt[idx]), Yt[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            opt.step()
    return time.perf_counter() - t0


def flops_per_epoch(n: int, T: int, H: int, n_in: int, n_out: int) -> float:
    """FLOPs of the matrix products of one epoch of NumPy training (2 per multiply-add)."""
    total = 0.0
    for s in range(0, n, BATCH):
        B = min(BATCH, n - s)
        fwd = 2 * B * T * n_in * H + 2 * B * (T - 1) * H * H + 2 * B * H * n_out
        bwd = (
            2 * B * H * n_out * 2  # dW_y and dH_T
            + 2 * B * (T - 1) * H * H  # dH_{t-1} = δ_t W_h^T
            + 2 * T * B * H * H  # dW_h, one stacked GEMM
            + 2 * T * B * n_in * H  # dW_x
        )
        total += fwd + bwd
    return total


def gemm_rate(T: int, H: int, n_in: int, n_out: int, dtype: str, repeats: int = 3) -> float:
    """GFLOP/s of the same matmul calls as one training step, timed alone (one thread)."""
    rng = np.random.default_rng(0)
    B = BATCH
    h = rng.standard_normal((B, H)).astype(dtype)
    W = rng.standard_normal((H, H)).astype(dtype)
    o = np.empty((B, H), dtype)
    big = rng.standard_normal((T * B, H)).astype(dtype)
    xs = rng.standard_normal((T * B, n_in)).astype(dtype)
    Wx = rng.standard_normal((n_in, H)).astype(dtype)
    Wy = rng.standard_normal((H, n_out)).astype(dtype)
    dy = rng.standard_normal((B, n_out)).astype(dtype)
    gWh, gWx, gWy = np.empty((H, H), dtype), np.empty((n_in, H), dtype), np.empty((H, n_out), dtype)
    A = np.empty((T * B, H), dtype)
    WT, WyT = W.T, Wy.T
    flops = (
        2 * B * T * n_in * H
        + 2 * B * (T - 1) * H * H * 2
        + 2 * T * B * H * H
        + 2 * T * B * n_in * H
        + 6 * B * H * n_out
    )
    steps = max(20, int(2e8 / flops))
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            np.matmul(xs, Wx, out=A)
            for _ in range(T - 1):
                np.matmul(h, W, out=o)
            np.matmul(h, Wy, out=dy)
            np.matmul(h.T, dy, out=gWy)
            np.matmul(dy, WyT, out=o)
            for _ in range(T - 1):
                np.matmul(h, WT, out=o)
            np.matmul(big.T, big, out=gWh)
            np.matmul(xs.T, big, out=gWx)
        best = min(best, time.perf_counter() - t0)
    return flops * steps / best / 1e9


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small grid, fewer windows")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--windows", type=int, default=10_000)
    args = ap.parse_args(argv)

    if args.quick:
        grid = [(16, 12, 1), (64, 36, 1), (32, 24, 18)]
        n, epochs = min(args.windows, 3000), min(args.epochs, 2)
    else:
        grid = [(H, T, 1) for H in (16, 32, 64) for T in (12, 24, 36)] + [(32, 24, 18), (64, 36, 18)]
        n, epochs = args.windows, args.epochs

    print(
        f"# ElmanRNN (numpy {np.__version__}) vs torch.nn.RNN+Linear (torch {torch.__version__ if torch else 'missing'})"
    )
    print(
        f"# {platform.processor() or platform.machine()}, 1 thread, {args.dtype}, {n} windows, {epochs} epochs, "
        f"batch {BATCH}, Adam, clip {CLIP}, full BPTT, best of {args.repeats}"
    )
    print(
        f"| {'H':>3} | {'T':>3} | {'out':>3} | {'numpy win/s':>11} | {'torch win/s':>11} | {'np/torch':>8} | "
        f"{'np GFLOP/s':>10} | {'GEMM GFLOP/s':>12} | {'% of GEMM':>9} |"
    )
    print("|" + "|".join("-" * (w + 2) for w in (3, 3, 3, 11, 11, 8, 10, 12, 9)) + "|")
    ratios = []
    for H, T, n_out in grid:
        X, Y = make_data(n, T, n_out, args.dtype)
        net0 = ElmanRNN(1, H, n_out, seed=0, dtype=args.dtype)
        t_np = t_th = np.inf
        train_numpy(net0, X[:256], Y[:256], 1)  # warm-up (allocations, BLAS dispatch)
        if torch:
            train_torch(net0, X[:256], Y[:256], 1)
        for _ in range(args.repeats):  # interleaved, best of repeats
            t_np = min(t_np, train_numpy(net0, X, Y, epochs))
            if torch:
                t_th = min(t_th, train_torch(net0, X, Y, epochs))
        np_rate = n * epochs / t_np
        th_rate = n * epochs / t_th if torch else float("nan")
        ratio = np_rate / th_rate
        ratios.append(ratio)
        gflops = flops_per_epoch(n, T, H, 1, n_out) * epochs / t_np / 1e9
        peak = gemm_rate(T, H, 1, n_out, args.dtype)
        print(
            f"| {H:>3} | {T:>3} | {n_out:>3} | {np_rate:>11,.0f} | {th_rate:>11,.0f} | {ratio:>7.2f}x | "
            f"{gflops:>10.2f} | {peak:>12.2f} | {100 * gflops / peak:>8.0f}% |",
            flush=True,
        )
    if torch:
        g = float(np.exp(np.mean(np.log(ratios))))
        print(
            f"\ngeometric mean numpy/torch: {g:.2f}x  (min {min(ratios):.2f}x, max {max(ratios):.2f}x; target >= 2.5x)"
        )


if __name__ == "__main__":
    main()
