"""The sequence-memory problems of the literature, as seeded generators with known trivial losses.

Claim (c) names a mechanism (gradients vanish over long time lags) that forecasting data cannot
isolate. These two synthetic problems can: the answer depends on inputs exactly ``T`` steps (or
more) back, nothing nearer helps, and the loss of a predictor that learned nothing is known in
closed form, so "solved" is a number, not an impression.

* **Adding problem** (Hochreiter & Schmidhuber 1997, in the form of Le, Jaitly & Hinton 2015 and
  Bai, Kolter & Koltun 2018): a sequence of ``T`` steps with two inputs per step, a value drawn
  from U(0, 1) and a marker that is 1 at exactly two steps, one in each half of the sequence, and 0
  elsewhere. The target is the sum of the two marked values; the loss is the MSE of the output at
  the last step. The trivial predictor always says 1.0 (the target's mean) and has MSE
  ``Var(U1 + U2) = 2/12 = 1/6``.
* **Copy-memory problem** (Hochreiter & Schmidhuber 1997; the form of Arjovsky, Shah & Bengio 2016
  and Bai et al. 2018): ``T + 20`` steps; the first 10 inputs are symbols drawn uniformly from an
  alphabet of 8, then ``T - 1`` blanks, a delimiter, and 10 more blanks during which the network
  must output the 10 symbols in order. Inputs are one-hot over 10 classes (0 blank, 1..8 the
  symbols, 9 the delimiter); outputs are 8 logits per recall step. Arjovsky et al. average the
  cross-entropy over all ``T + 20`` steps, which makes the trivial loss ``10 log 8 / (T + 20)``
  shrink with ``T`` and lets a network that outputs "blank" look good at long ``T``; here the loss
  is the mean cross-entropy over the 10 recall steps only, so the trivial loss (the uniform
  guess over the 8 symbols) is ``log 8`` at every ``T`` and "solved" means the same at every
  length.

A task is *solved* when its test loss is at most :data:`SOLVED_SHARE` (5%) of the trivial loss:
for the adding problem an MSE of 0.0083 (a typical error of 0.09 on a sum in [0, 2]), for the
copy problem a cross-entropy of 0.104 nats (about 98% of the symbols recalled with confidence).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ALPHABET",
    "N_CLASSES",
    "N_SYMBOLS",
    "SOLVED_SHARE",
    "TASKS",
    "SequenceBatch",
    "SequenceTask",
    "get_task",
    "solved",
]

#: Test loss at most this share of the trivial loss: solved.
SOLVED_SHARE = 0.05
#: Symbols of the copy problem, recalled in this many steps.
N_SYMBOLS = 10
#: Alphabet size of the copy problem; inputs are one-hot over ALPHABET + 2 classes (blank, delimiter).
ALPHABET = 8
N_CLASSES = ALPHABET + 2


@dataclass(frozen=True)
class SequenceBatch:
    """Inputs ``X`` ``(n, length, n_in)`` float32 and targets ``y``: ``(n, 1)`` sums (adding) or
    ``(n, 10)`` class indices 0..7 of the symbols to recall (copy; symbol s is class s - 1)."""

    X: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class SequenceTask:
    """One problem: its generator, its output layout and its trivial loss."""

    name: str
    n_in: int
    n_out: int
    #: outputs read at the last ``read_steps`` steps (1: the last one)
    read_steps: int
    loss: str  # "mse" or "cross_entropy"
    trivial_loss: float

    def length(self, T: int) -> int:
        """Sequence length for delay ``T``: ``T`` (adding) or ``T + 20`` (copy)."""
        return int(T) if self.name == "adding" else int(T) + 2 * N_SYMBOLS

    def sample(self, T: int, n: int, rng: np.random.Generator) -> SequenceBatch:
        """``n`` fresh sequences of delay ``T`` from ``rng``."""
        T, n = _check_T(T), int(n)
        if n < 1:
            raise ValueError(f"n must be positive, got {n}")
        return _adding(T, n, rng) if self.name == "adding" else _copy(T, n, rng)

    def trivial_predictions(self, batch: SequenceBatch) -> np.ndarray:
        """What the trivial predictor outputs: 1.0 for every sum (adding); for copy, equal logits
        for the 8 symbols at every recall step."""
        n = len(batch.y)
        if self.name == "adding":
            return np.ones((n, 1))
        return np.zeros((n, self.read_steps, self.n_out))


def _check_T(T: int) -> int:
    if isinstance(T, bool) or int(T) != T or T < 2:
        raise ValueError(f"sequence length T must be an integer >= 2, got {T}")
    return int(T)


def _adding(T: int, n: int, rng: np.random.Generator) -> SequenceBatch:
    X = np.zeros((n, T, 2), np.float32)
    X[:, :, 0] = rng.uniform(0.0, 1.0, (n, T))
    half = T // 2
    first = rng.integers(0, half, n)  # one marker in each half
    second = rng.integers(half, T, n)
    rows = np.arange(n)
    X[rows, first, 1] = 1.0
    X[rows, second, 1] = 1.0
    y = (X[rows, first, 0].astype(float) + X[rows, second, 0]).reshape(n, 1)
    return SequenceBatch(X, y)


def _copy(T: int, n: int, rng: np.random.Generator) -> SequenceBatch:
    length = T + 2 * N_SYMBOLS
    symbols = rng.integers(1, ALPHABET + 1, (n, N_SYMBOLS))  # 1..8
    codes = np.zeros((n, length), np.int64)  # 0: blank
    codes[:, :N_SYMBOLS] = symbols
    codes[:, N_SYMBOLS + T - 1] = ALPHABET + 1  # the delimiter, after T - 1 blanks
    X = np.zeros((n, length, N_CLASSES), np.float32)
    np.put_along_axis(X, codes[:, :, None], 1.0, axis=2)
    return SequenceBatch(X, symbols - 1)


TASKS: dict[str, SequenceTask] = {
    "adding": SequenceTask("adding", n_in=2, n_out=1, read_steps=1, loss="mse", trivial_loss=2.0 / 12.0),
    "copy": SequenceTask(
        "copy", n_in=N_CLASSES, n_out=ALPHABET, read_steps=N_SYMBOLS, loss="cross_entropy", trivial_loss=math.log(8)
    ),
}


def get_task(name: str) -> SequenceTask:
    """The task called ``name``; ValueError naming the known ones otherwise."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown sequence task {name!r}; choose from {', '.join(TASKS)}") from None


def loss_and_grad(task: SequenceTask, outputs: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """The task's loss of ``outputs`` ``(n, read_steps, n_out)`` against targets ``y`` and its
    gradient with respect to the outputs (what a hand-written backward pass needs)."""
    n = outputs.shape[0]
    if task.loss == "mse":
        err = outputs.reshape(n, 1) - y
        return float(np.mean(err**2)), (2.0 * err / err.size).reshape(outputs.shape)
    z = outputs - outputs.max(axis=2, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(logp, y[:, :, None], axis=2)
    grad = np.exp(logp)
    np.put_along_axis(grad, y[:, :, None], np.take_along_axis(grad, y[:, :, None], axis=2) - 1.0, axis=2)
    return float(-picked.mean()), grad / (n * task.read_steps)


def solved(test_loss: float, trivial_loss: float) -> bool:
    """Whether a test loss solves the task: at most :data:`SOLVED_SHARE` of the trivial loss."""
    return bool(math.isfinite(test_loss) and test_loss <= SOLVED_SHARE * trivial_loss)
