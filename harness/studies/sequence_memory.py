"""The sequence-memory benchmark (claim c): how long a delay each architecture bridges, under a
stated budget of updates.

The problems are the adding and copy-memory problems of :mod:`harness.studies.sequence_tasks`.
Every cell (task x delay ``T`` x architecture x seed) trains one network for a fixed budget of
``updates`` Adam steps on fresh, seeded batches (no early stopping: a network still improving
when the budget ends is marked *still learning*, never failed), with gradients clipped to a
global norm of 1, and logs its loss on a fixed held-out test set every ``eval_every`` updates.
A cell is *solved* when its final test loss is at most 5% of the trivial loss
(:func:`~harness.studies.sequence_tasks.solved`); ``updates_to_solve`` is the first logged update
where it was. An architecture *reaches* ``T`` on a task when a majority of its seeds solve it.

The networks are the plugins' own network code, found through the registry (the core never
imports plugins): ``rnn-numpy``'s ``network`` class (:class:`plugins.numpy_rnn.ElmanRNN`, its
hand-written BPTT with a read-out at the scored steps) and the torch models' ``sequence_network``
(:func:`plugins.torch_rnn.build_network`, the forecasters' network with ``n_in`` inputs per
step). :data:`ARCHITECTURES` names them with the parameters that make the comparison:

=================== ============ ===================================================== ========
architecture        model        initialisation                                        hidden
=================== ============ ===================================================== ========
elman-numpy         rnn-numpy    orthogonal W_h, Glorot inputs (tanh)                  64
elman-torch         elman-torch  the same, in torch (tanh)                             64
irnn                irnn-torch   identity W_h, tiny inputs, ReLU, lr 1e-4 (Le 2015)     64
lstm                lstm-torch   torch default, forget-gate bias 1                     32
gru                 gru-torch    torch default                                         36
elman-torch-default rnn-torch    torch default (the control)                           64
=================== ============ ===================================================== ========

Hidden sizes give comparable parameter counts (about 4.3k-4.7k on the adding problem; the
table ``summary.csv`` states each one's count per task). Learning rate 1e-3 (the IRNN's 1e-4, as
its authors prescribe a small one), batch 64, float32 on the CPU (torch also on CUDA when there is
one). The IRNN and the control are there to show what initialisation alone does; the verdict
(:mod:`harness.claim_c`) compares the orthogonal tanh Elman nets with the gated cells.

For item 5 of the issue, the first seed of every architecture on the adding problem at the
delays in ``gradient_lengths`` also records ``||∂h_T/∂h_{T-k}||`` (the existing Jacobian code of
:mod:`harness.studies.gradients`) at initialisation, midway and at the end of training.

Cells run in worker processes (one thread each) and each finished cell is written to
``cells/<key>.json`` at once, so a study interrupted or re-run with the same settings computes
only what is missing.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.errors import StudyError
from harness.plugins import Registry, load_registry
from harness.studies.sequence_tasks import TASKS, SequenceTask, get_task, loss_and_grad, solved
from harness.training import curve_still_learning

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "CELL_COLUMNS",
    "SequenceConfig",
    "TINY",
    "reachable",
    "run_cells",
    "sequence_tables",
]


@dataclass(frozen=True)
class Architecture:
    """A registered model and the parameters that make it this architecture."""

    model: str
    params: dict[str, Any]
    lr: float = 1e-3
    #: relative cost per step, to start the slowest cells first (torch's GRU has no fused CPU kernel)
    cost: float = 1.0


ARCHITECTURES: dict[str, Architecture] = {
    "elman-numpy": Architecture("rnn-numpy", {"hidden": 64, "activation": "tanh"}, cost=1.0),
    "elman-torch": Architecture("elman-torch", {"hidden": 64}, cost=2.0),
    "irnn": Architecture("irnn-torch", {"hidden": 64}, lr=1e-4, cost=2.0),
    "lstm": Architecture("lstm-torch", {"hidden": 32, "forget_bias": 1.0}, cost=1.0),
    "gru": Architecture("gru-torch", {"hidden": 36}, cost=4.0),
    "elman-torch-default": Architecture("rnn-torch", {"hidden": 64}, cost=2.0),
}
#: The architectures the claim is about (Elman, tanh, orthogonal start) and its proposed remedy.
ELMAN = ("elman-numpy", "elman-torch")
GATED = ("lstm", "gru")

CELL_COLUMNS = [
    "task",
    "T",
    "model",
    "seed",
    "updates",
    "batch_size",
    "test_loss",
    "best_test_loss",
    "best_update",
    "trivial_loss",
    "solved",
    "updates_to_solve",
    "still_learning",
    "n_params",
    "device",
    "wall_s",
    "cpu_s",
]


@dataclass(frozen=True)
class SequenceConfig:
    """The grid and the budget. Defaults: the issue's grid on 2 CPU cores (see the module
    docstring for the architectures); :data:`TINY` is the seconds-long version for CI."""

    tasks: tuple[str, ...] = ("adding", "copy")
    lengths: tuple[int, ...] = (25, 50, 100, 200)
    architectures: tuple[str, ...] = tuple(ARCHITECTURES)
    seeds: tuple[int, ...] = (0, 1, 2)
    updates: int = 4000
    batch_size: int = 64
    eval_every: int = 200
    n_test: int = 2000
    clip_norm: float = 1.0
    gradient_lengths: tuple[int, ...] = (100, 200)
    n_gradient: int = 16
    device: str = "auto"

    def check(self) -> None:
        """One-line errors for a grid that cannot run (StudyError: exit 2)."""
        for t in self.tasks:
            if t not in TASKS:
                raise StudyError(f"unknown sequence task {t!r}; choose from {', '.join(TASKS)}")
        for a in self.architectures:
            if a not in ARCHITECTURES:
                raise StudyError(f"unknown architecture {a!r}; choose from {', '.join(ARCHITECTURES)}")
        for T in self.lengths:
            if isinstance(T, bool) or int(T) != T or T < 2:
                raise StudyError(f"sequence length T must be an integer >= 2, got {T}")
        for name in ("updates", "batch_size", "eval_every", "n_test"):
            if int(getattr(self, name)) < 1:
                raise StudyError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)}")
        if not self.seeds or not self.tasks or not self.lengths or not self.architectures:
            raise StudyError("the sequence grid needs at least one task, length, architecture and seed")
        if self.device not in ("auto", "cpu", "cuda"):
            raise StudyError(f"device must be auto, cpu or cuda, got {self.device!r}")


TINY = SequenceConfig(
    lengths=(8, 16), seeds=(0, 1), updates=60, eval_every=20, n_test=200, gradient_lengths=(16,), n_gradient=4
)


# --------------------------------------------------------------------------- one cell


def _rng(*key: int | str) -> np.random.Generator:
    """A generator seeded by a tuple of ints and names (names hashed stably, not by ``hash``)."""
    ints = [k if isinstance(k, int) else int(hashlib.sha256(k.encode()).hexdigest()[:8], 16) for k in key]
    return np.random.default_rng(ints)


def test_set(task: SequenceTask, T: int, n: int) -> Any:
    """The fixed held-out test sequences of ``task`` at ``T``: the same for every architecture and
    seed, drawn from a stream no training batch uses."""
    return task.sample(T, n, _rng(task.name, int(T), "test"))


class _NumpyTrainer:
    """An rnn-numpy network trained with its own BPTT (:meth:`sequence_loss_and_grads`) and Adam."""

    device = "cpu"

    def __init__(self, network: type, params: dict, task: SequenceTask, seed: int, lr: float, clip: float) -> None:
        self.task = task
        self.net = network(
            task.n_in, int(params["hidden"]), task.n_out, activation=params["activation"], seed=seed, dtype="float32"
        )
        self.step_fn = self.net.adam(lr, clip_norm=clip)
        self.n_params = int(self.net.n_params)

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        loss = self.net.sequence_loss_and_grads(X, self.task.read_steps, lambda out: loss_and_grad(self.task, out, y))
        self.step_fn()
        return loss

    def outputs(self, X: np.ndarray) -> np.ndarray:
        k = self.task.read_steps
        return np.concatenate([self.net.forward(X[s : s + 500])[0][:, -k:] for s in range(0, len(X), 500)])

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> float:
        return loss_and_grad(self.task, self.outputs(X).astype(float), y)[0]

    def jacobian_norms(self, X: np.ndarray) -> np.ndarray:
        from harness.studies.gradients import numpy_jacobian_norms

        return numpy_jacobian_norms(self.net, X.astype(float), X.shape[1] - 1, chunk=4)


class _TorchTrainer:
    """A torch model's ``sequence_network`` trained with autograd and torch's Adam."""

    def __init__(self, cls: type, params: dict, task: SequenceTask, seed: int, lr: float, clip: float, device: str):
        import torch

        self.torch, self.task, self.clip = torch, task, clip
        cuda = torch.cuda.is_available()
        if device == "cuda" and not cuda:
            raise StudyError("device cuda asked for, but torch.cuda.is_available() is False")
        self.dev = torch.device("cuda" if (device == "cuda" or (device == "auto" and cuda)) else "cpu")
        self.device = str(self.dev)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = cls.sequence_network(params, task.n_in, task.n_out).to(self.dev)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.n_params = sum(p.numel() for p in self.net.parameters())

    def _loss(self, out: Any, y: Any) -> Any:
        F = self.torch.nn.functional
        if self.task.loss == "mse":
            return F.mse_loss(out.reshape(-1, 1), y)
        return F.cross_entropy(out.reshape(-1, self.task.n_out), y.reshape(-1))

    def _targets(self, y: np.ndarray) -> Any:
        dtype = self.torch.float32 if self.task.loss == "mse" else self.torch.int64
        return self.torch.as_tensor(y, dtype=dtype, device=self.dev)

    def step(self, X: np.ndarray, y: np.ndarray) -> float:
        torch = self.torch
        self.net.train()
        loss = self._loss(self.net.steps(torch.as_tensor(X, device=self.dev), self.task.read_steps), self._targets(y))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.clip)
        self.opt.step()
        return float(loss.detach())

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> float:
        torch = self.torch
        self.net.eval()
        total, n = 0.0, len(X)
        with torch.no_grad():
            for s in range(0, n, 1000):
                out = self.net.steps(torch.as_tensor(X[s : s + 1000], device=self.dev), self.task.read_steps)
                total += float(self._loss(out, self._targets(y[s : s + 1000]))) * len(X[s : s + 1000])
        return total / n

    def jacobian_norms(self, X: np.ndarray) -> np.ndarray:
        from harness.studies.gradients import module_step, torch_jacobian_norms, zero_state

        net = self.net.to("cpu")
        try:
            return torch_jacobian_norms(module_step(net), zero_state(net, len(X)), X.astype(float), X.shape[1] - 1)
        finally:
            self.net.to(self.dev)


def _trainer(registry: Registry, arch: str, task: SequenceTask, seed: int, config: SequenceConfig) -> Any:
    a = ARCHITECTURES[arch]
    spec = registry.model(a.model)
    params = {**spec.params, **a.params}
    if getattr(spec.cls, "network", None) is not None:
        return _NumpyTrainer(spec.cls.network, params, task, seed, a.lr, config.clip_norm)
    if getattr(spec.cls, "sequence_network", None) is not None:
        return _TorchTrainer(spec.cls, params, task, seed, a.lr, config.clip_norm, config.device)
    raise StudyError(f"model {a.model} has no network the sequence benchmark can train (network or sequence_network)")


def run_cell(
    registry: Registry, task_name: str, T: int, arch: str, seed: int, config: SequenceConfig
) -> dict[str, Any]:
    """Train one cell and return its record: the row of :data:`CELL_COLUMNS`, its loss ``curve``
    and, where asked, its ``gradients`` rows (stage, k, norm)."""
    task = get_task(task_name)
    test = test_set(task, T, config.n_test)
    rng = _rng(task.name, int(T), int(seed), "train")
    from harness.studies.gradients import limited_threads

    with limited_threads(1):  # cells run side by side in worker processes
        trainer = _trainer(registry, arch, task, int(seed), config)
        stages = _gradient_stages(task, T, seed, config)
        probe = test.X[: config.n_gradient]
        gradients: list[dict[str, Any]] = []
        curve: list[dict[str, Any]] = []
        start, cpu_start = time.perf_counter(), time.process_time()
        running, count = 0.0, 0
        for update in range(config.updates + 1):
            if update in stages:
                norms = trainer.jacobian_norms(probe)
                gradients += [{"stage": stages[update], "k": k, "norm": float(v)} for k, v in enumerate(norms)]
            if update % config.eval_every == 0 or update == config.updates:
                test_loss = trainer.evaluate(test.X, test.y)
                curve.append(
                    {"update": update, "test_loss": test_loss, "train_loss": running / count if count else math.nan}
                )
                running, count = 0.0, 0
                if not math.isfinite(test_loss):
                    break
            if update == config.updates:
                break
            batch = task.sample(T, config.batch_size, rng)
            running += trainer.step(batch.X, batch.y)
            count += 1
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    steps = [c["update"] for c in curve]
    losses = [c["test_loss"] for c in curve]
    finite = [(v, s) for s, v in zip(steps, losses, strict=True) if math.isfinite(v)]
    best_loss, best_update = min(finite) if finite else (math.nan, math.nan)
    first = next((s for s, v in zip(steps, losses, strict=True) if solved(v, task.trivial_loss)), None)
    final = losses[-1]
    is_solved = solved(final, task.trivial_loss)
    row = {
        "task": task.name,
        "T": int(T),
        "model": arch,
        "seed": int(seed),
        "updates": int(steps[-1]),  # the budget, or where a non-finite loss stopped training
        "batch_size": int(config.batch_size),
        "test_loss": final,
        "best_test_loss": best_loss,
        "best_update": best_update,
        "trivial_loss": task.trivial_loss,
        "solved": is_solved,
        "updates_to_solve": first if is_solved else None,
        "still_learning": (not is_solved) and curve_still_learning(steps, losses, config.updates),
        "n_params": trainer.n_params,
        "device": trainer.device,
        "wall_s": wall,
        "cpu_s": cpu,
    }
    return {"row": row, "curve": curve, "gradients": gradients}


def _gradient_stages(task: SequenceTask, T: int, seed: int, config: SequenceConfig) -> dict[int, str]:
    """``update -> stage`` at which the Jacobian norms are recorded (adding task, first seed, the
    delays in ``gradient_lengths``): init, mid and end of the budget."""
    if task.name != "adding" or int(T) not in config.gradient_lengths or int(seed) != config.seeds[0]:
        return {}
    return {0: "init", config.updates // 2: "mid", config.updates: "end"}


# --------------------------------------------------------------------------- the grid


def cell_key(task: str, T: int, arch: str, seed: int, config: SequenceConfig) -> str:
    """File name of a cell's record: its coordinates and a hash of everything else that shapes it."""
    shaping = {k: v for k, v in asdict(config).items() if k not in ("tasks", "lengths", "architectures", "seeds")}
    shaping["architecture"] = asdict(ARCHITECTURES[arch])
    shaping["gradients"] = int(T) in config.gradient_lengths and int(seed) == config.seeds[0]
    digest = hashlib.sha256(json.dumps(shaping, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"{task}-T{int(T)}-{arch}-s{int(seed)}-{digest}"


def _cells(config: SequenceConfig) -> list[tuple[str, int, str, int]]:
    cells = [
        (t, T, a, s) for t in config.tasks for T in config.lengths for a in config.architectures for s in config.seeds
    ]
    cost = {c: get_task(c[0]).length(c[1]) * ARCHITECTURES[c[2]].cost for c in cells}
    return sorted(cells, key=lambda c: -cost[c])  # the slowest first, so the workers end together


def check_available(config: SequenceConfig, registry: Registry) -> None:
    """Every architecture's model is registered and can run here (torch installed): one line
    now (the registry's error, exit 2), not after an hour of other cells."""
    for arch in config.architectures:
        registry.model(ARCHITECTURES[arch].model)


def _worker(cell: tuple[str, int, str, int], config: SequenceConfig) -> dict[str, Any]:
    return run_cell(load_registry(), *cell, config)


def run_cells(
    config: SequenceConfig,
    cells_dir: Path,
    *,
    registry: Registry | None = None,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Every cell of the grid, computed in ``workers`` processes (1: in this one, with
    ``registry``) or read back from ``cells_dir`` where an earlier run left it; each new cell is
    written there as soon as it is done."""
    config.check()
    registry = registry if registry is not None else load_registry()
    check_available(config, registry)
    cells_dir.mkdir(parents=True, exist_ok=True)
    total = len(_cells(config))
    records, todo = {}, []
    for cell in _cells(config):
        path = cells_dir / f"{cell_key(*cell, config)}.json"
        if path.is_file():
            records[cell] = json.loads(path.read_text(encoding="utf-8"))
        else:
            todo.append(cell)

    def done(cell: tuple, record: dict) -> None:
        from harness.store import atomic_write_text

        atomic_write_text(cells_dir / f"{cell_key(*cell, config)}.json", json.dumps(record, default=_plain) + "\n")
        records[cell] = record
        if progress is not None:
            r = record["row"]
            state = "solved" if r["solved"] else ("still learning" if r["still_learning"] else "not solved")
            progress(
                f"{len(records)}/{total} "
                f"{r['task']} T={r['T']} {r['model']} seed {r['seed']}: {state} "
                f"(test loss {r['test_loss']:.4g}, {r['wall_s']:.0f}s)"
            )

    if workers <= 1:
        for cell in todo:
            done(cell, run_cell(registry, *cell, config))
    else:
        import multiprocessing

        with ProcessPoolExecutor(int(workers), mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_worker, cell, config): cell for cell in todo}
            for fut in as_completed(futures):
                done(futures[fut], fut.result())
    return [records[c] for c in _cells(config)]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# --------------------------------------------------------------------------- tables


def reachable(cells: pd.DataFrame) -> pd.DataFrame:
    """Per task x architecture: the largest ``T`` solved by a majority of seeds
    (``reachable_T``, NaN if none), the range over seeds of each seed's own longest solved ``T``
    (``seed_reach_T``, 0 for none: the spread the majority hides), and the seeds' story at
    every ``T``. Still-learning seeds
    are never failures: a ``T`` whose majority is neither solved nor failed is listed in
    ``still_learning_T``, and ``failed_T`` lists the ``T`` where a majority failed while not
    still learning."""
    rows = []
    for (task, model), g in cells.groupby(["task", "model"], sort=False):
        per_T = g.groupby("T").agg(
            seeds=("seed", "nunique"),
            solved=("solved", "sum"),
            learning=("still_learning", "sum"),
            to_solve=("updates_to_solve", "median"),
        )
        majority = per_T["solved"] > per_T["seeds"] / 2
        failed = (per_T["seeds"] - per_T["solved"] - per_T["learning"]) > per_T["seeds"] / 2
        learning = ~majority & ~failed & (per_T["learning"] > 0)
        best = per_T.index[majority].max() if majority.any() else math.nan
        # the spread over seeds: each seed's own longest solved T (0: none)
        by_seed = g[g["solved"].astype(bool)].groupby("seed")["T"].max().reindex(sorted(g["seed"].unique()))
        seed_reach = by_seed.fillna(0).astype(int)
        rows.append(
            {
                "task": task,
                "model": model,
                "n_params": int(g["n_params"].iloc[0]),
                "updates": int(g["updates"].max()),
                "batch_size": int(g["batch_size"].iloc[0]),
                "seeds": int(per_T["seeds"].max()),
                "reachable_T": best,
                "seed_reach_T": f"{seed_reach.min()}-{seed_reach.max()}",
                "updates_to_solve": per_T.loc[best, "to_solve"] if best == best else math.nan,
                "solved_seeds": " ".join(f"T{T}:{int(r.solved)}/{int(r.seeds)}" for T, r in per_T.iterrows()),
                "still_learning_T": " ".join(str(T) for T in per_T.index[learning]),
                "failed_T": " ".join(str(T) for T in per_T.index[failed]),
            }
        )
    return pd.DataFrame(rows)


def sequence_tables(records: Iterable[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    """``sequence`` (one row per cell), ``sequence_curves`` (test loss every ``eval_every``
    updates), ``sequence_summary`` (:func:`reachable`) and ``gradients_training`` (the Jacobian
    norms at init/mid/end) from the cells' records."""
    records = list(records)
    cells = pd.DataFrame([r["row"] for r in records], columns=CELL_COLUMNS)
    cells["updates_to_solve"] = pd.to_numeric(cells["updates_to_solve"])
    keys = ["task", "T", "model", "seed"]
    curves = pd.DataFrame(
        [{**{k: r["row"][k] for k in keys}, **c} for r in records for c in r["curve"]],
        columns=[*keys, "update", "test_loss", "train_loss"],
    )
    grads = pd.DataFrame(
        [{**{k: r["row"][k] for k in keys}, **g} for r in records for g in r["gradients"]],
        columns=[*keys, "stage", "k", "norm"],
    )
    order = {m: i for i, m in enumerate(ARCHITECTURES)}

    def ordered(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
        key = lambda s: s.map(order) if s.name == "model" else s  # noqa: E731
        return frame.sort_values(by, key=key, kind="stable").reset_index(drop=True)

    cells = ordered(cells, keys)
    return {
        "sequence": cells,
        "sequence_curves": ordered(curves, [*keys, "update"]),
        "sequence_summary": ordered(reachable(cells), ["task", "model"]),
        "gradients_training": ordered(grads, ["model", "T", "seed", "k"]),
    }


def with_gpu_lengths(config: SequenceConfig, gpu: bool) -> SequenceConfig:
    """The default grid plus T = 400 and 600 where a GPU trains the torch networks."""
    if not gpu:
        return config
    return replace(config, lengths=tuple(dict.fromkeys((*config.lengths, 400, 600))))


# --------------------------------------------------------------------------- the study's files


def budget_text(config: SequenceConfig) -> str:
    """The budget in words, as every verdict states it."""
    return (
        f"{config.updates:,} updates of batch {config.batch_size} (Adam, clip {config.clip_norm:g}, no early stopping)"
    )


def decay_rates(grads: pd.DataFrame) -> pd.DataFrame:
    """Per architecture x T x stage: the fitted per-step decay ``rho`` of ``||∂h_T/∂h_{T-k}||``
    and its half-life (:func:`harness.studies.gradients.fit_decay`)."""
    from harness.studies.gradients import fit_decay

    rows = []
    for (model, T, stage), g in grads.groupby(["model", "T", "stage"], sort=False):
        fit = fit_decay(g.sort_values("k")["norm"].to_numpy(dtype=float))
        rows.append({"model": model, "T": T, "stage": stage, **{k: fit[k] for k in ("rho", "half_life", "r2")}})
    return pd.DataFrame(rows, columns=["model", "T", "stage", "rho", "half_life", "r2"])


def write_sequence_study(
    out_dir: Path,
    config: SequenceConfig,
    *,
    registry: Registry | None = None,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
) -> dict[str, pd.DataFrame]:
    """Run (or finish) the sequence grid with its cells in ``out_dir/cells`` and write its tables
    (``sequence.csv``, ``sequence_curves.csv``, ``sequence_summary.csv``,
    ``gradients_training.csv``, ``decay_training.csv``) and figures into ``out_dir``."""
    from harness import figures
    from harness.store import atomic_write_frame
    from harness.studies import sequence_figures as sf

    records = run_cells(config, out_dir / "cells", registry=registry, workers=workers, progress=progress)
    tables = sequence_tables(records)
    if len(tables["gradients_training"]):
        tables["decay_training"] = decay_rates(tables["gradients_training"])
    for name, frame in tables.items():
        atomic_write_frame(frame, out_dir / f"{name}.csv")
    drawn: dict[str, Path] = {}
    fig_dir = out_dir / "figures"
    figures.draw_or_skip(drawn, fig_dir, "sequence_loss", lambda p: sf.plot_sequence_loss(tables["sequence"], p))
    figures.draw_or_skip(
        drawn, fig_dir, "sequence_curves", lambda p: sf.plot_sequence_curves(tables["sequence_curves"], p)
    )
    if len(tables["gradients_training"]):
        figures.draw_or_skip(
            drawn, fig_dir, "gradient_training", lambda p: sf.plot_gradients_training(tables["gradients_training"], p)
        )
    return tables


def sequence_config(
    *,
    tiny: bool = False,
    tasks: list[str] | None = None,
    lengths: list[int] | None = None,
    architectures: list[str] | None = None,
    seeds: list[int] | None = None,
    updates: int | None = None,
    device: str = "auto",
) -> SequenceConfig:
    """The grid a ``rnnbench study memory`` asks for: the default (or :data:`TINY`) with the
    given options; without ``lengths`` the default grid gains T = 400 and 600 where the torch
    networks train on a GPU. Bad input is a :class:`StudyError` naming it."""
    config = TINY if tiny else SequenceConfig()
    changes: dict[str, Any] = {"device": device}
    for name, value in (("tasks", tasks), ("lengths", lengths), ("architectures", architectures), ("seeds", seeds)):
        if value:
            changes[name] = tuple(value)
    if updates is not None:
        changes["updates"] = int(updates)
    config = replace(config, **changes)
    config.check()
    if not lengths and not tiny:
        config = with_gpu_lengths(config, _gpu(device))
    return config


def _gpu(device: str) -> bool:
    """Whether the sequence benchmark's torch networks train on a GPU (the cost study's
    device detection: CUDA when torch sees one)."""
    from harness.studies.cost import _default_devices  # imports torch: only when asked

    return device != "cpu" and "cuda" in _default_devices()
