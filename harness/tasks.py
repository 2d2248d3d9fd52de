"""Tasks (a dataset under a protocol) and their evaluation windows.

One mechanism serves both protocols: ``holdout`` is a rolling origin with one window. Windows are
cut from each series' whole observed history (the official test set appended where the source
publishes one), ending at its end, so the holdout window of an M-competition is its official test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from harness.data import Dataset, Panel
from harness.errors import DataError
from harness.metrics import DEFAULT_LEVELS

Protocol = Literal["holdout", "rolling"]

#: The fewest observations a series may have before a forecast origin (a last value and one
#: difference for the MASE scale, plus one).
MIN_CONTEXT = 3


@dataclass(frozen=True)
class ProtocolSpec:
    """How forecast origins are placed. ``refit_global``: refit global models at every origin
    (local models always refit, since fitting is what they do per series)."""

    kind: Protocol = "holdout"
    windows: int = 1
    step: int | None = None  # default: the horizon (non-overlapping test windows)
    refit_global: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("holdout", "rolling"):
            raise DataError(f"unknown protocol {self.kind!r} (use holdout or rolling)")
        if self.kind == "holdout" and self.windows != 1:
            object.__setattr__(self, "windows", 1)
        if self.windows < 1:
            raise DataError(f"rolling protocol needs windows >= 1, got {self.windows}")
        if self.step is not None and self.step < 1:
            raise DataError(f"rolling protocol needs step >= 1, got {self.step}")

    def as_dict(self) -> dict:
        return {"kind": self.kind, "windows": self.windows, "step": self.step, "refit_global": self.refit_global}


@dataclass(frozen=True)
class Window:
    """One forecast origin: every series cut at its own cutoff, and the ``horizon`` values after it."""

    index: int
    context: Panel
    truth: tuple[np.ndarray, ...]
    cutoffs: tuple[int, ...]  # number of observations each series has at this origin


@dataclass(frozen=True)
class Task:
    """A dataset evaluated under a protocol; its windows are the forecast origins. ``levels``:
    the central prediction interval levels (percent) every model forecasts and is scored at."""

    dataset: Dataset
    protocol: ProtocolSpec
    levels: tuple[float, ...] = DEFAULT_LEVELS

    @property
    def name(self) -> str:
        return self.dataset.name

    @property
    def horizon(self) -> int:
        return self.dataset.panel.horizon

    @property
    def season_length(self) -> int:
        return self.dataset.panel.season_length

    def windows(self) -> list[Window]:
        """The windows in time order. A series too short to leave at least ``horizon + 1``
        observations before its first origin is an error naming it."""
        panel = self.dataset.panel
        full = self.dataset.full_values()
        h = panel.horizon
        step = self.protocol.step or h
        n_windows = self.protocol.windows
        out = []
        for w in range(n_windows):
            back = (n_windows - 1 - w) * step
            cutoffs = tuple(len(v) - h - back for v in full)
            out.append(
                Window(
                    index=w,
                    context=panel.with_values([v[:c] for v, c in zip(full, cutoffs)]),
                    truth=tuple(v[c : c + h] for v, c in zip(full, cutoffs)),
                    cutoffs=cutoffs,
                )
            )
        return out

    def validate(self) -> None:
        """Raise DataError if any series is too short for this protocol (named in the message)."""
        panel = self.dataset.panel
        full = self.dataset.full_values()
        step = self.protocol.step or panel.horizon
        need_back = panel.horizon + (self.protocol.windows - 1) * step
        for uid, v in zip(panel.ids, full):
            if len(v) - need_back < MIN_CONTEXT:
                raise DataError(
                    f"dataset {self.name}: series {uid} has {len(v)} values, too short for horizon "
                    f"{panel.horizon} with {self.protocol.windows} window(s) (needs at least {need_back + MIN_CONTEXT}: "
                    f"{MIN_CONTEXT} values before the first forecast origin)"
                )
