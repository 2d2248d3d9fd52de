"""The training log of a neural network: what each epoch of a fit cost and reached.

Every network a :class:`harness.WindowForecaster` trains keeps one :class:`TrainingLog` (the
model's ``training_logs_``): per epoch the cumulative number of parameter updates, the epoch's
training loss (the mean of the loss its mini-batches already computed: no extra forward pass),
the validation loss the loop already computes for early stopping, and the wall and CPU seconds
since the network's training began. From it come the numbers claim (b) needs beyond a fixed
epoch count: which epoch was best, whether the network was still learning when the epoch budget
ran out, and the *time to accuracy*, the seconds until the validation loss first came within
:data:`TTA_TOLERANCE` of the network's own best.

:func:`summarise` pools the logs of one fit (one network, or one per series with local
training) into the row of ``TRAINING_COLUMNS`` the runner stores in experiments.csv; a
non-neural model has none (every column NaN). Clocks: ``time.perf_counter`` and
``time.process_time`` (the process's CPU time, which counts BLAS and OpenMP threads); on a GPU
the training loop reads its epoch losses back to the host before the log reads the clocks, so
the log's times include the device work of the epoch without a synchronisation of its own.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "STILL_LEARNING_SHARE",
    "SUMMED_COLUMNS",
    "TRAINING_COLUMNS",
    "TUNING_COLUMNS",
    "TTA_TOLERANCE",
    "TrainingLog",
    "UpdateBudget",
    "combine_fits",
    "curve_still_learning",
    "read_curve",
    "summarise",
    "training_columns",
]

#: Time to accuracy: the first epoch whose watched loss is at most ``(1 + TTA_TOLERANCE)`` times
#: the network's own best (the losses are mean squared errors, never negative). 5%: close enough
#: that the network is near what the fit reached, loose enough that the clock does not wait for
#: the last small, often lucky, improvement that early stopping happens to keep.
TTA_TOLERANCE = 0.05
#: A network is *still learning* when its best epoch lies in the last ``STILL_LEARNING_SHARE`` of
#: its epoch budget (at least the last epoch): early stopping did not stop it, more epochs would
#: likely have helped, and its cost is bounded by the budget rather than by convergence.
STILL_LEARNING_SHARE = 0.10
#: The experiments.csv columns of a training summary, in order (NaN for a non-neural model).
TRAINING_COLUMNS: tuple[str, ...] = (
    "epochs",
    "max_epochs",
    "best_epoch",
    "updates",
    "train_loss",
    "val_loss",
    "still_learning",
    "tta_wall_s",
    "tta_cpu_s",
)
#: The experiments.csv columns of a tuned model's tuning (``BASE[tuned]``,
#: :class:`harness.variants.Tuned`): its wall and CPU seconds, summed over the fits that tuned
#: (NaN for a model that does not tune); its record is the JSON column ``tuning``.
TUNING_COLUMNS: tuple[str, ...] = ("tune_wall_s", "tune_cpu_s")
#: The columns pooled by sum (the cost of all networks, of all refits); the others by the mean.
SUMMED_COLUMNS = frozenset({"updates", "tta_wall_s", "tta_cpu_s"})


@dataclass(frozen=True)
class UpdateBudget:
    """How long a training loop runs and when it validates, in parameter updates; the one
    schedule that ``rnn-numpy`` (:meth:`plugins.numpy_rnn.ElmanRNN.fit`) and the torch loop share,
    so that the same parameters mean the same training in both.

    ``updates`` is the budget: ``max_updates`` when given (epochs then re-shuffle as often as the
    budget needs, whatever the data size; ``epochs`` is no limit), else ``epochs`` full epochs of
    ``batches_per_epoch`` mini-batches, as before budgets existed. ``check_every``: the loop
    validates (and logs a :class:`TrainingLog` entry) after every ``check_every`` updates (null:
    at the end of every epoch, i.e. every ``batches_per_epoch`` updates) and after the last
    update of the budget; early stopping's ``patience`` counts checks without a better
    validation loss, so patience in updates is ``patience x check_every``. ``checks`` is what
    the log's ``max_epochs`` becomes: its ``still_learning`` (best check in the last 10%) then
    means the last 10% of the update budget. The defaults (no ``max_updates``, no
    ``check_every``) check at the end of every one of ``epochs`` epochs: today's loops exactly.
    """

    batches_per_epoch: int
    updates: int
    check_every: int

    @classmethod
    def of(
        cls,
        n_windows: int,
        batch_size: int,
        epochs: int,
        max_updates: int | None = None,
        check_every: int | None = None,
    ) -> UpdateBudget:
        """The budget of a loop over ``n_windows`` training windows in mini-batches of
        ``batch_size`` (the last one partial)."""
        per_epoch = max(1, -(-int(n_windows) // max(1, int(batch_size))))
        updates = int(max_updates) if max_updates is not None else int(epochs) * per_epoch
        every = int(check_every) if check_every is not None else per_epoch
        if updates < 1 or every < 1:
            raise ValueError(f"an update budget needs updates >= 1 and check_every >= 1, got {updates}, {every}")
        return cls(per_epoch, updates, every)

    @property
    def checks(self) -> int:
        """Validations in the whole budget (the training log's ``max_epochs``)."""
        return -(-self.updates // self.check_every)

    def is_check(self, update: int) -> bool:
        """Whether the loop validates after its ``update``-th update (counted from 1)."""
        return update % self.check_every == 0 or update >= self.updates

    def done(self, update: int) -> bool:
        """Whether ``update`` updates exhaust the budget."""
        return update >= self.updates


@dataclass
class TrainingLog:
    """One network's training, epoch by epoch (lists of equal length, one entry per epoch run).
    With an :class:`UpdateBudget` whose checks are not epochs (``check_every``), an "epoch" here
    is one check: the entries are per check and ``max_epochs`` is the budget's ``checks``.

    ``updates``, ``wall_s`` and ``cpu_s`` are cumulative since :meth:`start`; ``val_loss`` is NaN
    for an epoch without one (no validation windows, or a loop that stopped on a non-finite
    training loss before validating). ``max_epochs`` is the epoch budget. Epochs are numbered
    from 0, as in the training loops' histories.
    """

    max_epochs: int
    updates: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    _wall0: float = field(default=0.0, repr=False, compare=False)
    _cpu0: float = field(default=0.0, repr=False, compare=False)

    @classmethod
    def start(cls, max_epochs: int) -> TrainingLog:
        """A new log whose clocks start now (call it where the network's training begins)."""
        log = cls(int(max_epochs))
        log._wall0, log._cpu0 = time.perf_counter(), time.process_time()
        return log

    def epoch(self, updates: int, train_loss: float, val_loss: float | None = None) -> None:
        """Record the end of an epoch: the updates made so far, the epoch's training loss and
        its validation loss (None: none), with the seconds since :meth:`start`. On a GPU, call
        it after the loop's read of the epoch's losses (which waits for the device)."""
        self.wall_s.append(time.perf_counter() - self._wall0)
        self.cpu_s.append(time.process_time() - self._cpu0)
        self.updates.append(int(updates))
        self.train_loss.append(float(train_loss))
        self.val_loss.append(math.nan if val_loss is None else float(val_loss))

    @property
    def epochs(self) -> int:
        """Epochs run."""
        return len(self.train_loss)

    @property
    def validated(self) -> bool:
        """Whether any epoch has a finite validation loss (early stopping watched it)."""
        return any(math.isfinite(v) for v in self.val_loss)

    def watched(self) -> list[float]:
        """The loss that decides the best epoch and the time to accuracy: the validation loss, or
        the training loss for a network trained without validation windows."""
        return self.val_loss if self.validated else self.train_loss

    @property
    def best_epoch(self) -> int | None:
        """The epoch whose weights the fit kept: the first with the lowest finite validation loss
        (the loops restore it); without a finite one (no validation windows, or a loss that was
        never finite) the last epoch, whose weights the loops then keep. None without epochs."""
        if not self.validated:
            return self.epochs - 1 if self.epochs else None
        finite = [(v, e) for e, v in enumerate(self.val_loss) if math.isfinite(v)]
        return min(finite)[1]

    @property
    def still_learning(self) -> bool | None:
        """Whether the best epoch lies in the last :data:`STILL_LEARNING_SHARE` of the budget."""
        best = self.best_epoch
        if best is None:
            return None
        last = max(1, math.ceil(STILL_LEARNING_SHARE * self.max_epochs))
        return best >= self.max_epochs - last

    def time_to_accuracy(self, tolerance: float = TTA_TOLERANCE) -> tuple[float, float]:
        """(wall, CPU) seconds from the start of training to the end of the first epoch whose
        watched loss (:meth:`watched`) is within ``tolerance`` of its best; NaN without one."""
        losses = self.watched()
        finite = [v for v in losses if math.isfinite(v)]
        if not finite:
            return math.nan, math.nan
        target = min(finite) * (1.0 + tolerance)
        first = next(e for e, v in enumerate(losses) if math.isfinite(v) and v <= target)
        return self.wall_s[first], self.cpu_s[first]

    def curve(self) -> str:
        """This network's loss curve as compact JSON, ``[[updates, train_loss, val_loss], ...]``
        per epoch (or check), losses to 6 significant digits and NaN as null: what the studies
        keep of a fit beside its summary (:func:`read_curve` reads it back)."""

        def num(x: float) -> float | None:
            return float(f"{x:.6g}") if math.isfinite(x) else None

        rows = [[u, num(t), num(v)] for u, t, v in zip(self.updates, self.train_loss, self.val_loss, strict=True)]
        return json.dumps(rows, separators=(",", ":"))

    def summary(self) -> dict[str, float]:
        """This network's row of :data:`TRAINING_COLUMNS` (losses at the best epoch)."""
        best = self.best_epoch
        tta_wall, tta_cpu = self.time_to_accuracy()
        at_best = (lambda xs: xs[best]) if best is not None else (lambda xs: math.nan)
        return {
            "epochs": float(self.epochs),
            "max_epochs": float(self.max_epochs),
            "best_epoch": math.nan if best is None else float(best),
            "updates": float(self.updates[-1]) if self.updates else 0.0,
            "train_loss": at_best(self.train_loss),
            "val_loss": at_best(self.val_loss),
            "still_learning": math.nan if self.still_learning is None else float(self.still_learning),
            "tta_wall_s": tta_wall,
            "tta_cpu_s": tta_cpu,
        }


def curve_still_learning(
    steps: Sequence[int], losses: Sequence[float], budget: int, tolerance: float = TTA_TOLERANCE
) -> bool:
    """Whether a loss curve logged at ``steps`` (updates) was still learning when its ``budget``
    ended: its best loss was logged in the last :data:`STILL_LEARNING_SHARE` of the budget AND is
    lower than the best logged before that stretch by more than ``tolerance`` (relative).

    The second condition is what separates learning from noise for a run without early stopping
    (the sequence-memory benchmark logs a fixed test set along a fixed budget): a network stuck
    at the trivial loss has a flat, noisy curve whose minimum lands in the last 10% about one
    time in ten by chance, and such a network is not learning. A curve that is still falling
    improves by more than that within the last stretch. Non-finite losses are ignored; no finite
    loss before or in the stretch: False (nothing learned, or nothing to compare)."""
    if not len(steps) == len(losses):
        raise ValueError("steps and losses must have the same length")
    start = int(budget) - max(1, math.ceil(STILL_LEARNING_SHARE * int(budget)))
    before = [v for s, v in zip(steps, losses, strict=True) if s < start and math.isfinite(v)]
    late = [v for s, v in zip(steps, losses, strict=True) if s >= start and math.isfinite(v)]
    if not before or not late:
        return False
    return min(late) < min(before) and min(late) < (1.0 - tolerance) * min(before)


def _pool(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """One row from several: :data:`SUMMED_COLUMNS` summed (NaN ones skipped, NaN if all are),
    the rest averaged over their finite values."""
    out = {}
    for key in TRAINING_COLUMNS:
        values = [float(r[key]) for r in rows if math.isfinite(float(r.get(key, math.nan)))]
        if not values:
            out[key] = math.nan
        else:
            out[key] = math.fsum(values) if key in SUMMED_COLUMNS else math.fsum(values) / len(values)
    return out


def summarise(logs: Sequence[TrainingLog]) -> dict[str, float | str] | None:
    """The training summary of one fit from its networks' logs (None without any): with one
    network its :meth:`TrainingLog.summary`; with several (local training, one per series) the
    updates and times to accuracy summed over the networks (what the fit cost), the others
    averaged (``still_learning`` becomes the share of networks still learning). ``curve``: the
    loss curve of a fit with one network (:meth:`TrainingLog.curve`), "" with several."""
    if not logs:
        return None
    return {**_pool([log.summary() for log in logs]), "curve": logs[0].curve() if len(logs) == 1 else ""}


def combine_fits(summaries: Sequence[Mapping[str, float | str] | None]) -> dict[str, float | str] | None:
    """The training summary of an experiment from those of its fits (a global model refit at
    every origin fits once per window; a seed ensemble's members), by the rule of
    :func:`summarise`; the curve of the first fit; None if none has one. Fits that tuned
    (``tuning``, a JSON list of records) have their records joined and their tuning seconds
    summed."""
    rows = [s for s in summaries if s is not None]
    if not rows:
        return None
    out: dict[str, float | str] = {**_pool(rows), "curve": str(rows[0].get("curve", ""))}
    tuned = [r for r in rows if r.get("tuning")]
    if tuned:
        out["tuning"] = json.dumps([record for r in tuned for record in json.loads(str(r["tuning"]))])
        for key in TUNING_COLUMNS:
            out[key] = math.fsum(float(r.get(key, math.nan)) for r in tuned)
    return out


def training_columns(summary: Mapping[str, float | str] | None) -> dict[str, float | str]:
    """The experiments.csv columns of a training summary, every one NaN for a model without one,
    its loss ``curve`` ("" without one), and a tuned model's ``tuning`` record ("" for any
    other) and :data:`TUNING_COLUMNS` (NaN)."""
    summary = summary or {}
    out: dict[str, float | str] = {key: float(summary.get(key, math.nan)) for key in TRAINING_COLUMNS}
    out["curve"] = str(summary.get("curve", "") or "")
    out["tuning"] = str(summary.get("tuning", "") or "")
    out.update({key: float(summary.get(key, math.nan)) for key in TUNING_COLUMNS})
    return out


def read_curve(text: object) -> list[dict[str, float]]:
    """The rows (update, train_loss, val_loss) of a stored ``curve`` ([] for none)."""
    if not isinstance(text, str) or not text:
        return []
    nan = math.nan
    return [
        {"update": u, "train_loss": nan if t is None else t, "val_loss": nan if v is None else v}
        for u, t, v in json.loads(text)
    ]
